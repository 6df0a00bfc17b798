"""Meetings (sedute) of a table: their details and their attendance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Attendance, Meeting, MeetingStatus, Membership, Organisation, Table
from server.db.types import utcnow
from server.domain import audit, inputs
from server.domain.edits import is_change
from server.domain.errors import Invalid, NotFound, Stale
from server.domain.keys import already_made
from server.i18n import TIMEZONE, _

TITLE_LIMIT = 200


class MeetingEvent(StrEnum):
    """What the audit record says about meetings and their attendance (the values are stored)."""

    created = "meeting.created"
    updated = "meeting.updated"
    attendance_recorded = "attendance.recorded"
    # Its life and its room (server/domain/meeting_life.py, room_links.py, quorum.py).
    opened = "meeting.opened"
    closed = "meeting.closed"
    check_in_opened = "meeting.check_in_opened"
    check_in_closed = "meeting.check_in_closed"
    checked_in = "attendance.checked_in"
    speaking_time_set = "meeting.speaking_time_set"
    room_link_created = "meeting.room_link_created"
    room_link_revoked = "meeting.room_link_revoked"
    quorum_set = "table.quorum_set"


@dataclass(frozen=True)
class MeetingValues:
    """A meeting's details, checked."""

    title: str
    starts_at: datetime
    place: str
    online_url: str


def check_title(title: str, field: str = "title") -> str:
    title = title.strip()
    if not title:
        raise Invalid({field: _("Enter a title.")})
    if len(title) > TITLE_LIMIT:
        raise Invalid({field: _("The title can be at most {n} characters long.").format(n=TITLE_LIMIT)})
    return title


def parse_meeting(*, title: str, day: str, hour: str, place: str, online_url: str) -> MeetingValues:
    """Check what a person typed for a meeting; every problem is reported beside its field."""
    errors: dict[str, str] = {}
    try:
        title = check_title(title)
    except Invalid as exc:
        errors.update(exc.errors)
    on, at = inputs.day(day.strip()), inputs.clock(hour.strip())
    starts_at = inputs.moment(on, at, TIMEZONE) if on is not None and at is not None else None
    if on is None or (at is not None and starts_at is None):  # not a date, or one out of range
        errors["day"] = _("Enter a valid date, for example 2026-12-09.")
    elif at is None:
        errors["hour"] = _("Enter a valid time, for example 15:00.")
    place = place.strip()
    online_url = online_url.strip()
    if len(place) > TITLE_LIMIT:
        errors["place"] = _("The place can be at most {n} characters long.").format(n=TITLE_LIMIT)
    if online_url and not _is_web_address(online_url):
        errors["online_url"] = _("Enter a web address beginning with https://.")
    if not place and not online_url and "place" not in errors:
        errors["place"] = _("Enter the place, the online link, or both.")
    if errors:
        raise Invalid(errors)
    assert starts_at is not None
    return MeetingValues(title, starts_at, place, online_url)


def _is_web_address(url: str) -> bool:
    """An absolute http(s) address; one that cannot even be split ("https://[") is not one."""
    if len(url) > 500:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def lock_table(session: AsyncSession, table_id: int) -> None:
    """Serialise the changes of one table (PostgreSQL row lock; SQLite writers are serial already).

    On SQLite every write transaction begins IMMEDIATE, holding the database's one write lock, and
    the dialect has no FOR UPDATE: the statement would read a row and lock nothing, so it is skipped.
    """
    if session.get_bind().dialect.name == "sqlite":
        return
    await session.execute(select(Table.id).where(Table.id == table_id).with_for_update())


def closed_message() -> str:
    return _(
        "This meeting is closed: its agenda, attendance and speakers no longer change. Corrections go in its minutes."
    )


def refuse_if_closed(meeting: Meeting) -> None:
    """A closed meeting's agenda, attendance and speakers no longer change (422, said plainly)."""
    if meeting.status is MeetingStatus.closed:
        raise Invalid({"meeting": closed_message()})


async def get_meeting(session: AsyncSession, table_id: int, meeting_id: int) -> Meeting:
    """The meeting `meeting_id` of this table; a meeting of another table is not found."""
    meeting = await session.scalar(select(Meeting).where(Meeting.id == meeting_id, Meeting.table_id == table_id))
    if meeting is None:
        raise NotFound(_("This meeting does not exist on this table."))
    return meeting


async def create_meeting(
    session: AsyncSession, table: Table, values: MeetingValues, *, actor_id: int | None, client_key: str | None = None
) -> Meeting:
    """Convene a meeting. The same form submitted twice (same `client_key`) creates it once."""
    await lock_table(session, table.id)
    existing = await already_made(session, Meeting, Meeting.table_id == table.id, client_key)
    if existing is not None:
        return existing
    meeting = Meeting(
        table_id=table.id,
        title=values.title,
        starts_at=values.starts_at,
        place=values.place,
        online_url=values.online_url,
        client_key=client_key,
        created_by=actor_id,
    )
    session.add(meeting)
    await session.flush()
    await audit.record(
        session,
        MeetingEvent.created,
        actor_id=actor_id,
        table_id=table.id,
        meeting_id=meeting.id,
        title=meeting.title,
        starts_at=meeting.starts_at.isoformat(),
    )
    return meeting


async def update_meeting(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    values: MeetingValues,
    *,
    version: int,
    actor_id: int | None,
) -> Meeting:
    """Change a meeting's details; the same change twice is a no-op, a change on a stale version is refused."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    current = (meeting.title, meeting.starts_at, meeting.place, meeting.online_url)
    wanted = (values.title, values.starts_at, values.place, values.online_url)
    if not is_change(
        session,
        meeting,
        current,
        wanted,
        version=version,
        message=_("Someone else changed this meeting in the meantime."),
    ):
        return meeting
    meeting.title, meeting.starts_at = values.title, values.starts_at
    meeting.place, meeting.online_url = values.place, values.online_url
    await session.flush()
    await audit.record(
        session,
        MeetingEvent.updated,
        actor_id=actor_id,
        table_id=table.id,
        meeting_id=meeting.id,
        title=meeting.title,
        starts_at=meeting.starts_at.isoformat(),
    )
    return meeting


@dataclass(frozen=True)
class MeetingList:
    upcoming: list[Meeting]
    past: list[Meeting]


async def meetings_of(session: AsyncSession, table_id: int, *, now: datetime | None = None) -> MeetingList:
    """The table's meetings: upcoming ones soonest first, past ones latest first.

    A meeting counts as upcoming for the whole day it takes place on.
    """
    now = now or utcnow()
    start_of_today = datetime.combine(now.astimezone(TIMEZONE).date(), time(0), tzinfo=TIMEZONE)
    meetings = (
        await session.scalars(select(Meeting).where(Meeting.table_id == table_id).order_by(Meeting.starts_at))
    ).all()
    upcoming = [m for m in meetings if m.starts_at >= start_of_today]
    past = [m for m in reversed(meetings) if m.starts_at < start_of_today]
    return MeetingList(upcoming, past)


@dataclass(frozen=True)
class AttendanceRow:
    organisation: Organisation
    present: bool
    delegates: str
    checked_in: bool = False  # the delegate checked in from their own device
    confirmed: bool = True  # and the secretary has since saved the sheet


@dataclass(frozen=True)
class AttendanceSheet:
    rows: list[AttendanceRow]
    version: int

    @property
    def present_count(self) -> int:
        return sum(1 for row in self.rows if row.present)


async def attendance_of(session: AsyncSession, meeting: Meeting) -> AttendanceSheet:
    """Every organisation of the table (and any recorded at this meeting), with its attendance."""
    represented = select(Membership.organisation_id).where(Membership.table_id == meeting.table_id)
    recorded = select(Attendance.organisation_id).where(Attendance.meeting_id == meeting.id)
    organisations = (
        await session.scalars(
            select(Organisation)
            .where(Organisation.id.in_(represented) | Organisation.id.in_(recorded))
            .order_by(Organisation.name)
        )
    ).all()
    entries = {
        a.organisation_id: a
        for a in (await session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id))).all()
    }
    rows = [
        AttendanceRow(
            o,
            entries[o.id].present,
            entries[o.id].delegates,
            entries[o.id].checked_in_at is not None,
            entries[o.id].confirmed,
        )
        if o.id in entries
        else AttendanceRow(o, False, "")
        for o in organisations
    ]
    return AttendanceSheet(rows, meeting.attendance_version)


async def record_attendance(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    marks: dict[int, tuple[bool, str]],
    *,
    version: int,
    actor_id: int | None,
) -> AttendanceSheet:
    """Record which organisations were present and their delegates' names.

    `marks` maps organisation id to (present, delegates); organisations left out are absent.
    The same sheet sent twice is a no-op; a sheet based on a stale version is refused.
    """
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    sheet = await attendance_of(session, meeting)
    known = {row.organisation.id for row in sheet.rows}
    errors = {}
    for organisation_id, (_present, delegates) in marks.items():
        if organisation_id not in known:
            raise Invalid({"attendance": _("One of the organisations does not sit at this table.")})
        if len(delegates) > 500:
            errors[f"delegates-{organisation_id}"] = _("The names can be at most 500 characters long.")
    if errors:
        raise Invalid(errors)
    wanted = {o: (marks.get(o, (False, ""))[0], marks.get(o, (False, ""))[1].strip()) for o in known}
    current = {row.organisation.id: (row.present, row.delegates) for row in sheet.rows}
    if wanted == current and all(row.confirmed for row in sheet.rows):
        return sheet  # saving a sheet also confirms the check-ins: one with some to confirm is a change
    if sheet.version != version:
        raise Stale(_("Someone else changed the attendance in the meantime."))
    existing = {
        a.organisation_id: a
        for a in (await session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id))).all()
    }
    for organisation_id, (present, delegates) in wanted.items():
        entry = existing.get(organisation_id)
        if entry is None:
            session.add(
                Attendance(meeting_id=meeting.id, organisation_id=organisation_id, present=present, delegates=delegates)
            )
        else:
            entry.present, entry.delegates, entry.confirmed = present, delegates, True
    # A Core update: attendance has its own version and must not make the details' form stale.
    await session.execute(
        update(Meeting)
        .where(Meeting.id == meeting.id)
        .values(attendance_version=Meeting.attendance_version + 1)
        .execution_options(synchronize_session="fetch")
    )
    await session.flush()
    present_count = sum(1 for here, _names in wanted.values() if here)
    await audit.record(
        session,
        MeetingEvent.attendance_recorded,
        actor_id=actor_id,
        table_id=table.id,
        meeting_id=meeting.id,
        title=meeting.title,
        present=present_count,
        expected=len(wanted),
    )
    return await attendance_of(session, meeting)
