"""The printed protocol: a whole HTML document from a `PrintedProtocol`, and its PDF/A.

`collect` reads what the print says of one protocol: the version the signatures are of (the same one
its verification bundle holds, `protocol_bundle.bundled_version`), its canonical text rendered by the
one Markdown pipeline, the annexes' SHA-256 frozen with it, the parties, and each party's signature of
that version — signer, role, time, the SHA-256 of the statement's exact sealed bytes and the kid of
the key that sealed it, each checked as the protocol page checks it (`signatures.check_signatures`).

`printable` lays it out (templates/protocols/print.html): on the first page the Città metropolitana's
and the table's heading, the protocol (kind, status, version, validity, entry into force, what it
supersedes or what superseded it), **the text's SHA-256** and the annexes' hashes, the parties; then
the text; then, on a page of its own, the signature page: one block per party with its signature of
the version (or that it has not signed it), and how anyone checks the seals without Tavoli.

The PDF is minutes_pdf's: the same Jinja environment (`print_document`), the same renderer to PDF/A-2u
(tagged, fonts embedded) in a process of its own, killed at its time limit (`render_pdf_async`), with
the same url_fetcher that reads our static files and nothing else (a Markdown image elsewhere in the
text reaches no server). Nothing is stored: a protocol's print changes as parties adhere, and as it
expires or is superseded, so it is made when asked for (the public pages keep the last few,
server/web/public.py). The document has no "printed on" date, so that the same protocol in the same
state prints to the same HTML.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Protocol, ProtocolStatus, Table
from server.domain import protocol_bundle, protocols, signatures, texts
from server.domain.errors import NotFound
from server.domain.minutes_pdf import clean_html, print_document, render_pdf_async
from server.i18n import _, use_locale

__all__ = [
    "TEMPLATE",
    "PrintedAnnex",
    "PrintedLink",
    "PrintedParty",
    "PrintedProtocol",
    "PrintedSignature",
    "collect",
    "pdf_file_name",
    "printable",
    "protocol_document",
    "protocol_pdf",
    "render_pdf",
    "role_label",
]

TEMPLATE = "protocols/print.html"
PRINT_LOCALE = "it"  # the language of the printed protocol, whoever asks


@dataclass(frozen=True)
class PrintedAnnex:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class PrintedSignature:
    """One party's signature of the printed version, as stored, and what checking it found."""

    signer: str
    role: str  # "signatory" or "substitute"
    signed_at: datetime
    signed_at_utc: str  # the statement's own `signed_at`, as sealed (RFC 3339, UTC)
    statement_sha256: str  # of the statement's exact sealed bytes
    kid: str
    valid: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrintedParty:
    organisation: str
    external: bool
    adhering: bool
    signature: PrintedSignature | None  # None: it has not signed the printed version


@dataclass(frozen=True)
class PrintedLink:
    """Another protocol this one names (the one it supersedes, the one that superseded it)."""

    protocol_id: int
    title: str


@dataclass(frozen=True)
class PrintedProtocol:
    """What the printed protocol says, read once (`collect`)."""

    protocol_id: int
    table_name: str
    table_slug: str
    title: str
    kind: str
    status: ProtocolStatus
    version: int
    text: str  # the canonical text, as frozen (Markdown)
    text_sha256: str
    annexes: tuple[PrintedAnnex, ...]
    parties: tuple[PrintedParty, ...]
    valid_from: date | None
    valid_until: date | None
    in_force_at: datetime | None
    ended_at: datetime | None
    supersedes: PrintedLink | None
    superseded_by: PrintedLink | None

    @property
    def signatures(self) -> list[PrintedSignature]:
        return [party.signature for party in self.parties if party.signature is not None]


def role_label(role: str) -> str:
    """How a signer signed, in the reader's language."""
    return _("Substitute") if role == signatures.SUBSTITUTE else _("Signatory")


def _signed_at_utc(statement: bytes) -> str:
    try:
        value = json.loads(statement.decode("utf-8")).get("signed_at")
    except (UnicodeDecodeError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


async def collect(session: AsyncSession, protocol_id: int) -> PrintedProtocol:
    """What the print of protocol `protocol_id` says. NotFound for a protocol never frozen (a draft)."""
    found = (
        await session.execute(
            select(Protocol, Table).join(Table, Table.id == Protocol.table_id).where(Protocol.id == protocol_id)
        )
    ).first()
    if found is None:
        raise NotFound(_("This protocol does not exist."))
    protocol, table = found
    version = await protocol_bundle.bundled_version(session, protocol_id)
    if version is None:
        raise NotFound(_("This protocol has no frozen text yet: it has not been opened for signature."))
    checked = {
        item.signature.party_id: item
        for item in await signatures.check_signatures(session, protocol_id)
        if item.signature.version_id == version.id
    }
    parties: list[PrintedParty] = []
    for party in await protocols.parties_of(session, protocol_id):
        item = checked.get(party.id)
        signature = None
        if item is not None:
            statement = bytes(item.signature.statement)
            signature = PrintedSignature(
                signer=item.signer,
                role=item.signature.signer_role,
                signed_at=item.signature.signed_at,
                signed_at_utc=_signed_at_utc(statement),
                statement_sha256=hashlib.sha256(statement).hexdigest(),
                kid=item.signature.key_id,
                valid=item.check.valid,
                reasons=tuple(item.check.reasons),
            )
        parties.append(PrintedParty(party.organisation.name, party.external, party.adhering, signature))
    supersedes = await session.get(Protocol, protocol.supersedes_id) if protocol.supersedes_id is not None else None
    later = await protocols.superseded_by(session, protocol_id)
    return PrintedProtocol(
        protocol_id=protocol.id,
        table_name=table.name,
        table_slug=table.slug,
        title=protocol.title,
        kind=protocol.kind,
        status=protocol.status,
        version=version.number,
        text=bytes(version.text).decode("utf-8"),
        text_sha256=version.text_sha256,
        annexes=tuple(
            PrintedAnnex(str(annex["name"]), str(annex["sha256"]), int(annex.get("size") or 0))
            for annex in version.annexes or []
        ),
        parties=tuple(parties),
        valid_from=protocol.valid_from,
        valid_until=protocol.valid_until,
        in_force_at=protocol.in_force_at,
        ended_at=protocol.ended_at,
        supersedes=PrintedLink(supersedes.id, supersedes.title) if supersedes is not None else None,
        # Only once in force does the later protocol supersede this one.
        superseded_by=PrintedLink(later.id, later.title)
        if later is not None and protocol.status is ProtocolStatus.superseded
        else None,
    )


def printable(printed: PrintedProtocol, text_html: str, *, locale: str = PRINT_LOCALE) -> str:
    """The whole HTML document of the printed protocol, to print with minutes_pdf's `render_pdf`.

    `text_html` is the canonical text as the Markdown pipeline rendered it (server.markdown); it is
    cleaned once more here. Labels and dates are in `locale` ("it", "en")."""
    with use_locale(locale):
        return print_document(
            TEMPLATE,
            locale=locale,
            protocol=printed,
            text=clean_html(text_html),
            title=printed.title,
            kind_label=protocols.protocol_kind_label(printed.kind),
            status_label=protocols.protocol_status_label(printed.status),
            role_label=role_label,
            unsigned=[party.organisation for party in printed.parties if party.signature is None],
        )


def pdf_file_name(printed: PrintedProtocol) -> str:
    """The PDF's file name: the same stem as the verification bundle's."""
    return f"{protocol_bundle.bundle_file_name(printed.protocol_id, printed.version)}.pdf"


async def protocol_document(
    session: AsyncSession, protocol_id: int, *, locale: str = PRINT_LOCALE
) -> tuple[PrintedProtocol, str]:
    """The printed protocol's record and whole HTML document (`render_pdf_async` makes the PDF/A of
    it, off the session: laying it out takes a second or two)."""
    with use_locale(locale):  # the checks' reasons, in the print's language
        printed = await collect(session, protocol_id)
    text_html = await texts.renderer_of(session).render(printed.text)
    return printed, printable(printed, text_html, locale=locale)


async def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """The PDF/A-2u of `printable`'s document, in a worker process (minutes_pdf's `render_pdf_async`)."""
    return await render_pdf_async(html, base_url=base_url)


async def protocol_pdf(
    session: AsyncSession, protocol_id: int, *, locale: str = PRINT_LOCALE, base_url: str | None = None
) -> bytes:
    """The printed protocol's PDF/A, in one call (the web layer reads with `protocol_document` and
    renders after its session closed)."""
    _printed, html = await protocol_document(session, protocol_id, locale=locale)
    return await render_pdf(html, base_url=base_url)
