"""Comments on a proposal: members write them and reply to them (one level of replies), their
authors may correct them for a short while, the chair may hide one with a reason."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import ProposalComment, Role, Table
from server.db.types import utcnow
from server.domain import audit, texts
from server.domain.actions import Actor
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.keys import already_made
from server.domain.meetings import lock_table
from server.domain.proposal_basics import ProposalEvent, get_proposal, payload
from server.i18n import _

COMMENT_LIMIT = 10_000
COMMENT_EDIT_WINDOW = timedelta(minutes=15)
HIDDEN_REASON_LIMIT = 500


def _check_comment(body: str) -> str:
    body = body.strip()
    if not body:
        raise Invalid({"comment": _("Write the comment.")})
    if len(body) > COMMENT_LIMIT:
        raise Invalid({"comment": _("A comment can be at most {n} characters long.").format(n=COMMENT_LIMIT)})
    return body


async def add_comment(
    session: AsyncSession,
    table: Table,
    proposal_id: int,
    body: str,
    *,
    actor: Actor,
    parent_id: int | None = None,
    client_key: str | None = None,
) -> ProposalComment:
    """A comment, or a reply to a comment (replies are not nested further). Observers only read."""
    if actor.role in (None, Role.observer):
        raise Forbidden(_("Observers read the comments; they do not write them."))
    body = _check_comment(body)
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    if parent_id is not None:
        parent = await session.scalar(
            select(ProposalComment).where(ProposalComment.id == parent_id, ProposalComment.proposal_id == proposal.id)
        )
        if parent is None:
            raise NotFound(_("This comment does not exist on this proposal."))
        parent_id = parent.parent_id or parent.id  # one level: a reply to a reply joins the thread
    existing = await already_made(session, ProposalComment, ProposalComment.proposal_id == proposal.id, client_key)
    if existing is not None:
        return existing
    comment = ProposalComment(
        proposal_id=proposal.id, parent_id=parent_id, author_id=actor.user_id, client_key=client_key
    )
    await texts.write(session, comment, body=body)
    session.add(comment)
    await session.flush()
    await audit.record(
        session,
        ProposalEvent.commented,
        actor_id=actor.user_id,
        table_id=table.id,
        comment_id=comment.id,
        **payload(proposal),
    )
    return comment


async def _comment(session: AsyncSession, table: Table, proposal_id: int, comment_id: int) -> ProposalComment:
    proposal = await get_proposal(session, table.id, proposal_id)
    comment = await session.scalar(
        select(ProposalComment).where(ProposalComment.id == comment_id, ProposalComment.proposal_id == proposal.id)
    )
    if comment is None:
        raise NotFound(_("This comment does not exist on this proposal."))
    return comment


async def edit_comment(
    session: AsyncSession, table: Table, proposal_id: int, comment_id: int, body: str, *, actor: Actor
) -> ProposalComment:
    """Its author may correct a comment for 15 minutes after writing it."""
    await lock_table(session, table.id)
    comment = await _comment(session, table, proposal_id, comment_id)
    if comment.author_id != actor.user_id:
        raise Forbidden(_("Only its author can edit a comment."))
    body = _check_comment(body)
    if comment.body == body:
        return comment
    if utcnow() - comment.created_at > COMMENT_EDIT_WINDOW:
        raise Forbidden(_("A comment can be edited only in the first 15 minutes."))
    if comment.hidden_reason is not None:
        raise Forbidden(_("A hidden comment cannot be edited."))
    await texts.write(session, comment, body=body)
    comment.edited_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        ProposalEvent.comment_edited,
        actor_id=actor.user_id,
        table_id=table.id,
        comment_id=comment.id,
        proposal_id=proposal_id,
    )
    return comment


async def hide_comment(
    session: AsyncSession, table: Table, proposal_id: int, comment_id: int, reason: str, *, actor: Actor
) -> ProposalComment:
    """The chair hides a comment, with a reason that everyone sees in its place."""
    if actor.role is not Role.chair:
        raise Forbidden(_("Only the chair can hide a comment."))
    reason = reason.strip()
    if not reason:
        raise Invalid({"reason": _("Say why the comment is hidden.")})
    if len(reason) > HIDDEN_REASON_LIMIT:
        raise Invalid({"reason": _("The reason can be at most {n} characters long.").format(n=HIDDEN_REASON_LIMIT)})
    await lock_table(session, table.id)
    comment = await _comment(session, table, proposal_id, comment_id)
    if comment.hidden_reason is not None:
        return comment
    comment.hidden_reason, comment.hidden_by = reason, actor.user_id
    await session.flush()
    await audit.record(
        session,
        ProposalEvent.comment_hidden,
        actor_id=actor.user_id,
        table_id=table.id,
        comment_id=comment.id,
        proposal_id=proposal_id,
    )
    return comment


async def comments_of(session: AsyncSession, proposal_id: int) -> list[tuple[ProposalComment, list[ProposalComment]]]:
    """The threads: each comment with its replies, oldest first."""
    every = list(
        (
            await session.scalars(
                select(ProposalComment)
                .options(joinedload(ProposalComment.author))
                .where(ProposalComment.proposal_id == proposal_id)
                .order_by(ProposalComment.created_at, ProposalComment.id)
            )
        ).all()
    )
    replies: dict[int, list[ProposalComment]] = {}
    for comment in every:
        if comment.parent_id is not None:
            replies.setdefault(comment.parent_id, []).append(comment)
    return [(c, replies.get(c.id, [])) for c in every if c.parent_id is None]
