"""Published minutes and protocols, readable without an account: one version's page, its PDF and
Markdown; a protocol's page, its PDF/A and its verification bundle; and the Atom feeds (one per
public table, one for all of them), whose entries are the published minutes and the protocols.

Members of the table (and administrators) read the full copy; everyone else reads the public
copy, in which the passages the chair marked read "[omissis]" — the page, the PDF, the Markdown
file and the feeds alike. The hashes shown are the public copy's (its Markdown is the archive's
file, whose line in the table's CHAIN is shown too, with the chain's current head): the full
copy's hashes never leave the application, so that nobody can confirm a guessed name against
them. A private table's minutes are not there for the public: its routes answer as every route of
a private table does (log in first; 404 to a person without a role on it).

Protocols: a public table's protocols in force, expired or superseded (`protocol_access.is_public`) are
public at `/tavoli/<slug>/protocolli/<id>` — the page (the frozen text, its SHA-256 and the
annexes', each signature checked), the PDF/A with its signature page (`…/<id>.pdf`,
server/domain/protocol_pdf.py) and the verification bundle (`…/<id>/verifica.zip`,
server/domain/protocol_bundle.py). Those addresses are the protocol's own (server/web/protocols.py)
for the protocol's people: a `ProtocolFace` route hands whoever has a role on the table, an
administrator or a signer of the protocol's parties to the next route of the same address (the
protocol's page, its bundle), and shows everyone else the public face — a draft, a protocol open for
signature, or any protocol of a private table is a 404 (or "log in first") for them. The PDF is
made when asked for (a protocol's print changes as parties adhere and as it ends), one or two at
a time per instance, and the last few are kept (`Prints`). The feeds carry one entry per public
protocol beside the minutes: same reader, same subscription (one feed per table, as the table's
home links it), its `updated` the time it entered into force or ended.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, request_response
from starlette.types import Receive, Scope, Send

from server.db.models import MinutesVersion, Protocol, ProtocolStatus, Table
from server.db.session import Database
from server.domain import (
    minutes_archive,
    protocol_access,
    protocol_bundle,
    protocol_keys,
    protocol_pdf,
    protocol_seal,
    protocols,
    texts,
)
from server.domain.errors import NotFound
from server.domain.inputs import is_record_id
from server.domain.protocol_keys import KeyFileError
from server.i18n import _
from server.views.minutes import Published, published_of, published_of_public_tables, published_version
from server.web.access import TableAccess, TableEndpoint, TableRoute, authorize, table_and_membership
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


@dataclass(frozen=True)
class PublicProtocol:
    """A public protocol, as a feed entry: its table, the version signed and how many signed it."""

    protocol: Protocol
    table: Table
    text_sha256: str
    version: int
    signatures: int

    @property
    def stamp(self) -> datetime:
        return _aware(self.protocol.ended_at or self.protocol.in_force_at or self.protocol.created_at)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def public_protocols(session: AsyncSession, *, table_id: int | None = None, limit: int) -> list[PublicProtocol]:
    """The protocols the public sees (in force, expired, superseded; public tables only), the latest
    change first: of one table, or of every public table."""
    latest = func.coalesce(Protocol.ended_at, Protocol.in_force_at, Protocol.created_at)
    query = (
        select(Protocol, Table)
        .join(Table, Table.id == Protocol.table_id)
        .where(Table.is_public.is_(True), Protocol.status.in_(list(protocols.PUBLIC_STATUSES)))
        .order_by(latest.desc(), Protocol.id.desc())
        .limit(limit)
    )
    if table_id is not None:
        query = query.where(Protocol.table_id == table_id)
    found: list[PublicProtocol] = []
    for protocol, table in (await session.execute(query)).all():
        version = await protocol_bundle.bundled_version(session, protocol.id)
        if version is None:
            continue
        count = len(await protocols.signatures_of(session, version.id))
        found.append(PublicProtocol(protocol, table, version.text_sha256, version.number, count))
    return sorted(found, key=lambda entry: entry.stamp, reverse=True)


def _protocol_entry(request: Request, feed: FeedGenerator, found: PublicProtocol) -> None:
    protocol = found.protocol
    page = str(request.url_for("public_protocol", slug=found.table.slug, protocol_id=protocol.id))
    item = feed.add_entry()
    item.id(page)
    status = protocols.protocol_status_label(protocol.status)
    item.title(f"{found.table.name}: " + _("Protocol «{title}»").format(title=protocol.title) + f" — {status}")
    item.link(href=page, rel="alternate", type="text/html")
    item.published(_aware(protocol.in_force_at or protocol.created_at))
    item.updated(found.stamp)
    lines = [
        protocols.protocol_kind_label(protocol.kind),
        _("SHA-256 of the text signed (version {number}): {hash}").format(number=found.version, hash=found.text_sha256),
        _("Signatures: {count}").format(count=found.signatures),
        _("PDF/A: {url}").format(url=request.url_for("protocol_pdf", slug=found.table.slug, protocol_id=protocol.id)),
        _("Verification bundle: {url}").format(
            url=request.url_for("public_protocol_bundle", slug=found.table.slug, protocol_id=protocol.id)
        ),
    ]
    item.summary("\n".join(lines))


def _feed(
    request: Request,
    *,
    url: str,
    title: str,
    entries: list[Published],
    heads: dict[int, str | None],
    protocols_found: list[PublicProtocol] | None = None,
) -> Response:
    feed = FeedGenerator()
    feed.id(url)
    feed.title(title)
    feed.link(href=url, rel="self", type="application/atom+xml")
    feed.language("it")
    feed.author({"name": _("Metropolitan City of Bologna")})
    protocols_found = protocols_found or []
    stamps = [_aware(e.version.published_at) for e in entries if e.version.published_at]
    stamps += [found.stamp for found in protocols_found]
    feed.updated(max(stamps, default=None) or datetime(2026, 1, 1, tzinfo=UTC))
    # Newest first, minutes and protocols together (a stable sort keeps the minutes' own order);
    # feedgen puts the last one added first.
    both: list[tuple[datetime, Published | PublicProtocol]] = [
        (_aware(e.version.published_at or e.version.created_at), e) for e in entries
    ]
    both += [(found.stamp, found) for found in protocols_found]
    both.sort(key=lambda pair: pair[0], reverse=True)
    for _stamp, found in reversed(both):
        if isinstance(found, PublicProtocol):
            _protocol_entry(request, feed, found)
            continue
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
        found = await public_protocols(session, table_id=access.table.id, limit=FEED_ENTRIES)
    url = str(request.url_for("table_minutes_feed", slug=access.table.slug))
    title = _("Minutes and protocols of {table}").format(table=access.table.name)
    return _feed(
        request,
        url=url,
        title=title,
        entries=entries,
        heads={access.table.id: chain_head(request, access.table)},
        protocols_found=found,
    )


async def all_feed(request: Request) -> Response:
    """The feed of every public table's published minutes."""
    async with _db(request).read() as session:
        entries = await published_of_public_tables(session, limit=FEED_ENTRIES)
        found = await public_protocols(session, limit=FEED_ENTRIES)
    heads = {e.table.id: chain_head(request, e.table) for e in entries}
    url = str(request.url_for("minutes_feed"))
    title = _("Minutes and protocols of the metropolitan tables")
    return _feed(request, url=url, title=title, entries=entries, heads=heads, protocols_found=found)


# --- protocols ------------------------------------------------------------------------------------


def _record_ids(request: Request) -> bool:
    return all(is_record_id(value) for value in request.path_params.values() if isinstance(value, int))


async def _protocol_people(request: Request) -> TableAccess | None:
    """The viewer's access when they are one of the protocol's people — a role on its table, an
    administrator, or a signer (signatory, substitute) of one of its parties, who has no role on the
    table (membership None) —, None for everyone else: they have the protocol's own pages."""
    viewer = request.state.viewer
    if not viewer.authenticated or viewer.user_id is None:
        return None
    async with _db(request).read() as session:
        table, membership = await table_and_membership(session, request.path_params["slug"], viewer.user_id)
        if table is None:
            return None
        if membership is not None or viewer.is_admin:
            return TableAccess(table, viewer, membership)
        reachable = await protocol_access.reachable_protocols(session, table.id, viewer.user_id)
    if int(request.path_params["protocol_id"]) in reachable:
        return TableAccess(table, viewer, None)
    return None


class ProtocolFace(TableRoute):
    """An address of one protocol with two audiences. The protocol's people (`_protocol_people`) are
    served by `people` — or, when it is None, by the next route of the router that matches the same
    address (server/web/protocols.py's page and bundle, which check their access themselves). Everyone
    else gets the public face: `endpoint` after `authorize` with no role (a private table: log in
    first, or 404), and the endpoint answers 404 for a protocol the public does not see."""

    def __init__(self, path: str, endpoint: TableEndpoint, *, name: str, people: TableEndpoint | None = None) -> None:
        if "{protocol_id" not in path:
            raise ValueError(f"a protocol's address needs {{protocol_id}}: {path}")
        super().__init__(path, endpoint, role=None, name=name)

        async def public(request: Request) -> Response:
            if not _record_ids(request):
                raise HTTPException(404)  # no record has this id: nothing to read
            return await endpoint(request, await authorize(request, request.path_params["slug"], None))

        public_app = request_response(public)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            own = await _protocol_people(request) if _record_ids(request) else None
            if own is not None and people is not None:

                async def served(request: Request) -> Response:
                    return await people(request, own)

                await request_response(served)(scope, receive, send)
                return
            following = self._following(scope) if own is not None else None
            if following is not None:
                scope.update(following.matches(scope)[1])
                await following.handle(scope, receive, send)
                return
            await public_app(scope, receive, send)

        self.app = app

    def _following(self, scope: Scope) -> Route | None:
        """The next route of the router that matches this request fully (the protocol's own page)."""
        router = scope.get("router")
        routes = list(getattr(router, "routes", ()))
        if self not in routes:
            return None
        for route in routes[routes.index(self) + 1 :]:
            if isinstance(route, Route):
                match, _child = route.matches(scope)
                if match is Match.FULL:
                    return route
        return None


async def _public_protocol(request: Request, access: TableAccess) -> Protocol:
    """The protocol in the address, if the public sees it (404 otherwise: a draft, one open for
    signature, another table's, or any protocol of a private table)."""
    async with _db(request).read() as session:
        try:
            protocol = await protocols.get_protocol(session, access.table.id, int(request.path_params["protocol_id"]))
        except NotFound:
            raise HTTPException(404) from None
    if not protocol_access.is_public(access.table, protocol):
        raise HTTPException(404)
    return protocol


def _link(found: Protocol | None, table: Table) -> Protocol | None:
    """A protocol named by this one, when the public may follow the link to it."""
    return found if found is not None and protocol_access.is_public(table, found) else None


async def protocol_page(request: Request, access: TableAccess) -> Response:
    """The public page of a protocol: its frozen text, the text's and the annexes' SHA-256, each
    party's signature checked, and the PDF/A and verification bundle to download."""
    protocol = await _public_protocol(request, access)
    async with _db(request).read() as session:
        printed = await protocol_pdf.collect(session, protocol.id)
        text_html = await texts.renderer_of(session).render(printed.text)
        supersedes = await session.get(Protocol, protocol.supersedes_id) if protocol.supersedes_id else None
        later = await protocols.superseded_by(session, protocol.id)
    context = {
        "table": access.table,
        "audience": access.audience,
        "protocol": protocol,
        "printed": printed,
        "text_html": text_html,
        "kind_label": protocols.protocol_kind_label(protocol.kind),
        "status_label": protocols.protocol_status_label(protocol.status),
        "role_label": protocol_pdf.role_label,
        "supersedes": _link(supersedes, access.table),
        "superseded_by": _link(later, access.table) if protocol.status is ProtocolStatus.superseded else None,
    }
    return render(request, "protocols/public.html", context)


@dataclass
class Prints:
    """The PDFs made for the public pages: at most `at_once` laid out at a time on this instance (each
    is a process of a second or two), the last `kept` kept by the SHA-256 of their HTML document —
    the same protocol in the same state prints to the same document, and a changed one (a party that
    adhered, a protocol that ended) to another."""

    kept: int = 16
    at_once: int = 2

    def __post_init__(self) -> None:
        self.done: OrderedDict[str, bytes] = OrderedDict()
        self.gate = asyncio.Semaphore(self.at_once)

    async def pdf(self, html: str, *, base_url: str | None) -> bytes:
        key = hashlib.sha256(f"{base_url}\n{html}".encode()).hexdigest()
        found = self.done.get(key)
        if found is None:
            async with self.gate:
                found = self.done.get(key)  # made while this one waited
                if found is None:
                    found = await protocol_pdf.render_pdf(html, base_url=base_url)
                    self.done[key] = found
                    while len(self.done) > self.kept:
                        self.done.popitem(last=False)
        self.done.move_to_end(key)
        return found


def prints(request: Request) -> Prints:
    state = request.app.state
    found = getattr(state, "protocol_prints", None)
    if not isinstance(found, Prints):
        found = state.protocol_prints = Prints()
    return found


async def _pdf(request: Request, protocol_id: int) -> Response:
    async with _db(request).read() as session:
        try:
            printed, html = await protocol_pdf.protocol_document(session, protocol_id)
        except NotFound:
            raise HTTPException(404) from None
    data = await prints(request).pdf(html, base_url=request.app.state.settings.base_url)
    name = protocol_pdf.pdf_file_name(printed)
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


async def protocol_pdf_public(request: Request, access: TableAccess) -> Response:
    """The PDF/A of a public protocol, with its signature page."""
    protocol = await _public_protocol(request, access)
    return await _pdf(request, protocol.id)


async def protocol_pdf_own(request: Request, access: TableAccess) -> Response:
    """The PDF/A for the protocol's people: of any protocol of the table once opened for signature
    (the signatures made so far, and the parties still to sign, on its signature page)."""
    async with _db(request).read() as session:
        try:
            protocol = await protocols.get_protocol(session, access.table.id, int(request.path_params["protocol_id"]))
        except NotFound:
            raise HTTPException(404) from None
    return await _pdf(request, protocol.id)


async def protocol_bundle_public(request: Request, access: TableAccess) -> Response:
    """The verification bundle of a public protocol (server/domain/protocol_bundle.py)."""
    protocol = await _public_protocol(request, access)
    try:
        current = protocol_keys.current_key(request.app.state.settings.signing_key_file)
    except KeyFileError:
        current = None  # the keys the database knows sealed every signature: the bundle holds them
    async with _db(request).read() as session:
        version = await protocol_bundle.bundled_version(session, protocol.id)
        if version is None:
            raise HTTPException(404)
        data = await protocol_bundle.bundle(
            session, protocol.id, current=current, base_url=request.app.state.settings.base_url
        )
    name = protocol_bundle.bundle_file_name(protocol.id, version.number) + ".zip"
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


async def protocol_sealed_public(request: Request, access: TableAccess) -> Response:
    """The sealed PDF of a public protocol (server/domain/protocol_seal.py, `stored_sealed_pdf`): sealed
    by the institution when a seal is configured, else saying on its first page that it is not."""
    protocol = await _public_protocol(request, access)
    try:
        name, data = await protocol_seal.stored_sealed_pdf(
            _db(request), protocol.id, seal=request.app.state.seal, base_url=request.app.state.settings.base_url
        )
    except NotFound:
        raise HTTPException(404) from None
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


_VERSION = "/tavoli/{slug}/verbali/{version_id:int}"
_PROTOCOL = "/tavoli/{slug}/protocolli/{protocol_id:int}"
ROUTES: list[Any] = [
    TableRoute(_VERSION, version_page, role=None, name="minutes_version"),
    TableRoute(_VERSION + ".pdf", version_pdf, role=None, name="minutes_pdf"),
    TableRoute(_VERSION + ".md", version_markdown, role=None, name="minutes_markdown"),
    TableRoute("/tavoli/{slug}/verbali.atom", table_feed, role=None, name="table_minutes_feed"),
    Route("/verbali.atom", all_feed, name="minutes_feed"),
    # Before server/web/protocols.py's routes of the same addresses, which the protocol's people reach.
    ProtocolFace(_PROTOCOL, protocol_page, name="public_protocol"),
    ProtocolFace(_PROTOCOL + ".pdf", protocol_pdf_public, people=protocol_pdf_own, name="protocol_pdf"),
    ProtocolFace(_PROTOCOL + "/verifica.zip", protocol_bundle_public, name="public_protocol_bundle"),
    ProtocolFace(_PROTOCOL + "/sigillato.pdf", protocol_sealed_public, name="public_protocol_sealed_pdf"),
]
