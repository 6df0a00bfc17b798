"""The collaborative documents' socket, `/ws/docs/{id}`, on a real uvicorn with real `websockets`
clients: the refusals at the handshake, read-only participants, the size limit, malformed
messages, a text frozen while someone types, awareness names, acknowledgements, reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pycrdt import Doc, Text
from sqlalchemy import func, select, update
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.db.models import DocumentKind, DocumentUpdate, Event, Proposal, Role, UserSession
from server.db.types import utcnow
from server.domain import accounts, documents, proposals, tables
from server.domain.actions import Actor
from server.live.documents import Rooms
from server.live.yprotocol import (
    AWARENESS,
    SAVED,
    STEP1,
    STEP2,
    SYNC,
    UPDATE,
    awareness_message,
    encode_awareness,
    read_awareness,
    read_var_bytes,
    read_var_uint,
    read_vector,
    sync_message,
)
from tests.conftest import POSTGRES_BROKER_URL, REDIS_URL, need, reachable, unique_channel
from tests.live_support import Browser, ThreadedServer, closed_with
from tests.support import Board

MAX_BYTES = 200_000
INITIAL = "# Proposta\n\nTesto iniziale."


@pytest.fixture
def settings(settings):
    # A small document limit, so that a document can be filled in a test; a small cap of sockets.
    return dataclasses.replace(settings, doc_max_bytes=MAX_BYTES, max_sockets_per_session=4)


# --- a client ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Frame:
    kind: int
    step: int | None
    payload: bytes


def parse(message: bytes) -> Frame:
    kind, position = read_var_uint(message, 0)
    step = None
    if kind == SYNC:
        step, position = read_var_uint(message, position)
    payload, _ = read_var_bytes(message, position)
    return Frame(kind, step, payload)


def covers(vector: dict[int, int], other: dict[int, int]) -> bool:
    return all(vector.get(client, 0) >= clock for client, clock in other.items())


class Client:
    """A y-websocket client as far as the protocol goes: a pycrdt Doc, its sync step 1 on opening,
    step 2 in answer to the server's step 1, updates applied, acknowledgements (message 100) and
    awareness states kept."""

    def __init__(self, socket: Any, doc: Doc | None = None) -> None:
        self.socket = socket
        self.doc = doc if doc is not None else Doc()
        self.text = self.doc.get(documents.TEXT, type=Text)
        self.frames: list[Frame] = []
        self.acks: list[dict[int, int]] = []
        self.awareness: dict[int, str] = {}

    @classmethod
    async def open(cls, browser: Browser, document_id: Any, *, ack: bool = True, doc: Doc | None = None) -> Client:
        socket = await browser.socket(f"/ws/docs/{document_id}" + ("?ack=1" if ack else ""))
        client = cls(socket, doc)
        await socket.send(sync_message(STEP1, client.doc.get_state()))
        return client

    def vector(self) -> dict[int, int]:
        return read_vector(self.doc.get_state())

    def saved(self) -> bool:
        return any(covers(ack, self.vector()) for ack in self.acks)

    async def read(self, timeout: float = 5) -> Frame:
        message = await asyncio.wait_for(self.socket.recv(), timeout)
        assert isinstance(message, bytes), f"a text frame on a document socket: {message!r}"
        frame = parse(message)
        self.frames.append(frame)
        if frame.kind == SYNC and frame.step == STEP1:
            await self.socket.send(sync_message(STEP2, self.doc.get_update(frame.payload)))
        elif frame.kind == SYNC and frame.payload != documents.EMPTY_UPDATE:
            self.doc.apply_update(frame.payload)
        elif frame.kind == SAVED:
            self.acks.append(read_vector(frame.payload))
        elif frame.kind == AWARENESS:
            for client, _clock, state in read_awareness(frame.payload):
                self.awareness[client] = state
        return frame

    async def until(self, check: Callable[[], bool], timeout: float = 5) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                await self.read(timeout)

    async def synced(self) -> None:
        """Until the server answered this client's sync step 1."""
        await self.until(lambda: any(f.kind == SYNC and f.step == STEP2 for f in self.frames))

    async def type(self, at: int, text: str) -> bytes:
        """Insert `text` at byte offset `at` and send the update; returns it."""
        before = self.doc.get_state()
        self.text.insert(at, text)
        change = self.doc.get_update(before)
        await self.socket.send(sync_message(UPDATE, change))
        return change

    async def answered(self) -> None:
        """Send a sync step 1 and read until its answer: everything sent before was handled."""
        answers = sum(1 for f in self.frames if f.kind == SYNC and f.step == STEP2)
        await self.socket.send(sync_message(STEP1, self.doc.get_state()))
        await self.until(lambda: sum(1 for f in self.frames if f.kind == SYNC and f.step == STEP2) > answers)


async def closed_code(client: Client, timeout: float = 5) -> int:
    """Read (and handle) frames until the server closes the socket; the close code."""
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(timeout):
            while True:
                await client.read(timeout)
    assert info.value.rcvd is not None, "closed without a close frame"
    return info.value.rcvd.code


# --- the documents -----------------------------------------------------------------------------


@pytest.fixture
def cgil_member(live_board, live_seed):
    """A second member of the CGIL, the draft's co-authoring organisation."""
    return live_seed.person(live_board.table, Role.member, "member2@example.org", live_board.cgil)


@pytest.fixture
def cna_member(live_board, live_seed):
    """A member of another organisation (the CNA, which the secretary also represents)."""
    return live_seed.person(live_board.table, Role.member, "cna.member@example.org", live_board.cna)


def document_of(live_seed, table_id: int, proposal_id: int, body: str) -> int:
    async def find_or_make(session):
        found = await documents.find(session, DocumentKind.proposal_body, proposal_id)
        if found is None:
            found = await documents.create(
                session,
                table_id=table_id,
                kind=DocumentKind.proposal_body,
                record_id=proposal_id,
                text=body,
                user_id=None,
            )
        return found.id

    return live_seed.run(find_or_make)


@pytest.fixture
def draft(live_board, live_seed) -> int:
    """The document of a draft proposal of the CGIL (the member's organisation)."""
    body = INITIAL
    text = proposals.parse_text(title="Saldi coordinati", summary="", body=body)
    proposal = live_seed.run(
        lambda s: proposals.create_proposal(
            s, live_board.table, text, [live_board.cgil.slug], actor=Actor(live_board.member.id, Role.member)
        )
    )
    return document_of(live_seed, live_board.table.id, proposal.id, body)


@pytest.fixture
def submitted(live_board, live_seed) -> int:
    """The document of the board's submitted proposal (the chair's organisation's)."""
    proposal = live_board.proposal()
    return document_of(live_seed, live_board.table.id, proposal.id, "Il testo.")


def stored_text(live_seed, document_id: int) -> str:
    return live_seed.run(lambda s: documents.text_of(s, document_id))


def stored_rows(live_seed, document_id: int) -> int:
    return live_seed.run(
        lambda s: s.scalar(
            select(func.count()).select_from(DocumentUpdate).where(DocumentUpdate.document_id == document_id)
        )
    )


def room_of(live_server, document_id: int) -> Any:
    async def find():
        return live_server.app.state.documents.opened(document_id)

    return live_server.call(find)


# --- refusals at the handshake -----------------------------------------------------------------


async def test_a_foreign_origin_is_refused_at_the_handshake(people, draft):
    member = await people("member@example.org")
    with pytest.raises(InvalidStatus) as info:
        await member.socket(f"/ws/docs/{draft}", origin="https://evil.example.org")
    assert info.value.response.status_code == 403


async def test_no_session_is_closed_4401_having_sent_nothing(live_server, draft):
    anonymous = Browser(live_server.url)
    try:
        socket = await anonymous.socket(f"/ws/docs/{draft}")
        assert await closed_with(socket) == 4401
    finally:
        await anonymous.close()


async def test_an_expired_session_is_closed_4401(live_seed, people, draft):
    member = await people("member@example.org")
    live_seed.run(lambda s: s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1))))
    socket = await member.socket(f"/ws/docs/{draft}")
    assert await closed_with(socket) == 4401


@pytest.mark.parametrize("email", ["outsider@example.org", "other.chair@example.org"])
async def test_no_role_on_the_documents_table_is_closed_4403(people, draft, email):
    socket = await (await people(email)).socket(f"/ws/docs/{draft}")
    assert await closed_with(socket) == 4403


@pytest.mark.parametrize("address", ["999999", "tre", "0", "99999999999999"])
async def test_an_unknown_document_is_closed_4404(people, draft, address):
    socket = await (await people("member@example.org")).socket(f"/ws/docs/{address}")
    assert await closed_with(socket) == 4404


@pytest.mark.parametrize("email", ["cna.member@example.org", "observer@example.org"])
async def test_a_draft_is_not_there_for_another_organisation_4404(people, draft, cna_member, email):
    socket = await (await people(email)).socket(f"/ws/docs/{draft}")
    assert await closed_with(socket) == 4404


async def test_a_session_at_its_cap_of_document_sockets_is_closed_4429(people, draft):
    member = await people("member@example.org")
    clients = [await Client.open(member, draft) for _ in range(4)]
    for client in clients:
        await client.synced()
    fifth = await member.socket(f"/ws/docs/{draft}")
    assert await closed_with(fifth) == 4429


# --- reading and writing -----------------------------------------------------------------------


async def test_an_update_is_stored_before_it_is_acknowledged_and_relayed(live_seed, people, draft, cgil_member):
    writer = await Client.open(await people("member@example.org"), draft)
    other = await Client.open(await people("member2@example.org"), draft)
    await writer.synced()
    await other.synced()
    assert str(writer.text) == INITIAL
    await writer.type(len(writer.text), "\nUna riga in più.")
    await writer.until(writer.saved)
    # Acknowledged: it is in the store, whatever happens next.
    assert stored_text(live_seed, draft).endswith("\nUna riga in più.")
    await other.until(lambda: str(other.text) == str(writer.text))


async def test_acknowledgements_go_only_to_sockets_that_ask(people, draft):
    writer = await Client.open(await people("member@example.org"), draft)
    reader = await Client.open(await people("chair@example.org"), draft, ack=False)
    await writer.synced()
    await reader.synced()
    await writer.type(0, "uno ")
    await writer.until(writer.saved)
    await writer.type(0, "due ")
    await writer.until(writer.saved)
    await reader.until(lambda: str(reader.text).startswith("due uno "))
    assert not [frame for frame in reader.frames if frame.kind == SAVED]


async def test_a_read_only_participants_update_is_dropped(live_server, live_seed, people, draft):
    writer = await Client.open(await people("member@example.org"), draft)
    chair = await Client.open(await people("chair@example.org"), draft)  # reads a draft, never writes it
    await writer.synced()
    await chair.synced()
    rows = stored_rows(live_seed, draft)
    await chair.type(0, "Il presidente scrive ")
    await chair.answered()  # the later message was answered: the update was handled before it
    assert room_of(live_server, draft).dropped == 1
    assert stored_rows(live_seed, draft) == rows
    assert stored_text(live_seed, draft) == INITIAL
    # The chair still follows the document.
    await writer.type(0, "Bozza: ")
    await chair.until(lambda: "Bozza: " in str(chair.text))
    await writer.until(writer.saved)
    assert stored_text(live_seed, draft) == "Bozza: " + INITIAL


async def test_everyone_with_a_role_reads_a_submitted_proposal_and_nobody_writes_it(live_server, people, submitted):
    observer = await Client.open(await people("observer@example.org"), submitted)
    await observer.synced()
    assert str(observer.text) == "Il testo."
    member = await Client.open(await people("member@example.org"), submitted)
    await member.synced()
    await member.type(0, "Modifica ")
    await member.answered()
    assert room_of(live_server, submitted).dropped == 1


async def test_reconnecting_heals_both_ways(live_seed, people, draft, cgil_member):
    first = await Client.open(await people("member@example.org"), draft)
    await first.synced()
    await first.socket.close()
    # Offline, the first writer types; meanwhile the second one's edit is stored.
    first.text.insert(0, "Offline. ")
    second = await Client.open(await people("member2@example.org"), draft)
    await second.synced()
    await second.type(len(second.text), "Online.")
    await second.until(second.saved)
    # On reconnecting, the server answers the client's step 1 and sends its own: both edits meet.
    again = await Client.open(await people("member@example.org"), draft, doc=first.doc)
    await again.until(lambda: "Online." in str(again.text))
    await again.until(again.saved)
    expected = "Offline. " + INITIAL + "Online."
    assert str(again.text) == expected
    await second.until(lambda: str(second.text) == expected)
    assert stored_text(live_seed, draft) == expected


# --- limits and malformed messages -------------------------------------------------------------


async def test_a_message_over_the_limit_closes_1009_and_stores_nothing(live_seed, people, draft):
    writer = await Client.open(await people("member@example.org"), draft)
    await writer.synced()
    rows = stored_rows(live_seed, draft)
    await writer.type(0, "x" * (MAX_BYTES + 1000))
    assert await closed_code(writer) == 1009
    assert stored_rows(live_seed, draft) == rows
    assert stored_text(live_seed, draft) == INITIAL


async def test_a_full_document_closes_1009_and_stores_nothing(live_seed, people, draft):
    writer = await Client.open(await people("member@example.org"), draft)
    await writer.synced()
    await writer.type(0, "a" * (MAX_BYTES // 2))
    await writer.until(writer.saved)
    rows = stored_rows(live_seed, draft)
    await writer.type(0, "b" * (MAX_BYTES // 2))
    assert await closed_code(writer) == 1009
    assert stored_rows(live_seed, draft) <= rows  # compacted perhaps, never more
    assert "b" not in stored_text(live_seed, draft)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\x00\x02\x40\x01\x02", 1007),  # an update shorter than it says
        (b"\x00\x02\x03\xff\xff\xff", 1007),  # an update that does not decode
        (b"\x00\x00\x03\xff\xff\xff", 1007),  # a state vector that does not decode
        (awareness_message(encode_awareness([(7, 1, "{x}")])), 1007),  # awareness whose state is not JSON
        (awareness_message(encode_awareness([(7, 1, "[1]")])), 1007),  # nor an object
        (awareness_message(b"\x01\x07\x01\x09{}"), 1007),  # a state shorter than it says
        (b"\x00\x09\x00", 1003),  # no such sync step
        (b"\x07\x00", 1003),  # no such message type
        (b"\x80", 1007),  # a number cut in the middle
    ],
)
async def test_a_malformed_message_closes_and_stores_nothing(live_seed, people, draft, message, code):
    writer = await Client.open(await people("member@example.org"), draft)
    await writer.synced()
    rows = stored_rows(live_seed, draft)
    await writer.socket.send(message)
    assert await closed_code(writer) == code
    assert stored_rows(live_seed, draft) == rows


async def test_a_text_frame_closes_1003(people, draft):
    writer = await Client.open(await people("member@example.org"), draft)
    await writer.synced()
    await writer.socket.send("ciao")
    assert await closed_code(writer) == 1003


# --- closing -----------------------------------------------------------------------------------


async def test_a_document_frozen_while_someone_types_closes_and_keeps_the_stored_text(
    live_server, live_seed, people, draft
):
    writer = await Client.open(await people("member@example.org"), draft)
    await writer.synced()
    await writer.type(len(writer.text), "Prima del congelamento.")
    await writer.until(writer.saved)

    async def freeze():
        async with live_server.app.state.database.transaction() as session:
            text = await documents.freeze(session, draft)
        await live_server.app.state.documents.close_document(draft)
        return text

    frozen = live_server.call(freeze)
    # Typing on: whatever was not stored before the freeze is refused, and the socket closes.
    with contextlib.suppress(ConnectionClosed):
        await writer.type(0, "Dopo. ")
    assert await closed_code(writer) == 4409
    assert frozen == INITIAL + "Prima del congelamento."
    assert stored_text(live_seed, draft) == frozen
    # Back again, the co-author reads it and can no longer change it.
    again = await Client.open(await people("member@example.org"), draft)
    await again.synced()
    await again.type(0, "No. ")
    await again.answered()
    assert stored_text(live_seed, draft) == frozen


async def test_logging_out_closes_the_document_socket_4401(people, draft):
    member = await people("member@example.org")
    client = await Client.open(member, draft)
    await client.synced()
    assert (await member.post("/logout", {})).status_code == 303
    assert await closed_code(client) == 4401


async def test_a_session_that_expires_while_connected_closes_4401(live_seed, people, draft):
    member = await people("member@example.org")
    live_seed.run(lambda s: s.execute(update(UserSession).values(expires_at=utcnow() + timedelta(seconds=3))))
    client = await Client.open(member, draft)
    await client.synced()
    assert await closed_code(client, timeout=10) == 4401


async def test_losing_ones_role_closes_the_document_socket_4403(live_board, people, draft):
    client = await Client.open(await people("member@example.org"), draft)
    await client.synced()
    admin = await people("admin@example.org")
    membership = live_board.membership_id(live_board.member)
    response = await admin.post(f"/tavoli/{live_board.table.slug}/componenti/{membership}/rimuovi", {})
    assert response.status_code == 200
    assert await closed_code(client) == 4403


# --- awareness ---------------------------------------------------------------------------------


async def test_a_spoofed_awareness_name_is_replaced_by_the_real_one_and_removed_on_leaving(live_board, people, draft):
    member = await Client.open(await people("member@example.org"), draft)
    chair = await Client.open(await people("chair@example.org"), draft)
    await member.synced()
    await chair.synced()
    client_id = member.doc.client_id
    spoofed = {"user": {"name": "Il Presidente", "colour": 5}, "cursor": {"anchor": 1, "head": 3}}
    await member.socket.send(
        awareness_message(encode_awareness([(client_id, 1, json.dumps(spoofed, ensure_ascii=False))]))
    )
    await chair.until(lambda: client_id in chair.awareness)
    state = json.loads(chair.awareness[client_id])
    assert state["user"] == {"name": "Member", "colour": live_board.cgil.id % 8}
    assert state["cursor"] == {"anchor": 1, "head": 3}
    # The sender sees the name the others see.
    await member.until(lambda: client_id in member.awareness)
    assert json.loads(member.awareness[client_id])["user"]["name"] == "Member"
    # Someone joining later is told who is here.
    late = await Client.open(await people("member@example.org"), draft)
    await late.until(lambda: client_id in late.awareness)
    # The socket goes: its state is removed for everyone.
    await member.socket.close()
    await chair.until(lambda: chair.awareness.get(client_id) == "null")


# --- the room, through the handler API ---------------------------------------------------------


@dataclasses.dataclass(eq=False)
class Participant:
    """A participant in memory, as the convergence test drives the room."""

    user_id: int
    name: str
    colour: int = 0
    may_edit: bool = True
    wants_ack: bool = True
    received: list[bytes] = dataclasses.field(default_factory=list)
    closed_with: int | None = None

    async def send(self, message: bytes) -> None:
        self.received.append(message)

    def close(self, code: int) -> None:
        self.closed_with = code


async def a_draft(database) -> tuple[int, int, int]:
    """A draft of the CGIL written by one of its members: (document id, proposal id, user id)."""
    async with database.transaction() as session:
        cgil = await tables.create_organisation(session, "CGIL Bologna")
        table = await tables.create_table(session, slug="commercio-turismo", name="Commercio e turismo")
        user = await accounts.create_user(
            session, email="member@example.org", name="Maria Rossi", password_hash="x", organisation=cgil
        )
        await tables.add_member(session, table, user, Role.member, organisation=cgil)
        text = proposals.parse_text(title="Saldi coordinati", summary="", body=INITIAL)
        proposal = await proposals.create_proposal(session, table, text, [cgil.slug], actor=Actor(user.id, Role.member))
        document = await documents.find(session, DocumentKind.proposal_body, proposal.id)
        assert document is not None
        return document.id, proposal.id, user.id


async def test_the_area_is_told_the_stored_text_at_most_once_a_second(database):
    document_id, proposal_id, user_id = await a_draft(database)
    rooms = Rooms(database, changed_interval=1.0)
    room = await rooms.room(document_id)
    writer = Participant(user_id, "Maria Rossi")
    await room.join(writer)
    replica = await documents_load(database, document_id)
    text = replica.get(documents.TEXT, type=Text)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(20):
        before = replica.get_state()
        text.insert(len(text), f" parola{n}")
        await room.receive(writer, sync_message(UPDATE, replica.get_update(before)))
    elapsed = loop.time() - started
    assert room.stored == 20
    await rooms.close()  # the last text reaches the area before the room goes
    # The first call at once, then one a second at most, and the last one when the room closed.
    assert 1 <= room.changes <= 2 + int(elapsed / 1.0)
    async with database.read() as session:
        proposal = await session.get_one(Proposal, proposal_id)
        assert proposal.body == str(text)
        assert "parola19" in proposal.body_html
        edits = (await session.scalars(select(Event).where(Event.kind == "proposal.body_edited"))).all()
    assert len(edits) == 1  # one editing session, not twenty keystrokes
    assert documents.text_in(await documents_load(database, document_id)) == str(text)


async def test_a_participant_is_relayed_nothing_before_its_step_1_is_answered(database):
    document_id, _proposal_id, user_id = await a_draft(database)
    rooms = Rooms(database)
    try:
        room = await rooms.room(document_id)
        writer, joining = Participant(user_id, "Maria Rossi"), Participant(user_id, "Maria Rossi", wants_ack=False)
        await room.join(writer)
        await room.join(joining)
        replica = await documents_load(database, document_id)
        before = replica.get_state()
        replica.get(documents.TEXT, type=Text).insert(0, "Prima. ")
        await room.receive(writer, sync_message(UPDATE, replica.get_update(before)))
        # Joined, but its handshake is not done: it was sent the server's step 1 only.
        assert [parse(m).kind for m in joining.received] == [SYNC]
        assert parse(joining.received[0]).step == STEP1
        # Its step 1 is answered with everything stored, the update included; later ones are relayed.
        fresh = Doc()
        await room.receive(joining, sync_message(STEP1, fresh.get_state()))
        answer = parse(joining.received[-1])
        assert (answer.kind, answer.step) == (SYNC, STEP2)
        fresh.apply_update(answer.payload)
        assert str(fresh.get(documents.TEXT, type=Text)) == "Prima. " + INITIAL
        before = replica.get_state()
        replica.get(documents.TEXT, type=Text).insert(0, "Poi. ")
        await room.receive(writer, sync_message(UPDATE, replica.get_update(before)))
        relayed = parse(joining.received[-1])
        assert (relayed.kind, relayed.step) == (SYNC, UPDATE)
        fresh.apply_update(relayed.payload)
        assert str(fresh.get(documents.TEXT, type=Text)) == str(replica.get(documents.TEXT, type=Text))
    finally:
        await rooms.close()


async def documents_load(database, document_id: int) -> Doc:
    async with database.read() as session:
        return await documents.load(session, document_id)


# --- two instances -----------------------------------------------------------------------------


@pytest.fixture(params=["redis", "postgresql"])
def instances(request, settings, password_hash):
    """Two instances of the app (each a real uvicorn) on one database and one broker."""
    url = REDIS_URL if request.param == "redis" else POSTGRES_BROKER_URL
    if not reachable(url):
        need(f"{request.param} is not reachable at {url}")
    shared = dataclasses.replace(settings, broker_url=unique_channel(url))
    first = ThreadedServer(shared).start()
    second = ThreadedServer(shared).start()
    yield first, second
    first.stop()
    second.stop()


async def test_awareness_and_a_freeze_reach_every_instance(instances, password_hash):
    first, second = instances
    board = Board(first.seed(password_hash))
    first.seed(password_hash).person(board.table, Role.member, "member2@example.org", board.cgil)
    text = proposals.parse_text(title="Saldi coordinati", summary="", body=INITIAL)
    proposal = board.seed.run(
        lambda s: proposals.create_proposal(
            s, board.table, text, [board.cgil.slug], actor=Actor(board.member.id, Role.member)
        )
    )
    draft = document_of(board.seed, board.table.id, proposal.id, INITIAL)
    here, there = (
        await Browser(first.url).log_in("member@example.org"),
        await Browser(second.url).log_in("member2@example.org"),
    )
    try:
        one = await Client.open(here, draft)
        other = await Client.open(there, draft)
        await one.synced()
        await other.synced()
        # An update typed on one instance reaches the other by reference (its row's id).
        await one.type(0, "Uno. ")
        await other.until(lambda: str(other.text) == "Uno. " + INITIAL)
        await other.until(other.saved)
        # Awareness crosses too, with the server's name of the person.
        client_id = one.doc.client_id
        await one.socket.send(
            awareness_message(encode_awareness([(client_id, 1, '{"user":{"name":"Qualcun altro"}}')]))
        )
        await other.until(lambda: client_id in other.awareness)
        assert json.loads(other.awareness[client_id])["user"] == {"name": "Member", "colour": board.cgil.id % 8}

        async def freeze():
            async with first.app.state.database.transaction() as session:
                frozen = await documents.freeze(session, draft)
            await first.app.state.documents.close_document(draft)
            return frozen

        frozen = first.call(freeze)
        assert await closed_code(one) == 4409
        assert await closed_code(other) == 4409
        assert frozen == "Uno. " + INITIAL
    finally:
        await here.close()
        await there.close()


async def test_an_update_waiting_for_what_it_builds_on_still_reaches_a_joining_client(database):
    document_id, _proposal_id, user_id = await a_draft(database)
    writer = Doc(client_id=77)
    text = writer.get(documents.TEXT, type=Text)
    stored = await documents_load(database, document_id)
    writer.apply_update(stored.get_update())
    updates = []
    for words in ("Prima. ", "Poi. "):
        before = writer.get_state()
        text.insert(0, words)
        updates.append(writer.get_update(before))
    first, second = updates
    for restart in (False, True):
        rooms = Rooms(database)
        room = await rooms.room(document_id)
        author = Participant(user_id, "Maria Rossi")
        await room.join(author)
        if not restart:
            # The second update arrives alone (the first was lost with a socket): it is stored, and
            # waits in the room's document for the first.
            await room.receive(author, sync_message(UPDATE, second))
        reader = Participant(user_id, "Maria Rossi")
        await room.join(reader)
        fresh = Doc()
        await room.receive(reader, sync_message(STEP1, fresh.get_state()))
        for message in reader.received:
            frame = parse(message)
            if frame.kind == SYNC and frame.step in (STEP2, UPDATE):
                fresh.apply_update(frame.payload)
        assert str(fresh.get(documents.TEXT, type=Text)) == INITIAL
        if restart:
            # The client sends the first again: everyone has both.
            reader.received.clear()
            await room.receive(author, sync_message(UPDATE, first))
            for message in reader.received:
                frame = parse(message)
                if frame.kind == SYNC and frame.step == UPDATE:
                    fresh.apply_update(frame.payload)
            assert str(fresh.get(documents.TEXT, type=Text)) == str(text)
        await rooms.close()  # and a room loaded again from the store finds it waiting too
    assert documents.text_in(await documents_load(database, document_id)) == str(text)
