"""What both servers push: a small fragment carrying the time it was sent, padded to a size."""

from __future__ import annotations


def frame(number: int, sent_at: float, size: int) -> str:
    head = f'<div id="bench-{number % 4}" data-t="{sent_at:.6f}">'
    tail = "</div>"
    return head + "x" * max(size - len(head) - len(tail), 0) + tail


WARM_UP = 5  # unstamped frames each server pushes first, so that no figure measures a cold process


def unstamped(number: int, size: int) -> str:
    """A frame of the same size without a stamp: the clients ignore it."""
    return frame(number, 0.0, size).replace('data-t="0.000000"', 'data-w="00000000"')


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
