"""After a signature (server/domain/signatures.py and qualified.py call `record_signature_hook`):
the protocol enters into force when every party has signed — its commitments become action items
of their parties, the protocol it supersedes is marked superseded —, a party joining one in force
adheres to the same frozen version; and `expire_due`, for the periodic task, ends those whose
validity has passed. Expiry and supersession keep the action items.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    ActionItem,
    Commitment,
    Organisation,
    Protocol,
    ProtocolParty,
    ProtocolStatus,
    Signature,
    Table,
)
from server.db.types import utcnow
from server.domain import audit, texts, transitions
from server.domain.actions import ActionEvent
from server.domain.errors import NotFound
from server.domain.meetings import lock_table
from server.domain.protocols import (
    MOVES,
    ProtocolEvent,
    get_protocol,
    payload,
    refused_move,
    stale_message_text,
)
from server.i18n import _

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
        stale_message=stale_message_text(),
        moves=MOVES,
        refused=refused_move(),
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
        stale_message=stale_message_text(),
        moves=MOVES,
        refused=refused_move(),
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
