"""Proposals (proposte): their co-authors, numbered versions, endorsements, comments and links."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.accounts import Organisation, User
from server.db.models.base import Base, RenderedMarkdown, Versioned, enum_column, html_column
from server.db.types import utcnow


class ProposalStatus(StrEnum):
    """Bozza → Presentata → In discussione → Approvata / Respinta, or Ritirata by its authors."""

    draft = "draft"
    submitted = "submitted"
    under_discussion = "under_discussion"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class Proposal(RenderedMarkdown, Versioned, Base):
    """A proposta that one or more organisations bring to the table."""

    __tablename__ = "proposals"
    # The summary is plain text (shown as typed); the body and the outcome are Markdown.
    markdown_fields = ("body", "outcome")
    __table_args__ = (UniqueConstraint("table_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = html_column()
    status: Mapped[ProposalStatus] = mapped_column(
        enum_column(ProposalStatus, "proposal_status"), default=ProposalStatus.draft
    )
    outcome: Mapped[str] = mapped_column(Text, default="")
    outcome_html: Mapped[str] = html_column()
    client_key: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProposalAuthor(Base):
    """A co-authoring organisation of a proposal."""

    __tablename__ = "proposal_authors"
    __table_args__ = (UniqueConstraint("proposal_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"))

    organisation: Mapped[Organisation] = relationship(lazy="raise")


class ProposalVersion(Base):
    """A numbered version of a proposal's text: every submission, and every explicit save."""

    __tablename__ = "proposal_versions"
    __table_args__ = (UniqueConstraint("proposal_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="saved")  # "submitted" or "saved"
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship(lazy="raise")


class Endorsement(Base):
    """An organisation's support of a proposal, given by one of its members; one per organisation."""

    __tablename__ = "endorsements"
    __table_args__ = (UniqueConstraint("proposal_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="raise")
    user: Mapped[User | None] = relationship(lazy="raise")


class ProposalComment(RenderedMarkdown, Base):
    """A comment on a proposal, or a reply to one (one level); the chair may hide it, with a reason."""

    __tablename__ = "proposal_comments"
    markdown_fields = ("body",)
    __table_args__ = (UniqueConstraint("proposal_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("proposal_comments.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = html_column()
    client_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column()
    hidden_reason: Mapped[str | None] = mapped_column(String(500))
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="raise")


class ProposalLink(Base):
    """An agenda item where a proposal was discussed."""

    __tablename__ = "proposal_links"
    __table_args__ = (UniqueConstraint("proposal_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"))
