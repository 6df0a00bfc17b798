"""A protocol's annexes: PDF files with their SHA-256, added and removed while it is a draft.

A removed annex is kept (`removed_at`): a version frozen before names it by its hash. Opening for
signature freezes the names and hashes of the annexes not removed (server/domain/protocols.py).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import ProtocolAnnex, Table
from server.db.types import utcnow
from server.domain import audit
from server.domain.actions import Actor
from server.domain.errors import Invalid, NotFound
from server.domain.meetings import lock_table
from server.domain.protocol_text import text_sha256
from server.domain.protocols import ProtocolEvent, check_manager, get_protocol, payload, refuse_unless_draft
from server.i18n import _

__all__ = ["PDF_MAGIC", "UPLOAD_LIMIT", "add_annex", "annexes_of", "get_annex", "remove_annex"]

PDF_MAGIC = b"%PDF-"
UPLOAD_LIMIT = 20 * 1024 * 1024  # the default of TAVOLI_UPLOAD_MAX_BYTES
NAME_LIMIT = 200


async def annexes_of(session: AsyncSession, protocol_id: int, *, removed: bool = False) -> list[ProtocolAnnex]:
    """The protocol's annexes in the order they were added (with the removed ones if `removed`)."""
    query = select(ProtocolAnnex).where(ProtocolAnnex.protocol_id == protocol_id)
    if not removed:
        query = query.where(ProtocolAnnex.removed_at.is_(None))
    return list((await session.scalars(query.order_by(ProtocolAnnex.id))).all())


async def get_annex(session: AsyncSession, protocol_id: int, annex_id: int) -> ProtocolAnnex:
    """Annex `annex_id` of the protocol (a removed one too: a frozen version may name it)."""
    found = await session.scalar(
        select(ProtocolAnnex).where(ProtocolAnnex.id == annex_id, ProtocolAnnex.protocol_id == protocol_id)
    )
    if found is None:
        raise NotFound(_("This annex does not exist in this protocol."))
    return found


def _clean_name(name: str, filename: str) -> str:
    shown = " ".join(name.split())
    if not shown:
        base = filename.replace("\\", "/").rsplit("/", 1)[-1]
        shown = base[:-4] if base.lower().endswith(".pdf") else base
    return shown.strip()[:NAME_LIMIT]


async def add_annex(
    session: AsyncSession,
    table: Table,
    protocol_id: int,
    *,
    name: str,
    filename: str,
    data: bytes,
    actor: Actor,
    limit: int = UPLOAD_LIMIT,
) -> ProtocolAnnex:
    """Annex a PDF to a draft (chair or secretary): refused unless it starts as a PDF does
    (`%PDF-`) and is at most `limit` bytes; its SHA-256 is recorded. `name` is what is shown
    (the file's name when empty)."""
    check_manager(actor)
    errors: dict[str, str] = {}
    if not data:
        errors["file"] = _("Choose a PDF file to annex.")
    elif len(data) > limit:
        errors["file"] = _("The file is larger than {n} MiB.").format(n=limit // (1024 * 1024))
    elif not data.startswith(PDF_MAGIC):
        errors["file"] = _("Annexes are PDF files: this file is not a PDF.")
    shown = _clean_name(name, filename)
    if not shown and "file" not in errors:
        errors["name"] = _("Give the annex a name.")
    if errors:
        raise Invalid(errors)
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    refuse_unless_draft(protocol)
    annex = ProtocolAnnex(
        protocol_id=protocol.id,
        name=shown,
        filename=(filename.replace("\\", "/").rsplit("/", 1)[-1] or shown)[:NAME_LIMIT],
        data=data,
        sha256=text_sha256(data),
        size=len(data),
        uploaded_by=actor.user_id,
    )
    session.add(annex)
    await session.flush()
    await audit.record(
        session,
        ProtocolEvent.annex_added,
        actor_id=actor.user_id,
        table_id=table.id,
        annex_id=annex.id,
        annex=annex.name,
        sha256=annex.sha256,
        **payload(protocol),
    )
    return annex


async def remove_annex(session: AsyncSession, table: Table, protocol_id: int, annex_id: int, *, actor: Actor) -> None:
    """Remove an annex from a draft (chair or secretary); the row stays for the versions that name
    it. Removing a removed annex again is a no-op."""
    check_manager(actor)
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    annex = await get_annex(session, protocol.id, annex_id)
    if annex.removed_at is not None:
        return
    refuse_unless_draft(protocol)
    annex.removed_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        ProtocolEvent.annex_removed,
        actor_id=actor.user_id,
        table_id=table.id,
        annex_id=annex.id,
        annex=annex.name,
        **payload(protocol),
    )
