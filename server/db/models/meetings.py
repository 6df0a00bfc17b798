"""Meetings (sedute) of a table, their agenda items and their attendance."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.accounts import Organisation, User
from server.db.models.base import Base, RenderedMarkdown, Versioned, enum_column, html_column
from server.db.types import utcnow


class AgendaStatus(StrEnum):
    """Where an agenda item stands: Da trattare → In discussione → Trattato / Rinviato."""

    pending = "pending"
    current = "current"
    done = "done"
    deferred = "deferred"


class MeetingStatus(StrEnum):
    """A meeting's life: Convocata → In corso (the chair opens it) → Chiusa (the chair closes it)."""

    convened = "convened"
    in_progress = "in_progress"
    closed = "closed"


DEFAULT_SPEAKING_SECONDS = 180


class Meeting(Versioned, Base):
    """A seduta of a table."""

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("table_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    place: Mapped[str] = mapped_column(String(200), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    # Bumped by every attendance change, so that a stale attendance form is recognised.
    attendance_version: Mapped[int] = mapped_column(Integer, default=0)
    # The key of the form that created it: a double submit creates one meeting, not two.
    client_key: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Its life, changed with Core updates (server/domain/meeting_life.py): opening or closing the
    # meeting must not make the details' form stale.
    status: Mapped[MeetingStatus] = mapped_column(
        enum_column(MeetingStatus, "meeting_status"), default=MeetingStatus.convened, server_default="convened"
    )
    opened_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    # The default speaking time of the meeting's lists of speakers (each item may set its own).
    speaking_seconds: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_SPEAKING_SECONDS, server_default=str(DEFAULT_SPEAKING_SECONDS)
    )
    # Whether delegates may check themselves in from their own device.
    check_in_open: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AgendaItem(RenderedMarkdown, Versioned, Base):
    """A punto all'ordine del giorno. Removed items are kept (removed_at) for the history."""

    __tablename__ = "agenda_items"
    markdown_fields = ("description",)
    __table_args__ = (
        UniqueConstraint("meeting_id", "client_key"),
        # At most one item of a meeting is being discussed.
        Index(
            "uq_agenda_items_one_current",
            "meeting_id",
            unique=True,
            sqlite_where=text("status = 'current' AND removed_at IS NULL"),
            postgresql_where=text("status = 'current' AND removed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = html_column()
    presenter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    planned_minutes: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[AgendaStatus] = mapped_column(
        enum_column(AgendaStatus, "agenda_status"), default=AgendaStatus.pending
    )
    client_key: Mapped[str | None] = mapped_column(String(40))
    removed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The discussion's clock: the seconds of earlier spells under discussion, and when the current
    # one began (set while the item is current).
    discussed_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    discussion_started_at: Mapped[datetime | None] = mapped_column()
    # Its list of speakers: open to new requests or not, and its own speaking time (None: the
    # meeting's). Changed with Core updates, so that the agenda's buttons do not go stale.
    speakers_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    speaking_seconds: Mapped[int | None] = mapped_column(Integer)

    presenter: Mapped[User | None] = relationship(lazy="raise")


class Attendance(Base):
    """Whether an organisation was present at a meeting, and the names of its delegates."""

    __tablename__ = "attendances"
    __table_args__ = (UniqueConstraint("meeting_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    present: Mapped[bool] = mapped_column(Boolean, default=False)
    delegates: Mapped[str] = mapped_column(String(500), default="")
    # A delegate who checked in from their own device: when, and whether the secretary has since
    # confirmed the sheet (saving the attendance confirms every row).
    checked_in_at: Mapped[datetime | None] = mapped_column()
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class SpeakerStatus(StrEnum):
    """Where a request to speak stands: waiting → speaking → spoke; or withdrawn / removed."""

    waiting = "waiting"
    speaking = "speaking"
    spoke = "spoke"
    withdrawn = "withdrawn"


class Speaker(Base):
    """A request to speak on an agenda item, for an organisation, and the time its speaker took."""

    __tablename__ = "speakers"
    __table_args__ = (
        # One waiting request of each kind per organisation and item: fifty clicks make one.
        Index(
            "uq_speakers_one_waiting",
            "item_id",
            "organisation_id",
            "point_of_order",
            unique=True,
            sqlite_where=text("status = 'waiting'"),
            postgresql_where=text("status = 'waiting'"),
        ),
        # One speaker at a time on an item.
        Index(
            "uq_speakers_one_speaking",
            "item_id",
            unique=True,
            sqlite_where=text("status = 'speaking'"),
            postgresql_where=text("status = 'speaking'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    # Who asked (a member for their organisation) or was added (by the chair); the name is kept.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200), default="")
    point_of_order: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[SpeakerStatus] = mapped_column(
        enum_column(SpeakerStatus, "speaker_status"), default=SpeakerStatus.waiting
    )
    position: Mapped[int] = mapped_column(Integer, default=0)  # order of the waiting ones
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    seconds: Mapped[int | None] = mapped_column(Integer)  # how long they spoke

    organisation: Mapped[Organisation] = relationship(lazy="raise")


class RoomLink(Base):
    """A link to a meeting's room screen, for a projector or a shared screen: only its secret's
    hash is kept; it lasts until the end of the day it was made, or until the chair revokes it."""

    __tablename__ = "room_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()  # its last exchange for a screen's cookie
