"""The live side of the collaborative documents: a room per open document (docs/architecture.md,
"Collaborative documents").

A `Room` holds the document loaded from its stored updates (never from a plain text) and the
participants connected to it on this instance. It speaks y-protocols (message 0: sync, with
step 1, step 2 and update; message 1: awareness) and our message 100 ("saved": the document's
state vector, after the updates a participant sent are stored, to participants that asked with
`?ack=1`). The rules it keeps:

- Every update is appended to the database before it is applied, relayed to anyone or
  acknowledged. The room's document therefore only ever holds stored updates, and the state
  vector it acknowledges is a promise the store keeps. Updates are stored by one writer task per
  room, in order, several at once when they arrive together (one transaction); that task is
  never cancelled: a room that closes waits for it.
- A participant receives relayed updates only once its handshake is done: once its sync step 1
  has been answered (the answer holds everything stored until then). On joining it is sent the
  server's own sync step 1, so that what it typed offline comes back as its step 2 (both ways).
- A read-only participant receives the document and the awareness; its updates are dropped and
  logged. Awareness states are rewritten with the server's name of the person and their
  organisation's colour (`user`), and removed when their socket goes.
- Other instances hear of a stored update by reference (`wire.DocumentUpdated`: its row id) and
  read it from the database; awareness travels inline when it is small enough for PostgreSQL's
  NOTIFY, else not at all. A lost relay is healed by the sync steps (every reconnect) and by
  `resync` (after a broker outage).
- After storing, the area that owns the document is told the new text (`DocumentBinding.changed`)
  at most once a second; the log is compacted every `compact_rows` stored updates, every
  `compact_seconds`, and when the room empties; a room that closes first finishes its writes.

`Rooms` keeps the open rooms of an instance: `await rooms.room(document_id)` loads (once) and
returns one; `join`, `receive` and `leave` drive it for a participant (any object with `send`,
`close` and the attributes of `Participant`), so that tests can drive the real handler and store
with participants in memory; `await rooms.close()` flushes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.db.models import Document, DocumentKind
from server.db.session import Database
from server.domain import documents
from server.domain.documents import EMPTY_UPDATE, DocumentFrozen, YDoc
from server.domain.errors import NotFound
from server.live import wire
from server.live.brokers import NOTIFY_LIMIT, Broker, MemoryBroker
from server.live.document_socket import DocumentSocket
from server.live.yprotocol import (
    AWARENESS,
    FROZEN,
    INTERNAL,
    INVALID,
    NOT_FOUND,
    QUERY_AWARENESS,
    RESTART,
    STEP1,
    STEP2,
    SYNC,
    TOO_BIG,
    UNSUPPORTED,
    UPDATE,
    Malformed,
    Unsupported,
    awareness_message,
    encode_awareness,
    read_awareness,
    read_var_bytes,
    read_var_uint,
    read_vector,
    saved_message,
    sync_message,
)
from server.views.areas import CATALOG

__all__ = ["COLOURS", "FROZEN", "RESTART", "DocumentSocket", "Participant", "Room", "Rooms"]

log = logging.getLogger(__name__)


DEFAULT_MAX_BYTES = 4 * 1024 * 1024
CHANGED_INTERVAL = 1.0  # seconds between two calls of the binding's `changed`, at most one a second
COMPACT_ROWS = 500  # stored updates after which the writer compacts the log
COMPACT_SECONDS = 60.0  # how often open rooms with new rows compact their log
AWARENESS_STATE_LIMIT = 8_192  # bytes of one awareness state (a cursor, a name): larger ones are dropped
AWARENESS_CLIENTS = 8  # awareness client ids one participant may speak for
AWARENESS_TIMEOUT = 30.0  # seconds: an awareness state of another instance not renewed is forgotten
PENDING_CHECK_ROWS = 2_000  # a log loaded with up to this many rows is checked for updates still waiting
COLOURS = 8  # the palette of the island (static/src/editor/remote.js): colour indexes 0-7


class Participant(Protocol):
    """One client of a room: a socket (`DocumentSocket`) or, in tests, an object in memory.

    `send` must not wait for a slow client (queue it); `close` asks for the socket to be closed
    with `code` and returns at once.
    """

    @property
    def user_id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def colour(self) -> int: ...
    @property
    def may_edit(self) -> bool: ...
    @property
    def wants_ack(self) -> bool: ...

    async def send(self, message: bytes) -> None: ...

    def close(self, code: int) -> None: ...


# --- a room -----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Peer:
    participant: Participant
    ready: bool = False  # its sync step 1 was answered: relays go to it from then on
    clients: set[int] = field(default_factory=set)  # the awareness client ids it speaks for


@dataclass(eq=False)
class _Aware:
    clock: int
    state: str  # JSON text, "null" once removed
    owner: _Peer | None  # None: a participant of another instance
    seen: float


@dataclass(eq=False)
class _Write:
    peer: _Peer
    update: bytes
    done: asyncio.Future[None]


class Room:
    """One open document on this instance, and its participants here."""

    def __init__(self, rooms: Rooms, document: Document, doc: YDoc, size: int) -> None:
        self.rooms = rooms
        self.document_id = document.id
        self.table_id = document.table_id
        self.kind = DocumentKind(document.kind)
        self.frozen = document.frozen_at is not None
        self.doc = doc
        self.size = size  # bytes of the stored log, as far as this room knows
        self.closing = False
        self.dropped = 0  # updates dropped (read-only participants, a frozen text): tests read it
        self.stored = 0  # updates this room stored
        self.changes = 0  # calls of the binding's `changed`: tests read it
        self._peers: dict[int, _Peer] = {}
        self._awareness: dict[int, _Aware] = {}
        self._lock = asyncio.Lock()  # orders changes of `doc` with the sends that follow them
        self._queue: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None
        self._compact_wanted = False
        self._since_compaction = 0
        self._editors: set[int] = set()
        self._changed_timer: asyncio.TimerHandle | None = None
        self._changed_task: asyncio.Task[None] | None = None
        self._last_changed = -math.inf
        self._wanted_rows: set[int] = set()
        self._fetcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # participants being forgotten
        # Stored updates that `doc` could not integrate yet (what they build on has not arrived):
        # a state vector does not show them, so they are sent on as they are.
        self._pending: list[bytes] = []

    @property
    def participants(self) -> list[Participant]:
        return [peer.participant for peer in self._peers.values()]

    # --- participants -------------------------------------------------------------------------

    async def join(self, participant: Participant) -> None:
        """Let a participant in: the server's sync step 1, the awareness of everyone here, and
        (with ?ack=1) what is stored. Its own sync step 1 is answered when it comes (`receive`)."""
        if self.closing:
            participant.close(RESTART)
            return
        peer = _Peer(participant)
        self._peers[id(participant)] = peer  # before any wait: the room cannot close under it
        async with self._lock:
            state = self.doc.get_state()
            await self._send(peer, sync_message(STEP1, state))
            present = self._present()
            if present:
                await self._send(peer, awareness_message(encode_awareness(present)))
            if participant.wants_ack:
                await self._send(peer, saved_message(state))

    async def leave(self, participant: Participant) -> None:
        """The participant's socket is gone: its awareness states go with it."""
        peer = self._peers.pop(id(participant), None)
        if peer is not None:
            await self._forget(peer)

    async def receive(self, participant: Participant, message: bytes) -> None:
        """Handle one message of a participant; a bad one closes it (nothing of it is stored)."""
        peer = self._peers.get(id(participant))
        if peer is None:
            return
        if len(message) > self.rooms.max_bytes:
            await self._refuse(peer, TOO_BIG, "a message of %d bytes", len(message))
            return
        try:
            kind, position = read_var_uint(message, 0)
            if kind == SYNC:
                step, position = read_var_uint(message, position)
                payload, _ = read_var_bytes(message, position)
                if step == STEP1:
                    await self._answer(peer, payload)
                elif step in (STEP2, UPDATE):
                    await self._update(peer, payload)
                else:
                    raise Unsupported(f"sync step {step}")
            elif kind == AWARENESS:
                payload, _ = read_var_bytes(message, position)
                await self._awareness_from(peer, payload)
            elif kind == QUERY_AWARENESS:
                present = self._present()
                if present:
                    await self._send(peer, awareness_message(encode_awareness(present)))
            else:
                raise Unsupported(f"message type {kind}")
        except Malformed as exc:
            await self._refuse(peer, INVALID, "a malformed message (%s)", exc)
        except Unsupported as exc:
            await self._refuse(peer, UNSUPPORTED, "an unsupported message (%s)", exc)

    async def _answer(self, peer: _Peer, vector: bytes) -> None:
        """Sync step 1 → step 2 with what the client lacks; from now on it is sent every update."""
        try:
            read_vector(vector)
            async with self._lock:
                answer = self.doc.get_update(vector)
                peer.ready = True
                await self._send(peer, sync_message(STEP2, answer))
                for waiting in self._pending:
                    await self._send(peer, sync_message(UPDATE, waiting))
        except ValueError as exc:
            raise Malformed(str(exc)) from None

    async def _update(self, peer: _Peer, update: bytes) -> None:
        """Store a client's update (step 2 or update); once stored, apply, relay and acknowledge it."""
        participant = peer.participant
        if update == EMPTY_UPDATE:  # nothing to store (a step 2 from a client that has nothing new)
            if participant.wants_ack:
                await self._send(peer, saved_message(self.doc.get_state()))
            return
        if not participant.may_edit or self.frozen:
            self.dropped += 1
            log.info(
                "dropped an update of %d bytes from user %s on read-only document %s",
                len(update),
                participant.user_id,
                self.document_id,
            )
            return
        try:
            documents.check_update(update)
        except ValueError as exc:
            raise Malformed(str(exc)) from None
        if self.size + len(update) > self.rooms.max_bytes:
            await self._enqueue_compaction()  # the log may hold much that a snapshot drops
            if self.size + len(update) > self.rooms.max_bytes:
                await self._refuse(peer, TOO_BIG, "an update of %d bytes past the document's size", len(update))
                return
        write = _Write(peer, update, asyncio.get_running_loop().create_future())
        self._queue.append(write)
        self._start_writer()
        await write.done

    # --- storing ------------------------------------------------------------------------------

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all(), name=f"document-{self.document_id}-writer")

    async def _enqueue_compaction(self) -> None:
        self._compact_wanted = True
        self._start_writer()
        await self.flushed()

    async def flushed(self) -> None:
        """Wait until everything queued is stored (and any compaction asked for is done)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write_all(self) -> None:
        try:
            while self._queue or self._compact_wanted:
                batch, self._queue = self._queue, []
                try:
                    if batch:
                        await self._store(batch)
                    if self._compact_wanted or self._since_compaction >= self.rooms.compact_rows:
                        self._compact_wanted = False
                        await self._compact()
                except Exception:  # the next writes must still be served
                    log.exception("the writer of document %s failed", self.document_id)
                finally:
                    _finish(batch)  # nobody waits forever for a write
        finally:
            self._writer = None

    async def _store(self, batch: list[_Write]) -> None:
        rooms = self.rooms
        try:
            async with rooms.database.transaction() as session:
                rows = await documents.append_many(
                    session,
                    self.document_id,
                    [(w.update, w.peer.participant.user_id) for w in batch],
                    checked=True,  # each was decoded as it came in
                )
        except DocumentFrozen:
            self.frozen = True
            self.dropped += len(batch)
            for peer in list(self._peers.values()):
                self._close(peer, FROZEN)
            _finish(batch)
            return
        except Exception:  # the store failed: nothing is acknowledged; the clients send it again
            log.exception("could not store %d updates of document %s", len(batch), self.document_id)
            for write in batch:
                self._close(write.peer, INTERNAL)
            _finish(batch)
            return
        self.stored += len(batch)
        self._since_compaction += len(batch)
        self.size += sum(len(w.update) for w in batch)
        async with self._lock:
            documents.apply_all(self.doc, (w.update for w in batch))
            self._waiting([w.update for w in batch])
            for write in batch:
                await self._relay(sync_message(UPDATE, write.update), but=write.peer)
            await self._acknowledge()
        _finish(batch)
        for row_id in rows:
            await rooms.tell(wire.DocumentUpdated(self.document_id, row_id, rooms.instance))
        self._editors.update(w.peer.participant.user_id for w in batch if w.peer.participant.user_id is not None)
        self._schedule_changed()

    async def _compact(self) -> None:
        try:
            async with self.rooms.database.transaction() as session:
                await documents.compact(session, self.document_id)
                self.size = await documents.stored_size(session, self.document_id)
            self._since_compaction = 0
        except documents.NotCompacted as reason:  # expected while a client's lost updates are missing
            log.info("%s", reason)
        except Exception:  # the log stays as it was: a later compaction tries again
            log.exception("could not compact document %s", self.document_id)

    async def _acknowledge(self) -> None:
        state: bytes | None = None
        for peer in list(self._peers.values()):
            if peer.participant.wants_ack:
                state = state or saved_message(self.doc.get_state())
                await self._send(peer, state)

    async def _relay(self, message: bytes, *, but: _Peer | None = None) -> None:
        for peer in list(self._peers.values()):
            if peer.ready and peer is not but:
                await self._send(peer, message)

    # --- updates stored elsewhere ------------------------------------------------------------

    def fetch(self, row_id: int) -> None:
        """Row `row_id` of the log was stored elsewhere (another instance, the no-JavaScript save):
        read it and send it on. Rows asked for together are read in one query."""
        self._wanted_rows.add(row_id)
        if self._fetcher is None:
            self._fetcher = asyncio.create_task(self._fetch_all(), name=f"document-{self.document_id}-fetcher")

    async def _fetch_all(self) -> None:
        try:
            while self._wanted_rows:
                wanted, self._wanted_rows = self._wanted_rows, set()
                try:
                    await self._fetch(wanted)
                except Exception:
                    log.exception("could not read the updates of document %s", self.document_id)
        finally:
            self._fetcher = None

    async def _fetch(self, wanted: set[int]) -> None:
        async with self.rooms.database.read() as session:
            found = await documents.stored(session, self.document_id, ids=wanted)
            missing = len(found) < len(wanted)
            every = await documents.stored(session, self.document_id) if missing else []
        updates = [row.data for row in found]
        self.size += sum(len(data) for data in updates)
        if missing:  # merged into a snapshot meanwhile: read the whole log again
            await self.reload(every)
            return
        async with self._lock:
            documents.apply_all(self.doc, updates)
            self._waiting(updates)
            for data in updates:
                await self._relay(sync_message(UPDATE, data))
            await self._acknowledge()

    async def reload(self, rows: list[documents.StoredUpdate] | None = None) -> None:
        """Apply the whole stored log again (after a missed relay) and send on what was new."""
        if rows is None:
            async with self.rooms.database.read() as session:
                rows = await documents.stored(session, self.document_id)
        self.size = sum(len(row.data) for row in rows)
        async with self._lock:
            before = self.doc.get_state()
            documents.apply_all(self.doc, (row.data for row in rows))
            self._pending = []
            self._waiting([row.data for row in rows])
            await self._relay(sync_message(UPDATE, self.doc.get_update(before)))
            for waiting in self._pending:
                await self._relay(sync_message(UPDATE, waiting))
            await self._acknowledge()

    def _waiting(self, applied: list[bytes]) -> None:
        """Keep the updates just applied that `doc` could not integrate, and forget those that it
        now could."""
        state = self.doc.get_state()
        self._pending = [update for update in (*self._pending, *applied) if not _holds(state, update)]

    # --- awareness ----------------------------------------------------------------------------

    def _present(self) -> list[tuple[int, int, str]]:
        now = asyncio.get_running_loop().time()
        return [
            (client, aware.clock, aware.state)
            for client, aware in self._awareness.items()
            if aware.state != "null" and (aware.owner is not None or now - aware.seen < AWARENESS_TIMEOUT)
        ]

    async def _awareness_from(self, peer: _Peer, update: bytes) -> None:
        """A participant's awareness: its `user` replaced by the server's, then sent to everyone."""
        participant = peer.participant
        now = asyncio.get_running_loop().time()
        accepted: list[tuple[int, int, str]] = []
        for client, clock, raw in read_awareness(update):
            known = self._awareness.get(client)
            if known is not None and known.owner is not None and known.owner is not peer:
                continue  # another participant's client id
            if known is not None and clock < known.clock:
                continue  # an older state
            if client not in peer.clients and len(peer.clients) >= AWARENESS_CLIENTS:
                continue
            try:
                state = json.loads(raw) if raw else None
            except ValueError:
                raise Malformed("an awareness state that is not JSON") from None
            if state is None:
                if known is not None and known.owner is peer:
                    known.clock, known.state = clock, "null"
                    accepted.append((client, clock, "null"))
                continue
            if not isinstance(state, dict):
                raise Malformed("an awareness state that is not an object")
            state["user"] = {"name": participant.name, "colour": participant.colour % COLOURS}
            text = json.dumps(state, separators=(",", ":"), ensure_ascii=False)
            if len(text.encode()) > AWARENESS_STATE_LIMIT:
                log.info("dropped an awareness state of %d bytes on document %s", len(text), self.document_id)
                continue
            peer.clients.add(client)
            self._awareness[client] = _Aware(clock, text, peer, now)
            accepted.append((client, clock, text))
        if accepted:
            await self._spread_awareness(accepted)

    async def _spread_awareness(self, entries: list[tuple[int, int, str]], *, local_only: bool = False) -> None:
        update = encode_awareness(entries)
        message = awareness_message(update)
        for peer in list(self._peers.values()):
            await self._send(peer, message)
        if not local_only:
            await self.rooms.tell_awareness(self.document_id, update)

    async def awareness_elsewhere(self, update: bytes) -> None:
        """Awareness from another instance's participants (already rewritten by their room)."""
        now = asyncio.get_running_loop().time()
        accepted = []
        for client, clock, raw in read_awareness(update):
            known = self._awareness.get(client)
            if known is not None and known.owner is not None:
                continue  # a participant here speaks for that id
            if known is not None and (clock < known.clock or (clock == known.clock and raw != "null")):
                continue
            self._awareness[client] = _Aware(clock, raw, None, now)
            accepted.append((client, clock, raw))
        if accepted:
            await self._spread_awareness(accepted, local_only=True)

    async def _forget(self, peer: _Peer) -> None:
        """A participant left: remove its awareness states everywhere; an empty room closes."""
        removed = []
        for client in peer.clients:
            known = self._awareness.get(client)
            if known is not None and known.owner is peer:
                del self._awareness[client]
                if known.state != "null":
                    removed.append((client, known.clock + 1, "null"))
        if removed:
            try:
                await self._spread_awareness(removed)
            except Exception:
                log.exception("could not tell that a participant left document %s", self.document_id)
        if not self._peers:
            self.rooms.retire(self)

    # --- sending and closing ------------------------------------------------------------------

    async def _send(self, peer: _Peer, message: bytes) -> None:
        try:
            await peer.participant.send(message)
        except Exception:  # a socket that failed is closed by its own side
            log.debug("could not send to a participant of document %s", self.document_id, exc_info=True)

    def _close(self, peer: _Peer, code: int) -> None:
        """Close a participant: it leaves the room at once (its socket's `leave` finds it gone)."""
        peer.participant.close(code)
        if self._peers.get(id(peer.participant)) is peer:
            del self._peers[id(peer.participant)]
            task = asyncio.get_running_loop().create_task(self._forget(peer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _refuse(self, peer: _Peer, code: int, what: str, *args: Any) -> None:
        log.info(
            "closed a socket of user %s on document %s with %d: " + what,
            peer.participant.user_id,
            self.document_id,
            code,
            *args,
        )
        self._close(peer, code)

    def close_all(self, code: int) -> None:
        if code == FROZEN:
            self.frozen = True
        for peer in list(self._peers.values()):
            self._close(peer, code)

    # --- the area's rendering -----------------------------------------------------------------

    def _schedule_changed(self) -> None:
        if self._changed_timer is not None or self._changed_task is not None or self.closing:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_changed + self.rooms.changed_interval - loop.time())
        self._changed_timer = loop.call_later(delay, self._start_changed)

    def _start_changed(self) -> None:
        self._changed_timer = None
        self._changed_task = asyncio.get_running_loop().create_task(
            self._run_changed(), name=f"document-{self.document_id}-changed"
        )

    async def _run_changed(self) -> None:
        try:
            await self._call_changed()
        finally:
            self._changed_task = None
            if self._editors:
                self._schedule_changed()

    async def _call_changed(self) -> None:
        binding = CATALOG.documents.get(self.kind)
        editors, self._editors = frozenset(self._editors), set()
        self._last_changed = asyncio.get_running_loop().time()
        if binding is None or binding.changed is None or not editors:
            return
        text = documents.text_in(self.doc)
        try:
            async with self.rooms.database.transaction() as session:
                document = await session.get(Document, self.document_id)
                if document is not None:
                    await binding.changed(session, document, text, editors)
            self.changes += 1
        except Exception:
            log.exception("the area could not take the new text of document %s", self.document_id)

    async def _flush_changed(self) -> None:
        if self._changed_timer is not None:
            self._changed_timer.cancel()
            self._changed_timer = None
            self._start_changed()
        while self._changed_task is not None:
            await asyncio.shield(self._changed_task)

    # --- closing ------------------------------------------------------------------------------

    async def shut(self) -> None:
        """Stop taking messages, finish the writes, tell the area the last text, compact the log."""
        self.closing = True
        await self.flushed()
        if self._fetcher is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._fetcher)
        await self._flush_changed()
        await self._compact()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _holds(state: bytes, update: bytes) -> bool:
    try:
        return documents.integrated(update, state)
    except ValueError:  # it was applied, so it decodes; were it ever not to, it is not kept
        log.exception("could not compare an update with the document's state")
        return True


def _finish(batch: list[_Write]) -> None:
    for write in batch:
        if not write.done.done():
            write.done.set_result(None)


# --- the rooms of an instance -----------------------------------------------------------------


class LiveSocket(Protocol):
    """What the hub needs of a document socket to close it (logout, expiry, a role lost)."""

    @property
    def session_id(self) -> str: ...
    @property
    def table_id(self) -> int: ...
    @property
    def user_id(self) -> int: ...

    def close(self, code: int) -> None: ...


class Rooms:
    """The open document rooms of this instance (kept on `app.state.documents`)."""

    def __init__(
        self,
        database: Database,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        broker: Broker | None = None,
        instance: str | None = None,
        changed_interval: float = CHANGED_INTERVAL,
        compact_rows: int = COMPACT_ROWS,
        compact_seconds: float = COMPACT_SECONDS,
    ) -> None:
        self.database = database
        self.max_bytes = max_bytes
        self.broker = broker
        self.instance = instance or uuid.uuid4().hex[:12]
        self.changed_interval = changed_interval
        self.compact_rows = compact_rows
        self.compact_seconds = compact_seconds
        self._open: dict[int, Room] = {}
        self._loading: dict[int, asyncio.Future[Room]] = {}
        self._closing: dict[int, asyncio.Task[None]] = {}
        self._sockets: set[DocumentSocket] = set()
        self._compactor: asyncio.Task[None] | None = None
        self.closed = False

    # --- rooms --------------------------------------------------------------------------------

    def opened(self, document_id: int) -> Room | None:
        """The document's room if it is open on this instance."""
        return self._open.get(document_id)

    async def room(self, document_id: int) -> Room:
        """The document's room, loaded from the store the first time (raises NotFound)."""
        found = self._open.get(document_id)
        if found is not None:
            return found
        loading = self._loading.get(document_id)
        if loading is not None:
            return await asyncio.shield(loading)
        if self.closed:
            raise RuntimeError("the rooms are closed")
        future: asyncio.Future[Room] = asyncio.get_running_loop().create_future()
        self._loading[document_id] = future
        try:
            room = await self._load(document_id)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._loading[document_id]
        self._open[document_id] = room
        future.set_result(room)
        if self._compactor is None:
            self._compactor = asyncio.create_task(self._compact_periodically(), name="document-compactor")
        return room

    async def _load(self, document_id: int) -> Room:
        closing = self._closing.get(document_id)
        if closing is not None:  # its last writes must be in the store before it is read again
            await asyncio.shield(closing)
        async with self.database.read() as session:
            document = await documents.get(session, document_id)
            if document is None:
                raise NotFound(f"no document {document_id}")
            opened = await documents.open_log(session, document_id, keep=PENDING_CHECK_ROWS)
        room = Room(self, document, opened.doc, opened.size)
        if opened.updates is not None:
            room._waiting(opened.updates)
        return room

    def retire(self, room: Room) -> None:
        """An empty room closes: its writes finish, the log is compacted, then it is forgotten."""
        if self._open.get(room.document_id) is not room or room.closing:
            return
        del self._open[room.document_id]
        room.closing = True
        task = asyncio.get_running_loop().create_task(self._shut(room), name=f"document-{room.document_id}-close")
        self._closing[room.document_id] = task

    async def _shut(self, room: Room) -> None:
        try:
            await room.shut()
        except Exception:
            log.exception("could not close the room of document %s cleanly", room.document_id)
        finally:
            if self._closing.get(room.document_id) is asyncio.current_task():
                del self._closing[room.document_id]

    async def _compact_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.compact_seconds)
            for room in list(self._open.values()):
                if room._since_compaction and not room.closing:
                    try:
                        await room._enqueue_compaction()
                    except Exception:
                        log.exception("could not compact document %s", room.document_id)

    # --- relays -------------------------------------------------------------------------------

    async def tell(self, note: wire.DocumentNote) -> None:
        """Say something to every instance's rooms (this one's included)."""
        if self.broker is None or isinstance(self.broker, MemoryBroker):
            await self.received(note)  # no other instance: no need to encode it for the broker
            return
        try:
            await self.broker.publish(wire.encode(note))
        except Exception:  # the other instances heal at their next sync (every reconnect, or resync)
            log.exception("could not relay a note about document %s", note.document_id)

    async def tell_awareness(self, document_id: int, update: bytes) -> None:
        """Tell the other instances' rooms an awareness update, if it is small enough to travel
        inline (a PostgreSQL NOTIFY payload stays under 8,000 bytes); a larger one is not sent."""
        if self.broker is None or isinstance(self.broker, MemoryBroker):
            return  # no other instance
        message = wire.encode(wire.DocumentAwareness(document_id, self.instance, update))
        if len(message) >= NOTIFY_LIMIT:
            log.debug("awareness of document %s too large to relay", document_id)
            return
        try:
            await self.broker.publish(message)
        except Exception:
            log.exception("could not relay the awareness of document %s", document_id)

    async def publish(self, document_id: int, update_id: int) -> None:
        """Relay an update stored outside a socket (the no-JavaScript save) to every instance's room."""
        await self.tell(wire.DocumentUpdated(document_id, update_id, ""))

    async def close_document(self, document_id: int, code: int = FROZEN) -> None:
        """Close every socket of a document on every instance (after it was frozen: 4409)."""
        room = self._open.get(document_id)
        if room is not None:
            room.close_all(code)
        await self.tell(wire.DocumentClosed(document_id, code))

    async def received(self, note: wire.DocumentNote) -> None:
        """A note from the broker (the hub hands them over)."""
        room = self._open.get(note.document_id)
        if isinstance(note, wire.DocumentClosed):
            if room is not None:
                room.close_all(note.code)
            for socket in list(self._sockets):  # a socket between its handshake and its room
                if socket.document_id == note.document_id:
                    socket.close(note.code)
            return
        if room is None or room.closing:
            return
        if isinstance(note, wire.DocumentUpdated):
            if note.instance != self.instance:
                room.fetch(note.update_id)
        elif note.instance != self.instance:
            try:
                await room.awareness_elsewhere(note.data)
            except Malformed:
                log.warning("malformed awareness from instance %s", note.instance)

    async def resync(self) -> None:
        """After a broker outage: every open room reads its whole log again."""
        for room in list(self._open.values()):
            try:
                await room.reload()
            except Exception:
                log.exception("could not reload document %s", room.document_id)

    # --- sockets ------------------------------------------------------------------------------

    def sockets(self) -> list[DocumentSocket]:
        return list(self._sockets)

    def sockets_of(self, session_id: str) -> int:
        return sum(1 for socket in self._sockets if socket.session_id == session_id)

    async def serve(self, socket: DocumentSocket) -> None:
        """Run a document socket whose handshake was accepted: join its room, take its messages,
        leave. Registered first, so that a logout or a freeze meanwhile closes it too."""
        self._sockets.add(socket)
        try:
            if self.closed:
                socket.close(RESTART)
            else:
                try:
                    room = await self.room(socket.document_id)
                except NotFound:  # deleted since the handshake
                    socket.close(NOT_FOUND)
                else:
                    await socket.serve(room)
        finally:
            self._sockets.discard(socket)
            await socket.finish()

    # --- closing ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every socket (1012: they reconnect, here or elsewhere), finish every write, and
        compact; nothing in flight is cancelled."""
        self.closed = True
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
        for socket in list(self._sockets):
            socket.close(RESTART)
        for room in list(self._open.values()):
            room.close_all(RESTART)
            self.retire(room)
        while self._closing:
            await asyncio.gather(*self._closing.values(), return_exceptions=True)
