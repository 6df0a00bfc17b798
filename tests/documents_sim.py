"""A world of clients around one document's room: the real room handler, the real store, and a
network that loses, repeats and reorders messages. Driven by the convergence property test
(Hypothesis) and by `bench/convergence` (a seeded random driver).

Each client is a `Replica` (tests/documents_support.py) joined to the room through an in-memory
participant; between them, two queues per client (up: client → server, down: server → client)
hold the messages in flight, and the driver decides which is delivered next, dropped or repeated.
A client that disconnects loses what was in flight; while it is away its edits stay in its own
document (as y-websocket's do), and the sync steps of its next connection carry them. A restart
closes the `Rooms` and builds new ones on the same database.
"""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc

from tests.documents_support import Replica, covers, doc_vector, draft_document, text_of, tokens_of

RoomsFactory = Callable[[], Awaitable[Any]]


class Divergence(AssertionError):
    """The replicas, the server or the store disagree, or something acknowledged was lost."""


@dataclass
class Participant:
    """The room's view of one client's socket, in memory (the handler API's participant)."""

    link: Link
    user_id: int
    name: str
    colour: int = 0
    may_edit: bool = True
    wants_ack: bool = True
    closed_with: int | None = None

    async def send(self, message: bytes) -> None:
        if self.link.participant is self:  # a message to a socket already gone is lost
            self.link.down.append(message)

    def close(self, code: int) -> None:
        self.closed_with = code
        if self.link.participant is self:
            self.link.participant = None
            self.link.up.clear()
            self.link.down.clear()


@dataclass
class Link:
    replica: Replica
    user_id: int
    participant: Participant | None = None
    up: list[bytes] = field(default_factory=list)
    down: list[bytes] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return self.participant is not None

    def collect(self) -> None:
        """Put the replica's new local updates on the wire (lost when there is no socket)."""
        if self.connected:
            self.up.extend(self.replica.outbox)
        self.replica.outbox.clear()


# The operations a driver picks from, and how often each is picked (out of their sum): typing and
# delivering dominate, as they would; faults and restarts are rarer. bench/convergence draws them
# with these weights; the property test's rule draws from `OPERATIONS`, where each comes as many
# times as its weight.
WEIGHTS = {
    "insert": 20,
    "delete": 8,
    "deliver_up": 20,
    "deliver_down": 20,
    "deliver_every": 6,
    "drop": 4,
    "repeat": 4,
    "disconnect": 3,
    "connect": 6,
    "restart": 1,
}
OPERATIONS = [name for name, weight in WEIGHTS.items() for _ in range(weight)]


class World:
    """Clients, their links and the server's rooms for one document."""

    def __init__(self, make_rooms: RoomsFactory, document_id: int, user_ids: list[int], load: LoadDoc) -> None:
        self.make_rooms = make_rooms
        self.document_id = document_id
        self.load = load
        self.links = [
            Link(Replica(string.ascii_lowercase[n], Doc(client_id=n + 1)), user_id)
            for n, user_id in enumerate(user_ids)
        ]
        self.rooms: Any = None
        self.last_room: Any = None
        self.inserted: list[str] = []
        self.deleted: set[str] = set()
        self.counter = 0
        self.restarts = 0

    # -- the server -----------------------------------------------------------------------------

    async def start(self) -> None:
        self.rooms = await self.make_rooms()

    async def room(self) -> Any:
        """The document's room; one loaded anew from the store (after a restart, or after its
        last client left and it closed) must hold every update the server acknowledged."""
        room = await self.rooms.room(self.document_id)
        if room is not self.last_room:
            self.last_room = room
            self.check_acknowledged(room_doc(room), "in a room loaded from the store")
        return room

    async def stop(self) -> None:
        for link in self.links:
            link.participant = None
            link.up.clear()
            link.down.clear()
        if self.rooms is not None:
            await self.rooms.close()
            self.rooms = None

    async def restart(self) -> None:
        """Close the rooms (every socket goes) and build new ones on the same database; the room
        they load must hold every update the server acknowledged."""
        await self.stop()
        self.restarts += 1
        await self.start()
        room = await self.room()
        self.check_acknowledged(room_doc(room), "after a restart")

    def check_acknowledged(self, doc: Doc, where: str) -> None:
        vector = doc_vector(doc)
        for link in self.links:
            acknowledged = link.replica.acknowledged()
            if not covers(vector, acknowledged):
                raise Divergence(
                    f"{where}: {link.replica.name} was told {acknowledged} was saved, the room has {vector}"
                )

    # -- the clients ----------------------------------------------------------------------------

    async def connect(self, n: int) -> None:
        link = self.links[n]
        if link.connected:
            return
        participant = Participant(link, link.user_id, f"Persona {link.replica.name}")
        link.participant = participant
        link.replica.outbox.clear()
        link.up.extend(link.replica.hello())  # y-websocket sends its sync step 1 on open
        await (await self.room()).join(participant)

    async def disconnect(self, n: int) -> None:
        link = self.links[n]
        participant = link.participant
        if participant is None:
            return
        link.participant = None
        link.up.clear()
        link.down.clear()
        await (await self.room()).leave(participant)

    async def insert(self, n: int, boundary: int) -> None:
        link = self.links[n]
        self.counter += 1
        token = f"<{link.replica.name}{self.counter}>"
        link.replica.insert(token, boundary)
        self.inserted.append(token)
        link.collect()

    async def delete(self, n: int, which: int) -> None:
        link = self.links[n]
        token = link.replica.delete(which)
        if token is not None:
            self.deleted.add(token)
        link.collect()

    # -- the network ----------------------------------------------------------------------------

    async def deliver_up(self, n: int, which: int) -> None:
        """The server receives the `which`-th message in flight from client n (any order)."""
        link = self.links[n]
        if not link.up or link.participant is None:
            return
        message = link.up.pop(which % len(link.up))
        await (await self.room()).receive(link.participant, message)

    async def deliver_down(self, n: int, which: int) -> None:
        """Client n receives the `which`-th message in flight to it (any order) and answers."""
        link = self.links[n]
        if not link.down:
            return
        message = link.down.pop(which % len(link.down))
        answers = link.replica.receive(message)
        link.collect()
        if link.connected:
            link.up.extend(answers)

    async def deliver_every(self, n: int, which: int, *, up: bool) -> None:
        """Everything in flight on one link in one direction, from the `which`-th message on."""
        link = self.links[n]
        queue = link.up if up else link.down
        if not queue:
            return
        start = which % len(queue)
        queue[:] = queue[start:] + queue[:start]
        while (link.up if up else link.down) and not (up and link.participant is None):
            await (self.deliver_up(n, 0) if up else self.deliver_down(n, 0))

    async def drop(self, n: int, which: int, *, up: bool) -> None:
        queue = self.links[n].up if up else self.links[n].down
        if queue:
            queue.pop(which % len(queue))

    async def repeat(self, n: int, which: int, *, up: bool) -> None:
        queue = self.links[n].up if up else self.links[n].down
        if queue:
            queue.append(queue[which % len(queue)])

    async def do(self, operation: str, n: int, pick: int, up: bool) -> None:
        """One operation of `WEIGHTS` by client n (`pick`: which boundary, token or message)."""
        if operation in ("insert", "delete", "deliver_up", "deliver_down"):
            await getattr(self, operation)(n, pick)
        elif operation in ("deliver_every", "drop", "repeat"):
            await getattr(self, operation)(n, pick, up=up)
        elif operation in ("disconnect", "connect"):
            await getattr(self, operation)(n)
        elif operation == "restart":
            await self.restart()
        else:
            raise ValueError(f"no operation {operation!r}")
        for link in self.links:
            link.replica.tokens()  # every replica is made of whole tokens at every step

    # -- the end --------------------------------------------------------------------------------

    async def settle(self) -> None:
        """Every client reconnects on a network that now delivers everything in order, until
        nothing is in flight."""
        for n in range(len(self.links)):
            await self.disconnect(n)
        for n in range(len(self.links)):
            await self.connect(n)
        for _round in range(1000):
            moved = False
            for n, link in enumerate(self.links):
                while link.up:
                    await self.deliver_up(n, 0)
                    moved = True
                while link.down:
                    await self.deliver_down(n, 0)
                    moved = True
            if not moved:
                return
        raise Divergence("the messages never stopped")

    async def check(self) -> str:
        """After `settle`: every replica, the server's room and a room reloaded from the store have
        the same text, made of every token inserted and not deleted, each exactly once."""
        expected = {t for t in self.inserted if t not in self.deleted}
        texts = {link.replica.name: str(link.replica.text) for link in self.links}
        server_doc = room_doc(await self.room())
        texts["server"] = text_of(server_doc)
        self.check_acknowledged(server_doc, "at the end")
        stored = await self.load(self.document_id)
        texts["store"] = text_of(stored)
        self.check_acknowledged(stored, "in the store")
        await self.restart()
        texts["reloaded"] = text_of(room_doc(await self.room()))
        for name, text in texts.items():
            tokens = tokens_of(text)
            if len(tokens) != len(set(tokens)):
                twice = sorted({t for t in tokens if tokens.count(t) > 1})
                raise Divergence(f"{name}: tokens more than once: {twice}")
            if set(tokens) != expected:
                missing, extra = expected - set(tokens), set(tokens) - expected
                raise Divergence(f"{name}: missing {sorted(missing)}, not expected {sorted(extra)}")
        if len(set(texts.values())) != 1:
            raise Divergence("the texts differ:\n" + "\n".join(f"{k}: {v}" for k, v in texts.items()))
        return texts["server"]


LoadDoc = Callable[[int], Awaitable[Doc]]


def room_doc(room: Any) -> Doc:
    """The server's document of a room."""
    doc = room.doc
    assert isinstance(doc, Doc)
    return doc


SEED_TOKENS = ["<s1>", "<s2>", "<s3>"]


class Playground:
    """A database with a table, an organisation and `people` members of it; each `world()` is a
    new draft proposal of theirs, whose document starts from a text of three tokens."""

    def __init__(self, database: Any, table: Any, organisation: Any, user_ids: list[int]) -> None:
        self.database = database
        self.table = table
        self.organisation = organisation
        self.user_ids = user_ids
        self.worlds = 0

    @classmethod
    async def open(cls, database_url: str, password_hash: str, people: int) -> Playground:
        from server.db.models import Role
        from server.db.session import Database
        from server.domain import accounts, tables

        database = Database(database_url)
        async with database.transaction() as session:
            organisation = await tables.create_organisation(session, "CGIL Bologna")
            table = await tables.create_table(session, slug="convergenza", name="Tavolo della convergenza")
            user_ids = []
            for n in range(people):
                user = await accounts.create_user(
                    session,
                    email=f"writer{n}@example.org",
                    name=f"Writer {n}",
                    password_hash=password_hash,
                    organisation=organisation,
                )
                await tables.add_member(session, table, user, Role.member, organisation=organisation)
                user_ids.append(user.id)
        return cls(database, table, organisation, user_ids)

    async def close(self) -> None:
        await self.database.dispose()

    async def document(self) -> int:
        """A new draft proposal's document, seeded with three tokens."""
        async with self.database.transaction() as session:
            return await draft_document(
                session, self.table, self.organisation.slug, self.user_ids[0], "".join(SEED_TOKENS)
            )

    async def rooms(self) -> Any:
        from server.live.documents import Rooms

        return Rooms(self.database)

    async def load(self, document_id: int) -> Doc:
        from server.domain import documents

        async with self.database.read() as session:
            return await documents.load(session, document_id)

    async def world(self) -> World:
        self.worlds += 1
        world = World(self.rooms, await self.document(), self.user_ids, self.load)
        world.inserted += SEED_TOKENS
        await world.start()
        return world
