"""Proposals (proposte): what organisations bring to the table, from draft to outcome (DESIGN §2.4).

Members of a co-authoring organisation edit the draft and submit it; the chair moves it through
the discussion to its outcome; members endorse it on behalf of their organisation (one
endorsement per organisation) and comment on it; observers read. Every submitted or explicitly
saved text is a numbered version, and any two versions compare as a word-level diff.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import (
    ActionItem,
    AgendaItem,
    Endorsement,
    Meeting,
    Membership,
    Organisation,
    Proposal,
    ProposalAuthor,
    ProposalComment,
    ProposalLink,
    ProposalStatus,
    ProposalVersion,
    Role,
    Table,
)
from server.db.types import utcnow
from server.domain import audit
from server.domain.actions import ActionValues, Actor, create_action
from server.domain.agenda import DESCRIPTION_LIMIT, item_of_table
from server.domain.errors import Forbidden, Invalid, NotFound, stale
from server.domain.keys import already_made
from server.domain.meetings import check_title, lock_table
from server.i18n import _

SUMMARY_LIMIT = 2_000
BODY_LIMIT = 200_000
OUTCOME_LIMIT = DESCRIPTION_LIMIT
COMMENT_LIMIT = 10_000
COMMENT_EDIT_WINDOW = timedelta(minutes=15)

CLOSED = (ProposalStatus.approved, ProposalStatus.rejected, ProposalStatus.withdrawn)

# The chair's moves; the authors submit (from draft) and withdraw (before the outcome).
CHAIR_MOVES: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.submitted: frozenset({ProposalStatus.under_discussion}),
    ProposalStatus.under_discussion: frozenset({ProposalStatus.approved, ProposalStatus.rejected}),
}
AUTHOR_MOVES: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.draft: frozenset({ProposalStatus.submitted, ProposalStatus.withdrawn}),
    ProposalStatus.submitted: frozenset({ProposalStatus.withdrawn}),
    ProposalStatus.under_discussion: frozenset({ProposalStatus.withdrawn}),
}


@dataclass(frozen=True)
class ProposalText:
    """A proposal's text, checked."""

    title: str
    summary: str
    body: str


def parse_text(*, title: str, summary: str, body: str) -> ProposalText:
    """Check what a person typed for a proposal; every problem is reported beside its field."""
    errors: dict[str, str] = {}
    try:
        title = check_title(title)
    except Invalid as exc:
        errors.update(exc.errors)
    if len(summary) > SUMMARY_LIMIT:
        errors["summary"] = _("The summary can be at most {n} characters long.").format(n=SUMMARY_LIMIT)
    if len(body) > BODY_LIMIT:
        errors["body"] = _("The text can be at most {n} characters long.").format(n=BODY_LIMIT)
    if errors:
        raise Invalid(errors)
    return ProposalText(title, summary.strip(), body.strip())


async def _seat(session: AsyncSession, table: Table, user_id: int) -> Membership | None:
    return await session.scalar(
        select(Membership).where(Membership.table_id == table.id, Membership.user_id == user_id)
    )


async def get_proposal(session: AsyncSession, table_id: int, proposal_id: int) -> Proposal:
    """Proposal `proposal_id` of this table; another table's is not found."""
    proposal = await session.scalar(select(Proposal).where(Proposal.id == proposal_id, Proposal.table_id == table_id))
    if proposal is None:
        raise NotFound(_("This proposal does not exist on this table."))
    return proposal


async def authors_of(session: AsyncSession, proposal_id: int) -> list[Organisation]:
    return list(
        (
            await session.scalars(
                select(Organisation)
                .join(ProposalAuthor, ProposalAuthor.organisation_id == Organisation.id)
                .where(ProposalAuthor.proposal_id == proposal_id)
                .order_by(Organisation.name)
            )
        ).all()
    )


async def is_author(session: AsyncSession, table: Table, proposal: Proposal, actor: Actor) -> bool:
    """Whether the actor sits on the table for one of the proposal's co-authoring organisations."""
    seat = await _seat(session, table, actor.user_id)
    if seat is None or seat.organisation_id is None or seat.role is Role.observer:
        return False
    found = await session.scalar(
        select(ProposalAuthor.id).where(
            ProposalAuthor.proposal_id == proposal.id, ProposalAuthor.organisation_id == seat.organisation_id
        )
    )
    return found is not None


async def _organisations(session: AsyncSession, slugs: list[str]) -> list[Organisation]:
    if not slugs:
        raise Invalid({"authors": _("Choose at least one co-authoring organisation.")})
    found = list((await session.scalars(select(Organisation).where(Organisation.slug.in_(slugs)))).all())
    if len(found) != len(set(slugs)):
        raise Invalid({"authors": _("One of the organisations does not exist.")})
    return found


def _payload(proposal: Proposal) -> dict[str, object]:
    return {"proposal_id": proposal.id, "title": proposal.title}


async def create_proposal(
    session: AsyncSession,
    table: Table,
    text: ProposalText,
    author_slugs: list[str],
    *,
    actor: Actor,
    client_key: str | None = None,
) -> Proposal:
    """A new draft, co-authored by the given organisations, one of which the actor represents."""
    await lock_table(session, table.id)
    organisations = await _organisations(session, author_slugs)
    seat = await _seat(session, table, actor.user_id)
    if seat is None or seat.role is Role.observer or seat.organisation_id not in {o.id for o in organisations}:
        raise Forbidden(_("You can only bring a proposal on behalf of the organisation you represent here."))
    existing = await already_made(session, Proposal, Proposal.table_id == table.id, client_key)
    if existing is not None:
        return existing
    proposal = Proposal(
        table_id=table.id,
        title=text.title,
        summary=text.summary,
        body=text.body,
        client_key=client_key,
        created_by=actor.user_id,
    )
    session.add(proposal)
    await session.flush()
    session.add_all(ProposalAuthor(proposal_id=proposal.id, organisation_id=o.id) for o in organisations)
    await session.flush()
    await audit.record(session, "proposal.created", actor_id=actor.user_id, table_id=table.id, **_payload(proposal))
    return proposal


async def _save_version(session: AsyncSession, proposal: Proposal, actor: Actor, kind: str) -> ProposalVersion:
    last = await session.scalar(
        select(func.max(ProposalVersion.number)).where(ProposalVersion.proposal_id == proposal.id)
    )
    version = ProposalVersion(
        proposal_id=proposal.id,
        number=(last or 0) + 1,
        title=proposal.title,
        summary=proposal.summary,
        body=proposal.body,
        kind=kind,
        author_id=actor.user_id,
    )
    session.add(version)
    await session.flush()
    return version


async def update_draft(
    session: AsyncSession,
    table: Table,
    proposal_id: int,
    text: ProposalText,
    *,
    version: int,
    actor: Actor,
    save_version: bool = False,
) -> Proposal:
    """Change a draft's text (co-authors only); with `save_version`, also keep it as a numbered version.

    The same text again is a no-op (a saved version is not repeated either); a stale edit is 409.
    """
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    if not await is_author(session, table, proposal, actor):
        raise Forbidden(_("Only members of a co-authoring organisation can edit this proposal."))
    if proposal.status is not ProposalStatus.draft:
        raise Invalid({"status": _("Only a draft can be edited.")})
    unchanged = (proposal.title, proposal.summary, proposal.body) == (text.title, text.summary, text.body)
    if unchanged and not save_version:
        return proposal
    if not unchanged and proposal.version != version:
        raise stale(session, _("Someone else changed this proposal in the meantime."), proposal)
    if not unchanged:
        proposal.title, proposal.summary, proposal.body = text.title, text.summary, text.body
        await session.flush()
    if save_version:
        latest = await latest_version(session, proposal.id)
        if latest is None or (latest.title, latest.summary, latest.body) != (text.title, text.summary, text.body):
            saved = await _save_version(session, proposal, actor, "saved")
            await audit.record(
                session,
                "proposal.version_saved",
                actor_id=actor.user_id,
                table_id=table.id,
                number=saved.number,
                **_payload(proposal),
            )
            return proposal
    if not unchanged:
        await audit.record(session, "proposal.updated", actor_id=actor.user_id, table_id=table.id, **_payload(proposal))
    return proposal


async def latest_version(session: AsyncSession, proposal_id: int) -> ProposalVersion | None:
    return await session.scalar(
        select(ProposalVersion)
        .where(ProposalVersion.proposal_id == proposal_id)
        .order_by(ProposalVersion.number.desc())
        .limit(1)
    )


async def versions_of(session: AsyncSession, proposal_id: int) -> list[ProposalVersion]:
    return list(
        (
            await session.scalars(
                select(ProposalVersion)
                .options(joinedload(ProposalVersion.author))
                .where(ProposalVersion.proposal_id == proposal_id)
                .order_by(ProposalVersion.number)
            )
        ).all()
    )


async def set_status(
    session: AsyncSession,
    table: Table,
    proposal_id: int,
    status: ProposalStatus | str,
    *,
    version: int,
    actor: Actor,
    outcome: str = "",
) -> Proposal:
    """Move a proposal along: authors submit and withdraw, the chair leads discussion and outcome.

    Submitting keeps the text as a numbered version. Asking for the status it already has is a
    no-op; an illegal transition (rejected back to draft, say) is refused.
    """
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    is_chair = actor.role is Role.chair
    authoring = await is_author(session, table, proposal, actor)
    if not (is_chair or authoring):
        raise Forbidden(_("You cannot move this proposal to that status."))
    if isinstance(status, str):
        try:
            status = ProposalStatus(status)
        except ValueError:
            raise Invalid({"status": _("This status does not exist.")}) from None
    if proposal.status is status:
        return proposal
    allowed: set[ProposalStatus] = set()
    if is_chair:
        allowed |= CHAIR_MOVES.get(proposal.status, frozenset())
    if authoring:
        allowed |= AUTHOR_MOVES.get(proposal.status, frozenset())
    legal = status in CHAIR_MOVES.get(proposal.status, frozenset()) | AUTHOR_MOVES.get(proposal.status, frozenset())
    if not legal:
        raise Invalid({"status": _("A proposal cannot go from this status to that one.")})
    if status not in allowed:
        raise Forbidden(_("You cannot move this proposal to that status."))
    if proposal.version != version:
        raise stale(session, _("Someone else changed this proposal in the meantime."), proposal)
    outcome = outcome.strip()
    if len(outcome) > OUTCOME_LIMIT:
        raise Invalid({"outcome": _("The outcome can be at most {n} characters long.").format(n=OUTCOME_LIMIT)})
    if status in (ProposalStatus.approved, ProposalStatus.rejected) and not outcome:
        raise Invalid({"outcome": _("Write the outcome of the discussion.")})
    before = proposal.status
    proposal.status = status
    if outcome:
        proposal.outcome = outcome
    await session.flush()
    if status is ProposalStatus.submitted:
        await _save_version(session, proposal, actor, "submitted")
    await audit.record(
        session,
        "proposal.status",
        actor_id=actor.user_id,
        table_id=table.id,
        status=status.value,
        before=before.value,
        **_payload(proposal),
    )
    return proposal


# --- endorsements ---------------------------------------------------------------------------------


async def _member_organisation(session: AsyncSession, table: Table, actor: Actor) -> int:
    seat = await _seat(session, table, actor.user_id)
    if seat is None or seat.role is Role.observer or seat.organisation_id is None:
        raise Forbidden(_("Only members who represent an organisation on this table can do this."))
    return seat.organisation_id


async def endorse(session: AsyncSession, table: Table, proposal_id: int, *, actor: Actor) -> Endorsement:
    """The actor's organisation endorses the proposal; endorsing again (by anyone of it) is a no-op."""
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    organisation_id = await _member_organisation(session, table, actor)
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
        "proposal.endorsed",
        actor_id=actor.user_id,
        table_id=table.id,
        organisation_id=organisation_id,
        **_payload(proposal),
    )
    return endorsement


async def withdraw_endorsement(session: AsyncSession, table: Table, proposal_id: int, *, actor: Actor) -> None:
    """The actor's organisation takes its endorsement back; with none to take back, nothing happens."""
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    organisation_id = await _member_organisation(session, table, actor)
    removed = await session.execute(
        delete(Endorsement).where(
            Endorsement.proposal_id == proposal.id, Endorsement.organisation_id == organisation_id
        )
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        await audit.record(
            session,
            "proposal.endorsement_withdrawn",
            actor_id=actor.user_id,
            table_id=table.id,
            organisation_id=organisation_id,
            **_payload(proposal),
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


# --- comments -----------------------------------------------------------------------------------------


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
        proposal_id=proposal.id, parent_id=parent_id, author_id=actor.user_id, body=body, client_key=client_key
    )
    session.add(comment)
    await session.flush()
    await audit.record(
        session,
        "proposal.commented",
        actor_id=actor.user_id,
        table_id=table.id,
        comment_id=comment.id,
        **_payload(proposal),
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
    comment.body, comment.edited_at = body, utcnow()
    await session.flush()
    await audit.record(
        session,
        "proposal.comment_edited",
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
    if len(reason) > 500:
        raise Invalid({"reason": _("The reason can be at most {n} characters long.").format(n=500)})
    await lock_table(session, table.id)
    comment = await _comment(session, table, proposal_id, comment_id)
    if comment.hidden_reason is not None:
        return comment
    comment.hidden_reason, comment.hidden_by = reason, actor.user_id
    await session.flush()
    await audit.record(
        session,
        "proposal.comment_hidden",
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


# --- links, outcome -------------------------------------------------------------------------------


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
        "proposal.linked",
        actor_id=actor.user_id,
        table_id=table.id,
        item_id=item.id,
        meeting_id=item.meeting_id,
        **_payload(proposal),
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


# --- comparing versions ---------------------------------------------------------------------------

_WORDS = re.compile(r"\S+|\s+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """The changes from `old` to `new`, word by word: ("same" | "removed" | "added", text) pieces."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("same", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            pieces.append(("removed", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            pieces.append(("added", "".join(b[j1:j2])))
    return pieces


async def proposals_of(session: AsyncSession, table_id: int) -> list[Proposal]:
    """All the table's proposals, newest first."""
    query = select(Proposal).where(Proposal.table_id == table_id)
    return list((await session.scalars(query.order_by(Proposal.created_at.desc(), Proposal.id.desc()))).all())


async def open_proposals(session: AsyncSession, table_id: int) -> list[tuple[Proposal, list[str], int]]:
    """The proposals still in progress, newest first, with their authors' names and endorsements."""
    found = (
        await session.scalars(
            select(Proposal)
            .where(Proposal.table_id == table_id, Proposal.status.not_in(CLOSED))
            .order_by(Proposal.created_at.desc(), Proposal.id.desc())
        )
    ).all()
    result = []
    for proposal in found:
        authors = [o.name for o in await authors_of(session, proposal.id)]
        endorsed = await session.scalar(
            select(func.count()).select_from(Endorsement).where(Endorsement.proposal_id == proposal.id)
        )
        result.append((proposal, authors, int(endorsed or 0)))
    return result


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
