"""Collaborative documents: a text kept as the log of its Yjs updates (pycrdt on the server).

A document is never rebuilt from its plain text. It is created, and seeded from the text it
starts from, once (`create`: exactly one stored update); from then on it is always loaded from its
stored updates (`load`), and every change is one more stored update (`append`). The log is merged
into one snapshot row from time to time (`compact`), which deletes only the rows it read, since
another instance may be appending meanwhile. The server can always produce the current text
(`text_of`), to render it, snapshot a version, freeze it or search it.

The live side (server/live/documents.py) stores what the browsers send through these functions;
the no-JavaScript save applies the difference from the text it was based on (`apply_text`), never
"delete everything, insert the new text", which would wipe the edits made meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeAlias

import pycrdt
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Document, DocumentKind, DocumentUpdate
from server.db.types import utcnow
from server.domain.document_diff import Utf8Offsets, edits
from server.domain.document_diff import clean as clean  # the text as a document keeps it (used by the areas)
from server.domain.errors import DomainError, NotFound, Stale
from server.domain.yencoding import read_var_uint, read_vector
from server.i18n import _

# The shared text's name: `ydoc.getText('markdown')` in the browser, `doc.get(TEXT, type=Text)` here.
TEXT = "markdown"
# An update that changes nothing (no structs, no deletions): never stored.
EMPTY_UPDATE = b"\x00\x00"

YDoc: TypeAlias = pycrdt.Doc[Any]


class DocumentAccess(Enum):
    """What a person may do with a document: nothing (it is not there for them), read it, or edit it."""

    none = "none"
    read = "read"
    edit = "edit"


class NotCompacted(Exception):
    """The log was left as it was: its snapshot would not load back to what the rows load to (a
    log with holes, waiting for updates that have not arrived). A later compaction tries again."""


class DocumentTooLarge(DomainError):
    """The document would grow past its maximum size (TAVOLI_DOC_MAX_BYTES); nothing was stored."""


class DocumentFrozen(DomainError):
    """The document's text is frozen (a submitted proposal): it takes no more changes."""


@dataclass(frozen=True)
class StoredUpdate:
    """One row of a document's log, as the live rooms read it."""

    id: int
    data: bytes
    user_id: int | None


LOAD_BATCH = 500  # stored updates read and applied at a time when a document is opened


def new_doc() -> YDoc:
    """An empty document with its shared text."""
    doc: YDoc = pycrdt.Doc()
    doc.get(TEXT, type=pycrdt.Text)
    return doc


def text_in(doc: YDoc) -> str:
    """The current text of a loaded document."""
    return str(doc.get(TEXT, type=pycrdt.Text))


def apply_all(doc: YDoc, updates: Iterable[bytes]) -> None:
    """Apply stored updates to `doc`, in one transaction (their order does not matter to the result)."""
    with doc.transaction():
        for update in updates:
            if update != EMPTY_UPDATE:
                doc.apply_update(update)


def check_update(update: bytes) -> None:
    """Raise ValueError when `update` cannot be decoded as a Yjs (v1) update.

    It is applied to an empty document of its own, so that nothing the room serves is touched; an
    update whose dependencies that document lacks is kept pending there, which is not an error.
    """
    if not update:
        raise ValueError("empty update")
    pycrdt.Doc().apply_update(update)


# --- finding and creating ---------------------------------------------------------------------


async def create(
    session: AsyncSession, *, table_id: int, kind: DocumentKind, record_id: int, text: str, user_id: int | None
) -> Document:
    """Create the document of record `record_id`, seeded from `text` by exactly one stored update.

    This is the only place a document's content comes from a plain text; it is never done again.
    """
    document = Document(table_id=table_id, kind=kind, record_id=record_id)
    session.add(document)
    await session.flush()
    doc = new_doc()
    text = clean(text)
    if text:
        doc.get(TEXT, type=pycrdt.Text).insert(0, text)
    session.add(DocumentUpdate(document_id=document.id, data=doc.get_update(), user_id=user_id))
    await session.flush()
    return document


async def find(session: AsyncSession, kind: DocumentKind, record_id: int) -> Document | None:
    return await session.scalar(select(Document).where(Document.kind == kind, Document.record_id == record_id))


async def get(session: AsyncSession, document_id: int) -> Document | None:
    return await session.get(Document, document_id)


# --- reading ----------------------------------------------------------------------------------


async def stored(
    session: AsyncSession, document_id: int, *, after: int | None = None, ids: Collection[int] | None = None
) -> list[StoredUpdate]:
    """The document's stored updates in the order they were stored (those after row `after`, or
    those of the rows `ids` still there, only)."""
    query = select(DocumentUpdate.id, DocumentUpdate.data, DocumentUpdate.user_id).where(
        DocumentUpdate.document_id == document_id
    )
    if after is not None:
        query = query.where(DocumentUpdate.id > after)
    if ids is not None:
        query = query.where(DocumentUpdate.id.in_(list(ids)))
    rows = await session.execute(query.order_by(DocumentUpdate.id))
    return [StoredUpdate(row_id, bytes(data), user_id) for row_id, data, user_id in rows]


async def stored_update(session: AsyncSession, document_id: int, row_id: int) -> bytes | None:
    """One stored update of the document (None when it is gone, merged into a snapshot)."""
    data = await session.scalar(
        select(DocumentUpdate.data).where(DocumentUpdate.id == row_id, DocumentUpdate.document_id == document_id)
    )
    return bytes(data) if data is not None else None


async def stored_size(session: AsyncSession, document_id: int) -> int:
    """How many bytes the document's stored updates take (what TAVOLI_DOC_MAX_BYTES bounds)."""
    size = await session.scalar(
        select(func.coalesce(func.sum(func.length(DocumentUpdate.data)), 0)).where(
            DocumentUpdate.document_id == document_id
        )
    )
    return int(size or 0)


@dataclass
class Opened:
    """A document opened from its log: the document, how many rows and bytes the log holds, and
    those rows' updates when there were at most the `keep` asked for (else None)."""

    doc: YDoc
    rows: int = 0
    size: int = 0
    updates: list[bytes] | None = None


async def open_log(session: AsyncSession, document_id: int, *, keep: int = 0) -> Opened:
    """The document as its stored updates make it, read and applied a batch at a time: a long log
    is never all in memory at once (reading whole rows costs more than applying them)."""
    opened = Opened(new_doc())
    kept: list[bytes] = []
    query = select(DocumentUpdate.data).where(DocumentUpdate.document_id == document_id).order_by(DocumentUpdate.id)
    found = await session.stream_scalars(query.execution_options(yield_per=LOAD_BATCH))
    async for batch in found.partitions():
        apply_all(opened.doc, batch)
        opened.rows += len(batch)
        opened.size += sum(map(len, batch))
        if opened.rows <= keep:
            kept.extend(batch)
    opened.updates = kept if opened.rows <= keep else None
    return opened


async def load(session: AsyncSession, document_id: int) -> YDoc:
    """The document as its stored updates make it (never from a plain text)."""
    return (await open_log(session, document_id)).doc


async def text_of(session: AsyncSession, document_id: int) -> str:
    """The document's current text, from the store."""
    return text_in(await load(session, document_id))


# --- writing ----------------------------------------------------------------------------------


async def writable(session: AsyncSession, document_id: int) -> Document:
    """The document, locked for this transaction, if it still takes changes.

    The row lock (PostgreSQL; SQLite has one writer at a time anyway) orders an append after a
    `freeze` that committed first, so that nothing is stored after the text that was frozen.
    """
    document = await session.scalar(
        select(Document).where(Document.id == document_id).with_for_update().execution_options(populate_existing=True)
    )
    if document is None:
        raise NotFound(_("This document does not exist."))
    if document.frozen_at is not None:
        raise DocumentFrozen(_("This text is frozen: it can no longer be changed."))
    return document


async def append(
    session: AsyncSession, document_id: int, update: bytes, user_id: int | None, *, limit: int | None = None
) -> int:
    """Store one update; returns the new row's id.

    Raises DocumentTooLarge when the stored updates would pass `limit` bytes, DocumentFrozen when
    the text is frozen, ValueError when `update` is not a Yjs update; nothing is stored then.
    """
    return (await append_many(session, document_id, [(update, user_id)], limit=limit))[0]


async def append_many(
    session: AsyncSession,
    document_id: int,
    updates: Sequence[tuple[bytes, int | None]],
    *,
    limit: int | None = None,
    size: int | None = None,
    checked: bool = False,
) -> list[int]:
    """Store several updates in this transaction, in order; their new rows' ids.

    `size` is the stored size the caller already knows (the live room keeps it), else it is read;
    `checked` says that the caller already decoded every update (`check_update`).
    """
    await writable(session, document_id)
    for update, _user_id in updates if not checked else ():
        check_update(update)
    if limit is not None:
        current = size if size is not None else await stored_size(session, document_id)
        if current + sum(len(update) for update, _user_id in updates) > limit:
            raise DocumentTooLarge(
                _("The text has reached its maximum size ({size} kB): nothing more can be added.").format(
                    size=limit // 1024
                )
            )
    rows = [DocumentUpdate(document_id=document_id, data=update, user_id=user_id) for update, user_id in updates]
    session.add_all(rows)
    await session.flush()
    return [row.id for row in rows]


async def apply_text(
    session: AsyncSession, document_id: int, *, base: str, new: str, user_id: int | None, limit: int | None = None
) -> bytes | None:
    """The save without JavaScript: apply the difference `base` → `new` as deletes and inserts.

    Raises Stale (with the current text) when the document's text is no longer `base`: someone
    changed it meanwhile. Stores the change as one update and returns it (None when `new` is
    `base`); the caller relays it (`Rooms.publish(document_id, row_id)`) once committed.
    """
    await writable(session, document_id)
    base, new = clean(base), clean(new)
    doc = await load(session, document_id)
    text = doc.get(TEXT, type=pycrdt.Text)
    current = str(text)
    if current != base:
        raise Stale(_("Someone else changed this text in the meantime."), current)
    if new == base:
        return None
    before = doc.get_state()
    offsets = Utf8Offsets(base)
    with doc.transaction():
        # From the end, so that the offsets of the parts still to change stay those of `base`.
        for tag, i1, i2, j1, j2 in reversed(edits(base, new)):
            start = offsets.at(i1)
            if tag in ("replace", "delete"):
                del text[start : offsets.at(i2)]
            if tag in ("replace", "insert"):
                text.insert(start, new[j1:j2])
    update = doc.get_update(before)
    await append(session, document_id, update, user_id, limit=limit)
    return update


# --- compaction and freezing ------------------------------------------------------------------


async def compact(session: AsyncSession, document_id: int) -> None:
    """Merge the stored updates read now into one snapshot row; delete exactly the rows merged.

    The snapshot is the document those rows load to (`Doc.get_update()`), checked to load back to
    the same state and text. A row is merged only when the snapshot holds all of it: a row with
    structs or deletions the document could not integrate yet (their dependencies have not
    arrived: a client's earlier updates were lost on the way) stays as it is, so that they still
    apply when what they wait for comes. (`pycrdt.merge_updates` is not used: its merge of such a
    log loads to less than the rows did.) Rows another instance appends meanwhile are neither
    merged nor deleted: they stay beside the snapshot, and loading applies both (updates commute).
    """
    rows = await stored(session, document_id)
    if len(rows) <= 1:
        return
    doc = new_doc()
    apply_all(doc, (row.data for row in rows))
    state = doc.get_state()
    vector = read_vector(state)
    merged = [row.id for row in rows if _integrated(row.data, state, vector)]
    if len(merged) <= 1:
        return
    snapshot = doc.get_update()
    check = new_doc()
    check.apply_update(snapshot)
    # Never trade the log for less. State vectors are compared decoded: two documents holding the
    # same state may encode their vectors' entries in different orders.
    if read_vector(check.get_state()) != vector or text_in(check) != text_in(doc):
        raise NotCompacted(f"the snapshot of document {document_id} does not load to its log yet")
    session.add(DocumentUpdate(document_id=document_id, data=snapshot, user_id=None))
    await session.execute(
        delete(DocumentUpdate).where(DocumentUpdate.document_id == document_id, DocumentUpdate.id.in_(merged))
    )
    await session.flush()


def integrated(update: bytes, state: bytes) -> bool:
    """Whether a document at `state` holds everything of `update` (else part of it waits there for
    updates that have not arrived)."""
    return _integrated(update, state, read_vector(state))


def _integrated(update: bytes, state: bytes, vector: dict[int, int]) -> bool:
    """Whether a document at `state` holds everything of `update`: no struct of it is past the
    state (what is left of it once the state is taken away has none), and every deletion it
    carries is of something within the state."""
    rest = pycrdt.get_update(update, state)
    clients, position = read_var_uint(rest, 0)
    if clients:
        return False
    clients, position = read_var_uint(rest, position)
    for _client in range(clients):
        client, position = read_var_uint(rest, position)
        ranges, position = read_var_uint(rest, position)
        for _range in range(ranges):
            clock, position = read_var_uint(rest, position)
            length, position = read_var_uint(rest, position)
            if clock + length > vector.get(client, 0):
                return False
    return True


async def freeze(session: AsyncSession, document_id: int) -> str:
    """Freeze the document (read-only for everyone from now on); returns the text frozen, the stored one.

    The caller closes the document's sockets once committed (`Rooms.close_document`).
    """
    document = await session.scalar(
        select(Document).where(Document.id == document_id).with_for_update().execution_options(populate_existing=True)
    )
    if document is None:
        raise NotFound(_("This document does not exist."))
    if document.frozen_at is None:
        document.frozen_at = utcnow()
        await session.flush()
    return await text_of(session, document_id)
