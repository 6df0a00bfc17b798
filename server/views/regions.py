"""The live regions of the table pages: for each, the data it needs and the template that renders it.

One source of each piece of HTML: a page includes the fragment's template, an htmx response
renders it alone, and the live hub renders it once per view and locale when an event touches it.
A loader reads only the database (never the person asking), so its data serves every viewer;
the template decides the controls from `view`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Membership, Table, User
from server.db.types import utcnow
from server.domain import actions, audit, proposals
from server.domain.agenda import agenda_of
from server.domain.meetings import attendance_of, get_meeting, meetings_of
from server.domain.tables import members_of, organisations
from server.views.audience import Screen

Loader = Callable[[AsyncSession, Table, Screen], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Region:
    """A live region: its element id, its template and what it needs from the database.

    `record` names the kind of record a fragment is about ("meeting", "action", "proposal"): it is
    loaded for the page's record, and a change of another record of that kind leaves it alone.
    A `filtered` fragment (a list) is loaded for the page's filters.
    """

    id: str
    template: str
    load: Loader
    record: str | None = None
    filtered: bool = False

    def scope(self, page: Screen) -> Screen:
        """What the fragment's data depends on besides the table: the page, or nothing (the home)."""
        return page if self.record or self.filtered else TABLE_HOME


TABLE_HOME = Screen()


async def people_of(session: AsyncSession, table_id: int) -> list[tuple[User, str | None]]:
    """Everyone with a role on the table and the organisation they represent (for presenter lists)."""
    rows = (
        await session.scalars(
            select(Membership)
            .options(joinedload(Membership.user), joinedload(Membership.organisation))
            .where(Membership.table_id == table_id)
        )
    ).all()
    people = [(m.user, m.organisation.name if m.organisation else None) for m in rows]
    return sorted(people, key=lambda p: p[0].name.lower())


def _record(page: Screen, kind: str) -> int:
    if page.kind != kind or page.record_id is None:
        raise ValueError(f"a {kind} fragment on {page}")
    return page.record_id


# --- the table's home -----------------------------------------------------------------------------


async def _about(session: AsyncSession, table: Table, _page: Screen) -> dict[str, Any]:
    return {"table": table}


async def _members(session: AsyncSession, table: Table, _page: Screen) -> dict[str, Any]:
    return {"table": table, "seats": await members_of(session, table.id), "organisations": await organisations(session)}


async def _meetings(session: AsyncSession, table: Table, _page: Screen) -> dict[str, Any]:
    meetings = await meetings_of(session, table.id)
    upcoming = meetings.upcoming[0] if meetings.upcoming else None
    preview = await agenda_of(session, upcoming.id) if upcoming else []
    return {"table": table, "meetings": meetings, "next_meeting": upcoming, "preview": preview}


async def _recent(session: AsyncSession, table: Table, _page: Screen) -> dict[str, Any]:
    return {"table": table, "events": await audit.history(session, table.id, limit=10)}


async def _actions(session: AsyncSession, table: Table, _page: Screen) -> dict[str, Any]:
    return {"table": table, "actions": await actions.open_actions(session, table.id), "today": actions.today()}


async def _proposals(session: AsyncSession, table: Table, _page: Screen) -> dict[str, Any]:
    return {"table": table, "open_proposals": await proposals.open_proposals(session, table.id)}


# --- a meeting ------------------------------------------------------------------------------------


async def _details(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, _record(page, "meeting"))
    return {"table": table, "meeting": meeting, "sheet": await attendance_of(session, meeting)}


async def _agenda(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, _record(page, "meeting"))
    return {"table": table, "meeting": meeting, "items": await agenda_of(session, meeting.id)}


async def _attendance(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, _record(page, "meeting"))
    return {"table": table, "meeting": meeting, "sheet": await attendance_of(session, meeting)}


# --- action items ---------------------------------------------------------------------------------


async def _action_list(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    people = await people_of(session, table.id)
    known = {o.slug: o for o in await organisations(session)}
    chosen = dict(page.query)
    filters = actions.filters_from(chosen, {user.id for user, _org in people}, {s: o.id for s, o in known.items()})
    every = await actions.actions_of(session, table.id)
    used = {a.organisation_id for a in every}
    return {
        "table": table,
        "actions": await actions.actions_of(session, table.id, filters),
        "people": people,
        "organisations": [o for o in known.values() if o.id in used],
        "chosen": chosen,
        "filtered": bool(chosen),
        "today": actions.today(),
    }


async def _action(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    action = await actions.get_action(session, table.id, _record(page, "action"))
    notes = await actions.notes_of(session, action.id)
    return {"table": table, "action": action, "notes": notes, "today": actions.today()}


async def _action_history(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    action_id = _record(page, "action")
    return {"table": table, "action_events": await audit.history_of(session, table.id, "action", action_id)}


async def _my_actions(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    """One person's action items on this table ("my action items"): the page names the owner."""
    owner = dict(page.query).get("responsabile", "")
    if page.kind != "mine" or not owner.isdigit():
        raise ValueError(f"my action items on {page}")
    mine = await actions.my_actions(session, int(owner), table_id=table.id)
    return {"table": table, "my_actions": [action for _table, action in mine], "today": actions.today()}


# --- proposals ------------------------------------------------------------------------------------


async def _proposal_list(session: AsyncSession, table: Table, _page: Screen) -> dict[str, Any]:
    found = await proposals.proposals_of(session, table.id)
    authors = {p.id: await proposals.authors_of(session, p.id) for p in found}
    return {"table": table, "proposals": found, "authors": authors}


async def _proposal(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, _record(page, "proposal"))
    return {"table": table, "proposal": proposal, "authors": await proposals.authors_of(session, proposal.id)}


async def _comments(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, _record(page, "proposal"))
    return {
        "table": table,
        "proposal": proposal,
        "threads": await proposals.comments_of(session, proposal.id),
        "edit_cutoff": utcnow() - proposals.COMMENT_EDIT_WINDOW,
        "edit_window": proposals.COMMENT_EDIT_WINDOW,
    }


async def _proposal_side(session: AsyncSession, table: Table, page: Screen) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, _record(page, "proposal"))
    return {
        "table": table,
        "proposal": proposal,
        "links": await proposals.links_of(session, proposal.id),
        "linkable": await proposals.linkable_items(session, table.id),
        "endorsements": await proposals.endorsements_of(session, proposal.id),
        "versions": await proposals.versions_of(session, proposal.id),
        "proposal_events": await audit.history_of(session, table.id, "proposal", proposal.id),
    }


ABOUT = Region("about", "tables/_about.html", _about)
MEMBERS = Region("members", "tables/_members.html", _members)
MEETINGS = Region("meetings", "tables/_meetings.html", _meetings)
RECENT = Region("recent-history", "tables/_recent.html", _recent)
ACTIONS = Region("actions", "actions/_open.html", _actions)
PROPOSALS = Region("proposals", "proposals/_open.html", _proposals)
DETAILS = Region("meeting-details", "meetings/_details.html", _details, record="meeting")
AGENDA = Region("agenda", "meetings/_agenda.html", _agenda, record="meeting")
ATTENDANCE = Region("attendance", "meetings/_attendance.html", _attendance, record="meeting")
ACTION_LIST = Region("action-list", "actions/_list.html", _action_list, filtered=True)
ACTION = Region("action", "actions/_action.html", _action, record="action")
ACTION_HISTORY = Region("action-history", "actions/_history.html", _action_history, record="action")
MY_ACTIONS = Region("my-actions", "actions/_mine.html", _my_actions, filtered=True)
PROPOSAL_LIST = Region("proposal-list", "proposals/_list.html", _proposal_list)
PROPOSAL = Region("proposal", "proposals/_proposal.html", _proposal, record="proposal")
COMMENTS = Region("comment-threads", "proposals/_comments.html", _comments, record="proposal")
PROPOSAL_SIDE = Region("proposal-side", "proposals/_side.html", _proposal_side, record="proposal")

TABLE_PAGE = (ABOUT, MEETINGS, PROPOSALS, ACTIONS, MEMBERS, RECENT)
MEETING_PAGE = (DETAILS, AGENDA, ATTENDANCE)
ACTION_LIST_PAGE = (ACTION_LIST,)
ACTION_PAGE = (ACTION, ACTION_HISTORY)
MY_ACTIONS_PAGE = (MY_ACTIONS,)
PROPOSAL_LIST_PAGE = (PROPOSAL_LIST,)
PROPOSAL_PAGE = (PROPOSAL, COMMENTS, PROPOSAL_SIDE)

# The live regions of each kind of page (Screen.kind).
PAGES: dict[str, tuple[Region, ...]] = {
    "table": TABLE_PAGE,
    "meeting": MEETING_PAGE,
    "actions": ACTION_LIST_PAGE,
    "action": ACTION_PAGE,
    "mine": MY_ACTIONS_PAGE,
    "proposals": PROPOSAL_LIST_PAGE,
    "proposal": PROPOSAL_PAGE,
}

# The pages that show who is on the table now (tables/_presence.html).
SHOWS_PRESENCE = frozenset({"table", "meeting"})


async def load(
    session: AsyncSession, table: Table, fragments: tuple[Region, ...], page: Screen = TABLE_HOME
) -> dict[str, Any]:
    """The merged data of several fragments, for a page that shows them all."""
    data: dict[str, Any] = {}
    for fragment in fragments:
        data.update(await fragment.load(session, table, fragment.scope(page)))
    return data
