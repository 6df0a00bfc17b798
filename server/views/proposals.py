"""The proposals area: proposals in discussion, the list, one proposal with its comments and side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Document, DocumentKind, Proposal, ProposalStatus, Table
from server.db.types import utcnow
from server.domain import audit, proposal_bodies, proposal_documents, proposals
from server.domain.documents import DocumentAccess
from server.domain.proposals import ProposalEvent
from server.i18n import _
from server.views.area import Area, DocumentBinding, ScreenKind, Sentence
from server.views.audience import Audience, Screen
from server.views.meetings import AGENDA_CHANGED, MEETING_CHANGED
from server.views.regions import Private, Region, record_of

# A rendering of the body while people type changes the body and nothing else.
BODY_RENDERED = frozenset({ProposalEvent.body_rendered})
PROPOSAL_CHANGED = frozenset(ProposalEvent) - BODY_RENDERED
PRIVATE = "proposal"  # the record kind whose drafts are private to their co-authors


def _readable(proposal_id: int, audience: Audience, private: Private) -> bool:
    authors = private.get(PRIVATE, {}).get(proposal_id)
    return authors is None or audience.reads_private(authors)


def _only_readable_open(data: dict[str, Any], audience: Audience, private: Private) -> dict[str, Any]:
    shown = [entry for entry in data["open_proposals"] if _readable(entry[0].id, audience, private)]
    return {**data, "open_proposals": shown}


def _only_readable_listed(data: dict[str, Any], audience: Audience, private: Private) -> dict[str, Any]:
    shown = [proposal for proposal in data["proposals"] if _readable(proposal.id, audience, private)]
    return {**data, "proposals": shown}


def _if_readable(data: dict[str, Any], audience: Audience, private: Private) -> dict[str, Any] | None:
    """One proposal's region: nothing at all for someone who may not see the proposal."""
    return data if _readable(data["proposal"].id, audience, private) else None


async def _proposals(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    return {"table": table, "open_proposals": await proposals.open_proposals(session, table.id)}


async def _proposal_list(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    found = await proposals.proposals_of(session, table.id)
    authors = await proposals.authors_of_many(session, [p.id for p in found])
    return {"table": table, "proposals": found, "authors": authors}


async def _proposal(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, record_of(screen, "proposal"))
    authors = await proposals.authors_of(session, proposal.id)
    # The items it was discussed on: the outcome's form names the one where it is decided (issue 15).
    return {
        "table": table,
        "proposal": proposal,
        "authors": authors,
        "links": await proposals.links_of(session, proposal.id),
    }


async def _proposal_body(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, record_of(screen, "proposal"))
    return {"table": table, "proposal": proposal}


async def _comments(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, record_of(screen, "proposal"))
    return {
        "table": table,
        "proposal": proposal,
        "threads": await proposals.comments_of(session, proposal.id),
        "edit_cutoff": utcnow() - proposals.COMMENT_EDIT_WINDOW,
        "edit_window": proposals.COMMENT_EDIT_WINDOW,
    }


async def _proposal_side(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, record_of(screen, "proposal"))
    return {
        "table": table,
        "proposal": proposal,
        "links": await proposals.links_of(session, proposal.id),
        "linkable": await proposals.linkable_items(session, table.id),
        "endorsements": await proposals.endorsements_of(session, proposal.id),
        "versions": await proposals.versions_of(session, proposal.id),
        "proposal_events": await audit.history_of(session, table.id, "proposal", proposal.id),
    }


PROPOSALS = Region(
    "proposals", "proposals/_open.html", _proposals, follows=PROPOSAL_CHANGED, narrow=_only_readable_open
)
PROPOSAL_LIST = Region(
    "proposal-list", "proposals/_list.html", _proposal_list, follows=PROPOSAL_CHANGED, narrow=_only_readable_listed
)
PROPOSAL = Region(
    "proposal",
    "proposals/_proposal.html",
    _proposal,
    record="proposal",
    follows=PROPOSAL_CHANGED,
    narrow=_if_readable,
)
# The body as the server renders it: what every reader reads, and the co-authors' preview beside
# their editor (outside the other regions, which are swapped whole while the editor stays).
PROPOSAL_BODY = Region(
    "proposal-body",
    "proposals/_body.html",
    _proposal_body,
    record="proposal",
    follows=frozenset({ProposalEvent.body_edited, ProposalEvent.updated, ProposalEvent.status}) | BODY_RENDERED,
    narrow=_if_readable,
)
COMMENTS = Region(
    "comment-threads",
    "proposals/_comments.html",
    _comments,
    record="proposal",
    follows=PROPOSAL_CHANGED,
    narrow=_if_readable,
)
# The side lists the agenda items a proposal may be linked to, so agenda and meeting changes touch it.
PROPOSAL_SIDE = Region(
    "proposal-side",
    "proposals/_side.html",
    _proposal_side,
    record="proposal",
    follows=PROPOSAL_CHANGED | AGENDA_CHANGED | MEETING_CHANGED,
    narrow=_if_readable,
)
PROPOSAL_LIST_PAGE = (PROPOSAL_LIST,)
PROPOSAL_PAGE = (PROPOSAL, PROPOSAL_BODY, COMMENTS, PROPOSAL_SIDE)


def proposal_status_label(status: ProposalStatus | str) -> str:
    labels = {
        ProposalStatus.draft: _("Draft"),
        ProposalStatus.submitted: _("Submitted"),
        ProposalStatus.under_discussion: _("Under discussion"),
        ProposalStatus.approved: _("Approved"),
        ProposalStatus.rejected: _("Rejected"),
        ProposalStatus.withdrawn: _("Withdrawn"),
    }
    return labels[ProposalStatus(status)]


def _status_sentence(payload: dict[str, Any]) -> str:
    status = proposal_status_label(payload.get("status", "draft"))
    return _("moved the proposal «{title}» to {status}").format(**{**payload, "status": status})


def _sentences() -> Mapping[str, Sentence]:
    return {
        ProposalEvent.created: _("drafted the proposal «{title}»"),
        ProposalEvent.updated: _("changed the draft of «{title}»"),
        ProposalEvent.version_saved: _("kept version {number} of «{title}»"),
        ProposalEvent.endorsed: _("endorsed «{title}» on behalf of their organisation"),
        ProposalEvent.endorsement_withdrawn: _("withdrew their organisation's endorsement of «{title}»"),
        ProposalEvent.commented: _("commented on «{title}»"),
        ProposalEvent.comment_edited: _("edited a comment"),
        ProposalEvent.comment_hidden: _("hid a comment"),
        ProposalEvent.linked: _("linked «{title}» to the agenda"),
        ProposalEvent.status: _status_sentence,
        ProposalEvent.body_edited: _("edited the text of «{title}»"),
        # Never in the history (a rendering leaves no row): said only if one ever were.
        ProposalEvent.body_rendered: _("edited the text of «{title}»"),
    }


async def _body_access(session: AsyncSession, document: Document, audience: Audience, _user_id: int) -> DocumentAccess:
    """Who writes and who reads a proposal's body: the rule of server/domain/proposal_documents.py
    (the draft's co-authors write it; they, the chair and the secretary read it; from submission on,
    everyone with a role reads it), which is also the page's."""
    return await proposal_documents.access(
        session, document, role=audience.role, organisation_id=audience.organisation_id, is_admin=audience.is_admin
    )


async def _body_changed(session: AsyncSession, document: Document, text: str, editor_ids: frozenset[int]) -> None:
    """The room stored the co-authors' updates: render the body, store it, record the editing
    sessions; the proposal-body region follows (server/domain/proposal_bodies.py)."""
    await proposal_bodies.body_changed(session, document, text, editor_ids)


BODY_DOCUMENT = DocumentBinding(access=_body_access, changed=_body_changed)

AREA = Area(
    name="proposals",
    events=(ProposalEvent,),
    sentences=_sentences,
    screens=(
        ScreenKind("proposals", PROPOSAL_LIST_PAGE, listing="proposte"),
        ScreenKind("proposal", PROPOSAL_PAGE, param="proposta", model=Proposal),
    ),
    home_main=(PROPOSALS,),
    template_globals={"proposal_status_label": proposal_status_label},
    routes=("server.web.proposals",),
    private_records={PRIVATE: proposals.private_authors},
    documents={DocumentKind.proposal_body: BODY_DOCUMENT},
    unrecorded=frozenset({ProposalEvent.body_rendered.value}),
    demo="server.demo.proposals",
)
