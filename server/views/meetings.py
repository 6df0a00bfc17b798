"""The meetings area: a meeting's details, its agenda and attendance, and the table's meetings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AgendaStatus, Meeting, Table
from server.domain.agenda import AgendaEvent, agenda_of
from server.domain.meetings import MeetingEvent, attendance_of, get_meeting, meetings_of
from server.domain.speakers import SpeakerEvent
from server.i18n import _
from server.views import decisions, meeting_room, minutes
from server.views.area import Area, ScreenKind, Sentence
from server.views.audience import Screen
from server.views.regions import Region, record_of
from server.views.tables import MEMBERSHIP

MEETING_CHANGED = frozenset({MeetingEvent.created, MeetingEvent.updated})
AGENDA_CHANGED = frozenset(AgendaEvent)
ATTENDANCE_CHANGED = frozenset({MeetingEvent.attendance_recorded, MeetingEvent.checked_in}) | MEMBERSHIP
# The meeting's life, check-in and speaking time show in its details (server/views/meeting_room.py).
DETAILS_CHANGED = meeting_room.LIFE | meeting_room.CHECK_IN | {MeetingEvent.speaking_time_set}


async def _meetings(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    meetings = await meetings_of(session, table.id)
    upcoming = meetings.upcoming[0] if meetings.upcoming else None
    preview = await agenda_of(session, upcoming.id) if upcoming else []
    return {"table": table, "meetings": meetings, "next_meeting": upcoming, "preview": preview}


async def _details(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, record_of(screen, "meeting"))
    return {"table": table, "meeting": meeting, "sheet": await attendance_of(session, meeting)}


async def _agenda(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, record_of(screen, "meeting"))
    return {"table": table, "meeting": meeting, "items": await agenda_of(session, meeting.id)}


MEETINGS = Region("meetings", "tables/_meetings.html", _meetings, follows=MEETING_CHANGED | AGENDA_CHANGED)
DETAILS = Region(
    "meeting-details",
    "meetings/_details.html",
    _details,
    record="meeting",
    follows=MEETING_CHANGED | ATTENDANCE_CHANGED | DETAILS_CHANGED,
)
# The chair's controls go when the meeting closes.
AGENDA = Region(
    "agenda", "meetings/_agenda.html", _agenda, record="meeting", follows=AGENDA_CHANGED | meeting_room.LIFE
)
ATTENDANCE = Region(
    "attendance",
    "meetings/_attendance.html",
    _details,
    record="meeting",
    follows=ATTENDANCE_CHANGED | meeting_room.LIFE,
)
MEETING_PAGE = (
    DETAILS,
    AGENDA,
    ATTENDANCE,
    meeting_room.SPEAKERS,
    meeting_room.TIME,
    meeting_room.QUORUM,
    meeting_room.LINKS,
    decisions.MEETING_DECISIONS,
    minutes.STATE,
)
ROOM_SCREEN = (meeting_room.ROOM, decisions.ROOM_ROLL_CALL)


def status_label(status: AgendaStatus | str) -> str:
    labels = {
        AgendaStatus.pending: _("To be discussed"),
        AgendaStatus.current: _("Under discussion"),
        AgendaStatus.done: _("Discussed"),
        AgendaStatus.deferred: _("Deferred"),
    }
    return labels[AgendaStatus(status)]


def status_actions() -> list[tuple[str, str]]:
    """The buttons that set an agenda item's status, in the order of a discussion."""
    return [
        (AgendaStatus.current.value, _("Discuss now")),
        (AgendaStatus.done.value, _("Mark as discussed")),
        (AgendaStatus.deferred.value, _("Defer")),
        (AgendaStatus.pending.value, _("Back to be discussed")),
    ]


def _status_change(payload: dict[str, Any]) -> str:
    sentences = {
        "current": _("opened the discussion of «{title}»"),
        "done": _("marked «{title}» as discussed"),
        "deferred": _("deferred «{title}»"),
        "pending": _("put «{title}» back among the items to be discussed"),
    }
    return sentences.get(payload.get("status", ""), _("changed the status of «{title}»")).format(**payload)


def _sentences() -> Mapping[str, Sentence]:
    return {
        MeetingEvent.created: _("convened the meeting «{title}»"),
        MeetingEvent.updated: _("changed the details of the meeting «{title}»"),
        MeetingEvent.attendance_recorded: _(
            "recorded the attendance of «{title}»: {present} organisations of {expected}"
        ),
        AgendaEvent.item_added: _("added «{title}» to the agenda of «{meeting_title}»"),
        AgendaEvent.item_updated: _("changed the agenda item «{title}»"),
        AgendaEvent.item_removed: _("removed «{title}» from the agenda of «{meeting_title}»"),
        AgendaEvent.item_moved: _("moved «{title}» to position {position} of the agenda"),
        AgendaEvent.item_status: _status_change,
        **meeting_room.sentences(),
    }


AREA = Area(
    name="meetings",
    events=(MeetingEvent, AgendaEvent, SpeakerEvent),
    sentences=_sentences,
    screens=(
        ScreenKind("meeting", MEETING_PAGE, param="seduta", model=Meeting, presence=True),
        # The room screen (server/web/room.py): for a role, `?sala=ID` on the table socket.
        ScreenKind("room", ROOM_SCREEN, param="sala", model=Meeting),
    ),
    home_main=(MEETINGS,),
    template_globals={
        "status_label": status_label,
        "status_actions": status_actions,
        "meeting_status_label": meeting_room.meeting_status_label,
        "clock": meeting_room.clock,
        "quorum_text": meeting_room.quorum_text,
    },
    routes=("server.web.meetings", "server.web.agenda", "server.web.room", "server.web.speakers"),
    demo="server.demo.meetings",
)
