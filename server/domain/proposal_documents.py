"""Who may read and who may edit a proposal's body document (docs/architecture.md, "Collaborative
documents"): the same rule as for the page (server/domain/proposal_basics.py, `private_authors`).

- A draft belongs to its co-authors: the members of its co-authoring organisations (not the
  observers) edit it while it is a draft and its text is not frozen; observers of those
  organisations, the chair and the secretary read it. Nobody else gets it at all: to them it
  does not exist.
- A proposal withdrawn before it was ever submitted stays private the same way, read-only.
- From submission on (and whenever the text is frozen), everyone with a role on the table reads
  it, and administrators too (they read every table); nobody edits it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Document, DocumentKind, Proposal, ProposalStatus, Role
from server.domain.documents import DocumentAccess
from server.domain.proposal_basics import private_authors


async def access(
    session: AsyncSession,
    document: Document,
    *,
    role: Role | None,
    organisation_id: int | None,
    is_admin: bool = False,
) -> DocumentAccess:
    """What a person with `role` for `organisation_id` on the document's table may do with a
    proposal's body document."""
    if document.kind is not DocumentKind.proposal_body:
        return DocumentAccess.none
    proposal = await session.scalar(
        select(Proposal).where(Proposal.id == document.record_id, Proposal.table_id == document.table_id)
    )
    if proposal is None or (role is None and not is_admin):
        return DocumentAccess.none
    authors = (await private_authors(session, document.table_id)).get(proposal.id)
    if authors is None:  # submitted at least once: every reader of the table reads it
        return DocumentAccess.read
    co_author = organisation_id is not None and organisation_id in authors
    if co_author and role is not Role.observer and proposal.status is ProposalStatus.draft and not document.frozen_at:
        return DocumentAccess.edit
    if co_author or role in (Role.chair, Role.secretary):
        return DocumentAccess.read
    return DocumentAccess.none
