"""Published minutes, readable without an account: one version's page, its PDF and Markdown, and
the Atom feeds (one per public table, one for all of them).

Members of the table (and administrators) read the full copy; everyone else reads the public
copy, in which the passages the chair marked read "[omissis]" — the page, the PDF, the Markdown
file and the feeds alike. The hashes shown are the public copy's (its Markdown is the archive's
file, whose line in the table's CHAIN is shown too, with the chain's current head): the full
copy's hashes never leave the application, so that nobody can confirm a guessed name against
them. A private table's minutes are not there for the public: its routes answer as every route of
a private table does (log in first; 404 to a person without a role on it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.db.models import MinutesVersion, Table
from server.db.session import Database
from server.domain import minutes_archive
from server.i18n import _
from server.views.minutes import Published, published_of, published_of_public_tables, published_version
from server.web.access import TableAccess, TableRoute
from server.web.forms import render

FEED_ENTRIES = 50
PUBLIC, FULL = "public", "full"


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _copy(request: Request, access: TableAccess) -> str:
    """The copy this viewer reads: the full one for the table's people (unless they ask for the
    public one, `?copia=pubblica`), the public one for everyone else."""
    if access.audience.reads_table and request.query_params.get("copia") != "pubblica":
        return FULL
    return PUBLIC


def chain_head(request: Request, table: Table) -> str | None:
    return minutes_archive.chain_head(request.app.state.settings.minutes_dir, table.slug)


async def _entry(request: Request, access: TableAccess) -> tuple[Published, MinutesVersion | None]:
    """The published version in the address, and the one it supersedes (None for a first one)."""
    version_id = int(request.path_params["version_id"])
    async with _db(request).read() as session:
        entry = await published_version(session, access.table.id, version_id)
        if entry is None:  # not there, or still being published
            raise HTTPException(404)
        supersedes = entry.version.supersedes_id
        previous = await session.get(MinutesVersion, supersedes) if supersedes is not None else None
    return entry, previous


async def version_page(request: Request, access: TableAccess) -> Response:
    entry, previous = await _entry(request, access)
    copy = _copy(request, access)
    version = entry.version
    context = {
        "table": access.table,
        "audience": access.audience,
        "entry": entry,
        "version": version,
        "meeting": entry.meeting,
        "copy": copy,
        "body_html": version.full_html if copy == FULL else version.public_html,
        "previous": previous,
        "chain_head": chain_head(request, access.table),
    }
    return render(request, "minutes/version.html", context)


def _download_name(version: MinutesVersion, copy: str, extension: str) -> str:
    stem = version.file_name.removesuffix(".md")
    return f"{stem}{'-completo' if copy == FULL else ''}.{extension}"


async def version_pdf(request: Request, access: TableAccess) -> Response:
    entry, _previous = await _entry(request, access)
    copy = _copy(request, access)
    data = entry.version.full_pdf if copy == FULL else entry.version.public_pdf
    name = _download_name(entry.version, copy, "pdf")
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


async def version_markdown(request: Request, access: TableAccess) -> Response:
    """The public copy's Markdown is the archive's file, byte for byte (its hash is the one shown)."""
    entry, _previous = await _entry(request, access)
    copy = _copy(request, access)
    data = entry.version.full_markdown if copy == FULL else entry.version.public_markdown
    name = _download_name(entry.version, copy, "md")
    return Response(
        data.encode("utf-8"),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


# --- the feeds ------------------------------------------------------------------------------------


def _feed(
    request: Request, *, url: str, title: str, entries: list[Published], heads: dict[int, str | None]
) -> Response:
    feed = FeedGenerator()
    feed.id(url)
    feed.title(title)
    feed.link(href=url, rel="self", type="application/atom+xml")
    feed.language("it")
    feed.author({"name": _("Metropolitan City of Bologna")})
    newest = max((e.version.published_at for e in entries if e.version.published_at), default=None)
    feed.updated(newest or datetime(2026, 1, 1, tzinfo=UTC))
    for found in reversed(entries):  # feedgen puts the last one added first
        version = found.version
        page = str(request.url_for("minutes_version", slug=found.table.slug, version_id=version.id))
        item = feed.add_entry()
        item.id(page)
        title = _("Minutes of «{title}»").format(title=found.meeting.title)
        if version.number > 1:
            title += " — " + _("erratum, version {number}").format(number=version.number)
        item.title(f"{found.table.name}: {title}")
        # One link only: feedgen 1.0 writes an entry's links without their rel (its own bug), and a
        # link without rel is the entry's alternate; the page links to the PDF and the Markdown.
        item.link(href=page, rel="alternate", type="text/html")
        stamp = version.published_at or version.created_at
        item.published(stamp)
        item.updated(stamp)
        lines = [
            _("SHA-256 of the file {name}: {hash}").format(
                name=version.file_name, hash=version.public_sha256.get("markdown", "")
            ),
            _("SHA-256 of its PDF: {hash}").format(hash=version.public_sha256.get("pdf", "")),
        ]
        if version.chain_hash:
            lines.append(_("SHA-256 of its line in the CHAIN: {hash}").format(hash=version.chain_hash))
        head = heads.get(found.table.id)
        if head:
            lines.append(_("Head of the table's chain now: {hash}").format(hash=head))
        if found.superseded_by:
            lines.append(_("Superseded by a later version."))
        item.summary("\n".join(lines))
    return Response(feed.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8")


async def table_feed(request: Request, access: TableAccess) -> Response:
    """The feed of one table's published minutes (public copies only, whoever asks)."""
    if not access.table.is_public:
        raise HTTPException(404)  # a feed reader has no account: a private table has no feed
    async with _db(request).read() as session:
        entries = await published_of(session, access.table.id, limit=FEED_ENTRIES)
    url = str(request.url_for("table_minutes_feed", slug=access.table.slug))
    title = _("Minutes of {table}").format(table=access.table.name)
    return _feed(
        request, url=url, title=title, entries=entries, heads={access.table.id: chain_head(request, access.table)}
    )


async def all_feed(request: Request) -> Response:
    """The feed of every public table's published minutes."""
    async with _db(request).read() as session:
        entries = await published_of_public_tables(session, limit=FEED_ENTRIES)
    heads = {e.table.id: chain_head(request, e.table) for e in entries}
    url = str(request.url_for("minutes_feed"))
    return _feed(request, url=url, title=_("Minutes of the metropolitan tables"), entries=entries, heads=heads)


_VERSION = "/tavoli/{slug}/verbali/{version_id:int}"
ROUTES: list[Any] = [
    TableRoute(_VERSION, version_page, role=None, name="minutes_version"),
    TableRoute(_VERSION + ".pdf", version_pdf, role=None, name="minutes_pdf"),
    TableRoute(_VERSION + ".md", version_markdown, role=None, name="minutes_markdown"),
    TableRoute("/tavoli/{slug}/verbali.atom", table_feed, role=None, name="table_minutes_feed"),
    Route("/verbali.atom", all_feed, name="minutes_feed"),
]
