"""Collaborative documents: a text several people write at once, kept as its log of Yjs updates.

A document is never rebuilt from its plain text: it is loaded from its stored updates (the first
one seeds it from the text it started from, once, when it is created), and the log is compacted
into one snapshot row from time to time (server/domain/documents.py, docs/architecture.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.models.base import Base, enum_column
from server.db.types import utcnow

# An autoincrement id that is a BIGINT on PostgreSQL (a busy document log outgrows INTEGER) and an
# INTEGER on SQLite, where only "INTEGER PRIMARY KEY" is the rowid that autoincrements.
BigId = BigInteger().with_variant(Integer, "sqlite")


class DocumentKind(StrEnum):
    """What a document is the text of (the record it belongs to is `Document.record_id`)."""

    proposal_body = "proposal_body"
    minutes = "minutes"  # record: the minutes' id
    minutes_erratum = "minutes_erratum"  # record: the published version it corrects
    protocol_text = "protocol_text"  # record: the protocol's id


class Document(Base):
    """One collaborative text: a proposal's body, a meeting's minutes, an erratum's draft, a protocol's text."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind, "document_kind"))
    record_id: Mapped[int] = mapped_column(Integer)
    # Set when the text is frozen (a proposal submitted): read-only for everyone from then on.
    frozen_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentUpdate(Base):
    """One stored Yjs (v1) update of a document, or a snapshot merging the rows it replaced."""

    __tablename__ = "document_updates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
