"""Decisions (decisioni): what the table decided on an agenda item, and where each organisation stands.

A consultative table decides by consensus with recorded positions, not by a vote of people: each
organisation present records one position on a decision (favourable, against, abstains, or
favourable with a reservation), given by one of its delegates during a roll call or entered by the
secretary afterwards in the delegate's name. Every change of a position is an event in the history;
the row holds the current one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.accounts import Organisation
from server.db.models.base import Base, RenderedMarkdown, Versioned, enum_column, html_column
from server.db.types import utcnow


class DecisionKind(StrEnum):
    """Approvato · Approvato con riserve · Non approvato · Rinviato · Solo informativa."""

    agreed = "agreed"
    agreed_with_reservations = "agreed_reserved"
    not_agreed = "not_agreed"
    postponed = "postponed"
    information = "information"


class RollCall(StrEnum):
    """The roll call of positions: not opened yet → open (delegates record from their devices) → closed."""

    none = "none"
    open = "open"
    closed = "closed"


class PositionKind(StrEnum):
    """Favorevole · Contrario · Astenuto · Favorevole con riserva (with the reservation's text)."""

    favourable = "favourable"
    against = "against"
    abstains = "abstains"
    reservation = "reservation"


class Decision(RenderedMarkdown, Versioned, Base):
    """What the table decided on one agenda item (one decision per item)."""

    __tablename__ = "decisions"
    markdown_fields = ("text",)
    __table_args__ = (UniqueConstraint("item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"))
    # The proposal it concerns, if any (closing that proposal with an outcome at this item records it).
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"), index=True)
    kind: Mapped[DecisionKind] = mapped_column(enum_column(DecisionKind, "decision_kind"))
    text: Mapped[str] = mapped_column(Text, default="")
    text_html: Mapped[str] = html_column()
    # The roll call's state, changed with Core updates so that the decision's form does not go stale.
    roll_call: Mapped[RollCall] = mapped_column(
        enum_column(RollCall, "roll_call"), default=RollCall.none, server_default="none"
    )
    roll_call_opened_at: Mapped[datetime | None] = mapped_column()
    roll_call_closed_at: Mapped[datetime | None] = mapped_column()
    # Set when the meeting's minutes are approved: from then on corrections go through an erratum.
    locked_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Position(Base):
    """An organisation's position on a decision: one row per organisation, holding the current one."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("decision_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PositionKind] = mapped_column(enum_column(PositionKind, "position_kind"))
    reservation: Mapped[str] = mapped_column(Text, default="")  # the reservation's text (kind reservation)
    # The delegate who gave it (their name, as recorded in the attendance, kept as typed).
    delegate: Mapped[str] = mapped_column(String(200), default="")
    # Who recorded it: the delegate themselves, or the secretary on their behalf.
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    by_secretary: Mapped[bool] = mapped_column(default=False)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by every change, so that concurrent changes of one position are told apart.
    changes: Mapped[int] = mapped_column(Integer, default=1)

    organisation: Mapped[Organisation] = relationship(lazy="raise")
