"""Who reaches a protocol and its text: every role on the table reads every protocol; the chair and
the secretary manage drafts; the parties' members write the draft text; a party's signatory and
substitute read the protocol and sign it even without a seat on the table (an external party's
people reach that protocol only, nothing else of the table); the public reads protocols in force,
expired or superseded of public tables. With the text's DocumentBinding functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Document,
    DocumentKind,
    Membership,
    Organisation,
    Protocol,
    ProtocolParty,
    ProtocolStatus,
    Role,
    Table,
)
from server.db.types import utcnow
from server.domain import edit_sessions
from server.domain.documents import DocumentAccess
from server.domain.meetings import lock_table
from server.domain.protocols import (
    MANAGERS,
    PUBLIC_STATUSES,
    ProtocolEvent,
    payload,
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
