"""The one Markdown renderer: markdown-it's `js-default` preset (no raw HTML), then nh3.

Whatever people write, the output is inert: raw HTML is escaped by the parser, the sanitiser keeps
only harmless tags and attributes (no `hx-*`, no event handlers, no `javascript:` links), and the
result sits inside `hx-disable` so that htmx ignores anything in it (user content must not be able to act).

Rendered once, when written. A Markdown text is rendered when it is saved, and its HTML is stored
beside it: each model with Markdown texts lists them (`RenderedMarkdown.markdown_fields`, in
server/db/models/base.py), each `<field>` has its `<field>_html`, and the row's `rendered_with` is
the `RENDERER_VERSION` that made them. `server.domain.texts` writes a text with its HTML; pages and
the live hub only show the stored HTML (the `markdown` filter, `stored`, marks it safe and wraps it)
and never call the renderer. `MarkdownRenderer.renders` counts the renderings, so that the tests can
hold pages and pushes to that.

Where the renderer comes from. The app owns one `MarkdownRenderer` (made in its lifespan, kept as
`app.state.markdown`, closed at shutdown) and hands it to its `Database`, which puts it in the `info`
of every session, where the events of a transaction travel too: a domain function takes it from the
session it is given (`server.domain.texts.renderer_of`), so that its callers — the endpoints, the
demo, the command line, the tests — pass nothing. A `Database` built without one (the command line,
the demo, the tests) makes its own and closes it in `dispose()`. No module global holds one.

The cost of a text is bounded, and never paid on the event loop beyond a small constant:

- Texts of up to `INLINE_LIMIT` (100) characters render on the loop. markdown-it's worst cases
  grow with the square of a paragraph's length (an unmatched `[` or `![` scans what follows it, up
  to its nesting limit); the worst one known, `![` repeated, takes about 4 ms at 100 characters on
  a busy 2-core machine (1.5 ms at 64, 6 ms at 128, 17 ms at 256), and ordinary short texts well
  under a millisecond: below 100 the worst case is too small to be worth a trip to the worker.
- Longer texts go to a worker process (`server.render_worker`, speaking over its stdin and stdout),
  started at the first long text and reused, one text at a time. A rendering that takes longer
  than its time limit — the constants `TIME_LIMIT_SECONDS` + `TIME_LIMIT_SECONDS_PER_CHARACTER` *
  length: 1 s for a short text, 1.2 s for 20,000 characters, 3 s for a proposal's 200,000 — is cut
  off: the process is killed (a thread could not be), started again for the next text, and the text
  is stored as escaped plain text (`plain_html`), which the page shows with a note to its author.
  Ordinary Markdown renders at about 1.5 µs a character (200,000 characters in 0.3 s), so the limit
  leaves it ten times the time; `![` repeated takes ~140 µs a character (2.8 s for 20,000).
  On SQLite the write transaction waits for its rendering, so a text cut off holds the other writers
  of its instance for at most its time limit; readers, pages and pushes go on.

A new renderer version. Bump `RENDERER_VERSION` whenever the same text would render differently
(markdown-it or nh3 options, the allowed tags, an upgrade that changes their output). A row is
rendered again, all its Markdown fields, the next time one of its texts is written; and
`tavoli migrate` renders again every row of another version, after the schema upgrade
(`server.domain.texts.rerender_stale`, through the worker, without bumping the rows' `version`).
Not at startup: several instances would all do it at once, and `tavoli migrate` is already the
step of every deployment.

Published texts are never rendered again. Minutes, protocols and whatever is published later keep
the HTML they were published with, whatever `RENDERER_VERSION` says: what was published stays as
it was read. Such a model must not take part in `rerender_stale` (give it a column of its own, not
`RenderedMarkdown.rendered_with`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import sys
from functools import cache
from pathlib import Path

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from server.i18n import _

# The version of what `to_html` makes of a text; bump it when that changes (see above).
RENDERER_VERSION = 1
URL_SCHEMES = {"http", "https", "mailto"}
# Texts up to this many characters render on the event loop (the worst case is a few milliseconds).
INLINE_LIMIT = 100
# The time a rendering may take in the worker: this much, plus this much for every character.
TIME_LIMIT_SECONDS = 1.0
TIME_LIMIT_SECONDS_PER_CHARACTER = 10e-6
# The time the worker may take to start (import the parser and the sanitiser) and say it is ready.
WORKER_START_SECONDS = 30.0
# A text cut off is stored as escaped paragraphs inside this element; nh3 keeps no `class`
# attribute, so no rendered text can begin like this (tests/test_markdown_stored.py checks it).
PLAIN_MARKER = '<div class="markdown-plain">'

# The worker's wire: it says READY once started, then answers each text (a 4-byte big-endian length,
# then UTF-8) with its HTML, framed the same way.
READY = b"R"
FRAME = struct.Struct(">I")
WORKER_MODULE = "server.render_worker"
ROOT = Path(__file__).resolve().parents[1]

log = logging.getLogger(__name__)


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("js-default")


def to_html(text: str) -> str:
    """The pipeline: Markdown to sanitised HTML (a string; `stored` marks it safe when shown)."""
    if not text.isascii():  # a lone surrogate is no character: it becomes U+FFFD, as in any decoder
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    html = _parser().render(text)
    return nh3.clean(html, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")


def plain_html(text: str) -> str:
    """A text as escaped plain text: paragraphs at blank lines, lines kept; linear in its length."""
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            paragraphs[-1].append(str(escape(line)))
        elif paragraphs[-1]:
            paragraphs.append([])
    body = "".join(f"<p>{'<br>'.join(lines)}</p>" for lines in paragraphs if lines)
    return f"{PLAIN_MARKER}{body}</div>"


def _wrapped(html: str) -> Markup:
    note = Markup("")
    if html.startswith(PLAIN_MARKER):
        note = Markup('<p class="markdown-note small text-body-secondary">{}</p>').format(
            _("This text took too long to lay out: it is shown without formatting. Simplify it and save it again.")
        )
    # `html` was sanitised by nh3 (or escaped by `plain_html`) before it was stored.
    return Markup('<div class="markdown" hx-disable>{}{}</div>').format(note, Markup(html))  # noqa: S704


def stored(row: object, field: str) -> Markup:
    """The `markdown` filter: a row's stored HTML of its Markdown `field`, wrapped, marked safe.

    `{{ item|markdown("description") }}` shows `item.description_html`. It renders nothing: the HTML
    was rendered (and sanitised) when the text was written. Only the fields a model declares as
    Markdown can be shown this way, so that no plain column is ever marked safe by mistake.
    """
    if field not in getattr(type(row), "markdown_fields", ()):
        raise ValueError(f"{type(row).__name__}.{field} is not a Markdown field")
    return _wrapped(getattr(row, f"{field}_html") or "")


def render_markdown(text: str | None) -> Markup:
    """Render `text` now, on the spot, to safe HTML in `<div class="markdown" hx-disable>`.

    For the tests and for texts the code itself writes; people's texts go through `MarkdownRenderer`.
    """
    return _wrapped(to_html(text or ""))


class MarkdownRenderer:
    """Renders people's Markdown texts when they are written: short ones on the loop, the others in
    a worker process killed at its time limit. One per app (see the module's docstring).

    `renders` counts the texts rendered, `cut_off` those stored as plain text instead.
    """

    def __init__(
        self,
        *,
        inline_limit: int = INLINE_LIMIT,
        time_limit: float = TIME_LIMIT_SECONDS,
        time_limit_per_character: float = TIME_LIMIT_SECONDS_PER_CHARACTER,
    ) -> None:
        self.inline_limit = inline_limit
        self.time_limit = time_limit
        self.time_limit_per_character = time_limit_per_character
        self.renders = 0
        self.cut_off = 0
        self._worker: asyncio.subprocess.Process | None = None
        self._turn: asyncio.Lock | None = None

    def limit_for(self, text: str) -> float:
        """The seconds the worker may take over `text`."""
        return self.time_limit + self.time_limit_per_character * len(text)

    async def render(self, text: str) -> str:
        """The HTML to store for `text`: sanitised HTML, or `plain_html(text)` if it took too long."""
        self.renders += 1
        if len(text) <= self.inline_limit:
            return to_html(text)
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:
            try:
                return await self._in_worker(text)
            except (TimeoutError, OSError, EOFError, ValueError) as exc:
                # asyncio.IncompleteReadError is an EOFError: the worker died (a crash, or out of memory).
                log.warning("Markdown of %d characters cut off (%s): kept as plain text", len(text), type(exc).__name__)
                self.cut_off += 1
                await self._stop_worker()
                return plain_html(text)
            except BaseException:
                # Cancelled mid-conversation: the worker's answer would reach the next text. Stop it.
                await asyncio.shield(self._stop_worker())
                raise

    async def _in_worker(self, text: str) -> str:
        worker = await self._started()
        assert worker.stdin is not None
        assert worker.stdout is not None
        data = text.encode("utf-8", "surrogatepass")
        async with asyncio.timeout(self.limit_for(text)):
            worker.stdin.write(FRAME.pack(len(data)) + data)
            await worker.stdin.drain()
            (size,) = FRAME.unpack(await worker.stdout.readexactly(FRAME.size))
            return (await worker.stdout.readexactly(size)).decode("utf-8", "surrogatepass")

    async def _started(self) -> asyncio.subprocess.Process:
        if self._worker is not None and self._worker.returncode is None:
            return self._worker
        await self._stop_worker()
        self._worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        assert self._worker.stdout is not None
        async with asyncio.timeout(WORKER_START_SECONDS):
            if await self._worker.stdout.readexactly(len(READY)) != READY:
                raise ValueError("the Markdown worker did not say it was ready")
        return self._worker

    async def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if worker.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
        await worker.wait()

    async def close(self) -> None:
        """Stop the worker, if one runs (a later long text would start it again)."""
        await self._stop_worker()
