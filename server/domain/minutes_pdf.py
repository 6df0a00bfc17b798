"""The printed minutes: a whole HTML document from a `MinutesRecord` and the body, and its PDF/A.

`printable` lays out one copy (full or public) of one published version: the Città metropolitana's
and the table's heading, the meeting (title, date in Europe/Rome, place), the attendance, what the
table decided on each item with every organisation's position, the action items recorded from each
item, then the body. It is a document of its own (templates/minutes/print.html, its print CSS
inline: WeasyPrint is not a browser, no CSP applies, and the document renders the same wherever it
goes), rendered with this module's small Jinja environment — the app's lives in server.views, which
the domain may not import. Labels go through `_()` in the locale asked for.

`render_pdf` turns it into PDF/A-2u (WeasyPrint 70's `pdf_variant="pdf/a-2u"`, which embeds its
sRGB ICC profile as the output intent), tagged for accessibility (`pdf_tags=True`), fonts embedded
(WeasyPrint embeds every font it uses, subset; the CSS names DejaVu, on the machine). Its
`url_fetcher` (`StaticOnlyFetcher`) serves only files inside our static folder, named by their
/static/ address on the site or by a file path inside the folder; anything else — another host,
another scheme, a path that leads out of the folder — is refused before any byte moves: a Markdown
image pointing elsewhere must not make publishing a server-side request forgery.

`render_pdf_async` runs it in a process of its own (`python -m server.domain.minutes_pdf`), killed
at its time limit, like the Markdown worker (server/markdown.py): laying out a PDF is about a second
of pure-Python CPU for ten pages, which in a thread would hold the GIL that the event loop (and
every socket of the instance) needs; publishing is rare, so the process is started for each PDF
and ends with it (nothing to keep or to close at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import os
import sys
import warnings
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import jinja2
import nh3
from markupsafe import Markup

from server import i18n
from server.i18n import _
from server.markdown import URL_SCHEMES

with warnings.catch_warnings():
    # Without HarfBuzz's subsetter (libharfbuzz-subset0) WeasyPrint 70 subsets the fonts with fontTools,
    # and says at import that a later version will require the library: a DeprecationWarning, which
    # the tests turn into errors. The PDF is the same; installing the library only makes it faster.
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    from weasyprint import HTML  # type: ignore[import-untyped]
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # type: ignore[import-untyped]

if TYPE_CHECKING:  # the worker process needs none of what collecting a record imports
    from server.domain.minutes_record import MinutesRecord

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
TEMPLATE = "minutes/print.html"
ISSUER = "Città metropolitana di Bologna"  # a name: the same in every language
# Where the document's relative addresses resolve when the caller names no site address: a name
# that never resolves (RFC 2606), so that nothing but our own /static/ files can come of it.
INTERNAL_BASE = "https://tavoli.invalid/"
STATIC_PREFIX = "/static/"
COPIES = ("full", "public")
PDF_VARIANT = "pdf/a-2u"
# The time one PDF may take in its process (its start included: ~0.8 s to import WeasyPrint), plus
# this much per character of HTML. Eleven pages (~40,000 characters of HTML) lay out in 1.2 to 2.6 s
# on a busy 2-core machine: the limit leaves ten times that, and is there for a runaway layout.
TIME_LIMIT_SECONDS = 30.0
TIME_LIMIT_SECONDS_PER_CHARACTER = 50e-6

# --- the document -----------------------------------------------------------------------------


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["datetime"] = i18n.format_datetime
    env.filters["day"] = i18n.format_day
    return env


def _clean(html: str) -> Markup:
    """HTML from the Markdown pipeline, cleaned once more with its own rules (idempotent on its
    output), so that no caller can slip a stylesheet, a script or a `file:` address into the print."""
    cleaned = nh3.clean(html, url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")
    return Markup(cleaned)  # noqa: S704 - sanitised just above


def _css_string(text: str) -> str:
    """`text` as a CSS string literal (no `<` either: it goes inside a `<style>` element)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ").replace("<", "\\3c ")
    return f'"{escaped}"'


def page_numbers() -> str:
    """The CSS `content` of the page footer, 'Pagina N di M' in the current locale."""
    words = _("Page {page} of {pages}")
    parts: list[str] = []
    rest = words
    while rest:
        cut = min((rest.find(mark) for mark in ("{page}", "{pages}") if mark in rest), default=-1)
        if cut < 0:
            parts.append(_css_string(rest))
            break
        if cut:
            parts.append(_css_string(rest[:cut]))
        mark = "{pages}" if rest.startswith("{pages}", cut) else "{page}"
        parts.append("counter(pages)" if mark == "{pages}" else "counter(page)")
        rest = rest[cut + len(mark) :]
    return " ".join(parts)


def _action_status(status: str) -> str:
    # The same words as the action items' pages (server/views/actions.py, which the domain may not import).
    labels = {"open": _("Open"), "in_progress": _("In progress"), "done": _("Done"), "cancelled": _("Cancelled")}
    return labels.get(status, status)


def _due(value: date | None) -> str:
    return i18n.format_day(value) if value is not None else ""


def printable(
    record: MinutesRecord,
    body_html: str,
    *,
    copy: str,
    version: int,
    supersedes: str | None,
    locale: str,
) -> str:
    """The whole HTML document of one copy of one version of the minutes, to print with `render_pdf`.

    `body_html` is the body as the Markdown pipeline rendered it (server.markdown): the public copy's
    for `copy="public"`, the full one's otherwise. `supersedes` names the version this one corrects
    (its file name), or None. Labels and dates are in `locale` ("it", "en").
    """
    if copy not in COPIES:
        raise ValueError(f"copy must be 'full' or 'public', not {copy!r}")
    with i18n.use_locale(locale):
        title = _("Minutes: {meeting}").format(meeting=record.meeting_title)
        return (
            _environment()
            .get_template(TEMPLATE)
            .render(
                record=record,
                body=_clean(body_html),
                decisions={item.id: _clean(item.decision.text_html) for item in record.items if item.decision},
                copy=copy,
                version=version,
                supersedes=supersedes,
                lang=i18n.current_locale(),
                title=title,
                issuer=ISSUER,
                issuer_css=Markup(_css_string(ISSUER)),  # noqa: S704 - a CSS string literal
                page_numbers=Markup(page_numbers()),  # noqa: S704 - CSS strings escaped by _css_string
                action_status=_action_status,
                due=_due,
            )
        )


def print_document(template: str, *, locale: str, **context: Any) -> str:
    """Any printed document of templates/ (the minutes', the protocols' — server/domain/protocol_pdf.py),
    rendered with this module's environment in `locale`, with what every print shows: `lang`, `issuer`,
    `issuer_css` and `page_numbers` (for its `@page` rules). `context` is the template's own."""
    with i18n.use_locale(locale):
        return (
            _environment()
            .get_template(template)
            .render(
                lang=i18n.current_locale(),
                issuer=ISSUER,
                issuer_css=Markup(_css_string(ISSUER)),  # noqa: S704 - a CSS string literal
                page_numbers=Markup(page_numbers()),  # noqa: S704 - CSS strings escaped by _css_string
                **context,
            )
        )


def clean_html(html: str) -> Markup:
    """HTML from the Markdown pipeline, cleaned once more for a print (see `_clean`)."""
    return _clean(html)


# --- the PDF ----------------------------------------------------------------------------------


class StaticOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint has no type hints
    """WeasyPrint's `url_fetcher` that serves our static files and nothing else.

    Served: `<site>/static/<path>` (the site being `base_url`'s scheme and host) and
    `file://<path>`, when the path, once resolved (symbolic links and `..` followed), is a file inside
    `static_dir`. Everything else raises before anything is read or sent — no socket is ever opened
    (WeasyPrint then leaves the image out, shows its alternative text, and logs a warning).
    `served` and `refused` list the addresses asked for, in order.
    """

    def __init__(self, static_dir: Path = STATIC_DIR, base_url: str = INTERNAL_BASE) -> None:
        super().__init__(timeout=1, allowed_protocols=("file", "http", "https"), allow_redirects=False)
        self.root = static_dir.resolve()
        site = urlsplit(base_url)
        self.site = (site.scheme.lower(), site.netloc.lower())
        self.served: list[str] = []
        self.refused: list[str] = []

    def local_path(self, url: str) -> Path | None:
        """The file of our static folder that `url` names, or None if it names anything else."""
        if "\x00" in url:
            return None
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme == "file" and parts.netloc in ("", "localhost"):
            candidate = Path(unquote(parts.path))
        elif (scheme, parts.netloc.lower()) == self.site and parts.path.startswith(STATIC_PREFIX):
            candidate = self.root / unquote(parts.path[len(STATIC_PREFIX) :])
        else:
            return None
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return None
        if not resolved.is_relative_to(self.root) or not resolved.is_file():
            return None
        return resolved

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        path = self.local_path(url)
        if path is None:
            self.refused.append(url)
            raise ValueError(f"not one of our static files, not fetched: {url[:200]}")
        self.served.append(url)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": media_type})


def render_pdf(
    html: str,
    *,
    base_url: str | None = None,
    static_dir: Path = STATIC_DIR,
    fetcher: StaticOnlyFetcher | None = None,
) -> bytes:
    """`html` (a whole document, from `printable`) as a tagged PDF/A-2u.

    Relative addresses resolve against `base_url` (the site's address, `TAVOLI_BASE_URL`, so that
    the PDF's relative links lead to the site; a name that never resolves otherwise). Only files of
    `static_dir` are read (see `StaticOnlyFetcher`; pass your own `fetcher` to see what was asked).
    """
    base = base_url or INTERNAL_BASE
    if fetcher is None:
        fetcher = StaticOnlyFetcher(static_dir, base)
    document = HTML(string=html, base_url=base, url_fetcher=fetcher)
    with warnings.catch_warnings():
        # WeasyPrint 70 opens its sRGB profile for the output intent and leaves the closing to the
        # garbage collector (weasyprint/pdf/__init__.py), which says so with a ResourceWarning.
        warnings.filterwarnings("ignore", message=r"unclosed file .*sRGB2014\.icc", category=ResourceWarning)
        pdf = document.write_pdf(pdf_variant=PDF_VARIANT, pdf_tags=True)
    assert isinstance(pdf, bytes)
    return pdf


def time_limit_for(html: str) -> float:
    """The seconds `render_pdf_async` gives `html`."""
    return TIME_LIMIT_SECONDS + TIME_LIMIT_SECONDS_PER_CHARACTER * len(html)


async def render_pdf_async(
    html: str,
    *,
    base_url: str | None = None,
    static_dir: Path = STATIC_DIR,
    time_limit: float | None = None,
) -> bytes:
    """`render_pdf(html, …)` in a process of its own, off the event loop; killed at `time_limit`
    (`time_limit_for(html)` by default: TimeoutError) or when the caller is cancelled."""
    request = json.dumps({"html": html, "base_url": base_url, "static_dir": str(static_dir)}).encode()
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        async with asyncio.timeout(time_limit if time_limit is not None else time_limit_for(html)):
            pdf, errors = await worker.communicate(request)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            worker.kill()
        await asyncio.shield(worker.wait())
        raise
    if worker.returncode != 0 or not pdf.startswith(b"%PDF-"):
        tail = errors.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"the PDF worker failed (exit {worker.returncode}): {' | '.join(tail)}")
    return pdf


def _serve() -> None:
    """The worker: one request (JSON on stdin) in, its PDF on stdout, then exit."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # whatever a library prints goes to stderr
    request: dict[str, Any] = json.loads(sys.stdin.buffer.read())
    pdf = render_pdf(request["html"], base_url=request["base_url"], static_dir=Path(request["static_dir"]))
    with answers:
        answers.write(pdf)


if __name__ == "__main__":
    _serve()
