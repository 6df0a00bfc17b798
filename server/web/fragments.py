"""The live regions of the table pages: for each, the data it needs and the template that renders it.

One source of each piece of HTML: a page includes the fragment's template, an htmx response
renders it alone, and the live hub renders it once per view and locale when an event touches it.
A loader reads only the database (never the person asking), so its data serves every viewer;
the template decides the controls from `view`.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import jinja2
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Membership, Table, User
from server.db.types import utcnow
from server.domain import actions, audit, proposals
from server.domain.agenda import agenda_of
from server.domain.meetings import attendance_of, get_meeting, meetings_of
from server.domain.tables import members_of, organisations
from server.web.views import Page, View

Loader = Callable[[AsyncSession, Table, Page], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Fragment:
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

    def scope(self, page: Page) -> Page:
        """What the fragment's data depends on besides the table: the page, or nothing (the home)."""
        return page if self.record or self.filtered else TABLE_HOME


TABLE_HOME = Page()


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


def _record(page: Page, kind: str) -> int:
    if page.kind != kind or page.record_id is None:
        raise ValueError(f"a {kind} fragment on {page}")
    return page.record_id


# --- the table's home -----------------------------------------------------------------------------


async def _about(session: AsyncSession, table: Table, _page: Page) -> dict[str, Any]:
    return {"table": table}


async def _members(session: AsyncSession, table: Table, _page: Page) -> dict[str, Any]:
    return {"table": table, "seats": await members_of(session, table.id), "organisations": await organisations(session)}


async def _meetings(session: AsyncSession, table: Table, _page: Page) -> dict[str, Any]:
    meetings = await meetings_of(session, table.id)
    upcoming = meetings.upcoming[0] if meetings.upcoming else None
    preview = await agenda_of(session, upcoming.id) if upcoming else []
    return {"table": table, "meetings": meetings, "next_meeting": upcoming, "preview": preview}


async def _recent(session: AsyncSession, table: Table, _page: Page) -> dict[str, Any]:
    return {"table": table, "events": await audit.history(session, table.id, limit=10)}


async def _actions(session: AsyncSession, table: Table, _page: Page) -> dict[str, Any]:
    return {"table": table, "actions": await actions.open_actions(session, table.id), "today": actions.today()}


async def _proposals(session: AsyncSession, table: Table, _page: Page) -> dict[str, Any]:
    return {"table": table, "open_proposals": await proposals.open_proposals(session, table.id)}


# --- a meeting ------------------------------------------------------------------------------------


async def _details(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, _record(page, "meeting"))
    return {"table": table, "meeting": meeting, "sheet": await attendance_of(session, meeting)}


async def _agenda(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, _record(page, "meeting"))
    return {"table": table, "meeting": meeting, "items": await agenda_of(session, meeting.id)}


async def _attendance(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, _record(page, "meeting"))
    return {"table": table, "meeting": meeting, "sheet": await attendance_of(session, meeting)}


# --- action items ---------------------------------------------------------------------------------


async def _action_list(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
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


async def _action(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
    action = await actions.get_action(session, table.id, _record(page, "action"))
    notes = await actions.notes_of(session, action.id)
    return {"table": table, "action": action, "notes": notes, "today": actions.today()}


async def _action_history(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
    action_id = _record(page, "action")
    return {"table": table, "action_events": await audit.history_of(session, table.id, "action", action_id)}


async def _my_actions(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
    """One person's action items on this table ("my action items"): the page names the owner."""
    owner = dict(page.query).get("responsabile", "")
    if page.kind != "mine" or not owner.isdigit():
        raise ValueError(f"my action items on {page}")
    mine = await actions.my_actions(session, int(owner), table_id=table.id)
    return {"table": table, "my_actions": [action for _table, action in mine], "today": actions.today()}


# --- proposals ------------------------------------------------------------------------------------


async def _proposal_list(session: AsyncSession, table: Table, _page: Page) -> dict[str, Any]:
    found = await proposals.proposals_of(session, table.id)
    authors = {p.id: await proposals.authors_of(session, p.id) for p in found}
    return {"table": table, "proposals": found, "authors": authors}


async def _proposal(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, _record(page, "proposal"))
    return {"table": table, "proposal": proposal, "authors": await proposals.authors_of(session, proposal.id)}


async def _comments(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
    proposal = await proposals.get_proposal(session, table.id, _record(page, "proposal"))
    return {
        "table": table,
        "proposal": proposal,
        "threads": await proposals.comments_of(session, proposal.id),
        "edit_cutoff": utcnow() - proposals.COMMENT_EDIT_WINDOW,
        "edit_window": proposals.COMMENT_EDIT_WINDOW,
    }


async def _proposal_side(session: AsyncSession, table: Table, page: Page) -> dict[str, Any]:
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


ABOUT = Fragment("about", "tables/_about.html", _about)
MEMBERS = Fragment("members", "tables/_members.html", _members)
MEETINGS = Fragment("meetings", "tables/_meetings.html", _meetings)
RECENT = Fragment("recent-history", "tables/_recent.html", _recent)
ACTIONS = Fragment("actions", "actions/_open.html", _actions)
PROPOSALS = Fragment("proposals", "proposals/_open.html", _proposals)
DETAILS = Fragment("meeting-details", "meetings/_details.html", _details, record="meeting")
AGENDA = Fragment("agenda", "meetings/_agenda.html", _agenda, record="meeting")
ATTENDANCE = Fragment("attendance", "meetings/_attendance.html", _attendance, record="meeting")
ACTION_LIST = Fragment("action-list", "actions/_list.html", _action_list, filtered=True)
ACTION = Fragment("action", "actions/_action.html", _action, record="action")
ACTION_HISTORY = Fragment("action-history", "actions/_history.html", _action_history, record="action")
MY_ACTIONS = Fragment("my-actions", "actions/_mine.html", _my_actions, filtered=True)
PROPOSAL_LIST = Fragment("proposal-list", "proposals/_list.html", _proposal_list)
PROPOSAL = Fragment("proposal", "proposals/_proposal.html", _proposal, record="proposal")
COMMENTS = Fragment("comment-threads", "proposals/_comments.html", _comments, record="proposal")
PROPOSAL_SIDE = Fragment("proposal-side", "proposals/_side.html", _proposal_side, record="proposal")

TABLE_PAGE = (ABOUT, MEETINGS, PROPOSALS, ACTIONS, MEMBERS, RECENT)
MEETING_PAGE = (DETAILS, AGENDA, ATTENDANCE)
ACTION_LIST_PAGE = (ACTION_LIST,)
ACTION_PAGE = (ACTION, ACTION_HISTORY)
MY_ACTIONS_PAGE = (MY_ACTIONS,)
PROPOSAL_LIST_PAGE = (PROPOSAL_LIST,)
PROPOSAL_PAGE = (PROPOSAL, COMMENTS, PROPOSAL_SIDE)

# The live regions of each kind of page (Page.kind).
PAGES: dict[str, tuple[Fragment, ...]] = {
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
    session: AsyncSession, table: Table, fragments: tuple[Fragment, ...], page: Page = TABLE_HOME
) -> dict[str, Any]:
    """The merged data of several fragments, for a page that shows them all."""
    data: dict[str, Any] = {}
    for fragment in fragments:
        data.update(await fragment.load(session, table, fragment.scope(page)))
    return data


# Stands for the CSRF token in a cached rendering; random, so no user content can contain it.
CSRF_SLOT = secrets.token_hex(16)


class PageCache:
    """Renderings of a page's fragments, reused until the table changes (DESIGN §5, bench/render).

    Every change of a table takes its next event sequence number, so a fragment rendered from the
    table at sequence number n, for a view, a locale and a day (what is overdue), stays right
    until n moves. Renderings are kept with a slot for the CSRF token, which each page fills in.
    A rendering of data newer than its key is harmless: the key only ever ages.
    """

    def __init__(self, env: jinja2.Environment, size: int = 512) -> None:
        self.env = env
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self.renders = 0

    @staticmethod
    def key(fragment: Fragment, table: Table, view: View, locale: str, day: date) -> tuple[Any, ...]:
        return (fragment.id, table.id, table.event_seq, view, locale, day)

    def missing(self, keys: dict[Fragment, tuple[Any, ...]]) -> tuple[Fragment, ...]:
        return tuple(fragment for fragment, key in keys.items() if key not in self._entries)

    def rendered(self, key: tuple[Any, ...], template: str, context: dict[str, Any], csrf_token: str) -> Markup:
        """The fragment's HTML for this page: from the cache, or rendered now and kept."""
        html = self._entries.get(key)
        if html is None:
            html = self.env.get_template(template).render({**context, "csrf_token": CSRF_SLOT})
            self.renders += 1
            self._entries[key] = html
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return Markup(html.replace(CSRF_SLOT, csrf_token))  # noqa: S704 (our own rendering, autoescaped)
