"""What a proposal is linked to: the agenda items where it was discussed, and the action items
that carry it out once approved."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import ActionItem, AgendaItem, Meeting, ProposalLink, ProposalStatus, Table
from server.domain import audit
from server.domain.actions import ActionValues, Actor, create_action
from server.domain.agenda import item_of_table
from server.domain.errors import Forbidden, Invalid
from server.domain.meetings import lock_table
from server.domain.proposal_basics import ProposalEvent, get_proposal, payload
from server.i18n import _


async def link_item(session: AsyncSession, table: Table, proposal_id: int, item_id: int, *, actor: Actor) -> None:
    """Record that the proposal was discussed on an agenda item of this table (chair or secretary)."""
    if not actor.manages:
        raise Forbidden(_("Only the chair or the secretary can link a proposal to the agenda."))
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    item = await item_of_table(session, table, item_id)
    exists = await session.scalar(
        select(ProposalLink.id).where(ProposalLink.proposal_id == proposal.id, ProposalLink.item_id == item.id)
    )
    if exists is not None:
        return
    session.add(ProposalLink(proposal_id=proposal.id, item_id=item.id))
    await session.flush()
    await audit.record(
        session,
        ProposalEvent.linked,
        actor_id=actor.user_id,
        table_id=table.id,
        item_id=item.id,
        meeting_id=item.meeting_id,
        **payload(proposal),
    )


async def action_from(
    session: AsyncSession,
    table: Table,
    proposal_id: int,
    values: ActionValues,
    *,
    actor: Actor,
    client_key: str | None = None,
) -> ActionItem:
    """An action item that carries out an approved proposal (chair or secretary)."""
    if not actor.manages:
        raise Forbidden(_("Only the chair or the secretary can record action items."))
    proposal = await get_proposal(session, table.id, proposal_id)
    if proposal.status is not ProposalStatus.approved:
        raise Invalid({"status": _("Only an approved proposal becomes action items.")})
    action = await create_action(session, table, values, actor_id=actor.user_id, client_key=client_key)
    if action.origin_proposal_id is None:
        action.origin_proposal_id = proposal.id
        await session.flush()
    return action


async def links_of(session: AsyncSession, proposal_id: int) -> list[tuple[AgendaItem, Meeting]]:
    """The agenda items where the proposal was discussed, with their meetings, oldest first."""
    rows = await session.execute(
        select(AgendaItem, Meeting)
        .join(ProposalLink, ProposalLink.item_id == AgendaItem.id)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(ProposalLink.proposal_id == proposal_id)
        .order_by(Meeting.starts_at, AgendaItem.position)
    )
    return [(item, meeting) for item, meeting in rows.all()]


async def linkable_items(session: AsyncSession, table_id: int, limit: int = 60) -> list[tuple[AgendaItem, Meeting]]:
    """Agenda items of the table's meetings, the latest meetings first: where a proposal may be discussed."""
    rows = await session.execute(
        select(AgendaItem, Meeting)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(Meeting.table_id == table_id, AgendaItem.removed_at.is_(None))
        .order_by(Meeting.starts_at.desc(), AgendaItem.position)
        .limit(limit)
    )
    return [(item, meeting) for item, meeting in rows.all()]
