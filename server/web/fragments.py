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
from server.domain import audit
from server.domain.agenda import agenda_of
from server.domain.meetings import attendance_of, get_meeting, meetings_of
from server.domain.tables import members_of, organisations

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


ABOUT = Fragment("about", "tables/_about.html", _about)
MEMBERS = Fragment("members", "tables/_members.html", _members)
MEETINGS = Fragment("meetings", "tables/_meetings.html", _meetings)
RECENT = Fragment("recent-history", "tables/_recent.html", _recent)
DETAILS = Fragment("meeting-details", "meetings/_details.html", _details, per_meeting=True)
AGENDA = Fragment("agenda", "meetings/_agenda.html", _agenda, per_meeting=True)
ATTENDANCE = Fragment("attendance", "meetings/_attendance.html", _attendance, per_meeting=True)

TABLE_PAGE = (ABOUT, MEETINGS, MEMBERS, RECENT)
MEETING_PAGE = (DETAILS, AGENDA, ATTENDANCE)


async def load(
    session: AsyncSession, table: Table, fragments: tuple[Fragment, ...], meeting_id: int | None = None
) -> dict[str, Any]:
    """The merged data of several fragments, for a page that shows them all."""
    data: dict[str, Any] = {}
    for fragment in fragments:
        data.update(await fragment.load(session, table, meeting_id))
    return data
