"""The Markdown worker: a process that renders long texts for `server.markdown.MarkdownRenderer`.

Run as `python -m server.render_worker` by the renderer, which kills it when a text takes longer
than its time limit. It says it is ready once the parser and the sanitiser are loaded, then
answers each text read from its stdin with its HTML on its stdout (both framed with a 4-byte length);
it ends when its stdin closes. Whatever a library might print goes to stderr, never into the answers.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

from server.markdown import FRAME, READY, to_html


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer every text of `requests` with its HTML on `answers`, until `requests` ends."""
    to_html("*warm* [up](https://example.org)")  # load everything before the first text's clock starts
    answers.write(READY)
    answers.flush()
    while True:
        header = requests.read(FRAME.size)
        if len(header) < FRAME.size:
            return
        (size,) = FRAME.unpack(header)
        text = requests.read(size).decode("utf-8", "surrogatepass")
        html = to_html(text).encode("utf-8", "surrogatepass")
        answers.write(FRAME.pack(len(html)) + html)
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr
    with answers:
        serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
