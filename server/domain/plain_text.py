"""A Markdown text as the plain words a reader sees, block by block, read in linear time (no
Markdown renderer: its worst cases grow with the square of a paragraph). Used to compare versions
and to show a short text (a summary) without its marks."""

from __future__ import annotations

import html
import re
from functools import lru_cache

# --- blocks: the text a Markdown text shows, read in linear time ----------------------------------------
#
# Not the renderer (server/markdown.py): its parser takes time that grows with the square of a
# paragraph's length on some inputs (an unmatched `[` or `![` scans what follows it), which is why
# texts are rendered once, when written, in a worker with a time limit; and a version keeps no HTML.
# The comparison reads the Markdown itself, in one pass over each line and each block: the blocks
# (paragraphs, list items, headings, quotes, code, table rows), then the words they show, without
# the marks (emphasis, code ticks, link syntax and addresses, escapes, entities). It is an
# approximation of the rendering (an unmatched `*` is dropped where CommonMark would show it),
# good enough to say which words changed.


@lru_cache(maxsize=32)
def blocks(text: str, markdown: bool) -> tuple[str, ...]:
    """The text's blocks, each as the words it shows separated by single spaces.

    Versions never change, so the same text is often split again (the page is reloaded, another
    pair is chosen): the last few are kept.
    """
    if not markdown:
        found = (" ".join(paragraph.split()) for paragraph in re.split(r"\n\s*\n", text))
        return tuple(block for block in found if block)
    reader = _BlockReader()
    for line in text.splitlines():
        reader.line(line)
    reader.flush()
    return tuple(block for block in (" ".join(b.split()) for b in reader.blocks) if block)


_QUOTE = re.compile(r" {0,3}>[ \t]?")
_FENCE = re.compile(r" {0,3}(`{3,}+|~{3,}+)")
_ITEM = re.compile(r"[ \t]*+(?:([-*+])|(\d{1,9})([.)]))(?:[ \t]++|$)")
_TABLE_RULE = re.compile(r"[ \t]*+\|?+[ \t]*+:?+-++:?+[ \t]*+(?:\|[ \t]*+:?+-++:?+[ \t]*+)*+\|?+[ \t]*+")


class _BlockReader:
    """Markdown lines in, blocks of shown text out (`blocks`), each line looked at once."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.lines: list[str] = []
        self.marker = ""
        self.table = False
        self.fence = ""
        self.code: list[str] = []
        self.next_number: int | None = None

    def line(self, line: str) -> None:
        if self.fence:
            if line.strip().startswith(self.fence) and not line.strip().strip(self.fence[0]):
                self.blocks.append(" ".join(self.code))
                self.fence, self.code = "", []
            else:
                self.code.append(line)
            return
        start = 0
        while quote := _QUOTE.match(line, start):  # quote marks, however deeply nested
            start = quote.end()
        line = line[start:]
        stripped = line.strip()
        if (fence := _FENCE.match(line)) and not (fence.group(1)[0] == "`" and "`" in line[fence.end() :]):
            self.flush()
            self.fence = fence.group(1)
            return
        if not stripped:
            self.flush()
            return
        if stripped[0] in "-*_=" and len(stripped) >= 3 and len(set(stripped.replace(" ", ""))) == 1:
            if self.lines and stripped[0] in "=-":  # a heading's underline
                self.flush()
                return
            if stripped[0] != "=":  # a thematic break
                self.flush()
                self.blocks.append("—")
                self.next_number = None
                return
        if stripped.startswith("#"):
            level = len(stripped) - len(stripped.lstrip("#"))
            rest = stripped[level:]
            if level <= 6 and (not rest or rest[0] in " \t"):
                self.flush()
                words = rest.strip()
                closing = words.rstrip("#")
                if not closing or closing[-1] in " \t":  # closing hashes after a space
                    words = closing
                self.blocks.append(_inline(words))
                self.next_number = None
                return
        if item := _ITEM.match(line):
            self.flush()
            bullet, number, delimiter = item.groups()
            if bullet:
                self.marker, self.next_number = "•", None
            else:
                shown = self.next_number if self.next_number is not None else int(number)
                self.marker, self.next_number = f"{shown}{delimiter}", shown + 1
            line = line[item.end() :]
            stripped = line.strip()
            if not stripped:
                return
        elif not self.lines and not self.marker:
            self.next_number = None
        if "|" in line and _TABLE_RULE.fullmatch(line):
            self.table = True
            return
        self.lines.append(stripped.removesuffix("\\"))

    def flush(self) -> None:
        if self.fence:  # a fence left open runs to the end
            self.blocks.append(" ".join(self.code))
            self.fence, self.code = "", []
            return
        if self.lines:
            text = " ".join(self.lines)
            if self.table:
                text = text.replace("|", " ")
            shown = _inline(text)
            self.blocks.append(f"{self.marker} {shown}" if self.marker else shown)
            self.lines, self.marker, self.table = [], "", False


_MARKS = re.compile(r"[\\`\[<*_~&]")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_PROTECTED = 0xE000  # an escaped character waits as a private-use one, out of the marks' way
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}+:[^\s<>]*+|[^\s<>@]++@[^\s<>]++)>")
_RESTORED = {_PROTECTED + code: chr(code) for code in range(128)}
_STARS = re.compile(r"(?<!\s)(?:\*++|~~)|(?:\*++|~~)(?!\s)|(?<!\w)_++(?=\S)|(?<=\S)_++(?!\w)")


def _inline(text: str) -> str:
    """The words a paragraph shows: code as typed, links and images by their text, no marks."""
    if not _MARKS.search(text):
        return text
    escaped = "\\" in text
    if escaped:
        text = _ESCAPED.sub(lambda m: chr(_PROTECTED + ord(m.group(1))), text)
    out: list[str] = []
    for segment, is_code in _code_spans(text) if "`" in text else [(text, False)]:
        if not is_code:
            segment = _links(segment)
            segment = _AUTOLINK.sub(r"\1", segment) if "<" in segment else segment
            segment = _STARS.sub("", segment)
        out.append(segment)
    shown = html.unescape("".join(out))
    return shown.translate(_RESTORED) if escaped else shown


def _code_spans(text: str) -> list[tuple[str, bool]]:
    """`text` cut into (segment, is code): a run of backticks opens a code span that the next run of
    the same length closes; a run that nothing closes is shown as typed."""
    runs = [(m.start(), m.end()) for m in re.finditer(r"`+", text)]
    closing: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):  # the next run of the same length, for every run
        length = runs[index][1] - runs[index][0]
        closing[index] = last.get(length)
        last[length] = index
    segments: list[tuple[str, bool]] = []
    position = index = 0
    while index < len(runs):
        close = closing[index]
        if close is None:
            index += 1
            continue
        (start, inner), (end, after) = runs[index], runs[close]
        segments.append((text[position:start], False))
        code = text[inner:end]
        segments.append((code[1:-1] if code.startswith(" ") and code.endswith(" ") and code.strip() else code, True))
        position, index = after, close + 1
    segments.append((text[position:], False))
    return segments


def _links(text: str) -> str:
    """`[text](address)`, `![description](address)` and `[text][name]` as their text alone."""
    if "[" not in text:
        return text
    n = len(text)
    next_of: dict[str, list[int]] = {}
    for char in ")]":  # where the next one is, from every position: one pass each, from the end
        table, following = [n] * (n + 1), n
        for index in range(n - 1, -1, -1):
            if text[index] == char:
                following = index
            table[index] = following
        next_of[char] = table
    out: list[str] = []
    openers: list[int] = []  # indices in `out` of the "[" or "![" not closed yet
    index = 0
    while index < n:
        char = text[index]
        if char == "[" or (char == "!" and index + 1 < n and text[index + 1] == "["):
            openers.append(len(out))
            out.append("![" if char == "!" else "[")
            index += 2 if char == "!" else 1
            continue
        if char == "]" and openers and index + 1 < n and text[index + 1] in "([":
            end = next_of[")" if text[index + 1] == "(" else "]"][index + 2]
            if end < n:
                opener = openers.pop()
                if out[opener] == "[":
                    openers.clear()  # a link inside a link: the outer one is text
                out[opener] = ""
                index = end + 1
                continue
        out.append(char)
        index += 1
    return "".join(out)


def plain(text: str) -> str:
    """The words a Markdown text shows, its blocks joined by spaces, without any mark."""
    return " ".join(blocks(text, True))
