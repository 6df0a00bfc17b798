"""Clients of the collaborative documents, as the tests and `bench/convergence` play them.

A `Replica` is what a browser tab holds: a pycrdt `Doc` whose shared text is written in *tokens*
(`<a12>`: a letter for the client, a number unique in the run), each inserted whole at a boundary
between two tokens, so that the final text can be read back token by token and any duplicate,
loss or interleaving is seen. It speaks the y-protocols sync messages (as y-websocket does: its
own sync step 1 on connecting, step 2 in answer to the server's step 1, every local change as an
update message) and reads our message 100 (the server stored everything up to this state vector).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, Text, TransactionEvent, create_sync_message, create_update_message, write_var_uint

from server.domain.yencoding import Malformed, read_var_bytes, read_var_uint, read_vector

TEXT = "markdown"
SYNC, AWARENESS, SAVED = 0, 1, 100
STEP1, STEP2, UPDATE = 0, 1, 2
TOKEN = re.compile(r"<[a-z]+\d+>")


class Closed(AssertionError):
    """The socket closed while a client waited for something from the server."""


@dataclass(frozen=True)
class Frame:
    kind: int  # SYNC, AWARENESS, SAVED
    step: int | None  # the sync substep, for SYNC
    payload: bytes


def frame_of(message: bytes) -> Frame:
    kind, position = read_var_uint(message, 0)
    step = None
    if kind == SYNC:
        step, position = read_var_uint(message, position)
    payload, _ = read_var_bytes(message, position)
    return Frame(kind, step, payload)


def covers(vector: dict[int, int], other: dict[int, int]) -> bool:
    """Whether `vector` has everything `other` has."""
    return all(vector.get(client, 0) >= clock for client, clock in other.items())


def saved_message(vector: bytes) -> bytes:
    return write_var_uint(SAVED) + write_var_uint(len(vector)) + vector


def tokens_of(text: str) -> list[str]:
    """The tokens of `text`; anything else in it (a token cut in two, a stray character) fails."""
    found = TOKEN.findall(text)
    assert "".join(found) == text, f"the text is not made of whole tokens: {text!r}"
    return found


@dataclass
class Written:
    """A token a replica inserted: its client id and the clock just past its insert."""

    token: str
    client: int
    clock: int


@dataclass
class Replica:
    """One client's copy of the document and what it has to send."""

    name: str
    doc: Doc = field(default_factory=Doc)
    outbox: list[bytes] = field(default_factory=list)
    acks: list[dict[int, int]] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)
    steps2: int = 0  # how many sync step 2 messages came: the first ends the initial sync
    on_update: Callable[[bytes], None] | None = None

    def __post_init__(self) -> None:
        self.text = self.doc.get(TEXT, type=Text)
        self._remote = False
        self.doc.observe(self._changed)

    def _changed(self, event: TransactionEvent) -> None:
        if self._remote:  # an update from the server is not sent back (y-websocket's origin check)
            return
        message = create_update_message(event.update)
        self.outbox.append(message)
        if self.on_update is not None:
            self.on_update(message)

    @property
    def client(self) -> int:
        return int(self.doc.client_id)

    def vector(self) -> dict[int, int]:
        return read_vector(self.doc.get_state())

    def tokens(self) -> list[str]:
        return tokens_of(str(self.text))

    def hello(self) -> list[bytes]:
        """What y-websocket sends on opening a socket: its sync step 1."""
        return [create_sync_message(self.doc)]

    def insert(self, token: str, boundary: int) -> None:
        """Insert `token` at the `boundary`-th gap between tokens (modulo their number + 1)."""
        current = self.tokens()
        at = boundary % (len(current) + 1)
        offset = sum(len(t) for t in current[:at])
        self.text.insert(offset, token)
        self.written.append(Written(token, self.client, self.vector()[self.client]))

    def delete(self, which: int) -> str | None:
        """Delete the `which`-th token (modulo their number); the token, or None if there is none."""
        current = self.tokens()
        if not current:
            return None
        at = which % len(current)
        offset = sum(len(t) for t in current[:at])
        del self.text[offset : offset + len(current[at])]
        return current[at]

    def acknowledged(self) -> dict[int, int]:
        """The largest state vector the server said it stored (every vector it sent, merged)."""
        merged: dict[int, int] = {}
        for ack in self.acks:
            for client, clock in ack.items():
                merged[client] = max(merged.get(client, 0), clock)
        return merged

    def receive(self, message: bytes) -> list[bytes]:
        """Handle one message from the server; return the answers to send back."""
        frame = frame_of(message)
        if frame.kind == SYNC:
            if frame.step == STEP1:
                return [write_var_uint(SYNC) + write_var_uint(STEP2) + _sized(self.doc.get_update(frame.payload))]
            if frame.step in (STEP2, UPDATE):
                self.steps2 += frame.step == STEP2
                if frame.payload != b"\x00\x00":
                    self._remote = True
                    try:
                        self.doc.apply_update(frame.payload)
                    finally:
                        self._remote = False
                return []
            raise Malformed(f"unknown sync step {frame.step}")
        if frame.kind == AWARENESS:
            return []
        if frame.kind == SAVED:
            self.acks.append(read_vector(frame.payload))
            return []
        raise Malformed(f"unknown message type {frame.kind}")


def _sized(payload: bytes) -> bytes:
    return write_var_uint(len(payload)) + payload


def doc_vector(doc: Doc) -> dict[int, int]:
    return read_vector(doc.get_state())


def text_of(doc: Doc) -> str:
    return str(doc.get(TEXT, type=Text))


class SocketReplica:
    """A replica connected to a real server through a `websockets` connection (`?ack=1`).

    A reader task applies what the server sends and answers its sync step 1; every local change is
    sent at once. `saved(vector)` waits until the server says it stored at least `vector`;
    `synced(vector)` until this replica has at least `vector`.
    """

    def __init__(self, name: str, connection: Any) -> None:
        self.replica = Replica(name, on_update=self._send_soon)
        self.connection = connection
        self.changed = asyncio.Condition()
        self.sending: list[asyncio.Task[None]] = []
        self.reader: asyncio.Task[None] | None = None
        self.closed: int | None = None  # the close code
        self.gone = False  # the socket is closed (a dead server leaves no code: 1006)

    async def start(self) -> SocketReplica:
        self.replica.outbox.clear()
        for message in self.replica.hello():
            await self.connection.send(message)
        self.reader = asyncio.create_task(self._read())
        return self

    def _send_soon(self, message: bytes) -> None:
        self.replica.outbox.clear()
        self.sending.append(asyncio.ensure_future(self.connection.send(message)))

    async def flush(self) -> None:
        """Wait until every local change has been handed to the socket."""
        while self.sending:
            await self.sending.pop(0)

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self.connection:
                assert isinstance(message, bytes), f"a text frame on a document socket: {message!r}"
                for answer in self.replica.receive(message):
                    await self.connection.send(answer)
                async with self.changed:
                    self.changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed = self.connection.close_code
            self.gone = True
            async with self.changed:
                self.changed.notify_all()

    async def until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        async with asyncio.timeout(timeout), self.changed:
            while not ready():
                if self.gone:
                    raise Closed(f"{self.replica.name}: the socket closed ({self.closed}) before {what}")
                await self.changed.wait()

    async def saved(self, vector: dict[int, int] | None = None, timeout: float = 10) -> None:
        """Until the server said it stored `vector` (by default: every change made here)."""
        own = self.replica.client
        target = vector if vector is not None else {own: self.replica.vector().get(own, 0)}
        await self.until(lambda: covers(self.replica.acknowledged(), target), timeout, "the save")

    async def synced(self, vector: dict[int, int], timeout: float = 10) -> None:
        await self.until(lambda: covers(self.replica.vector(), vector), timeout, "the sync")

    async def first_sync(self, timeout: float = 10) -> None:
        """Until the server answered this connection's sync step 1."""
        await self.until(lambda: self.replica.steps2 > 0, timeout, "the first sync")

    async def has(self, needle: str, timeout: float = 10) -> None:
        await self.until(lambda: needle in str(self.replica.text), timeout, f"{needle!r} arrived")

    async def close(self) -> None:
        await self.connection.close()
        if self.reader is not None:
            await self.reader


async def draft_document(session: Any, table: Any, organisation_slug: str, author_id: int, body: str) -> int:
    """A new draft proposal of `organisation_slug` brought by `author_id`, and its document's id
    (made here, seeded from `body`, if the proposal did not make one)."""
    from server.db.models import DocumentKind, Role
    from server.domain import documents, proposals
    from server.domain.actions import Actor

    text = proposals.parse_text(title="Saldi in una data unica", summary="", body=body)
    proposal = await proposals.create_proposal(
        session, table, text, [organisation_slug], actor=Actor(author_id, Role.member)
    )
    document = await documents.find(session, DocumentKind.proposal_body, proposal.id)
    if document is None:
        document = await documents.create(
            session,
            table_id=table.id,
            kind=DocumentKind.proposal_body,
            record_id=proposal.id,
            text=body,
            user_id=author_id,
        )
    return int(document.id)


async def stored_text(database_url: str, document_id: int) -> tuple[str, dict[int, int]]:
    """The document's text and state vector as the database has them, read through a connection
    of its own."""
    from server.db.session import Database
    from server.domain import documents

    database = Database(database_url)
    try:
        async with database.read() as session:
            doc = await documents.load(session, document_id)
        return text_of(doc), doc_vector(doc)
    finally:
        await database.dispose()


@contextlib.contextmanager
def logs_on_failure(*servers: Any) -> Iterator[None]:
    """A failure (or a wait that timed out) inside says what the servers logged (their last lines)."""
    try:
        yield
    except (AssertionError, TimeoutError) as exc:
        logs = "\n".join(f"--- {s.url} ---\n{s.log.read_text(errors='replace')[-4000:]}" for s in servers)
        raise AssertionError(f"{exc!r}\n{logs}") from exc
