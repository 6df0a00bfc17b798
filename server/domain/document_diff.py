"""The difference between two texts as the inserts and deletes that turn one into the other,
applied to a document's shared text by the save without JavaScript (server/domain/documents.py,
`apply_text`), and the offsets pycrdt's text counts in.
"""

from __future__ import annotations

import bisect
import difflib
import re

# Replaced blocks larger than this (in characters, each side) are not diffed character by character.
_CHAR_DIFF_LIMIT = 4_000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def edits(base: str, new: str) -> list[tuple[str, int, int, int, int]]:
    """The opcodes (difflib's, without "equal") that turn `base` into `new`.

    The common beginning and end are set aside first; the rest is compared line by line, and each
    replaced block of reasonable size character by character, so that a change inside a line
    keeps the rest of the line (and whatever someone else typed in it) where it is.
    """
    prefix = len(_common_prefix(base, new))
    limit = min(len(base), len(new)) - prefix
    suffix = len(_common_prefix(base[::-1][:limit], new[::-1][:limit]))
    a, b = base[prefix : len(base) - suffix], new[prefix : len(new) - suffix]
    found: list[tuple[str, int, int, int, int]] = []
    a_lines, b_lines = a.splitlines(keepends=True), b.splitlines(keepends=True)
    a_starts, b_starts = _starts(a_lines), _starts(b_lines)
    matcher = difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        x1, x2, y1, y2 = a_starts[i1], a_starts[i2], b_starts[j1], b_starts[j2]
        if tag == "replace" and max(x2 - x1, y2 - y1) <= _CHAR_DIFF_LIMIT:
            chars = difflib.SequenceMatcher(None, a[x1:x2], b[y1:y2], autojunk=False)
            found += [
                (t, prefix + x1 + c1, prefix + x1 + c2, prefix + y1 + d1, prefix + y1 + d2)
                for t, c1, c2, d1, d2 in chars.get_opcodes()
                if t != "equal"
            ]
        else:
            found.append((tag, prefix + x1, prefix + x2, prefix + y1, prefix + y2))
    return found


def clean(text: str) -> str:
    """A text as the document keeps it: line ends as \\n (a form sends \\r\\n), no lone surrogates."""
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\r\n", "\n"))


def _common_prefix(a: str, b: str) -> str:
    """The longest common beginning of two texts, found by halving (each comparison runs in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return a[:low]


def _starts(lines: list[str]) -> list[int]:
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts


class Utf8Offsets:
    """Character offsets of a text → the UTF-8 byte offsets that pycrdt's Text indexes by."""

    def __init__(self, text: str) -> None:
        self._text = text
        # Offsets of the characters outside ASCII (each adds bytes), and the bytes they add before them.
        self._wide = [i for i, char in enumerate(text) if ord(char) >= 0x80]
        extra = [0]
        for i in self._wide:
            extra.append(extra[-1] + len(text[i].encode()) - 1)
        self._extra = extra

    def at(self, index: int) -> int:
        return index + self._extra[bisect.bisect_left(self._wide, index)]
