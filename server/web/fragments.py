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
from server.domain import audit
from server.domain.actions import open_actions, today
from server.domain.agenda import agenda_of
from server.domain.meetings import attendance_of, get_meeting, meetings_of
from server.domain.proposals import open_proposals
from server.domain.tables import members_of, organisations
from server.web.views import View

Loader = Callable[[AsyncSession, Table, int | None], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Fragment:
    """A live region: its element id, its template and what it needs from the database."""

    id: str
    template: str
    load: Loader
    per_meeting: bool = False


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


async def _about(session: AsyncSession, table: Table, _meeting_id: int | None) -> dict[str, Any]:
    return {"table": table}


async def _members(session: AsyncSession, table: Table, _meeting_id: int | None) -> dict[str, Any]:
    return {"table": table, "seats": await members_of(session, table.id), "organisations": await organisations(session)}


async def _meetings(session: AsyncSession, table: Table, _meeting_id: int | None) -> dict[str, Any]:
    meetings = await meetings_of(session, table.id)
    upcoming = meetings.upcoming[0] if meetings.upcoming else None
    preview = await agenda_of(session, upcoming.id) if upcoming else []
    return {"table": table, "meetings": meetings, "next_meeting": upcoming, "preview": preview}


async def _recent(session: AsyncSession, table: Table, _meeting_id: int | None) -> dict[str, Any]:
    return {"table": table, "events": await audit.history(session, table.id, limit=10)}


async def _details(session: AsyncSession, table: Table, meeting_id: int | None) -> dict[str, Any]:
    assert meeting_id is not None
    meeting = await get_meeting(session, table.id, meeting_id)
    return {"table": table, "meeting": meeting, "sheet": await attendance_of(session, meeting)}


async def _agenda(session: AsyncSession, table: Table, meeting_id: int | None) -> dict[str, Any]:
    assert meeting_id is not None
    meeting = await get_meeting(session, table.id, meeting_id)
    return {"table": table, "meeting": meeting, "items": await agenda_of(session, meeting.id)}


async def _attendance(session: AsyncSession, table: Table, meeting_id: int | None) -> dict[str, Any]:
    assert meeting_id is not None
    meeting = await get_meeting(session, table.id, meeting_id)
    return {"table": table, "meeting": meeting, "sheet": await attendance_of(session, meeting)}


async def _actions(session: AsyncSession, table: Table, _meeting_id: int | None) -> dict[str, Any]:
    return {"table": table, "actions": await open_actions(session, table.id), "today": today()}


async def _proposals(session: AsyncSession, table: Table, _meeting_id: int | None) -> dict[str, Any]:
    return {"table": table, "open_proposals": await open_proposals(session, table.id)}


ABOUT = Fragment("about", "tables/_about.html", _about)
MEMBERS = Fragment("members", "tables/_members.html", _members)
MEETINGS = Fragment("meetings", "tables/_meetings.html", _meetings)
RECENT = Fragment("recent-history", "tables/_recent.html", _recent)
ACTIONS = Fragment("actions", "actions/_open.html", _actions)
PROPOSALS = Fragment("proposals", "proposals/_open.html", _proposals)
DETAILS = Fragment("meeting-details", "meetings/_details.html", _details, per_meeting=True)
AGENDA = Fragment("agenda", "meetings/_agenda.html", _agenda, per_meeting=True)
ATTENDANCE = Fragment("attendance", "meetings/_attendance.html", _attendance, per_meeting=True)

TABLE_PAGE = (ABOUT, MEETINGS, PROPOSALS, ACTIONS, MEMBERS, RECENT)
MEETING_PAGE = (DETAILS, AGENDA, ATTENDANCE)


async def load(
    session: AsyncSession, table: Table, fragments: tuple[Fragment, ...], meeting_id: int | None = None
) -> dict[str, Any]:
    """The merged data of several fragments, for a page that shows them all."""
    data: dict[str, Any] = {}
    for fragment in fragments:
        data.update(await fragment.load(session, table, meeting_id))
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
