"""Action items (azioni / impegni) and their progress notes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.accounts import Organisation, User
from server.db.models.base import Base, RenderedMarkdown, Versioned, enum_column, html_column
from server.db.models.meetings import AgendaItem
from server.db.models.proposals import Proposal
from server.db.types import utcnow


class ActionStatus(StrEnum):
    """Where an action item stands: Aperta → In corso → Completata, or Annullata."""

    open = "open"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class ActionItem(RenderedMarkdown, Versioned, Base):
    """An azione / impegno: what a member committed to do for the table, by when."""

    __tablename__ = "action_items"
    markdown_fields = ("description",)
    __table_args__ = (UniqueConstraint("table_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = html_column()
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The organisation the owner acts for (their organisation on the table when assigned).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[ActionStatus] = mapped_column(enum_column(ActionStatus, "action_status"), default=ActionStatus.open)
    # Where it was decided: an agenda item of a meeting of this table, an approved proposal, or neither.
    origin_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    origin_proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"))
    client_key: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="raise")
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")
    origin_item: Mapped[AgendaItem | None] = relationship(lazy="raise")
    origin_proposal: Mapped[Proposal | None] = relationship(lazy="raise")


class ActionNote(RenderedMarkdown, Base):
    """A progress note on an action item: who wrote it, when, what."""

    __tablename__ = "action_notes"
    markdown_fields = ("body",)
    __table_args__ = (UniqueConstraint("action_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action_items.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = html_column()
    client_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship(lazy="raise")
