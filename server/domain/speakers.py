"""The list of speakers of an agenda item: requests to speak, their order, who speaks and for how long.

A member asks to speak for the organisation they represent (one waiting request of each kind per
organisation and item: a unique index makes fifty identical clicks one request), and withdraws;
the chair and the secretary add any organisation present, reorder, remove, start a speaker and
stop them. A point of order jumps the queue and stays marked as one. The list opens and closes
(closed: no new requests from members); each item may set its own speaking time, or take the
meeting's. Who spoke is kept, in order, with the seconds they took.

Every change is refused on a closed meeting, and takes the table's lock like the agenda's.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import (
    AgendaItem,
    AgendaStatus,
    Attendance,
    Meeting,
    MeetingStatus,
    Organisation,
    Speaker,
    SpeakerStatus,
    Table,
)
from server.db.types import utcnow
from server.domain import audit
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.meetings import get_meeting, lock_table, refuse_if_closed
from server.domain.speaker_lists import (
    list_of,
    speaking_seconds_of,
)
from server.i18n import _


class SpeakerEvent(StrEnum):
    """What the audit record says about the lists of speakers (the values are stored)."""

    requested = "speaker.requested"
    withdrawn = "speaker.withdrawn"
    added = "speaker.added"
    removed = "speaker.removed"
    moved = "speaker.moved"
    started = "speaker.started"
    stopped = "speaker.stopped"
    list_opened = "speakers.opened"
    list_closed = "speakers.closed"
    time_set = "speakers.time_set"


async def _item(session: AsyncSession, meeting: Meeting, item_id: int) -> AgendaItem:
    item = await session.scalar(
        select(AgendaItem).where(
            AgendaItem.id == item_id, AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None)
        )
    )
    if item is None:
        raise NotFound(_("This agenda item does not exist in this meeting."))
    return item


async def _speaker(session: AsyncSession, meeting: Meeting, speaker_id: int) -> tuple[Speaker, AgendaItem]:
    found = (
        await session.execute(
            select(Speaker, AgendaItem)
            .join(AgendaItem, AgendaItem.id == Speaker.item_id)
            .options(joinedload(Speaker.organisation))
            .where(Speaker.id == speaker_id, AgendaItem.meeting_id == meeting.id)
        )
    ).first()
    if found is None:
        raise NotFound(_("This request to speak does not exist in this meeting."))
    return found[0], found[1]


async def _changing(session: AsyncSession, table: Table, meeting_id: int) -> Meeting:
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    return meeting


def _payload(meeting: Meeting, item: AgendaItem, speaker: Speaker | None = None) -> dict[str, object]:
    payload: dict[str, object] = {"meeting_id": meeting.id, "item_id": item.id, "title": item.title}
    if speaker is not None:
        payload["speaker_id"] = speaker.id
        payload["organisation"] = speaker.organisation.name
        payload["point_of_order"] = speaker.point_of_order
    return payload


async def _present(session: AsyncSession, meeting: Meeting, organisation_id: int) -> bool:
    found = await session.scalar(
        select(Attendance.id).where(
            Attendance.meeting_id == meeting.id,
            Attendance.organisation_id == organisation_id,
            Attendance.present.is_(True),
        )
    )
    return found is not None


async def _waiting_request(
    session: AsyncSession, item_id: int, organisation_id: int, point_of_order: bool
) -> Speaker | None:
    return await session.scalar(
        select(Speaker)
        .options(joinedload(Speaker.organisation))
        .where(
            Speaker.item_id == item_id,
            Speaker.organisation_id == organisation_id,
            Speaker.point_of_order.is_(point_of_order),
            Speaker.status == SpeakerStatus.waiting,
        )
    )


async def _enqueue(
    session: AsyncSession,
    meeting: Meeting,
    item: AgendaItem,
    organisation_id: int,
    *,
    user_id: int | None,
    name: str,
    point_of_order: bool,
) -> tuple[Speaker, bool]:
    """The waiting request of this organisation (made now, or the one already there) and whether
    it is new. The unique index has the last word: a concurrent twin that got in first is returned."""
    existing = await _waiting_request(session, item.id, organisation_id, point_of_order)
    if existing is not None:
        return existing, False
    bound = func.min if point_of_order else func.max
    edge = await session.scalar(
        select(bound(Speaker.position)).where(Speaker.item_id == item.id, Speaker.status == SpeakerStatus.waiting)
    )
    position = (edge or 0) - 1 if point_of_order else (edge or 0) + 1
    speaker = Speaker(
        item_id=item.id,
        organisation_id=organisation_id,
        user_id=user_id,
        name=name[:200],
        point_of_order=point_of_order,
        position=position,
        asked_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(speaker)
            await session.flush()
    except IntegrityError:  # another request of the same organisation got in first
        twin = await _waiting_request(session, item.id, organisation_id, point_of_order)
        if twin is None:
            raise
        return twin, False
    await session.refresh(speaker, ["organisation"])
    return speaker, True


async def ask(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    item_id: int,
    *,
    user_id: int,
    name: str,
    organisation_id: int | None,
    point_of_order: bool = False,
) -> Speaker:
    """A member asks to speak on an item for the organisation they represent (once: a repeat is the same request)."""
    meeting = await _changing(session, table, meeting_id)
    item = await _item(session, meeting, item_id)
    if organisation_id is None:
        raise Invalid({"speaker": _("You represent no organisation at this table, so you cannot ask to speak.")})
    if not item.speakers_open:
        message = _("The list of speakers of «{title}» is closed: no new requests.")
        raise Invalid({"speaker": message.format(title=item.title)})
    speaker, new = await _enqueue(
        session, meeting, item, organisation_id, user_id=user_id, name=name, point_of_order=point_of_order
    )
    if new:
        await audit.record(
            session, SpeakerEvent.requested, actor_id=user_id, table_id=table.id, **_payload(meeting, item, speaker)
        )
    return speaker


async def add(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    item_id: int,
    organisation_id: int,
    *,
    actor_id: int | None,
    point_of_order: bool = False,
) -> Speaker:
    """The chair or the secretary puts an organisation present on the list (closed or not)."""
    meeting = await _changing(session, table, meeting_id)
    item = await _item(session, meeting, item_id)
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or not await _present(session, meeting, organisation_id):
        raise Invalid({"organisation": _("Choose an organisation present at the meeting.")})
    speaker, new = await _enqueue(
        session, meeting, item, organisation_id, user_id=None, name="", point_of_order=point_of_order
    )
    if new:
        await audit.record(
            session, SpeakerEvent.added, actor_id=actor_id, table_id=table.id, **_payload(meeting, item, speaker)
        )
    return speaker


async def withdraw(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    speaker_id: int,
    *,
    user_id: int,
    organisation_id: int | None,
    runs_meetings: bool = False,
) -> Speaker:
    """A member withdraws their organisation's waiting request (twice: once); the chair and the
    secretary, who may remove any request, may withdraw any too."""
    meeting = await _changing(session, table, meeting_id)
    speaker, item = await _speaker(session, meeting, speaker_id)
    if not runs_meetings and (organisation_id is None or speaker.organisation_id != organisation_id):
        raise Forbidden(_("Only the organisation that asked to speak can withdraw its request."))
    if speaker.status is SpeakerStatus.withdrawn:
        return speaker
    if speaker.status is not SpeakerStatus.waiting:
        raise Invalid({"speaker": _("This request can no longer be withdrawn: its turn has come.")})
    speaker.status = SpeakerStatus.withdrawn
    await session.flush()
    await audit.record(
        session, SpeakerEvent.withdrawn, actor_id=user_id, table_id=table.id, **_payload(meeting, item, speaker)
    )
    return speaker


async def remove(
    session: AsyncSession, table: Table, meeting_id: int, speaker_id: int, *, actor_id: int | None
) -> Speaker:
    """The chair or the secretary takes a waiting request off the list."""
    meeting = await _changing(session, table, meeting_id)
    speaker, item = await _speaker(session, meeting, speaker_id)
    if speaker.status is SpeakerStatus.withdrawn:
        return speaker
    if speaker.status is not SpeakerStatus.waiting:
        raise Invalid({"speaker": _("Only a request still waiting can be removed.")})
    speaker.status = SpeakerStatus.withdrawn
    await session.flush()
    await audit.record(
        session, SpeakerEvent.removed, actor_id=actor_id, table_id=table.id, **_payload(meeting, item, speaker)
    )
    return speaker


async def move(
    session: AsyncSession, table: Table, meeting_id: int, speaker_id: int, *, to_position: int, actor_id: int | None
) -> Speaker:
    """Put a waiting request at `to_position` among those waiting (1 = next); a repeat changes nothing."""
    meeting = await _changing(session, table, meeting_id)
    speaker, item = await _speaker(session, meeting, speaker_id)
    if speaker.status is not SpeakerStatus.waiting:
        raise Invalid({"speaker": _("Only a request still waiting can be moved.")})
    waiting = (await list_of(session, meeting, item)).waiting
    if not 1 <= to_position <= len(waiting):
        raise Invalid({"position": _("The request cannot move beyond the start or the end of the list.")})
    if waiting.index(speaker) + 1 == to_position:
        return speaker
    order = [s for s in waiting if s.id != speaker.id]
    order.insert(to_position - 1, speaker)
    for position, each in enumerate(order, start=1):
        each.position = position
    await session.flush()
    await audit.record(
        session,
        SpeakerEvent.moved,
        actor_id=actor_id,
        table_id=table.id,
        position=to_position,
        **_payload(meeting, item, speaker),
    )
    return speaker


async def end_speech(session: AsyncSession, item_id: int, now: datetime) -> Speaker | None:
    """Whoever speaks on the item stops now, their time kept (no event: the caller records one)."""
    speaker = await session.scalar(
        select(Speaker)
        .options(joinedload(Speaker.organisation))
        .where(Speaker.item_id == item_id, Speaker.status == SpeakerStatus.speaking)
    )
    if speaker is None:
        return None
    speaker.status = SpeakerStatus.spoke
    speaker.ended_at = now
    started = speaker.started_at or now
    speaker.seconds = max(0, int((now - started).total_seconds()))
    await session.flush()
    return speaker


async def start(
    session: AsyncSession, table: Table, meeting_id: int, speaker_id: int, *, actor_id: int | None
) -> Speaker:
    """Give the floor to a waiting speaker (whoever spoke stops); a repeat changes nothing."""
    meeting = await _changing(session, table, meeting_id)
    speaker, item = await _speaker(session, meeting, speaker_id)
    if speaker.status is SpeakerStatus.speaking:
        return speaker
    if speaker.status is not SpeakerStatus.waiting:
        raise Invalid({"speaker": _("This speaker has already spoken, or the request was withdrawn.")})
    if meeting.status is not MeetingStatus.in_progress:
        raise Invalid({"speaker": _("Open the meeting before giving the floor.")})
    if item.status is not AgendaStatus.current:
        message = _("Open the discussion of «{title}» before giving the floor.")
        raise Invalid({"speaker": message.format(title=item.title)})
    now = utcnow()
    before = await end_speech(session, item.id, now)
    if before is not None:
        await audit.record(
            session,
            SpeakerEvent.stopped,
            actor_id=actor_id,
            table_id=table.id,
            seconds=before.seconds,
            **_payload(meeting, item, before),
        )
    speaker.status = SpeakerStatus.speaking
    speaker.started_at = now
    await session.flush()
    await audit.record(
        session, SpeakerEvent.started, actor_id=actor_id, table_id=table.id, **_payload(meeting, item, speaker)
    )
    return speaker


async def stop(
    session: AsyncSession, table: Table, meeting_id: int, speaker_id: int, *, actor_id: int | None
) -> Speaker:
    """The speaker's time ends; a repeat (they already stopped) changes nothing."""
    meeting = await _changing(session, table, meeting_id)
    speaker, item = await _speaker(session, meeting, speaker_id)
    if speaker.status is not SpeakerStatus.speaking:
        return speaker
    await end_speech(session, item.id, utcnow())
    await audit.record(
        session,
        SpeakerEvent.stopped,
        actor_id=actor_id,
        table_id=table.id,
        seconds=speaker.seconds,
        **_payload(meeting, item, speaker),
    )
    return speaker


async def set_open(
    session: AsyncSession, table: Table, meeting_id: int, item_id: int, is_open: bool, *, actor_id: int | None
) -> AgendaItem:
    """Open or close an item's list to new requests (a Core update: the agenda's forms stay current)."""
    meeting = await _changing(session, table, meeting_id)
    item = await _item(session, meeting, item_id)
    if item.speakers_open is is_open:
        return item
    await session.execute(
        update(AgendaItem)
        .where(AgendaItem.id == item.id)
        .values(speakers_open=is_open)
        .execution_options(synchronize_session="fetch")
    )
    event = SpeakerEvent.list_opened if is_open else SpeakerEvent.list_closed
    await audit.record(session, event, actor_id=actor_id, table_id=table.id, **_payload(meeting, item))
    return item


async def set_item_time(
    session: AsyncSession, table: Table, meeting_id: int, item_id: int, seconds: int | None, *, actor_id: int | None
) -> AgendaItem:
    """Give an item its own speaking time (None: the meeting's)."""
    meeting = await _changing(session, table, meeting_id)
    item = await _item(session, meeting, item_id)
    if item.speaking_seconds == seconds:
        return item
    await session.execute(
        update(AgendaItem)
        .where(AgendaItem.id == item.id)
        .values(speaking_seconds=seconds)
        .execution_options(synchronize_session="fetch")
    )
    await audit.record(
        session,
        SpeakerEvent.time_set,
        actor_id=actor_id,
        table_id=table.id,
        seconds=speaking_seconds_of(meeting, item),
        **_payload(meeting, item),
    )
    return item
