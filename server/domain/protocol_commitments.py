"""A protocol's commitments and the action items that track them.

The commitments are parsed from the text when it opens for signature (server/domain/protocol_text.py)
and stored with the version; when the protocol enters into force each becomes an action item of its
party (server/domain/protocols.py). The chair may give a commitment's action item another owner:
one of the party's signers or a member of the table for the party's organisation. Expiry and
supersession keep the action items (and their state is the action item's).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import (
    ActionItem,
    ActionStatus,
    Commitment,
    Membership,
    Protocol,
    ProtocolParty,
    ProtocolStatus,
    Table,
)
from server.domain import audit
from server.domain.actions import ACTIVE, ActionEvent, Actor
from server.domain.errors import Invalid, NotFound
from server.domain.meetings import lock_table
from server.domain.protocols import check_chair, current_version, get_protocol
from server.i18n import _

__all__ = ["CommitmentState", "assign_owner", "commitments_of", "open_commitments_of_table"]


@dataclass(frozen=True)
class CommitmentState:
    """A commitment of the protocol's current version and its action item (None before it is in force)."""

    commitment: Commitment
    action: ActionItem | None

    @property
    def is_open(self) -> bool:
        return self.action is not None and self.action.status in ACTIVE

    @property
    def status(self) -> ActionStatus | None:
        return self.action.status if self.action is not None else None


async def _states(session: AsyncSession, version_ids: list[int]) -> list[CommitmentState]:
    if not version_ids:
        return []
    rows = await session.scalars(
        select(Commitment)
        .where(Commitment.version_id.in_(version_ids))
        .order_by(Commitment.protocol_id, Commitment.number)
    )
    commitments = list(rows.all())
    action_ids = [row.action_id for row in commitments if row.action_id is not None]
    actions: dict[int, ActionItem] = {}
    if action_ids:
        found = await session.scalars(
            select(ActionItem)
            .options(joinedload(ActionItem.owner), joinedload(ActionItem.organisation))
            .where(ActionItem.id.in_(action_ids))
        )
        actions = {action.id: action for action in found.unique().all()}
    return [CommitmentState(row, actions.get(row.action_id) if row.action_id else None) for row in commitments]


async def commitments_of(session: AsyncSession, protocol_id: int) -> list[CommitmentState]:
    """The commitments of the protocol's current version, in the text's order, with their action items."""
    version = await current_version(session, protocol_id)
    return await _states(session, [version.id] if version else [])


async def open_commitments_of_table(
    session: AsyncSession, table_id: int
) -> list[tuple[Protocol, list[CommitmentState]]]:
    """The table's protocols in force, each with its open commitments (action items open or in
    progress), the most recent in force first; those with none open too (an empty list)."""
    protocols = list(
        (
            await session.scalars(
                select(Protocol)
                .where(Protocol.table_id == table_id, Protocol.status == ProtocolStatus.in_force)
                .order_by(Protocol.in_force_at.desc(), Protocol.id.desc())
            )
        ).all()
    )
    result: list[tuple[Protocol, list[CommitmentState]]] = []
    for protocol in protocols:
        states = await commitments_of(session, protocol.id)
        result.append((protocol, [state for state in states if state.is_open]))
    return result


async def assign_owner(
    session: AsyncSession, table: Table, protocol_id: int, commitment_id: int, owner_id: int, *, actor: Actor
) -> ActionItem:
    """Give a commitment's action item another owner (the chair): the party's signatory or
    substitute, or a member of the table for the party's organisation. The same owner again is a
    no-op."""
    check_chair(actor, _("Only the chair can assign a commitment to someone else."))
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    commitment = await session.scalar(
        select(Commitment).where(Commitment.id == commitment_id, Commitment.protocol_id == protocol.id)
    )
    if commitment is None:
        raise NotFound(_("This commitment does not exist in this protocol."))
    if commitment.action_id is None:
        raise Invalid({"owner": _("A commitment gets its action item when the protocol enters into force.")})
    action = await session.get(ActionItem, commitment.action_id, populate_existing=True)
    if action is None:
        raise NotFound(_("This action item does not exist on this table."))
    if action.owner_id == owner_id:
        return action
    party = await session.get(ProtocolParty, commitment.party_id)
    assert party is not None
    seat = await session.scalar(
        select(Membership.id).where(
            Membership.table_id == table.id,
            Membership.user_id == owner_id,
            Membership.organisation_id == party.organisation_id,
        )
    )
    if owner_id not in (party.signatory_id, party.substitute_id) and seat is None:
        raise Invalid({"owner": _("The owner is one of the party's signers or a member of the table for the party.")})
    if action.status is ActionStatus.cancelled:
        raise Invalid({"status": _("A cancelled action item cannot be changed.")})
    action.owner_id = owner_id
    action.organisation_id = party.organisation_id
    await session.flush()
    await audit.record(
        session,
        ActionEvent.updated,
        actor_id=actor.user_id,
        table_id=table.id,
        action_id=action.id,
        title=action.title,
        owner_id=owner_id,
        protocol_id=protocol.id,
        commitment_id=commitment.id,
    )
    return action
