"""Protocols (protocolli d'intesa): what the parties of a table sign, their annexes, signatures and
commitments.

A protocol's text is written in a collaborative document (kind `protocol_text`, record = the
protocol's id) while in draft. Opening it for signature freezes one `ProtocolVersion`: the canonical
text (UTF-8, NFC, LF, one final newline), its SHA-256, the annexes' hashes and the commitments parsed
from the text. Each party signs that version: the signature statement is a canonical JSON document
whose exact bytes the server seals with its Ed25519 key (server/domain/protocol_keys.py); the bytes and
the seal are stored as sealed, never re-serialised.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db.models.accounts import Organisation, User
from server.db.models.base import Base, Versioned, enum_column
from server.db.types import utcnow


class ProtocolKind(StrEnum):
    """Protocollo appalti · Protocollo di sito · Intesa per la buona occupazione · Altro."""

    procurement = "procurement"
    site = "site"
    employment = "employment"
    other = "other"


class ProtocolStatus(StrEnum):
    """Bozza → Aperto alla firma → In vigore → Scaduto / Sostituito (back to Bozza while nobody signed)."""

    draft = "draft"
    open = "open"
    in_force = "in_force"
    expired = "expired"
    superseded = "superseded"


class Protocol(Versioned, Base):
    """A protocol of a table, from its draft to its expiry."""

    __tablename__ = "protocols"
    __table_args__ = (UniqueConstraint("table_id", "client_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ProtocolKind] = mapped_column(enum_column(ProtocolKind, "protocol_kind"))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[ProtocolStatus] = mapped_column(
        enum_column(ProtocolStatus, "protocol_status"), default=ProtocolStatus.draft
    )
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    # Whether the parties sign in their `ProtocolParty.position` order.
    signing_order: Mapped[bool] = mapped_column(Boolean, default=False)
    # An addendum: the protocol this one supersedes when it enters into force.
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("protocols.id", ondelete="SET NULL"))
    client_key: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column()
    in_force_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()  # expired or superseded


class ProtocolVersion(Base):
    """One frozen text of a protocol: made when it opens for signature, kept when it goes back to draft."""

    __tablename__ = "protocol_versions"
    __table_args__ = (UniqueConstraint("protocol_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[bytes] = mapped_column(LargeBinary)  # the canonical text's exact bytes
    text_sha256: Mapped[str] = mapped_column(String(64))
    # [{"annex_id", "name", "sha256", "size"}] in the protocol's order, as frozen.
    annexes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Its PDF/A (the frozen text, its SHA-256 on the first page): made once, the first time it is
    # needed after the version is frozen, and never again — parties sign exactly these bytes with
    # their firma digitale.
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    # The protocol in force printed with its signature page and sealed by the institution (PAdES),
    # kept as sealed; `sealed_signatures` is how many signatures it shows (an adhesion makes it stale).
    sealed_pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    sealed_signatures: Mapped[int | None] = mapped_column(Integer)
    # The version signatures count for: False once the protocol went back to draft from it.
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProtocolAnnex(Base):
    """A PDF annexed to a protocol (changed only in draft; a removed one is kept for the versions)."""

    __tablename__ = "protocol_annexes"

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # as shown
    filename: Mapped[str] = mapped_column(String(200))  # as uploaded
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column()


class ProtocolParty(Base):
    """An organisation that signs a protocol: one of the table's, or external (no seat on the table)."""

    __tablename__ = "protocol_parties"
    __table_args__ = (UniqueConstraint("protocol_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"))
    # Its people reach this protocol only (its page, signing, its commitments), nothing else of the table.
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    signatory_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    substitute_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer, default=0)  # the signing order, when it applies
    # A party that joined a protocol already in force (adhesion).
    adhering: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="raise")
    signatory: Mapped[User | None] = relationship(foreign_keys=[signatory_id], lazy="raise")
    substitute: Mapped[User | None] = relationship(foreign_keys=[substitute_id], lazy="raise")


class SignatureKind(StrEnum):
    """Sealed by the server (advanced) or a firma digitale the party brought (qualified)."""

    advanced = "advanced"
    qualified = "qualified"


class Signature(Base):
    """A party's signature of a protocol's version: the statement's exact bytes and the server's seal."""

    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("version_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id", ondelete="CASCADE"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("protocol_parties.id", ondelete="CASCADE"))
    signer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    signer_role: Mapped[str] = mapped_column(String(20))  # "signatory" or "substitute"
    kind: Mapped[SignatureKind] = mapped_column(
        enum_column(SignatureKind, "signature_kind"), default=SignatureKind.advanced
    )
    statement: Mapped[bytes] = mapped_column(LargeBinary)  # the canonical JSON, exactly as sealed
    seal: Mapped[bytes] = mapped_column(LargeBinary)  # Ed25519 signature of `statement`
    key_id: Mapped[str] = mapped_column(String(64))  # the sealing key's RFC 7638 thumbprint
    # A qualified signature's file (PAdES PDF or CAdES .p7m), its name and what its check found.
    file: Mapped[bytes | None] = mapped_column(LargeBinary)
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_check: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(Base):
    """A public key the server sealed with: the current one and the retired ones (kept in the JWK set)."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)  # RFC 7638 thumbprint
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # the raw 32 bytes
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()


class Commitment(Base):
    """A clause of a protocol's version that a party commits to, and the action item that tracks it."""

    __tablename__ = "protocol_commitments"
    __table_args__ = (UniqueConstraint("version_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocols.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # its order in the text, from 1
    party_id: Mapped[int] = mapped_column(ForeignKey("protocol_parties.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    clause: Mapped[str] = mapped_column(Text, default="")  # the clause's Markdown, as frozen
    due_on: Mapped[date | None] = mapped_column(Date)
    # The action item made when the protocol entered into force (kept when it expires or is superseded).
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action_items.id", ondelete="SET NULL"), index=True)
