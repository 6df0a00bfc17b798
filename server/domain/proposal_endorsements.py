"""Endorsements: members endorse a proposal before the table on behalf of their organisation, one
endorsement per organisation, and may take it back."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Endorsement, ProposalStatus, Table
from server.domain import audit
from server.domain.actions import Actor
from server.domain.errors import Invalid
from server.domain.meetings import lock_table
from server.domain.proposal_basics import CLOSED, ProposalEvent, get_proposal, member_organisation, payload
from server.i18n import _


async def endorse(session: AsyncSession, table: Table, proposal_id: int, *, actor: Actor) -> Endorsement:
    """The actor's organisation endorses the proposal; endorsing again (by anyone of it) is a no-op."""
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    organisation_id = await member_organisation(session, table, actor)
    if proposal.status in (ProposalStatus.draft, *CLOSED):
        raise Invalid({"status": _("Only a proposal before the table can be endorsed.")})
    existing = await session.scalar(
        select(Endorsement).where(
            Endorsement.proposal_id == proposal.id, Endorsement.organisation_id == organisation_id
        )
    )
    if existing is not None:
        return existing
    endorsement = Endorsement(proposal_id=proposal.id, organisation_id=organisation_id, user_id=actor.user_id)
    session.add(endorsement)
    await session.flush()
    await audit.record(
        session,
        ProposalEvent.endorsed,
        actor_id=actor.user_id,
        table_id=table.id,
        organisation_id=organisation_id,
        **payload(proposal),
    )
    return endorsement


async def withdraw_endorsement(session: AsyncSession, table: Table, proposal_id: int, *, actor: Actor) -> None:
    """The actor's organisation takes its endorsement back; with none to take back, nothing happens."""
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    organisation_id = await member_organisation(session, table, actor)
    removed = await session.execute(
        delete(Endorsement).where(
            Endorsement.proposal_id == proposal.id, Endorsement.organisation_id == organisation_id
        )
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        await audit.record(
            session,
            ProposalEvent.endorsement_withdrawn,
            actor_id=actor.user_id,
            table_id=table.id,
            organisation_id=organisation_id,
            **payload(proposal),
        )


async def endorsements_of(session: AsyncSession, proposal_id: int) -> list[Endorsement]:
    return list(
        (
            await session.scalars(
                select(Endorsement)
                .options(joinedload(Endorsement.organisation), joinedload(Endorsement.user))
                .where(Endorsement.proposal_id == proposal_id)
                .order_by(Endorsement.created_at)
            )
        ).all()
    )
