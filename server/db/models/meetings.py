"""Meetings (sedute) of a table, their agenda items and their attendance."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.accounts import User
from server.db.models.base import Base, RenderedMarkdown, Versioned, enum_column, html_column
from server.db.types import utcnow


class AgendaStatus(StrEnum):
    """Where an agenda item stands: Da trattare → In discussione → Trattato / Rinviato."""

    pending = "pending"
    current = "current"
    done = "done"
    deferred = "deferred"


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
