"""Reading the lists of speakers, and the speaking time as a person types it (server/domain/speakers.py
changes them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import AgendaItem, AgendaStatus, Meeting, Speaker, SpeakerStatus
from server.domain.errors import Invalid
from server.i18n import _

MIN_SPEAKING_SECONDS = 15
MAX_SPEAKING_SECONDS = 3600


@dataclass(frozen=True)
class SpeakerList:
    """An item's list: who speaks now, who waits (in order), who spoke (in order), and its rules."""

    item: AgendaItem
    speaking: Speaker | None
    waiting: list[Speaker]
    spoke: list[Speaker]
    speaking_seconds: int  # the item's own speaking time, or the meeting's

    @property
    def is_open(self) -> bool:
        return self.item.speakers_open


def parse_speaking_time(typed: str, field: str = "speaking_time") -> int:
    """A speaking time as minutes ("3") or minutes and seconds ("2:30"), in seconds."""
    typed = typed.strip()
    minutes, _colon, seconds = typed.partition(":")
    total = None
    if minutes.isascii() and minutes.isdigit() and len(minutes) <= 3:
        if not _colon:
            total = int(minutes) * 60
        elif seconds.isascii() and seconds.isdigit() and len(seconds) == 2 and int(seconds) < 60:
            total = int(minutes) * 60 + int(seconds)
    if total is None or not MIN_SPEAKING_SECONDS <= total <= MAX_SPEAKING_SECONDS:
        raise Invalid({field: _("Enter the speaking time in minutes, for example 3 or 2:30, from 0:15 to 60:00.")})
    return total


def speaking_seconds_of(meeting: Meeting, item: AgendaItem) -> int:
    return item.speaking_seconds if item.speaking_seconds is not None else meeting.speaking_seconds


async def current_item(session: AsyncSession, meeting_id: int) -> AgendaItem | None:
    """The item under discussion, if any."""
    return await session.scalar(
        select(AgendaItem).where(
            AgendaItem.meeting_id == meeting_id,
            AgendaItem.status == AgendaStatus.current,
            AgendaItem.removed_at.is_(None),
        )
    )


async def list_of(session: AsyncSession, meeting: Meeting, item: AgendaItem) -> SpeakerList:
    rows = (
        await session.scalars(
            select(Speaker)
            .options(joinedload(Speaker.organisation))
            .where(Speaker.item_id == item.id, Speaker.status != SpeakerStatus.withdrawn)
            .order_by(Speaker.position, Speaker.id)
        )
    ).all()
    speaking = next((s for s in rows if s.status is SpeakerStatus.speaking), None)
    waiting = [s for s in rows if s.status is SpeakerStatus.waiting]
    spoke = sorted(
        (s for s in rows if s.status is SpeakerStatus.spoke), key=lambda s: (s.started_at or s.asked_at, s.id)
    )
    return SpeakerList(item, speaking, waiting, spoke, speaking_seconds_of(meeting, item))
