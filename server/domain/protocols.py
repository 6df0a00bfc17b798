"""Protocols (protocolli d'intesa): what the parties of a table sign, from the draft to expiry.

- Drafting: the chair or the secretary creates a protocol (`create_protocol`); its text is a
  collaborative document (kind `protocol_text`, record = the protocol's id) seeded once with its
  title. The chair, the secretary and the members of the parties' organisations write it live
  while it is a draft (`document_access`); every role on the table reads it. Parties are in
  server/domain/protocol_parties.py, annexes in server/domain/protocol_annexes.py.
- Opening (`open_for_signature`, the chair): the document is frozen and one `ProtocolVersion` is
  made — the canonical text (server/domain/protocol_text.py), its SHA-256, the annexes' hashes —
  with the commitments parsed from the text. Refused while a commitment is malformed (every error
  listed), without parties, or with a party without a signatory.
- `back_to_draft` (the chair) only while nobody has signed: the version stays (current=False).
- Signing is server/domain/signatures.py's; after each signature,
  server/domain/protocol_force.py puts the protocol in force when every party has signed (its
  commitments become action items), marks what it supersedes, records adhesions, and expires
  protocols whose validity has ended.

Who reaches what, and who writes the text: server/domain/protocol_access.py.

Every step is an event (`ProtocolEvent`) on the table, live on every open page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.db.models import (
    Commitment,
    Document,
    DocumentKind,
    Protocol,
    ProtocolAnnex,
    ProtocolKind,
    ProtocolParty,
    ProtocolStatus,
    ProtocolVersion,
    Role,
    Signature,
    Table,
)
from server.db.types import utcnow
from server.domain import audit, documents, inputs, transitions
from server.domain.actions import Actor
from server.domain.edits import is_change
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.keys import already_made
from server.domain.meetings import check_title, lock_table
from server.domain.protocol_text import CommitmentError, canonical, parse_commitments, text_sha256
from server.i18n import _

__all__ = [
    "MANAGERS",
    "MOVES",
    "PUBLIC_STATUSES",
    "CommitmentsInvalid",
    "Moved",
    "PartyState",
    "ProtocolEvent",
    "ProtocolValues",
    "back_to_draft",
    "commitment_errors",
    "create_protocol",
    "current_version",
    "draft_text",
    "get_protocol",
    "get_version",
    "open_for_signature",
    "parse_protocol",
    "parties_of",
    "party_states",
    "protocol_document",
    "protocol_kind_label",
    "protocol_status_label",
    "protocols_of",
    "signatures_of",
    "superseded_by",
    "update_protocol",
    "versions_of",
]

# Who creates protocols and changes drafts, their parties and annexes (the chair alone opens them).
MANAGERS = (Role.chair, Role.secretary)
# What the public sees of a public table.
PUBLIC_STATUSES = frozenset({ProtocolStatus.in_force, ProtocolStatus.expired, ProtocolStatus.superseded})
TITLE_LIMIT = 200

MOVES: dict[ProtocolStatus, frozenset[ProtocolStatus]] = {
    ProtocolStatus.draft: frozenset({ProtocolStatus.open}),
    ProtocolStatus.open: frozenset({ProtocolStatus.draft, ProtocolStatus.in_force}),
    ProtocolStatus.in_force: frozenset({ProtocolStatus.expired, ProtocolStatus.superseded}),
}


class ProtocolEvent(StrEnum):
    """What the audit record says about protocols (the values are stored)."""

    created = "protocol.created"
    changed = "protocol.changed"
    party_added = "protocol.party_added"
    party_changed = "protocol.party_changed"
    party_removed = "protocol.party_removed"
    annex_added = "protocol.annex_added"
    annex_removed = "protocol.annex_removed"
    opened = "protocol.opened"
    reopened = "protocol.reopened"  # back to draft
    signed = "protocol.signed"
    in_force = "protocol.in_force"
    adhered = "protocol.adhered"
    expired = "protocol.expired"
    superseded = "protocol.superseded"
    edited = "protocol.edited"  # the draft's text: one per person and editing session


def protocol_kind_label(kind: ProtocolKind | str) -> str:
    """The kind's name, in the reader's language."""
    labels = {
        ProtocolKind.procurement: _("Procurement protocol"),
        ProtocolKind.site: _("Site protocol"),
        ProtocolKind.employment: _("Agreement for good employment"),
        ProtocolKind.other: _("Other protocol"),
    }
    return labels[ProtocolKind(kind)]


def protocol_status_label(status: ProtocolStatus | str) -> str:
    """The status's name, in the reader's language."""
    labels = {
        ProtocolStatus.draft: _("Draft protocol"),
        ProtocolStatus.open: _("Open for signature"),
        ProtocolStatus.in_force: _("In force"),
        ProtocolStatus.expired: _("Expired"),
        ProtocolStatus.superseded: _("Superseded"),
    }
    return labels[ProtocolStatus(status)]


def payload(protocol: Protocol) -> dict[str, object]:
    return {"protocol_id": protocol.id, "title": protocol.title}


def stale_message_text() -> str:
    return _("Someone else changed this protocol in the meantime.")


def refused_move() -> str:
    return _("The protocol cannot go from this status to that one.")


def check_manager(actor: Actor) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden(_("Only the chair or the secretary can do this with a protocol."))


def check_chair(actor: Actor, message: str) -> None:
    if actor.role is not Role.chair:
        raise Forbidden(message)


def refuse_unless_draft(protocol: Protocol, field: str = "status") -> None:
    if protocol.status is not ProtocolStatus.draft:
        raise Invalid({field: _("This protocol is no longer a draft: it cannot be changed.")})


# --- finding ----------------------------------------------------------------------------------


async def get_protocol(session: AsyncSession, table_id: int, protocol_id: int) -> Protocol:
    """Protocol `protocol_id` of this table, as stored now; another table's is not found."""
    found = await session.scalar(
        select(Protocol)
        .where(Protocol.id == protocol_id, Protocol.table_id == table_id)
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise NotFound(_("This protocol does not exist on this table."))
    return found


async def protocols_of(
    session: AsyncSession, table_id: int, *, statuses: Sequence[ProtocolStatus] | None = None
) -> list[Protocol]:
    """The table's protocols (of `statuses`, when given), the newest first."""
    query = select(Protocol).where(Protocol.table_id == table_id)
    if statuses is not None:
        query = query.where(Protocol.status.in_(list(statuses)))
    return list((await session.scalars(query.order_by(Protocol.created_at.desc(), Protocol.id.desc()))).all())


async def protocol_document(session: AsyncSession, protocol: Protocol) -> Document | None:
    """The protocol's collaborative text (made with the protocol)."""
    return await documents.find(session, DocumentKind.protocol_text, protocol.id)


async def draft_text(session: AsyncSession, protocol: Protocol) -> str:
    """The text as stored now (the draft being written, or the frozen one)."""
    document = await protocol_document(session, protocol)
    return await documents.text_of(session, document.id) if document is not None else ""


async def versions_of(session: AsyncSession, protocol_id: int) -> list[ProtocolVersion]:
    """The protocol's frozen versions, the first first."""
    found = await session.scalars(
        select(ProtocolVersion).where(ProtocolVersion.protocol_id == protocol_id).order_by(ProtocolVersion.number)
    )
    return list(found.all())


async def current_version(session: AsyncSession, protocol_id: int) -> ProtocolVersion | None:
    """The version the signatures count for (None while a draft never opened, or back to draft)."""
    return await session.scalar(
        select(ProtocolVersion)
        .where(ProtocolVersion.protocol_id == protocol_id, ProtocolVersion.current.is_(True))
        .order_by(ProtocolVersion.number.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


async def get_version(session: AsyncSession, protocol_id: int, version_id: int) -> ProtocolVersion:
    found = await session.scalar(
        select(ProtocolVersion).where(ProtocolVersion.id == version_id, ProtocolVersion.protocol_id == protocol_id)
    )
    if found is None:
        raise NotFound(_("This version of the protocol does not exist."))
    return found


async def parties_of(session: AsyncSession, protocol_id: int) -> list[ProtocolParty]:
    """The protocol's parties in their signing order, with their organisation and signers loaded."""
    found = await session.scalars(
        select(ProtocolParty)
        .options(
            selectinload(ProtocolParty.organisation),
            selectinload(ProtocolParty.signatory),
            selectinload(ProtocolParty.substitute),
        )
        .where(ProtocolParty.protocol_id == protocol_id)
        .order_by(ProtocolParty.position, ProtocolParty.id)
        .execution_options(populate_existing=True)
    )
    return list(found.all())


async def signatures_of(session: AsyncSession, version_id: int) -> list[Signature]:
    """The signatures of a version, in the order they were made."""
    found = await session.scalars(
        select(Signature).where(Signature.version_id == version_id).order_by(Signature.signed_at, Signature.id)
    )
    return list(found.all())


@dataclass(frozen=True)
class PartyState:
    """A party of the protocol and its signature of the current version (None: not signed yet)."""

    party: ProtocolParty
    signature: Signature | None


async def party_states(session: AsyncSession, protocol: Protocol) -> list[PartyState]:
    """Every party in signing order (organisation and signers loaded), each with its signature of
    the current version, if it signed (none while the protocol is a draft)."""
    version = await current_version(session, protocol.id)
    signed = (
        {signature.party_id: signature for signature in await signatures_of(session, version.id)} if version else {}
    )
    return [PartyState(party, signed.get(party.id)) for party in await parties_of(session, protocol.id)]


async def superseded_by(session: AsyncSession, protocol_id: int) -> Protocol | None:
    """The protocol that supersedes (or will supersede, once in force) `protocol_id`, the newest."""
    return await session.scalar(
        select(Protocol).where(Protocol.supersedes_id == protocol_id).order_by(Protocol.id.desc()).limit(1)
    )


# --- creating and changing a draft ------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolValues:
    """A protocol's details, checked."""

    kind: ProtocolKind
    title: str
    valid_from: date | None
    valid_until: date | None
    signing_order: bool
    supersedes_id: int | None


def parse_protocol(
    *,
    kind: str,
    title: str,
    valid_from: str = "",
    valid_until: str = "",
    signing_order: bool = False,
    supersedes: str = "",
) -> ProtocolValues:
    """Check what a person typed for a protocol; every problem is reported beside its field."""
    errors: dict[str, str] = {}
    try:
        chosen: ProtocolKind | None = ProtocolKind(kind.strip())
    except ValueError:
        chosen = None
        errors["kind"] = _("Choose the kind of protocol.")
    try:
        title = check_title(title)
    except Invalid as exc:
        errors.update(exc.errors)
    days: dict[str, date | None] = {}
    for field, value in (("valid_from", valid_from), ("valid_until", valid_until)):
        days[field] = inputs.day(value.strip())
        if value.strip() and days[field] is None:
            errors[field] = _("Enter the date as a date, for example 2026-12-31.")
    start, end = days["valid_from"], days["valid_until"]
    if start and end and end < start:
        errors["valid_until"] = _("The protocol cannot end before it starts.")
    supersedes_id = inputs.record_id(supersedes.strip())
    if supersedes.strip() and supersedes_id is None:
        errors["supersedes"] = _("Choose the protocol this one replaces among the table's protocols in force.")
    if errors:
        raise Invalid(errors)
    assert chosen is not None
    return ProtocolValues(chosen, title, start, end, signing_order, supersedes_id)


async def _check_supersedes(session: AsyncSession, table_id: int, values: ProtocolValues, own_id: int | None) -> None:
    if values.supersedes_id is None:
        return
    old = await session.scalar(
        select(Protocol).where(Protocol.id == values.supersedes_id, Protocol.table_id == table_id)
    )
    if old is None or old.id == own_id or old.status is not ProtocolStatus.in_force:
        raise Invalid({"supersedes": _("Choose the protocol this one replaces among the table's protocols in force.")})


def _seed(title: str) -> str:
    return f"# {title}\n\n"


async def create_protocol(
    session: AsyncSession, table: Table, values: ProtocolValues, *, actor: Actor, client_key: str | None = None
) -> Protocol:
    """Create a draft protocol (chair or secretary) and its text's document, seeded once with its
    title; the same form submitted twice creates it once."""
    check_manager(actor)
    await lock_table(session, table.id)
    existing = await already_made(session, Protocol, Protocol.table_id == table.id, client_key)
    if existing is not None:
        return existing
    await _check_supersedes(session, table.id, values, None)
    protocol = Protocol(
        table_id=table.id,
        kind=values.kind,
        title=values.title,
        valid_from=values.valid_from,
        valid_until=values.valid_until,
        signing_order=values.signing_order,
        supersedes_id=values.supersedes_id,
        client_key=client_key,
        created_by=actor.user_id,
    )
    session.add(protocol)
    await session.flush()
    document = await documents.create(
        session,
        table_id=table.id,
        kind=DocumentKind.protocol_text,
        record_id=protocol.id,
        text=_seed(values.title),
        user_id=actor.user_id,
    )
    await audit.record(
        session,
        ProtocolEvent.created,
        actor_id=actor.user_id,
        table_id=table.id,
        document_id=document.id,
        protocol_kind=values.kind.value,
        **payload(protocol),
    )
    return protocol


async def update_protocol(
    session: AsyncSession, table: Table, protocol_id: int, values: ProtocolValues, *, version: int, actor: Actor
) -> Protocol:
    """Change a draft's kind, title, validity, signing order or the protocol it supersedes (chair
    or secretary); the same change twice is a no-op, a stale one 409, a protocol no longer in
    draft 422."""
    check_manager(actor)
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    current = (
        protocol.kind,
        protocol.title,
        protocol.valid_from,
        protocol.valid_until,
        protocol.signing_order,
        protocol.supersedes_id,
    )
    wanted = (
        values.kind,
        values.title,
        values.valid_from,
        values.valid_until,
        values.signing_order,
        values.supersedes_id,
    )
    if not is_change(session, protocol, current, wanted, version=version, message=stale_message_text()):
        return protocol
    refuse_unless_draft(protocol)
    if values.supersedes_id != protocol.supersedes_id:
        await _check_supersedes(session, table.id, values, protocol.id)
    protocol.kind, protocol.title = values.kind, values.title
    protocol.valid_from, protocol.valid_until = values.valid_from, values.valid_until
    protocol.signing_order, protocol.supersedes_id = values.signing_order, values.supersedes_id
    await session.flush()
    await audit.record(session, ProtocolEvent.changed, actor_id=actor.user_id, table_id=table.id, **payload(protocol))
    return protocol


# --- opening for signature, and back to draft -------------------------------------------------


class CommitmentsInvalid(Invalid):
    """The text's commitments have errors: each is listed (line, message); nothing was stored."""

    def __init__(self, errors: list[CommitmentError]) -> None:
        listed = "; ".join(
            _("line {line}: {message}").format(line=error.line, message=error.message) for error in errors
        )
        super().__init__({"text": listed})
        self.commitment_errors = list(errors)


@dataclass(frozen=True)
class Moved:
    """A protocol moved by `open_for_signature` or `back_to_draft`, and the document whose sockets
    the caller closes once committed (frozen: 4409; reopened: 1012, so that they reconnect as
    writers)."""

    protocol: Protocol
    document_id: int | None


async def _party_names(session: AsyncSession, protocol_id: int) -> dict[int, str]:
    return {party.id: party.organisation.name for party in await parties_of(session, protocol_id)}


async def commitment_errors(
    session: AsyncSession, protocol: Protocol, text: str | None = None
) -> list[CommitmentError]:
    """The errors of the commitments in the protocol's text (the stored one unless `text` is given),
    as opening it would find them."""
    if text is None:
        text = await draft_text(session, protocol)
    return parse_commitments(text, await _party_names(session, protocol.id))[1]


async def open_for_signature(
    session: AsyncSession, table: Table, protocol_id: int, *, version: int, actor: Actor
) -> Moved:
    """Open a draft for signature (the chair): the text's document is frozen and a new version
    made — the canonical text and its SHA-256, the annexes' names and hashes, the commitments parsed
    from the text. Refused without parties, with a party without a signatory, with an empty text,
    or with any malformed commitment (`CommitmentsInvalid` lists them all)."""
    check_chair(actor, _("Only the chair can open a protocol for signature."))
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    document = await protocol_document(session, protocol)
    made: list[ProtocolVersion] = []

    async def prepare(_before: ProtocolStatus) -> None:
        parties = await parties_of(session, protocol.id)
        if not parties:
            raise Invalid({"parties": _("Add at least one party before opening the protocol for signature.")})
        missing = [party.organisation.name for party in parties if party.signatory_id is None]
        if missing:
            raise Invalid({"parties": _("Choose the signatory of: {parties}.").format(parties=", ".join(missing))})
        if document is None:
            raise Invalid({"text": _("This protocol has no text.")})
        text = await documents.freeze(session, document.id)
        data = canonical(text)
        if not data.strip():
            raise Invalid({"text": _("Write the protocol's text before opening it for signature.")})
        found, errors = parse_commitments(text, {party.id: party.organisation.name for party in parties})
        if errors:
            raise CommitmentsInvalid(errors)
        annexes = await session.scalars(
            select(ProtocolAnnex)
            .where(ProtocolAnnex.protocol_id == protocol.id, ProtocolAnnex.removed_at.is_(None))
            .order_by(ProtocolAnnex.id)
        )
        number = await session.scalar(
            select(func.coalesce(func.max(ProtocolVersion.number), 0)).where(ProtocolVersion.protocol_id == protocol.id)
        )
        frozen = ProtocolVersion(
            protocol_id=protocol.id,
            number=(number or 0) + 1,
            text=data,
            text_sha256=text_sha256(data),
            annexes=[
                {"annex_id": annex.id, "name": annex.name, "sha256": annex.sha256, "size": annex.size}
                for annex in annexes
            ],
            current=True,
            created_by=actor.user_id,
        )
        session.add(frozen)
        await session.flush()
        for commitment in found:
            session.add(
                Commitment(
                    protocol_id=protocol.id,
                    version_id=frozen.id,
                    number=commitment.number,
                    party_id=commitment.party_id,
                    title=commitment.title,
                    clause=commitment.clause,
                    due_on=commitment.due_on,
                )
            )
        protocol.opened_at = utcnow()
        made.append(frozen)

    await transitions.change_status(
        session,
        protocol,
        ProtocolStatus.open,
        version=version,
        stale_message=stale_message_text(),
        moves=MOVES,
        refused=refused_move(),
        event=ProtocolEvent.opened,
        actor_id=actor.user_id,
        table_id=table.id,
        payload=payload(protocol),
        prepare=prepare,
    )
    if made:
        await session.flush()
    return Moved(protocol, document.id if document else None)


async def back_to_draft(session: AsyncSession, table: Table, protocol_id: int, *, version: int, actor: Actor) -> Moved:
    """Take a protocol open for signature back to draft (the chair), only while nobody has signed:
    the frozen version stays (no longer current) and the same document reopens for writing."""
    check_chair(actor, _("Only the chair can take a protocol back to draft."))
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    document = await protocol_document(session, protocol)

    async def prepare(_before: ProtocolStatus) -> None:
        frozen = await current_version(session, protocol.id)
        if frozen is not None:
            signed = await session.scalar(
                select(func.count()).select_from(Signature).where(Signature.version_id == frozen.id)
            )
            if signed:
                raise Invalid(
                    {"status": _("A party has already signed this protocol: it can no longer go back to draft.")}
                )
            frozen.current = False
        if document is not None:
            row = await session.scalar(
                select(Document)
                .where(Document.id == document.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if row is not None:
                row.frozen_at = None
        protocol.opened_at = None
        await session.flush()

    await transitions.change_status(
        session,
        protocol,
        ProtocolStatus.draft,
        version=version,
        stale_message=stale_message_text(),
        moves=MOVES,
        refused=refused_move(),
        event=ProtocolEvent.reopened,
        actor_id=actor.user_id,
        table_id=table.id,
        payload=payload(protocol),
        prepare=prepare,
    )
    return Moved(protocol, document.id if document else None)
