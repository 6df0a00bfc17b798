"""A meeting's life: convened → in progress (the chair opens it) → closed (the chair closes it).

A closed meeting's agenda, attendance and speakers no longer change (`meetings.refuse_if_closed`);
its deferred and undiscussed items are proposed on the next meeting's agenda, as the review of
the open action items is: at once if the next meeting is already convened, otherwise when it is.
Delegates check themselves in while the chair keeps check-in open; the secretary's sheet confirms.

The meeting's own columns change with Core updates: opening it or closing it must not make its
details' form stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AgendaItem, AgendaStatus, Attendance, Meeting, MeetingStatus, Organisation, Table
from server.db.types import utcnow
from server.domain import audit, decisions
from server.domain.agenda import ItemValues, add_item, agenda_of, discussion_seconds, stop_discussion
from server.domain.errors import Invalid
from server.domain.meetings import MeetingEvent, get_meeting, lock_table, refuse_if_closed
from server.i18n import TIMEZONE, _

UNFINISHED = (AgendaStatus.pending, AgendaStatus.current, AgendaStatus.deferred)


async def _set(session: AsyncSession, meeting: Meeting, **values: object) -> None:
    await session.execute(
        update(Meeting).where(Meeting.id == meeting.id).values(**values).execution_options(synchronize_session="fetch")
    )


async def open_meeting(session: AsyncSession, table: Table, meeting_id: int, *, actor_id: int | None) -> Meeting:
    """The chair opens the meeting (a repeat changes nothing; a closed meeting does not reopen)."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    if meeting.status is MeetingStatus.in_progress:
        return meeting
    if meeting.status is MeetingStatus.closed:
        raise Invalid({"meeting": _("This meeting is closed: it cannot be opened again.")})
    await _set(session, meeting, status=MeetingStatus.in_progress, opened_at=utcnow())
    await audit.record(
        session, MeetingEvent.opened, actor_id=actor_id, table_id=table.id, meeting_id=meeting.id, title=meeting.title
    )
    return meeting


async def close_meeting(session: AsyncSession, table: Table, meeting_id: int, *, actor_id: int | None) -> Meeting:
    """The chair closes the meeting: clocks stop, check-in ends, what was left is carried over."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    if meeting.status is MeetingStatus.closed:
        return meeting
    if meeting.status is not MeetingStatus.in_progress:
        raise Invalid({"meeting": _("The meeting has not been opened: open it before closing it.")})
    now = utcnow()
    for item in await agenda_of(session, meeting.id):
        if item.status is AgendaStatus.current:
            await stop_discussion(session, item, now)
    await session.flush()
    await _set(session, meeting, status=MeetingStatus.closed, closed_at=now, check_in_open=False)
    await decisions.close_open_roll_calls(session, table, meeting.id, actor_id=actor_id)
    left = [item for item in await agenda_of(session, meeting.id) if item.status in UNFINISHED]
    await audit.record(
        session,
        MeetingEvent.closed,
        actor_id=actor_id,
        table_id=table.id,
        meeting_id=meeting.id,
        title=meeting.title,
        left=len(left),
    )
    following = await session.scalar(
        select(Meeting)
        .where(
            Meeting.table_id == table.id,
            Meeting.id != meeting.id,
            Meeting.starts_at > meeting.starts_at,
            Meeting.status == MeetingStatus.convened,
        )
        .order_by(Meeting.starts_at)
        .limit(1)
    )
    if following is not None:
        await propose_carried(session, table, following, actor_id=actor_id)
    return meeting


def carried_key(item_id: int) -> str:
    return f"carried-{item_id}"


async def propose_carried(session: AsyncSession, table: Table, meeting: Meeting, *, actor_id: int | None) -> int:
    """Put on `meeting`'s agenda the items the last closed meeting before it left deferred or
    undiscussed, each once (its client key names the item it carries); how many were added."""
    last = await session.scalar(
        select(Meeting)
        .where(
            Meeting.table_id == table.id,
            Meeting.id != meeting.id,
            Meeting.starts_at < meeting.starts_at,
            Meeting.status == MeetingStatus.closed,
        )
        .order_by(Meeting.starts_at.desc())
        .limit(1)
    )
    if last is None or meeting.status is MeetingStatus.closed:
        return 0
    left = [item for item in await agenda_of(session, last.id) if item.status in UNFINISHED]
    if not left:
        return 0
    keys = [carried_key(item.id) for item in left]
    taken = set(
        (
            await session.scalars(
                select(AgendaItem.client_key)
                .join(Meeting, Meeting.id == AgendaItem.meeting_id)
                .where(Meeting.table_id == table.id, AgendaItem.client_key.in_(keys))
            )
        ).all()
    )
    day = last.starts_at.astimezone(TIMEZONE).strftime("%d/%m/%Y")
    added = 0
    for item in left:
        if carried_key(item.id) in taken:
            continue
        note = _("Carried over from the meeting «{title}» of {day}.").format(title=last.title, day=day)
        description = f"{note}\n\n{item.description}".strip()
        values = ItemValues(item.title, description, item.presenter_id, item.planned_minutes)
        await add_item(session, table, meeting.id, values, actor_id=actor_id, client_key=carried_key(item.id))
        added += 1
    return added


async def set_speaking_time(
    session: AsyncSession, table: Table, meeting_id: int, seconds: int, *, actor_id: int | None
) -> Meeting:
    """The meeting's default speaking time (each item may set its own)."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    if meeting.speaking_seconds == seconds:
        return meeting
    await _set(session, meeting, speaking_seconds=seconds)
    await audit.record(
        session,
        MeetingEvent.speaking_time_set,
        actor_id=actor_id,
        table_id=table.id,
        meeting_id=meeting.id,
        title=meeting.title,
        seconds=seconds,
        minutes=f"{seconds // 60}:{seconds % 60:02d}",
    )
    return meeting


# --- check-in -----------------------------------------------------------------------------------


async def set_check_in(
    session: AsyncSession, table: Table, meeting_id: int, is_open: bool, *, actor_id: int | None
) -> Meeting:
    """The chair opens or closes check-in from the delegates' own devices."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    if meeting.check_in_open is is_open:
        return meeting
    await _set(session, meeting, check_in_open=is_open)
    kind = MeetingEvent.check_in_opened if is_open else MeetingEvent.check_in_closed
    await audit.record(session, kind, actor_id=actor_id, table_id=table.id, meeting_id=meeting.id, title=meeting.title)
    return meeting


async def check_in(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    *,
    user_id: int,
    name: str,
    organisation_id: int | None,
) -> Attendance:
    """A delegate says they are here for their organisation; the secretary confirms it later.

    A repeat (or a second delegate already named) changes nothing.
    """
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    if meeting.status is MeetingStatus.closed:
        raise Invalid({"check_in": _("This meeting is closed: checking in is no longer possible.")})
    if not meeting.check_in_open:
        raise Invalid({"check_in": _("Check-in is not open: the chair opens it at the start of the meeting.")})
    if organisation_id is None:
        raise Invalid({"check_in": _("You represent no organisation at this table, so you cannot check in.")})
    organisation = await session.get_one(Organisation, organisation_id)
    entry = await session.scalar(
        select(Attendance).where(Attendance.meeting_id == meeting.id, Attendance.organisation_id == organisation_id)
    )
    names = [n.strip() for n in entry.delegates.split(",")] if entry and entry.delegates else []
    if entry is not None and entry.present and name in names:
        return entry
    if entry is None:
        entry = Attendance(meeting_id=meeting.id, organisation_id=organisation_id, delegates="")
        session.add(entry)
    if name not in names and len(", ".join([*names, name])) <= 500:
        names.append(name)
    entry.delegates = ", ".join(n for n in names if n)
    if not entry.present:
        entry.present, entry.confirmed = True, False
    entry.checked_in_at = utcnow()
    await session.flush()
    await session.execute(
        update(Meeting)
        .where(Meeting.id == meeting.id)
        .values(attendance_version=Meeting.attendance_version + 1)
        .execution_options(synchronize_session="fetch")
    )
    await audit.record(
        session,
        MeetingEvent.checked_in,
        actor_id=user_id,
        table_id=table.id,
        meeting_id=meeting.id,
        title=meeting.title,
        organisation=organisation.name,
    )
    return entry


# --- time ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingTime:
    """The clocks of a meeting at `now` (the server's): the current item's, and the meeting's."""

    now: datetime
    item: AgendaItem | None
    item_seconds: int
    item_planned: int | None  # seconds
    meeting_seconds: int | None  # None: not opened yet
    planned: int  # the sum of the planned minutes, in seconds
    running: bool  # whether the meeting's clock runs

    @property
    def item_over(self) -> bool:
        return self.item_planned is not None and self.item_seconds > self.item_planned

    @property
    def meeting_over(self) -> bool:
        return self.meeting_seconds is not None and self.planned > 0 and self.meeting_seconds > self.planned


async def time_of(session: AsyncSession, meeting: Meeting, *, now: datetime | None = None) -> MeetingTime:
    now = now or utcnow()
    items = await agenda_of(session, meeting.id)
    current = next((i for i in items if i.status is AgendaStatus.current), None)
    planned = sum((i.planned_minutes or 0) * 60 for i in items)
    elapsed = None
    if meeting.opened_at is not None:
        end = meeting.closed_at or now
        elapsed = max(0, int((end - meeting.opened_at).total_seconds()))
    return MeetingTime(
        now=now,
        item=current,
        item_seconds=discussion_seconds(current, now) if current else 0,
        item_planned=current.planned_minutes * 60 if current and current.planned_minutes else None,
        meeting_seconds=elapsed,
        planned=planned,
        running=meeting.status is MeetingStatus.in_progress,
    )
