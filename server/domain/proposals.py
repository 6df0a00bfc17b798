"""Proposals (proposte): what organisations bring to the table, from draft to outcome.

Members of a co-authoring organisation edit the draft and submit it; the chair moves it through
the discussion to its outcome; members endorse it on behalf of their organisation (one
endorsement per organisation) and comment on it; observers read. Every submitted or explicitly
saved text is a numbered version, and any two versions compare as a word-level diff.

This module drafts proposals, moves them along and lists them; the rest of the area lives beside
it (proposal_basics, proposal_versions, proposal_endorsements, proposal_comments, proposal_links)
and every public name of the area is importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Endorsement, Proposal, ProposalAuthor, ProposalStatus, Role, Table
from server.domain import audit, decisions, documents, proposal_bodies, proposal_versions, texts, transitions
from server.domain.actions import Actor
from server.domain.agenda import DESCRIPTION_LIMIT
from server.domain.errors import Forbidden, Invalid, stale
from server.domain.keys import already_made
from server.domain.meetings import check_title, lock_table
from server.domain.proposal_basics import (
    CLOSED,
    ProposalEvent,
    authors_of,
    authors_of_many,
    co_authors,
    get_proposal,
    is_author,
    payload,
    private_authors,
    seat,
)
from server.domain.proposal_comments import (
    COMMENT_EDIT_WINDOW,
    COMMENT_LIMIT,
    add_comment,
    comments_of,
    edit_comment,
    hide_comment,
)
from server.domain.proposal_endorsements import endorse, endorsements_of, withdraw_endorsement
from server.domain.proposal_links import action_from, link_item, linkable_items, links_of
from server.domain.proposal_versions import Comparison, compare_versions, latest_version, versions_of, word_diff
from server.i18n import _

__all__ = [
    "AUTHOR_MOVES",
    "BODY_LIMIT",
    "CHAIR_MOVES",
    "CLOSED",
    "COMMENT_EDIT_WINDOW",
    "COMMENT_LIMIT",
    "MOVES",
    "OUTCOME_LIMIT",
    "SUMMARY_LIMIT",
    "Comparison",
    "ProposalEvent",
    "ProposalText",
    "Saved",
    "action_from",
    "add_comment",
    "authors_of",
    "authors_of_many",
    "co_authors",
    "comments_of",
    "compare_versions",
    "create_proposal",
    "edit_comment",
    "endorse",
    "endorsements_of",
    "get_proposal",
    "hide_comment",
    "is_author",
    "latest_version",
    "link_item",
    "linkable_items",
    "links_of",
    "open_proposals",
    "parse_text",
    "private_authors",
    "proposals_of",
    "save_draft",
    "set_status",
    "update_draft",
    "versions_of",
    "withdraw_endorsement",
    "word_diff",
]

SUMMARY_LIMIT = 2_000
BODY_LIMIT = 200_000
OUTCOME_LIMIT = DESCRIPTION_LIMIT

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
# Every legal move, whoever makes it.
MOVES: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    status: CHAIR_MOVES.get(status, frozenset()) | AUTHOR_MOVES.get(status, frozenset()) for status in ProposalStatus
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


def _stale_message() -> str:
    return _("Someone else changed this proposal in the meantime.")


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
    organisations = await co_authors(session, table, author_slugs)
    found = await seat(session, table, actor.user_id)
    if found is None or found.role is Role.observer or found.organisation_id not in {o.id for o in organisations}:
        raise Forbidden(_("You can only bring a proposal on behalf of the organisation you represent here."))
    existing = await already_made(session, Proposal, Proposal.table_id == table.id, client_key)
    if existing is not None:
        return existing
    proposal = Proposal(
        table_id=table.id,
        title=text.title,
        summary=text.summary,
        client_key=client_key,
        created_by=actor.user_id,
    )
    await texts.write(session, proposal, body=text.body)
    session.add(proposal)
    await session.flush()
    session.add_all(ProposalAuthor(proposal_id=proposal.id, organisation_id=o.id) for o in organisations)
    await session.flush()
    await proposal_bodies.create_document(session, proposal, actor.user_id)  # seeded once, from this text
    await proposal_versions.save_version(session, proposal, actor, "saved")  # the first draft is version 1
    await audit.record(session, ProposalEvent.created, actor_id=actor.user_id, table_id=table.id, **payload(proposal))
    return proposal


@dataclass(frozen=True)
class Saved:
    """A draft saved from its form: the proposal, and the update its body's document stored (to
    relay to the live rooms once committed: `Rooms.publish(document_id, update_id)`)."""

    proposal: Proposal
    document_id: int
    update_id: int | None


async def update_draft(
    session: AsyncSession,
    table: Table,
    proposal_id: int,
    text: ProposalText,
    *,
    version: int,
    actor: Actor,
    base: str | None = None,
    save_version: bool = False,
) -> Proposal:
    """Change a draft's text (co-authors only); with `save_version`, also keep it as a numbered version."""
    saved = await save_draft(
        session, table, proposal_id, text, version=version, actor=actor, base=base, save_version=save_version
    )
    return saved.proposal


async def save_draft(
    session: AsyncSession,
    table: Table,
    proposal_id: int,
    text: ProposalText,
    *,
    version: int,
    actor: Actor,
    base: str | None = None,
    save_version: bool = False,
    limit: int | None = None,
) -> Saved:
    """Save a draft from its form (co-authors only); with `save_version`, also keep it as a numbered version.

    The body is a collaborative document: what changed from `base` (the text the form was loaded
    with) to the text typed is applied to it as a difference, so that the document keeps every edit
    that reached it and that this form did not touch. A body changed since `base` is stale (409), as
    are a title or a summary changed since `version`; without `base` (a caller outside a form),
    `version` guards the body too. The same text again is a no-op (a saved version is not repeated).
    A document that would pass `limit` bytes (TAVOLI_DOC_MAX_BYTES) refuses the text (Invalid).
    """
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    if not await is_author(session, table, proposal, actor):
        raise Forbidden(_("Only members of a co-authoring organisation can edit this proposal."))
    if proposal.status is not ProposalStatus.draft:
        raise Invalid({"status": _("Only a draft can be edited.")})
    document = await proposal_bodies.document_of(session, proposal)
    current = await documents.text_of(session, document.id)
    fields_changed = (proposal.title, proposal.summary) != (text.title, text.summary)
    # A form's text comes without the blank lines around it (parse_text): those of the document stay.
    typed = _around(current, documents.clean(text.body))
    body_changed = typed != current
    if not (fields_changed or body_changed or save_version):
        return Saved(proposal, document.id, None)
    stale_fields = fields_changed and proposal.version != version
    body_base_moved = current != documents.clean(base) if base is not None else proposal.version != version
    stale_body = body_changed and body_base_moved
    if stale_fields or stale_body:
        await proposal_bodies.store_body(session, proposal, current)  # what the page shows as it is now
        raise stale(session, _stale_message(), proposal)
    update_id = None
    if body_changed:
        # The document holds `base` (checked above, under its lock): the difference from it is applied.
        try:
            await documents.apply_text(
                session, document.id, base=current, new=typed, user_id=actor.user_id, limit=limit
            )
        except documents.DocumentTooLarge as exc:
            raise Invalid({"body": str(exc)}) from None
        update_id = await proposal_bodies.latest_update_id(session, document.id)
    if fields_changed or body_changed:
        proposal.title, proposal.summary = text.title, text.summary
        await texts.write(session, proposal, body=await documents.text_of(session, document.id))
        await session.flush()
    if save_version:
        kept = await proposal_versions.keep_version(session, proposal, actor, "saved")
        if kept is not None:
            await audit.record(
                session,
                ProposalEvent.version_saved,
                actor_id=actor.user_id,
                table_id=table.id,
                number=kept.number,
                **payload(proposal),
            )
            return Saved(proposal, document.id, update_id)
    if fields_changed or body_changed:
        await audit.record(
            session, ProposalEvent.updated, actor_id=actor.user_id, table_id=table.id, **payload(proposal)
        )
    return Saved(proposal, document.id, update_id)


def _around(current: str, body: str) -> str:
    """`body` with the whitespace that surrounds the text of `current`."""
    stripped = current.strip()
    if not stripped:
        return body
    start = current.index(stripped)
    return current[:start] + body + current[start + len(stripped) :]


async def set_status(
    session: AsyncSession,
    table: Table,
    proposal_id: int,
    status: ProposalStatus | str,
    *,
    version: int,
    actor: Actor,
    outcome: str = "",
    item_id: int | None = None,
) -> Proposal:
    """Move a proposal along: authors submit and withdraw, the chair leads discussion and outcome.

    Submitting keeps the text as a numbered version; leaving the draft (submitted or withdrawn)
    freezes the body's document, whose sockets the caller then closes. Asking for the status it already has is a
    no-op; an illegal transition (rejected back to draft, say) is refused.

    Approving or rejecting it records, in the same transaction, the decision of the agenda item where
    it was discussed (`item_id`, one of its linked items; None: the most recently linked one, if any):
    see `decisions.record_outcome`.
    """
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    is_chair = actor.role is Role.chair
    authoring = await is_author(session, table, proposal, actor)
    if not (is_chair or authoring):
        raise Forbidden(_("You cannot move this proposal to that status."))
    status = transitions.parse_status(ProposalStatus, status)
    outcome = outcome.strip()

    async def check(before: ProposalStatus) -> None:
        allowed: set[ProposalStatus] = set()
        if is_chair:
            allowed |= CHAIR_MOVES.get(before, frozenset())
        if authoring:
            allowed |= AUTHOR_MOVES.get(before, frozenset())
        if status not in allowed:
            raise Forbidden(_("You cannot move this proposal to that status."))
        if len(outcome) > OUTCOME_LIMIT:
            raise Invalid({"outcome": _("The outcome can be at most {n} characters long.").format(n=OUTCOME_LIMIT)})
        if status in (ProposalStatus.approved, ProposalStatus.rejected) and not outcome:
            raise Invalid({"outcome": _("Write the outcome of the discussion.")})
        if outcome:
            await texts.write(session, proposal, outcome=outcome)
        if before is ProposalStatus.draft:  # its text is no longer edited: frozen as stored
            await proposal_bodies.freeze_body(session, proposal)

    changed = await transitions.change_status(
        session,
        proposal,
        status,
        version=version,
        stale_message=_stale_message(),
        moves=MOVES,
        refused=_("A proposal cannot go from this status to that one."),
        event=ProposalEvent.status,
        actor_id=actor.user_id,
        table_id=table.id,
        payload=payload(proposal),
        prepare=check,
    )
    if changed and status is ProposalStatus.submitted:
        await proposal_versions.keep_version(session, proposal, actor, "submitted")
    if changed and status in (ProposalStatus.approved, ProposalStatus.rejected):
        await decisions.record_outcome(
            session,
            table,
            proposal,
            approved=status is ProposalStatus.approved,
            outcome=outcome,
            item_id=item_id,
            actor=actor,
        )
    return proposal


async def proposals_of(session: AsyncSession, table_id: int) -> list[Proposal]:
    """All the table's proposals, newest first."""
    query = select(Proposal).where(Proposal.table_id == table_id)
    return list((await session.scalars(query.order_by(Proposal.created_at.desc(), Proposal.id.desc()))).all())


async def open_proposals(session: AsyncSession, table_id: int) -> list[tuple[Proposal, list[str], int]]:
    """The proposals still in progress, newest first, with their authors' names and endorsements.

    Three queries, however many proposals: the proposals, their authors, their endorsement counts.
    """
    found = (
        await session.scalars(
            select(Proposal)
            .where(Proposal.table_id == table_id, Proposal.status.not_in(CLOSED))
            .order_by(Proposal.created_at.desc(), Proposal.id.desc())
        )
    ).all()
    if not found:
        return []
    ids = [proposal.id for proposal in found]
    authors = await authors_of_many(session, ids)
    endorsed = await session.execute(
        select(Endorsement.proposal_id, func.count())
        .where(Endorsement.proposal_id.in_(ids))
        .group_by(Endorsement.proposal_id)
    )
    counts: dict[int, int] = dict(endorsed.all())
    return [(p, [o.name for o in authors[p.id]], counts.get(p.id, 0)) for p in found]
