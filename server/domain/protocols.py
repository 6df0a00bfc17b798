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
- Signing is server/domain/signatures.py's; after each signature it calls
  `record_signature_hook`: when every party has signed the protocol is in force, its commitments
  become action items of their parties, and the protocol it supersedes is marked superseded. A
  party added to a protocol in force (adhesion) signs the same frozen version.
- `expire_due` (the periodic task): protocols whose validity has ended are expired. Expiry and
  supersession keep the action items.

Who reaches what (`protocol_access`): every role on the table reads every protocol; the chair and
the secretary manage drafts; a party's signatory and substitute read the protocol and sign it
even without a seat on the table (an external party's people reach that protocol only).

Every step is an event (`ProtocolEvent`) on the table, live on every open page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.db.models import (
    ActionItem,
    Commitment,
    Document,
    DocumentKind,
    Membership,
    Organisation,
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
from server.domain import audit, documents, edit_sessions, inputs, texts, transitions
from server.domain.actions import ActionEvent, Actor
from server.domain.documents import DocumentAccess
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
    "ProtocolAccess",
    "ProtocolEvent",
    "ProtocolValues",
    "back_to_draft",
    "commitment_errors",
    "create_protocol",
    "current_version",
    "document_access",
    "document_changed",
    "draft_text",
    "expire_due",
    "get_protocol",
    "get_version",
    "is_public",
    "open_for_signature",
    "parse_protocol",
    "parties_of",
    "party_states",
    "protocol_access",
    "protocol_document",
    "protocol_kind_label",
    "protocol_status_label",
    "protocols_of",
    "reachable_protocols",
    "record_signature_hook",
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


def _stale_message() -> str:
    return _("Someone else changed this protocol in the meantime.")


def _refused() -> str:
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


# --- who reaches what -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolAccess:
    """What one person may do with one protocol.

    `reads`: sees its page, text, parties, signatures and commitments. `edits_text`: writes the
    draft's text (live). `manages`: changes the draft's details, parties and annexes, adds an
    adhering party (chair, secretary). `chairs`: opens it, takes it back to draft, assigns its
    commitments' owners. `signs_for`: the parties this person signs for (as signatory or
    substitute), whatever the status (signatures.sign decides whether a signature is due).
    `external`: reaches this protocol without a role on the table — nothing else of the table.
    """

    reads: bool = False
    edits_text: bool = False
    manages: bool = False
    chairs: bool = False
    signs_for: frozenset[int] = frozenset()
    external: bool = False

    @property
    def level(self) -> str:
        """ "none", "read", "sign", "edit" or "manage": the most this person may do now."""
        if self.manages:
            return "manage"
        if self.edits_text:
            return "edit"
        if self.signs_for:
            return "sign"
        return "read" if self.reads else "none"


NO_ACCESS = ProtocolAccess()


async def _party_organisations(session: AsyncSession, protocol_id: int) -> set[int]:
    found = await session.scalars(select(ProtocolParty.organisation_id).where(ProtocolParty.protocol_id == protocol_id))
    return set(found.all())


async def _signs_for(session: AsyncSession, protocol_id: int, user_id: int | None) -> frozenset[int]:
    if user_id is None:
        return frozenset()
    found = await session.scalars(
        select(ProtocolParty.id).where(
            ProtocolParty.protocol_id == protocol_id,
            or_(ProtocolParty.signatory_id == user_id, ProtocolParty.substitute_id == user_id),
        )
    )
    return frozenset(found.all())


async def protocol_access(
    session: AsyncSession,
    protocol: Protocol,
    user_id: int | None,
    role: Role | None,
    *,
    is_admin: bool = False,
) -> ProtocolAccess:
    """What the person `user_id` with `role` on the protocol's table may do with it.

    Every role reads every protocol of its table (observers too), administrators read; the chair
    and the secretary manage drafts; the members (not observers) of a party's organisation and the
    chair and secretary write the draft's text; a party's signatory and substitute read it and
    sign for their party, with a role on the table or without one (then `external`: they reach
    this protocol only). Anyone else gets nothing (the public pages are `is_public`'s).
    """
    signs_for = await _signs_for(session, protocol.id, user_id)
    if role is None and not is_admin:
        if signs_for:
            return ProtocolAccess(reads=True, signs_for=signs_for, external=True)
        return NO_ACCESS
    draft = protocol.status is ProtocolStatus.draft
    manages = role in MANAGERS
    edits_text = draft and manages
    if draft and role is Role.member and user_id is not None:
        seat = await session.scalar(
            select(Membership.organisation_id).where(
                Membership.table_id == protocol.table_id, Membership.user_id == user_id
            )
        )
        edits_text = seat is not None and seat in await _party_organisations(session, protocol.id)
    return ProtocolAccess(
        reads=True,
        edits_text=edits_text,
        manages=manages,
        chairs=role is Role.chair,
        signs_for=signs_for,
    )


def is_public(table: Table, protocol: Protocol) -> bool:
    """Whether the public sees the protocol: a public table's protocol in force, expired or superseded."""
    return table.is_public and protocol.table_id == table.id and protocol.status in PUBLIC_STATUSES


async def reachable_protocols(session: AsyncSession, table_id: int, user_id: int) -> frozenset[int]:
    """The table's protocols a person signs for (as a party's signatory or substitute): all that a
    person without a role on the table reaches of it."""
    found = await session.scalars(
        select(ProtocolParty.protocol_id)
        .join(Protocol, Protocol.id == ProtocolParty.protocol_id)
        .where(
            Protocol.table_id == table_id,
            or_(ProtocolParty.signatory_id == user_id, ProtocolParty.substitute_id == user_id),
        )
    )
    return frozenset(found.all())


async def signed_by(session: AsyncSession, user_id: int) -> list[tuple[Protocol, Table, Organisation]]:
    """The protocols a person signs for (as a party's signatory or substitute), of every table, with
    the party's organisation: open ones first, then the rest, the newest first. A party's external
    signer has no table to start from: the site's home lists these."""
    rank = func.coalesce(Protocol.in_force_at, Protocol.opened_at, Protocol.created_at)
    found = await session.execute(
        select(Protocol, Table, Organisation)
        .join(ProtocolParty, ProtocolParty.protocol_id == Protocol.id)
        .join(Table, Table.id == Protocol.table_id)
        .join(Organisation, Organisation.id == ProtocolParty.organisation_id)
        .where(or_(ProtocolParty.signatory_id == user_id, ProtocolParty.substitute_id == user_id))
        .order_by((Protocol.status == ProtocolStatus.open).desc(), rank.desc(), Protocol.id.desc())
    )
    return [(protocol, table, organisation) for protocol, table, organisation in found.all()]


# --- the document: who reads and writes it, and what its edits record -------------------------


async def document_access(
    session: AsyncSession,
    document: Document,
    *,
    role: Role | None,
    organisation_id: int | None = None,
    is_admin: bool = False,
    user_id: int | None = None,
) -> DocumentAccess:
    """What a person may do with a protocol's text document: the rule of `protocol_access` (the
    chair, the secretary and the parties' members write the draft while it is not frozen; every
    role, administrators and the parties' signers read it; nobody else has it)."""
    del organisation_id  # the membership is read from the table, by `protocol_access`
    if document.kind is not DocumentKind.protocol_text:
        return DocumentAccess.none
    protocol = await session.scalar(
        select(Protocol)
        .where(Protocol.id == document.record_id, Protocol.table_id == document.table_id)
        .execution_options(populate_existing=True)
    )
    if protocol is None:
        return DocumentAccess.none
    access = await protocol_access(session, protocol, user_id, role, is_admin=is_admin)
    if not access.reads:
        return DocumentAccess.none
    if access.edits_text and document.frozen_at is None:
        return DocumentAccess.edit
    return DocumentAccess.read


async def document_changed(
    session: AsyncSession, document: Document, text: str, editor_ids: frozenset[int], *, now: datetime | None = None
) -> None:
    """What the live room calls after storing edits of a protocol's text: one `protocol.edited`
    event per person and editing session (a session ends after `edit_sessions.QUIET` without an edit by them)."""
    del text  # the editor shows the draft; the text is frozen (and hashed) when it opens
    now = now or utcnow()
    if document.kind is not DocumentKind.protocol_text:
        return
    await lock_table(session, document.table_id)
    protocol = await session.scalar(
        select(Protocol).where(Protocol.id == document.record_id, Protocol.table_id == document.table_id)
    )
    if protocol is None:
        return
    for editor in sorted(editor_ids):
        await _edited(session, protocol, editor, now)


async def _edited(session: AsyncSession, protocol: Protocol, editor_id: int, now: datetime) -> None:
    await edit_sessions.record_edit(
        session,
        ProtocolEvent.edited,
        table_id=protocol.table_id,
        record=("protocol_id", protocol.id),
        editor_id=editor_id,
        now=now,
        payload=payload(protocol),
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
    if not is_change(session, protocol, current, wanted, version=version, message=_stale_message()):
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
        stale_message=_stale_message(),
        moves=MOVES,
        refused=_refused(),
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
        stale_message=_stale_message(),
        moves=MOVES,
        refused=_refused(),
        event=ProtocolEvent.reopened,
        actor_id=actor.user_id,
        table_id=table.id,
        payload=payload(protocol),
        prepare=prepare,
    )
    return Moved(protocol, document.id if document else None)


# --- after a signature: in force, commitments, supersession, adhesion -------------------------


async def record_signature_hook(session: AsyncSession, signature: Signature, *, actor_id: int | None) -> Protocol:
    """What follows a new signature (signatures.sign calls it in the same transaction, once per
    signature row it made): the event `protocol.signed` — or `protocol.adhered` for a party that
    joined the protocol in force —; then, when every (non-adhering) party has signed the current
    version, the protocol enters into force: its commitments become action items of their parties
    (owner: the party's signatory), and the protocol it supersedes is marked superseded."""
    protocol = await session.scalar(
        select(Protocol).where(Protocol.id == signature.protocol_id).execution_options(populate_existing=True)
    )
    if protocol is None:
        raise NotFound(_("This protocol does not exist on this table."))
    await lock_table(session, protocol.table_id)
    party = await session.get(ProtocolParty, signature.party_id, populate_existing=True)
    if party is None:
        raise NotFound(_("This party does not exist in this protocol."))
    name = await _organisation_name(session, party.organisation_id)
    details = {
        **payload(protocol),
        "party_id": party.id,
        "organisation": name,
        "signature_id": signature.id,
        "signer_id": signature.signer_id,
        "role": signature.signer_role,
    }
    if party.adhering:
        await audit.record(session, ProtocolEvent.adhered, actor_id=actor_id, table_id=protocol.table_id, **details)
        return protocol
    await audit.record(session, ProtocolEvent.signed, actor_id=actor_id, table_id=protocol.table_id, **details)
    if protocol.status is ProtocolStatus.open and await _everyone_signed(session, protocol, signature.version_id):
        await _enter_into_force(session, protocol, signature.version_id, actor_id=actor_id)
    return protocol


async def _organisation_name(session: AsyncSession, organisation_id: int) -> str:
    return (await session.scalar(select(Organisation.name).where(Organisation.id == organisation_id))) or ""


async def _everyone_signed(session: AsyncSession, protocol: Protocol, version_id: int) -> bool:
    unsigned = await session.scalar(
        select(func.count())
        .select_from(ProtocolParty)
        .where(
            ProtocolParty.protocol_id == protocol.id,
            ProtocolParty.adhering.is_(False),
            ~select(Signature.id)
            .where(Signature.version_id == version_id, Signature.party_id == ProtocolParty.id)
            .exists(),
        )
    )
    return not unsigned


async def _enter_into_force(
    session: AsyncSession, protocol: Protocol, version_id: int, *, actor_id: int | None
) -> None:
    table = await session.get(Table, protocol.table_id)
    assert table is not None
    made = await _commitments_to_actions(session, table, protocol, version_id, actor_id=actor_id)

    async def prepare(_before: ProtocolStatus) -> None:
        protocol.in_force_at = utcnow()

    await transitions.change_status(
        session,
        protocol,
        ProtocolStatus.in_force,
        version=protocol.version,
        stale_message=_stale_message(),
        moves=MOVES,
        refused=_refused(),
        event=ProtocolEvent.in_force,
        actor_id=actor_id,
        table_id=protocol.table_id,
        payload={**payload(protocol), "actions": made, "supersedes_id": protocol.supersedes_id},
        prepare=prepare,
    )
    if protocol.supersedes_id is not None:
        old = await session.scalar(
            select(Protocol)
            .where(Protocol.id == protocol.supersedes_id, Protocol.table_id == protocol.table_id)
            .execution_options(populate_existing=True)
        )
        if old is not None and old.status is ProtocolStatus.in_force:
            await _end(
                session,
                old,
                ProtocolStatus.superseded,
                ProtocolEvent.superseded,
                actor_id=actor_id,
                superseded_by=protocol.id,
                superseded_by_title=protocol.title,
            )


async def _commitments_to_actions(
    session: AsyncSession, table: Table, protocol: Protocol, version_id: int, *, actor_id: int | None
) -> list[int]:
    """Each commitment of the version without an action item gets one: owned by its party's
    signatory, for its party's organisation, due when the clause says, described by the clause."""
    commitments = await session.scalars(
        select(Commitment)
        .where(Commitment.version_id == version_id, Commitment.action_id.is_(None))
        .order_by(Commitment.number)
    )
    made: list[int] = []
    for commitment in commitments.all():
        party = await session.get(ProtocolParty, commitment.party_id)
        assert party is not None
        action = ActionItem(
            table_id=table.id,
            title=commitment.title,
            owner_id=party.signatory_id,
            organisation_id=party.organisation_id,
            due_on=commitment.due_on,
            created_by=actor_id,
        )
        await texts.write(session, action, description=commitment.clause)
        session.add(action)
        await session.flush()
        commitment.action_id = action.id
        await audit.record(
            session,
            ActionEvent.created,
            actor_id=actor_id,
            table_id=table.id,
            action_id=action.id,
            title=action.title,
            owner_id=action.owner_id,
            protocol_id=protocol.id,
            commitment_id=commitment.id,
        )
        made.append(action.id)
    await session.flush()
    return made


async def _end(
    session: AsyncSession,
    protocol: Protocol,
    status: ProtocolStatus,
    event: ProtocolEvent,
    *,
    actor_id: int | None,
    **extra: object,
) -> None:
    async def prepare(_before: ProtocolStatus) -> None:
        protocol.ended_at = utcnow()

    await transitions.change_status(
        session,
        protocol,
        status,
        version=protocol.version,
        stale_message=_stale_message(),
        moves=MOVES,
        refused=_refused(),
        event=event,
        actor_id=actor_id,
        table_id=protocol.table_id,
        payload={**payload(protocol), **extra},
        prepare=prepare,
    )


# --- expiry -----------------------------------------------------------------------------------


async def expire_due(session: AsyncSession, today: date) -> list[Protocol]:
    """Expire the protocols in force whose validity ended before `today` (the periodic task runs
    it; several instances may: each protocol expires once). Their action items stay."""
    expired: list[Protocol] = []
    rows = (
        await session.execute(
            select(Protocol.id, Protocol.table_id)
            .where(Protocol.status == ProtocolStatus.in_force, Protocol.valid_until < today)
            .order_by(Protocol.table_id, Protocol.id)
        )
    ).all()
    for protocol_id, table_id in rows:
        await lock_table(session, table_id)
        protocol = await get_protocol(session, table_id, protocol_id)
        if protocol.status is not ProtocolStatus.in_force or protocol.valid_until is None:
            continue
        if protocol.valid_until >= today:
            continue
        await _end(
            session,
            protocol,
            ProtocolStatus.expired,
            ProtocolEvent.expired,
            actor_id=None,
            valid_until=protocol.valid_until.isoformat(),
        )
        expired.append(protocol)
    return expired
