"""A proposal's body is a collaborative document (server/domain/documents.py).

Every proposal has one: created with the proposal and seeded once from its text; a proposal made
before documents existed gets its own the first time it is needed, seeded once from the body it
has (two requests asking at once create one: the second finds the first's).

While the co-authors type, the live room calls `body_changed` at most once a second with the text
it stored: the body is rendered once, through the one Markdown pipeline, and stored beside the
document (`proposal.body` / `body_html`, which every page and push show), without moving the
proposal's `version` (that guards its title, summary and status: a status button on an open page
must not turn stale while someone types). The history keeps editing sessions, not keystrokes:
one `body_edited` event per person and session, a session ending after `edit_sessions.QUIET` without an edit by
that person. A rendering that starts no session takes the table's next sequence number like
every change of a table (the page cache and the hub's order rely on it) and tells the hub through
the commit hook, but leaves no row in the history (`audit.announce`).

Submitting (or withdrawing) a draft freezes its document: the text frozen is the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from server.db.models import (
    Document,
    DocumentKind,
    DocumentUpdate,
    Proposal,
    ProposalStatus,
    ProposalVersion,
    Table,
)
from server.db.types import utcnow
from server.domain import audit, documents, edit_sessions, proposal_versions, texts
from server.domain.actions import Actor
from server.domain.errors import Forbidden, Invalid
from server.domain.meetings import lock_table
from server.domain.proposal_basics import ProposalEvent, get_proposal, is_author, payload
from server.i18n import _

KIND = DocumentKind.proposal_body


# --- the document of a proposal ---------------------------------------------------------------


async def create_document(session: AsyncSession, proposal: Proposal, user_id: int | None) -> Document:
    """The new proposal's document, seeded once from its body."""
    return await documents.create(
        session, table_id=proposal.table_id, kind=KIND, record_id=proposal.id, text=proposal.body, user_id=user_id
    )


async def document_of(session: AsyncSession, proposal: Proposal) -> Document:
    """The proposal's document; a proposal made before documents existed gets it now (in this
    write transaction), seeded once from its body."""
    found = await documents.find(session, KIND, proposal.id)
    return found if found is not None else await create_once(session, proposal)


async def create_once(session: AsyncSession, proposal: Proposal) -> Document:
    """Create the proposal's document, unless another transaction just did: then that one.

    Documents are unique by (kind, record): a second creation fails on the constraint (its
    savepoint is rolled back) and the document committed first is reused, never seeded again.
    """
    try:
        async with session.begin_nested():
            return await create_document(session, proposal, None)
    except IntegrityError:
        found = await documents.find(session, KIND, proposal.id)
        if found is None:
            raise
        return found


async def current_body(session: AsyncSession, proposal: Proposal) -> str:
    """The proposal's text as its document has it now (its stored body lags it by up to a second)."""
    found = await documents.find(session, KIND, proposal.id)
    return proposal.body if found is None else await documents.text_of(session, found.id)


async def latest_update_id(session: AsyncSession, document_id: int) -> int:
    """The id of the document's newest stored update: the one this transaction just stored, since
    storing it locked the document (`documents.writable`) until the transaction ends."""
    found = await session.scalar(select(func.max(DocumentUpdate.id)).where(DocumentUpdate.document_id == document_id))
    if found is None:
        raise RuntimeError(f"document {document_id} has no stored update")
    return int(found)


# --- rendering what the co-authors type ------------------------------------------------------


async def store_body(session: AsyncSession, proposal: Proposal, text: str) -> bool:
    """Render `text` once and store it as the proposal's body; whether it changed.

    A Core update, so that the proposal's `version` stays (see the module's docstring); the
    proposal object given is brought up to date too.
    """
    if text == proposal.body:
        return False
    html = await texts.renderer_of(session).render(text)
    await session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id)
        .values(body=text, body_html=html)
        .execution_options(synchronize_session=False)
    )
    # The object mirrors the row, as loaded: flushing it later writes nothing more.
    set_committed_value(proposal, "body", text)
    set_committed_value(proposal, "body_html", html)
    return True


async def body_changed(
    session: AsyncSession, document: Document, text: str, editor_ids: frozenset[int], *, now: datetime | None = None
) -> None:
    """What the live room calls after storing the co-authors' updates: render and store the body,
    and record who edited it, one event per person and editing session.

    Nothing happens for a proposal that is no longer a draft or a document already frozen (a
    rendering that was on its way when the proposal was submitted must not replace the text frozen).
    """
    now = now or utcnow()
    await lock_table(session, document.table_id)  # before anything else: set_status locks it first too
    proposal = await session.get(Proposal, document.record_id, populate_existing=True)
    fresh = await session.get(Document, document.id, populate_existing=True)
    if proposal is None or fresh is None or fresh.frozen_at is not None or proposal.status is not ProposalStatus.draft:
        return
    if not await store_body(session, proposal, text):
        return
    started = [editor for editor in sorted(editor_ids) if await _edited(session, proposal, editor, now)]
    if not started:
        await audit.announce(session, ProposalEvent.body_rendered, table_id=proposal.table_id, **payload(proposal))


async def _edited(session: AsyncSession, proposal: Proposal, editor_id: int, now: datetime) -> bool:
    """Note that `editor_id` edited the body at `now` (a `body_edited` event per editing session)."""
    return await edit_sessions.record_edit(
        session,
        ProposalEvent.body_edited,
        table_id=proposal.table_id,
        record=("proposal_id", proposal.id),
        editor_id=editor_id,
        now=now,
        payload=payload(proposal),
    )


# --- keeping versions and freezing ------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """What "Keep this version" did: the version kept, or the last one, which already holds the text."""

    version: ProposalVersion | None
    last: ProposalVersion | None


async def keep_version(session: AsyncSession, table: Table, proposal_id: int, *, actor: Actor) -> Kept:
    """Snapshot the document's current text as the proposal's next numbered version, unless the
    last version already holds it (co-authors, while it is a draft)."""
    await lock_table(session, table.id)
    proposal = await get_proposal(session, table.id, proposal_id)
    if not await is_author(session, table, proposal, actor):
        raise Forbidden(_("Only members of a co-authoring organisation can edit this proposal."))
    if proposal.status is not ProposalStatus.draft:
        raise Invalid({"status": _("Only a draft can be edited.")})
    document = await document_of(session, proposal)
    await store_body(session, proposal, await documents.text_of(session, document.id))
    saved = await proposal_versions.keep_version(session, proposal, actor, "saved")
    if saved is None:
        return Kept(None, await proposal_versions.latest_version(session, proposal.id))
    await audit.record(
        session,
        ProposalEvent.version_saved,
        actor_id=actor.user_id,
        table_id=table.id,
        number=saved.number,
        **payload(proposal),
    )
    return Kept(saved, saved)


async def freeze_body(session: AsyncSession, proposal: Proposal) -> int | None:
    """Freeze the draft's document as it leaves the draft: its stored text becomes the body.

    Returns the document's id, whose sockets the caller closes once committed (None: the proposal
    never had a document, and its body is its text).
    """
    found = await documents.find(session, KIND, proposal.id)
    if found is None:
        return None
    await store_body(session, proposal, await documents.freeze(session, found.id))
    return found.id
