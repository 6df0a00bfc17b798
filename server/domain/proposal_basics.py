"""What every part of the proposals area stands on: the kinds of its events, finding a proposal,
its co-authoring organisations, and who acts on the table for which organisation.

The area's public names are importable from server.domain.proposals.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Membership,
    Organisation,
    Proposal,
    ProposalAuthor,
    ProposalStatus,
    ProposalVersion,
    Role,
    Table,
)
from server.domain.actions import Actor
from server.domain.errors import Forbidden, Invalid, NotFound
from server.i18n import _

CLOSED = (ProposalStatus.approved, ProposalStatus.rejected, ProposalStatus.withdrawn)


class ProposalEvent(StrEnum):
    """What the audit record says about proposals (the values are stored)."""

    created = "proposal.created"
    updated = "proposal.updated"
    version_saved = "proposal.version_saved"
    endorsed = "proposal.endorsed"
    endorsement_withdrawn = "proposal.endorsement_withdrawn"
    commented = "proposal.commented"
    comment_edited = "proposal.comment_edited"
    comment_hidden = "proposal.comment_hidden"
    linked = "proposal.linked"
    status = "proposal.status"
    # One per person and editing session of the body (server/domain/proposal_bodies.py).
    body_edited = "proposal.body_edited"
    # The body rendered again while people type: a note to the live hub, never a row of the history.
    body_rendered = "proposal.body_rendered"


def payload(proposal: Proposal) -> dict[str, object]:
    """What every event about a proposal says of it."""
    return {"proposal_id": proposal.id, "title": proposal.title}


async def private_authors(session: AsyncSession, table_id: int) -> dict[int, frozenset[int]]:
    """The table's proposals that only their co-authors (with the chair and the secretary) may see, with
    their co-authoring organisations: drafts, and proposals withdrawn before they were ever submitted."""
    submitted = exists().where(ProposalVersion.proposal_id == Proposal.id, ProposalVersion.kind == "submitted")
    rows = await session.execute(
        select(Proposal.id, ProposalAuthor.organisation_id)
        .outerjoin(ProposalAuthor, ProposalAuthor.proposal_id == Proposal.id)
        .where(
            Proposal.table_id == table_id,
            or_(
                Proposal.status == ProposalStatus.draft,
                and_(Proposal.status == ProposalStatus.withdrawn, ~submitted),
            ),
        )
    )
    found: dict[int, set[int]] = {}
    for proposal_id, organisation_id in rows:
        authors = found.setdefault(proposal_id, set())
        if organisation_id is not None:
            authors.add(organisation_id)
    return {proposal_id: frozenset(authors) for proposal_id, authors in found.items()}


async def get_proposal(session: AsyncSession, table_id: int, proposal_id: int) -> Proposal:
    """Proposal `proposal_id` of this table; another table's is not found."""
    proposal = await session.scalar(select(Proposal).where(Proposal.id == proposal_id, Proposal.table_id == table_id))
    if proposal is None:
        raise NotFound(_("This proposal does not exist on this table."))
    return proposal


async def seat(session: AsyncSession, table: Table, user_id: int) -> Membership | None:
    """The person's membership of the table, if any."""
    return await session.scalar(
        select(Membership).where(Membership.table_id == table.id, Membership.user_id == user_id)
    )


async def member_organisation(session: AsyncSession, table: Table, actor: Actor) -> int:
    """The organisation the actor represents on the table as a member (not an observer)."""
    found = await seat(session, table, actor.user_id)
    if found is None or found.role is Role.observer or found.organisation_id is None:
        raise Forbidden(_("Only members who represent an organisation on this table can do this."))
    return found.organisation_id


async def co_authors(session: AsyncSession, table: Table, slugs: list[str]) -> list[Organisation]:
    """The organisations named to co-author a proposal of the table: each must exist and have a seat
    on the table (some member of the table represents it)."""
    if not slugs:
        raise Invalid({"authors": _("Choose at least one co-authoring organisation.")})
    found = list((await session.scalars(select(Organisation).where(Organisation.slug.in_(slugs)))).all())
    if len(found) != len(set(slugs)):
        raise Invalid({"authors": _("One of the organisations does not exist.")})
    seated = set(
        (
            await session.scalars(
                select(Membership.organisation_id).where(
                    Membership.table_id == table.id, Membership.organisation_id.in_([o.id for o in found])
                )
            )
        ).all()
    )
    outside = sorted(o.name for o in found if o.id not in seated)
    if outside:
        raise Invalid({"authors": _("No member of this table represents {names}.").format(names=", ".join(outside))})
    return found


async def authors_of_many(session: AsyncSession, proposal_ids: Collection[int]) -> dict[int, list[Organisation]]:
    """The co-authoring organisations of each of these proposals, by name, in one query."""
    authors: dict[int, list[Organisation]] = {proposal_id: [] for proposal_id in proposal_ids}
    if not authors:
        return authors
    rows = await session.execute(
        select(ProposalAuthor.proposal_id, Organisation)
        .join(Organisation, Organisation.id == ProposalAuthor.organisation_id)
        .where(ProposalAuthor.proposal_id.in_(authors))
        .order_by(Organisation.name)
    )
    for proposal_id, organisation in rows.all():
        authors[proposal_id].append(organisation)
    return authors


async def authors_of(session: AsyncSession, proposal_id: int) -> list[Organisation]:
    """The proposal's co-authoring organisations, by name."""
    return (await authors_of_many(session, [proposal_id]))[proposal_id]


async def is_author(session: AsyncSession, table: Table, proposal: Proposal, actor: Actor) -> bool:
    """Whether the actor sits on the table for one of the proposal's co-authoring organisations."""
    found = await seat(session, table, actor.user_id)
    if found is None or found.organisation_id is None or found.role is Role.observer:
        return False
    author = await session.scalar(
        select(ProposalAuthor.id).where(
            ProposalAuthor.proposal_id == proposal.id, ProposalAuthor.organisation_id == found.organisation_id
        )
    )
    return author is not None
