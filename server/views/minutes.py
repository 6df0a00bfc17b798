"""The minutes area: a meeting's minutes page (the outline, the draft, remarks, approval, redaction,
publishing), the minutes' state on the meeting page, and the published minutes of a table.

The minutes page is a screen of its own, named by its meeting (`?verbale=<meeting id>`): the page
exists before drafting starts (it shows the outline the draft will have), when no `Minutes` row
exists yet. Its regions are about the meeting (`record="meeting"`), so an event of the minutes of
another meeting of the table leaves them alone when its payload names its meeting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    AgendaItem,
    Document,
    DocumentKind,
    Meeting,
    Minutes,
    MinutesStatus,
    MinutesVersion,
    PublicationState,
    Table,
)
from server.domain import documents, minutes_record, minutes_redaction, minutes_remarks, texts
from server.domain import minutes as minutes_domain
from server.domain.actions import ActionEvent
from server.domain.agenda import AgendaEvent, agenda_of
from server.domain.decisions import DecisionEvent
from server.domain.documents import DocumentAccess
from server.domain.meetings import MeetingEvent, get_meeting
from server.domain.minutes import MinutesEvent
from server.i18n import _
from server.views.area import Area, DocumentBinding, ScreenKind, Sentence
from server.views.audience import Audience, Screen
from server.views.regions import Region

SCREEN = "minutes"
MINUTES_CHANGED = frozenset(MinutesEvent)
PUBLISHED_CHANGED = frozenset({MinutesEvent.published, MinutesEvent.erratum})
# What the minutes say from the records (the agenda, its decisions and positions, the action items
# recorded from each item).
RECORD_CHANGED = (
    frozenset(AgendaEvent)
    | frozenset(DecisionEvent)
    | frozenset({ActionEvent.created, ActionEvent.updated, ActionEvent.status})
)
MEETING_CHANGED = frozenset({MeetingEvent.created, MeetingEvent.updated, MeetingEvent.attendance_recorded})


def meeting_of(screen: Screen) -> int:
    """The meeting a minutes region is about: the minutes page's, or the meeting page's."""
    if screen.kind not in (SCREEN, "meeting") or screen.record_id is None:
        raise ValueError(f"a minutes region on {screen}")
    return screen.record_id


# --- what the pages read --------------------------------------------------------------------------


async def minutes_of(session: AsyncSession, meeting_id: int) -> Minutes | None:
    """The meeting's minutes, once drafting has started (None before)."""
    return await session.scalar(select(Minutes).where(Minutes.meeting_id == meeting_id))


@dataclass(frozen=True)
class Published:
    """A published version of a meeting's minutes, with the versions that it and its erratum link."""

    version: MinutesVersion
    meeting: Meeting
    table: Table
    superseded_by: int | None  # the published version that corrects it


def _published_query() -> Any:
    return (
        select(MinutesVersion, Meeting, Table)
        .join(Minutes, Minutes.id == MinutesVersion.minutes_id)
        .join(Meeting, Meeting.id == Minutes.meeting_id)
        .join(Table, Table.id == MinutesVersion.table_id)
        .where(MinutesVersion.state == PublicationState.published)
        .order_by(MinutesVersion.published_at.desc(), MinutesVersion.id.desc())
    )


async def _superseding(session: AsyncSession, version_ids: list[int]) -> dict[int, int]:
    """Version id -> the published version that supersedes it."""
    if not version_ids:
        return {}
    rows = await session.execute(
        select(MinutesVersion.supersedes_id, MinutesVersion.id).where(
            MinutesVersion.supersedes_id.in_(version_ids), MinutesVersion.state == PublicationState.published
        )
    )
    return {int(old): int(new) for old, new in rows.all() if old is not None}


async def _entries(session: AsyncSession, query: Any) -> list[Published]:
    rows = (await session.execute(query)).all()
    superseding = await _superseding(session, [version.id for version, _meeting, _table in rows])
    return [Published(version, meeting, table, superseding.get(version.id)) for version, meeting, table in rows]


async def published_of(session: AsyncSession, table_id: int, *, limit: int | None = None) -> list[Published]:
    """A table's published minutes (every version, errata included), newest first."""
    query = _published_query().where(MinutesVersion.table_id == table_id)
    return await _entries(session, query.limit(limit) if limit is not None else query)


async def published_of_public_tables(session: AsyncSession, *, limit: int = 50) -> list[Published]:
    """The published minutes of every public table, newest first (the feed of all tables)."""
    return await _entries(session, _published_query().where(Table.is_public.is_(True)).limit(limit))


async def published_version(session: AsyncSession, table_id: int, version_id: int) -> Published | None:
    """One published version of the table's minutes (None: not there, or still being published)."""
    found = await _entries(
        session, _published_query().where(MinutesVersion.table_id == table_id, MinutesVersion.id == version_id)
    )
    return found[0] if found else None


async def later_items(session: AsyncSession, meeting: Meeting) -> list[tuple[AgendaItem, Meeting]]:
    """The agenda items of the table's later meetings: one of them may record the approval."""
    rows = await session.execute(
        select(AgendaItem, Meeting)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(Meeting.table_id == meeting.table_id, Meeting.starts_at > meeting.starts_at)
        .order_by(Meeting.starts_at, AgendaItem.position)
    )
    return [(item, later) for item, later in rows.all()]


async def draft_text(session: AsyncSession, minutes: Minutes | None) -> str | None:
    """The text of the draft being written (the minutes' document, or an erratum's), as stored now."""
    if minutes is None or minutes.document_id is None:
        return None
    return await documents.text_of(session, minutes.document_id)


# --- the regions ----------------------------------------------------------------------------------


async def _minutes(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, meeting_of(screen))
    minutes = await minutes_of(session, meeting.id)
    outline_html = None
    if minutes is None:  # before drafting: the outline the draft will be seeded from
        record = await minutes_record.collect(session, meeting.id)
        outline_html = await texts.renderer_of(session).render(minutes_domain.outline(record))
    return {
        "table": table,
        "meeting": meeting,
        "minutes": minutes,
        "outline_html": outline_html,
        "versions": await minutes_domain.versions_of(session, minutes.id) if minutes else [],
        "later_items": await later_items(session, meeting) if minutes else [],
    }


async def _record(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, meeting_of(screen))
    return {"table": table, "meeting": meeting, "record": await minutes_record.collect(session, meeting.id)}


async def _remarks(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, meeting_of(screen))
    minutes = await minutes_of(session, meeting.id)
    return {
        "table": table,
        "meeting": meeting,
        "minutes": minutes,
        "items": await agenda_of(session, meeting.id),
        "remarks": await minutes_remarks.remarks_by_item(session, minutes.id) if minutes else {},
    }


async def _redaction(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, meeting_of(screen))
    minutes = await minutes_of(session, meeting.id)
    names: list[str] = []
    if minutes is not None and minutes.status in (MinutesStatus.sent, MinutesStatus.approved):
        text = await draft_text(session, minutes)
        names = await minutes_redaction.names_in(text or "", session, table)
    return {"table": table, "meeting": meeting, "minutes": minutes, "names": names}


async def _state(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, meeting_of(screen))
    minutes = await minutes_of(session, meeting.id)
    versions = await minutes_domain.versions_of(session, minutes.id) if minutes else []
    return {
        "table": table,
        "meeting": meeting,
        "minutes_state": minutes,
        "minutes_latest": versions[-1] if versions else None,
    }


async def _published(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    return {"table": table, "published_minutes": await published_of(session, table.id, limit=20)}


MINUTES = Region(
    "minutes", "minutes/_minutes.html", _minutes, record="meeting", follows=MINUTES_CHANGED | RECORD_CHANGED
)
RECORD = Region(
    "minutes-record",
    "minutes/_record.html",
    _record,
    record="meeting",
    follows=RECORD_CHANGED | MEETING_CHANGED | MINUTES_CHANGED,
)
REMARKS = Region(
    "minutes-remarks",
    "minutes/_remarks.html",
    _remarks,
    record="meeting",
    follows=MINUTES_CHANGED | frozenset(AgendaEvent),
)
REDACTION = Region(
    "minutes-redaction", "minutes/_redaction.html", _redaction, record="meeting", follows=MINUTES_CHANGED
)
# On the meeting page: where its minutes are (server/views/meetings.py puts it there).
STATE = Region("minutes-state", "minutes/_state.html", _state, record="meeting", follows=MINUTES_CHANGED)
# On the table's home (and, outside any live page, on the public face of a public table).
PUBLISHED = Region("published-minutes", "minutes/_published.html", _published, follows=PUBLISHED_CHANGED)
MINUTES_PAGE = (MINUTES, RECORD, REMARKS, REDACTION)


# --- words ----------------------------------------------------------------------------------------


def minutes_status_label(status: MinutesStatus | str | None) -> str:
    if status is None:
        return _("Not started")
    labels = {
        MinutesStatus.draft: _("Draft"),
        MinutesStatus.sent: _("Sent for approval"),
        MinutesStatus.approved: _("Approved"),
        MinutesStatus.published: _("Published"),
    }
    return labels[MinutesStatus(status)]


def _about(payload: dict[str, Any]) -> dict[str, Any]:
    """The meeting the event is about, whatever key its payload names it with."""
    return {**payload, "meeting_title": payload.get("meeting_title") or payload.get("title") or ""}


def _say(sentence: str) -> Sentence:
    return lambda payload: sentence.format(**_about(payload))


def _sentences() -> Mapping[str, Sentence]:
    return {
        MinutesEvent.started: _say(_("started the minutes of «{meeting_title}»")),
        MinutesEvent.edited: _say(_("edited the minutes of «{meeting_title}»")),
        MinutesEvent.sent: _say(_("sent the minutes of «{meeting_title}» for approval")),
        MinutesEvent.reopened: _say(_("took the minutes of «{meeting_title}» back to draft")),
        MinutesEvent.approved: _say(_("approved the minutes of «{meeting_title}»")),
        MinutesEvent.redacted: _say(_("changed the passages left out of the public copy of «{meeting_title}»")),
        MinutesEvent.publishing: _say(_("is publishing the minutes of «{meeting_title}»")),
        MinutesEvent.published: _say(_("published the minutes of «{meeting_title}»")),
        MinutesEvent.erratum: _say(_("started an erratum of the minutes of «{meeting_title}»")),
        MinutesEvent.remark: _say(_("made a remark on the minutes of «{meeting_title}»")),
    }


# --- the document -----------------------------------------------------------------------------------


async def _document_access(
    session: AsyncSession, document: Document, audience: Audience, user_id: int
) -> DocumentAccess:
    """Who writes and who reads the minutes' draft: the rule of server/domain/minutes.py (the chair
    and the secretary write a draft; members and observers read it live; the public nothing), which
    is also the page's."""
    return await minutes_domain.document_access(
        session, document, role=audience.role, organisation_id=audience.organisation_id, is_admin=audience.is_admin
    )


async def _document_changed(session: AsyncSession, document: Document, text: str, editor_ids: frozenset[int]) -> None:
    await minutes_domain.document_changed(session, document, text, editor_ids)


DOCUMENT = DocumentBinding(access=_document_access, changed=_document_changed)

AREA = Area(
    name="minutes",
    events=(MinutesEvent,),
    sentences=_sentences,
    screens=(ScreenKind(SCREEN, MINUTES_PAGE, param="verbale", model=Meeting, presence=True),),
    home_side=(PUBLISHED,),
    template_globals={"minutes_status_label": minutes_status_label},
    routes=("server.web.minutes", "server.web.public"),
    documents={DocumentKind.minutes: DOCUMENT, DocumentKind.minutes_erratum: DOCUMENT},
    demo="server.demo.minutes",
)
