"""Comparing two texts as people read them: block by block (paragraphs, list items, headings,
quotes, code), then word by word within a changed block, in bounded work; and a Markdown text
as the plain words it shows."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.plain_text import blocks as _blocks

# --- comparing two versions ------------------------------------------------------------------------
#
# The texts are compared block by block (paragraphs, list items, headings, quotes, code), as the
# reader sees them: only the text a Markdown block shows is kept (see "blocks" below), so no `**`
# ever shows. The blocks are aligned first (each block is one element, so this is cheap), then
# the words of an old block and the new one that took its place. Every element comparison and
# every step of the search is counted against a limit for the whole comparison, and against a
# smaller one for each pair of blocks: past it, what is left of a block is shown as replaced (the
# old words removed, the new ones added) instead of finishing quadratic work.

WORK_LIMIT = 200_000
"""Units of work (element comparisons and search steps) one comparison of two versions may take."""
PAIR_LIMIT = 50_000
"""Of which the words of one old block and its new counterpart may take at most this many."""
_SIMILAR = 0.4
"""Two blocks of a changed stretch are paired (compared word by word) from this share of common words."""

Piece = tuple[str, str]
"""("same" | "removed" | "added", text)."""
_Op = tuple[str, int, int, int, int]
"""(tag, i1, i2, j1, j2) as difflib's opcodes: "equal", "replace", "delete" or "insert"."""
_Run = tuple[int, int, int]
"""(i, j, size): a[i:i + size] == b[j:j + size]."""


@dataclass
class Work:
    """The cost counter of one comparison: element comparisons and search steps, up to `limit`."""

    limit: int = WORK_LIMIT
    comparisons: int = 0

    @property
    def left(self) -> int:
        return max(self.limit - self.comparisons, 0)


@dataclass(frozen=True)
class TextDiff:
    """One text compared: its blocks in reading order, each a list of pieces."""

    blocks: tuple[tuple[Piece, ...], ...]

    @property
    def same(self) -> bool:
        return all(op == "same" for block in self.blocks for op, _ in block)


def compare_text(old: str, new: str, work: Work, *, markdown: bool = False) -> TextDiff:
    """`old` and `new` compared block by block, then word by word within a changed block."""
    a, b = _blocks(old, markdown), _blocks(new, markdown)
    ids: dict[str, int] = {}
    a_ids = [ids.setdefault(block, len(ids)) for block in a]
    b_ids = [ids.setdefault(block, len(ids)) for block in b]
    blocks: list[tuple[Piece, ...]] = []
    for tag, i1, i2, j1, j2 in _opcodes(_runs(a_ids, b_ids, work, work.left), len(a), len(b)):
        if tag == "equal":
            blocks.extend((("same", block),) for block in a[i1:i2])
        else:
            blocks.extend(_changed_stretch(a[i1:i2], b[j1:j2], work))
    return TextDiff(tuple(blocks))


def word_diff(old: str, new: str, work: Work | None = None) -> list[Piece]:
    """The changes from plain `old` to `new`, word by word (whitespace counts as one space)."""
    work = work or Work()
    return _word_pieces(old.split(), new.split(), work)


# --- a changed stretch: pairing its blocks, then comparing their words --------------------------------


def _changed_stretch(old: Sequence[str], new: Sequence[str], work: Work) -> list[tuple[Piece, ...]]:
    """Old blocks replaced by new ones: each old block paired with a new one that resembles it
    (compared word by word), the others shown removed or added whole."""
    out: list[tuple[Piece, ...]] = []
    alone = len(old) == 1 and len(new) == 1
    i = j = 0
    while i < len(old) and j < len(new):
        if alone or _similar(old[i], new[j], work):
            out.append(tuple(_word_pieces(old[i].split(" "), new[j].split(" "), work, PAIR_LIMIT)))
            i, j = i + 1, j + 1
        elif j + 1 < len(new) and _similar(old[i], new[j + 1], work):
            out.append((("added", new[j]),))
            j += 1
        elif i + 1 < len(old) and _similar(old[i + 1], new[j], work):
            out.append((("removed", old[i]),))
            i += 1
        else:
            out.extend(((("removed", old[i]),), (("added", new[j]),)))
            i, j = i + 1, j + 1
    out.extend((("removed", block),) for block in old[i:])
    out.extend((("added", block),) for block in new[j:])
    return out


def _similar(a: str, b: str, work: Work) -> bool:
    """Whether two blocks share enough words to be shown as one edited block (costs their length)."""
    words_a, words_b = a.split(" "), b.split(" ")
    cost = len(words_a) + len(words_b)
    if cost > work.left:
        return False
    work.comparisons += cost
    set_a, set_b = set(words_a), set(words_b)
    return 2 * len(set_a & set_b) >= _SIMILAR * (len(set_a) + len(set_b))


def _word_pieces(a: list[str], b: list[str], work: Work, limit: int | None = None) -> list[Piece]:
    """The pieces of one block's change, word by word, with the spaces where each text has them."""
    runs = _runs(a, b, work, min(work.left, PAIR_LIMIT if limit is None else limit))
    ops = _merge_small_equalities(_opcodes(runs, len(a), len(b)))
    last = len(ops) - 1
    lead, trail = [""] * len(ops), [""] * len(ops)
    for index, (tag, *_) in enumerate(ops):
        if tag == "equal":
            continue
        before, after = index > 0, index < last
        if tag == "replace":  # the spaces around it are in both texts: they go to the equal words
            if before:
                trail[index - 1] = " "
            if after:
                lead[index + 1] = " "
        elif before and after:  # one of the two spaces is in both texts, the other only in this one
            trail[index - 1] = trail[index] = " "
        elif before:
            lead[index] = " "
        elif after:
            trail[index] = " "
    pieces: list[Piece] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            pieces.append(("same", lead[index] + " ".join(a[i1:i2]) + trail[index]))
        elif tag == "replace":
            pieces.extend((("removed", " ".join(a[i1:i2])), ("added", " ".join(b[j1:j2]))))
        elif tag == "delete":
            pieces.append(("removed", lead[index] + " ".join(a[i1:i2]) + trail[index]))
        else:
            pieces.append(("added", lead[index] + " ".join(b[j1:j2]) + trail[index]))
    return pieces


def _merge_small_equalities(ops: list[_Op]) -> list[_Op]:
    """A word or two in common between two changes is shown inside one change, not as a patchwork."""
    out: list[_Op] = []
    index = 0
    while index < len(ops):
        op = ops[index]
        if op[0] == "equal" and out and index + 1 < len(ops):
            before, after = out[-1], ops[index + 1]
            size = op[2] - op[1]
            if size <= max(before[2] - before[1], before[4] - before[3]) and size <= max(
                after[2] - after[1], after[4] - after[3]
            ):
                out[-1] = ("replace", before[1], after[2], before[3], after[4])
                index += 2
                continue
        out.append(op)
        index += 1
    return out


# --- the alignment: the greedy shortest edit script (Myers), bounded -----------------------------------


def _opcodes(runs: list[_Run], n: int, m: int) -> list[_Op]:
    """Matching runs (i, j, size), in order, as difflib-style opcodes covering both sequences."""
    ops: list[_Op] = []
    i = j = 0
    for ri, rj, size in [*runs, (n, m, 0)]:
        if ri > i or rj > j:
            tag = "replace" if ri > i and rj > j else "delete" if ri > i else "insert"
            ops.append((tag, i, ri, j, rj))
        if size:
            if ops and ops[-1][0] == "equal":
                ops[-1] = ("equal", ops[-1][1], ri + size, ops[-1][3], rj + size)
            else:
                ops.append(("equal", ri, ri + size, rj, rj + size))
        i, j = ri + size, rj + size
    return ops


def _runs(a: Sequence[object], b: Sequence[object], work: Work, limit: int) -> list[_Run]:
    """The runs (i, j, size) of a shortest edit script from `a` to `b`, found in at most `limit`
    units of work (counted on `work`). Past the limit only the common beginning and end are kept:
    the middle is then one replacement."""
    n, m = len(a), len(b)
    count, cap = work.comparisons, work.comparisons + max(limit, 0)
    head = tail = 0
    try:
        while head < n and head < m:
            if count >= cap:
                return _ends(head, tail, n, m)
            count += 1
            if a[head] != b[head]:
                break
            head += 1
        while tail < n - head and tail < m - head:
            if count >= cap:
                return _ends(head, tail, n, m)
            count += 1
            if a[n - 1 - tail] != b[m - 1 - tail]:
                break
            tail += 1
        width, height = n - head - tail, m - head - tail
        if width == 0 or height == 0:
            return _ends(head, tail, n, m)
        # trace[d][(k + d) // 2]: how far (x) diagonal k = x - y reaches with d edits; -1 if not at all.
        trace: list[array[int]] = []
        previous = array("i")
        for d in range(width + height + 1):
            count += 1
            row = array("i", [-1]) * (d + 1)
            low, high = max(-d, -height), min(d, width)
            if (low + d) % 2:
                low += 1
            for k in range(low, high + 1, 2):
                if count >= cap:
                    return _ends(head, tail, n, m)
                count += 1
                x, _ = _step(previous, d, k, width, height)
                if x < 0:
                    continue
                y = x - k
                while x < width and y < height:
                    if count >= cap:
                        return _ends(head, tail, n, m)
                    count += 1
                    if a[head + x] != b[head + y]:
                        break
                    x, y = x + 1, y + 1
                row[(k + d) // 2] = x
                if x >= width and y >= height:
                    trace.append(row)
                    return _backtrack(trace, d, k, head, tail, n, m)
            trace.append(row)
            previous = row
        raise AssertionError("a shortest edit script has at most n + m edits")
    finally:
        work.comparisons = count


def _step(previous: array[int], d: int, k: int, width: int, height: int) -> tuple[int, int]:
    """Where diagonal k starts at step d (x, and the diagonal it came from), before its snake."""
    if d == 0:
        return 0, 0
    down = previous[(k + d) // 2] if k + 1 <= d - 1 else -1  # from k + 1: one word added
    right = previous[(k + d) // 2 - 1] if k - 1 >= -(d - 1) else -1  # from k - 1: one word removed
    down_ok = down >= 0 and down - k <= height
    right_ok = right >= 0 and right + 1 <= width
    if down_ok and (not right_ok or right < down):
        return down, k + 1
    if right_ok:
        return right + 1, k - 1
    return -1, 0


def _backtrack(trace: list[array[int]], end: int, k: int, head: int, tail: int, n: int, m: int) -> list[_Run]:
    """The matching runs of the path that reached the end at step `end` on diagonal `k`."""
    width = n - head - tail
    height = m - head - tail
    runs: list[_Run] = []
    x = trace[end][(k + end) // 2]
    for d in range(end, 0, -1):
        start, came_from = _step(trace[d - 1], d, k, width, height)
        if x > start:
            runs.append((head + start, head + start - k, x - start))
        x, k = trace[d - 1][(came_from + d - 1) // 2], came_from
    if x > 0:
        runs.append((head, head, x))
    runs.reverse()
    before = [(0, 0, head)] if head else []
    after = [(n - tail, m - tail, tail)] if tail else []
    return [*before, *runs, *after]


def _ends(head: int, tail: int, n: int, m: int) -> list[_Run]:
    runs = [(0, 0, head)] if head else []
    if tail:
        runs.append((n - tail, m - tail, tail))
    return runs
