"""Tables and who sits at them, with which role, for which organisation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.accounts import Organisation, User
from server.db.models.base import Base, RenderedMarkdown, Versioned, enum_column, html_column
from server.db.types import utcnow


class Role(StrEnum):
    """A person's role on one table, from the least to the most powerful."""

    observer = "observer"
    member = "member"
    secretary = "secretary"
    chair = "chair"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Table(RenderedMarkdown, Versioned, Base):
    __tablename__ = "tables"
    markdown_fields = ("purpose",)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    purpose_html: Mapped[str] = html_column()
    established: Mapped[str] = mapped_column(String(200), default="")
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last sequence number handed to an event of this table (see domain.audit).
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The quorum of its meetings: a number of member organisations, or a share of them in percent
    # (at most one is set; neither: no quorum). Set with a Core update (server/domain/quorum.py).
    quorum_number: Mapped[int | None] = mapped_column(Integer)
    quorum_percent: Mapped[int | None] = mapped_column(Integer)


class Membership(Versioned, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("table_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    table: Mapped[Table] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")
