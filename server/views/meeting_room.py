"""The meeting room's live regions: the list of speakers, the clocks, the quorum, the room screen.

Declared by the meetings area (server/views/meetings.py), which lists them on its screens. Every
loader reads the database only; the clocks carry the server's time of rendering, from which the
page ticks on its own (static/src/clock.js) until the next push resynchronises it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import AgendaItem, Attendance, Meeting, MeetingStatus, Organisation, Speaker, SpeakerStatus, Table
from server.db.types import utcnow
from server.domain import meeting_life, quorum, room_links, speaker_lists
from server.domain.agenda import AgendaEvent
from server.domain.meetings import MeetingEvent, get_meeting
from server.domain.speakers import SpeakerEvent
from server.i18n import _
from server.views.area import Sentence
from server.views.audience import Screen
from server.views.regions import Region, record_of
from server.views.tables import MEMBERSHIP

LIFE = frozenset({MeetingEvent.opened, MeetingEvent.closed})
CHECK_IN = frozenset({MeetingEvent.check_in_opened, MeetingEvent.check_in_closed, MeetingEvent.checked_in})
ROOM_LINKS = frozenset({MeetingEvent.room_link_created, MeetingEvent.room_link_revoked})
SPEAKERS_CHANGED = frozenset(SpeakerEvent) | {MeetingEvent.speaking_time_set}
ATTENDANCE = frozenset({MeetingEvent.attendance_recorded, MeetingEvent.checked_in}) | MEMBERSHIP
QUORUM_CHANGED = ATTENDANCE | CHECK_IN | LIFE | {MeetingEvent.quorum_set}
TIME_CHANGED = frozenset(AgendaEvent) | LIFE | SPEAKERS_CHANGED
ROOM_CHANGED = TIME_CHANGED | QUORUM_CHANGED | {MeetingEvent.updated}


async def _meeting(session: AsyncSession, table: Table, screen: Screen) -> Meeting:
    return await get_meeting(session, table.id, record_of(screen, "meeting" if screen.kind == "meeting" else "room"))


async def present_organisations(session: AsyncSession, meeting: Meeting) -> list[Organisation]:
    return list(
        (
            await session.scalars(
                select(Organisation)
                .join(Attendance, Attendance.organisation_id == Organisation.id)
                .where(Attendance.meeting_id == meeting.id, Attendance.present.is_(True))
                .order_by(Organisation.name)
            )
        ).all()
    )


async def _speakers_data(session: AsyncSession, meeting: Meeting) -> dict[str, Any]:
    item = await speaker_lists.current_item(session, meeting.id)
    listing = await speaker_lists.list_of(session, meeting, item) if item is not None else None
    return {"meeting": meeting, "speakers": listing, "speakers_now": utcnow()}


async def spoken_by_item(session: AsyncSession, meeting: Meeting) -> list[tuple[AgendaItem, list[Speaker]]]:
    """Who spoke on each item of the meeting, in order, with their seconds (items nobody spoke on left out)."""
    rows = (
        await session.execute(
            select(AgendaItem, Speaker)
            .join(Speaker, Speaker.item_id == AgendaItem.id)
            .options(joinedload(Speaker.organisation))
            .where(
                AgendaItem.meeting_id == meeting.id,
                AgendaItem.removed_at.is_(None),
                Speaker.status == SpeakerStatus.spoke,
            )
            .order_by(AgendaItem.position, Speaker.started_at, Speaker.id)
        )
    ).all()
    found: dict[int, tuple[AgendaItem, list[Speaker]]] = {}
    for item, speaker in rows:
        found.setdefault(item.id, (item, []))[1].append(speaker)
    return list(found.values())


async def load_speakers(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await _meeting(session, table, screen)
    data = await _speakers_data(session, meeting)
    data["present_organisations"] = await present_organisations(session, meeting)
    data["spoken_by_item"] = await spoken_by_item(session, meeting)
    return {"table": table, **data}


async def load_time(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await _meeting(session, table, screen)
    return {"table": table, "meeting": meeting, "time": await meeting_life.time_of(session, meeting)}


async def load_quorum(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await _meeting(session, table, screen)
    present = {o.id for o in await present_organisations(session, meeting)}
    return {
        "table": table,
        "meeting": meeting,
        "quorum": await quorum.quorum_of(session, table, meeting),
        "present_ids": " ".join(str(i) for i in sorted(present)),
    }


async def load_room_links(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await _meeting(session, table, screen)
    return {"table": table, "meeting": meeting, "room_links": await room_links.live_links(session, meeting.id)}


async def load_room(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await _meeting(session, table, screen)
    return {
        "table": table,
        "meeting": meeting,
        **await _speakers_data(session, meeting),
        "time": await meeting_life.time_of(session, meeting),
        "quorum": await quorum.quorum_of(session, table, meeting),
    }


SPEAKERS = Region(
    "speakers",
    "meetings/_speakers.html",
    load_speakers,
    record="meeting",
    follows=SPEAKERS_CHANGED | frozenset(AgendaEvent) | LIFE | ATTENDANCE,
)
TIME = Region("meeting-time", "meetings/_time.html", load_time, record="meeting", follows=TIME_CHANGED)
QUORUM = Region("quorum", "meetings/_quorum.html", load_quorum, record="meeting", follows=QUORUM_CHANGED)
LINKS = Region("room-links", "meetings/_room_links.html", load_room_links, record="meeting", follows=ROOM_LINKS | LIFE)
ROOM = Region("room", "meetings/_room.html", load_room, record="meeting", follows=ROOM_CHANGED)


def meeting_status_label(status: MeetingStatus | str) -> str:
    labels = {
        MeetingStatus.convened: _("Convened"),
        MeetingStatus.in_progress: _("In progress"),
        MeetingStatus.closed: _("Closed"),
    }
    return labels[MeetingStatus(status)]


def quorum_text(table: Table) -> str:
    """The table's quorum as its settings form shows it ("5", "50%" or "")."""
    return quorum.rule_of(table).text


def clock(seconds: int | None) -> str:
    """Seconds as a clock: 4:05, 1:02:03; a negative time (over) with a minus sign."""
    if seconds is None:
        return "–"
    sign = "−" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"  # an older payload without this field


def _speaker_sentence(template: str) -> Sentence:
    """A sentence that says when the request was a point of order."""

    def sentence(payload: dict[str, Any]) -> str:
        text = template.format_map(_Lenient(payload))
        if payload.get("point_of_order"):
            text += " " + _("(point of order)")
        return text

    return sentence


def sentences() -> Mapping[str, Sentence]:
    return {
        MeetingEvent.opened: _("opened the meeting «{title}»"),
        MeetingEvent.closed: _("closed the meeting «{title}»"),
        MeetingEvent.check_in_opened: _("opened the check-in of «{title}»"),
        MeetingEvent.check_in_closed: _("closed the check-in of «{title}»"),
        MeetingEvent.checked_in: _("checked in for {organisation} at «{title}»"),
        MeetingEvent.speaking_time_set: _("set the speaking time of «{title}» to {minutes}"),
        MeetingEvent.room_link_created: _("created a room link for «{title}»"),
        MeetingEvent.room_link_revoked: _("revoked a room link of «{title}»"),
        MeetingEvent.quorum_set: _("set the table's quorum to {quorum}"),
        SpeakerEvent.requested: _speaker_sentence(_("asked to speak for {organisation} on «{title}»")),
        SpeakerEvent.withdrawn: _speaker_sentence(_("withdrew the request to speak of {organisation} on «{title}»")),
        SpeakerEvent.added: _speaker_sentence(_("put {organisation} on the list of speakers of «{title}»")),
        SpeakerEvent.removed: _speaker_sentence(_("took {organisation} off the list of speakers of «{title}»")),
        SpeakerEvent.moved: _("moved {organisation} to place {position} on the list of speakers of «{title}»"),
        SpeakerEvent.started: _speaker_sentence(_("gave the floor to {organisation} on «{title}»")),
        SpeakerEvent.stopped: _("ended the speech of {organisation} on «{title}»"),
        SpeakerEvent.list_opened: _("opened the list of speakers of «{title}»"),
        SpeakerEvent.list_closed: _("closed the list of speakers of «{title}»"),
        SpeakerEvent.time_set: _("set the speaking time on «{title}»"),
    }
