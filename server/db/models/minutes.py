"""Minutes (verbali): the live draft of a meeting's minutes, its approval, and its published versions.

A meeting's minutes are written in a collaborative document (kind `minutes`, record = the minutes'
id; an erratum's draft is kind `minutes_erratum`, record = the published version it corrects).
Publishing freezes one `MinutesVersion`: the full copy (members read it) and the public copy (the
passages the chair marked replaced by "[omissis]"), each as Markdown, HTML and PDF with their
SHA-256, never re-rendered. The public copy's Markdown file goes into the archive folder, whose
per-table `CHAIN` makes a hash chain (server/domain/minutes_archive.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.accounts import User
from server.db.models.base import Base, RenderedMarkdown, Versioned, enum_column, html_column
from server.db.types import utcnow


class MinutesStatus(StrEnum):
    """Bozza → Inviato per l'approvazione → Approvato → Pubblicato (and back to Bozza from sent)."""

    draft = "draft"
    sent = "sent"
    approved = "approved"
    published = "published"


class Minutes(Versioned, Base):
    """The minutes of one meeting (a row exists once drafting has started)."""

    __tablename__ = "minutes"
    __table_args__ = (UniqueConstraint("meeting_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    status: Mapped[MinutesStatus] = mapped_column(
        enum_column(MinutesStatus, "minutes_status"), default=MinutesStatus.draft
    )
    # The draft being written: the minutes' document, or an erratum's once one is started (its
    # document's record is the published version it corrects).
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    # The passages the chair marked to be replaced by "[omissis]" in the public copy.
    redactions: Mapped[list[str]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime | None] = mapped_column()
    approved_at: Mapped[datetime | None] = mapped_column()
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Approval recorded by an agenda item of a later meeting (instead of by the chair alone).
    approved_at_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MinutesRemark(RenderedMarkdown, Base):
    """A member's remark on the minutes, anchored to an agenda item's section (or to the whole), or a reply."""

    __tablename__ = "minutes_remarks"
    markdown_fields = ("body",)
    __table_args__ = (UniqueConstraint("minutes_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("minutes_remarks.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = html_column()
    client_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="raise")


class PublicationState(StrEnum):
    """A version being published (its file may or may not be in the archive yet) or published."""

    publishing = "publishing"
    published = "published"


class MinutesVersion(Base):
    """One published version of a meeting's minutes (the first, or an erratum), frozen forever.

    Not `RenderedMarkdown` on purpose: a published text is never re-rendered, even when the
    Markdown renderer changes.
    """

    __tablename__ = "minutes_versions"
    __table_args__ = (UniqueConstraint("minutes_id", "number"), UniqueConstraint("table_id", "file_name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, then 2 for the first erratum…
    state: Mapped[PublicationState] = mapped_column(
        enum_column(PublicationState, "publication_state"), default=PublicationState.publishing
    )
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("minutes_versions.id", ondelete="SET NULL"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    # The full copy (members): never published outside the application.
    full_markdown: Mapped[str] = mapped_column(Text)
    full_html: Mapped[str] = mapped_column(Text)
    full_pdf: Mapped[bytes] = mapped_column(LargeBinary)
    full_sha256: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # markdown, html, pdf
    # The public copy: the archive file (front matter + text), its HTML and PDF.
    public_markdown: Mapped[str] = mapped_column(Text)
    public_html: Mapped[str] = mapped_column(Text)
    public_pdf: Mapped[bytes] = mapped_column(LargeBinary)
    public_sha256: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # markdown (= the file), html, pdf
    redactions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The archive: the file's name in the table's folder and the hash of its CHAIN line (set when written).
    file_name: Mapped[str] = mapped_column(String(200))
    chain_hash: Mapped[str | None] = mapped_column(String(64))
    front_matter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()


class Installation(Base):
    """This database's identity (one row), written as the first line of every minutes archive so that
    an archive is never appended to by another database."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
