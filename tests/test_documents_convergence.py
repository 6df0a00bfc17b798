"""Whatever the network and the server do, every replica of a document ends with the same text,
and nothing anyone typed is lost or doubled: a property of the real room handler and the real
store (server/live/documents.py, server/domain/documents.py), on the test's database.

Hypothesis plays three clients (tests/documents_sim.py) that insert tokens (each unique) and
delete them, disconnect and reconnect, while the messages between them and the server are
delivered in any order, dropped or repeated, in both directions, and the server restarts (its
rooms closed, new ones built on the same database). At the end every client reconnects on a
network that delivers everything: every token inserted and not deleted is there exactly once, in
the same order, in every replica, in the server's room, in the store and in a room reloaded from
it; and every room loaded anew from the store (after a restart, or after its last client left)
holds every update the server acknowledged (message 100).

Each example has a document of its own (a draft proposal's), so examples share the database.
Hypothesis draws every operation and the clients' ids are fixed, so a failure replays from its
database (.hypothesis/); only the seed update's author id is the server's own, random.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from tests.documents_sim import OPERATIONS, Playground, World
from tests.documents_support import doc_vector, text_of

CLIENTS = 3
clients = st.integers(0, CLIENTS - 1)
picks = st.integers(0, 15)
directions = st.booleans()
operations = st.sampled_from(OPERATIONS)


@pytest.fixture
def playground(database_url: str, password_hash: str) -> Iterator[tuple[BlockingPortal, Playground]]:
    """The test's database on an event loop of its own (the state machine is synchronous), with
    a table, an organisation and the clients' people, members of it."""
    with start_blocking_portal() as portal:
        ground = portal.call(Playground.open, database_url, password_hash, CLIENTS)
        try:
            yield portal, ground
        finally:
            portal.call(ground.close)


def machine(portal: BlockingPortal, ground: Playground) -> type[RuleBasedStateMachine]:
    class Convergence(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.broken = False
            self.world: World = self.call(ground.world)

        def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return portal.call(lambda: function(*args, **kwargs))
            except BaseException:
                self.broken = True
                raise

        @rule(operation=operations, n=clients, pick=picks, up=directions)
        def step(self, operation: str, n: int, pick: int, up: bool) -> None:
            """One operation (typing, delivering, a fault, a restart), drawn as often as its weight."""
            self.call(self.world.do, operation, n, pick, up)

        def teardown(self) -> None:
            try:
                if not self.broken:  # a rule that failed is the failure to report, not what follows
                    self.call(self.world.settle)
                    self.call(self.world.check)
            finally:
                portal.call(self.world.stop)

    return Convergence


def test_every_replica_converges_and_nothing_acknowledged_is_lost(
    playground: tuple[BlockingPortal, Playground],
) -> None:
    portal, ground = playground
    run_state_machine_as_test(
        machine(portal, ground),
        settings=settings(
            max_examples=200,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            print_blob=True,
        ),
    )
    assert ground.worlds >= 200


# What bench/convergence's seed 53 found: two rows of a document's log at the moment a room
# compacted it, from pycrdt clients that had received updates out of order: a snapshot with
# holes (a client's first updates never arrived) and a later update of client 2 that yrs
# integrates past those holes, one row at a time, as the room did when it acknowledged it.
# pycrdt.merge_updates of these two loads to less (client 2 at 65, not 95): compaction must not.
GAPPED_LOG = [
    "BAHu1rmTionkAgAEAQhtYXJrZG93bgw8czE+PHMyPjxzMz4KAxOEAwMFPGMxNj7EAwgDAAU8YzI2PsQDHAMABTxjMzg+xAMNAwQFPGM0MD4KBUQDDg"
    "U8YzQzPgoFxAMIAxgFPGM0NT7EAyYDBAU8YzQ2PoQDFwU8YzQ4Pg0CAAQBCG1hcmtkb3duBDxiMT5BAgAERAIEBDxiND7EAgcCAAQ8Yjc+xAIPAgAE"
    "PGI4PsQCBwIMBTxiMTQ+hO7WuZOKieQCCwU8YjE1PkQCCAU8YjE3PsQCGAIMBTxiMTg+xAIiAggFPGIxOT4KBcQCA+7WuZOKieQCAAU8YjI4PsQCIg"
    "IoBTxiMjk+CwERxAEDAQgFPGEyMT7E7ta5k4qJ5AID7ta5k4qJ5AIEBTxhMjI+xAEQAggFPGEyMz4KBcQCA+7WuZOKieQCAAU8YTI1PsQCDwIQBTxh"
    "Mjc+ChTEAUIBNAU8YTQ3PsQBBwEgBTxhNDk+CgXEAhMCAAU8YTUxPgICAQQEAwEJBQ==",
    "AggCLcTu1rmTionkAgfu1rmTionkAggFPGIyMD7EAgPu1rmTionkAgAFPGIyOD7BAiICKAXEAhgCIwU8YjMwPsQBLgIQCjxiMzE+PGIzND7EAhgCPA"
    "U8YjM2PsQCBwIUCjxiMzc+PGIzOT7EAhgCSwU8YjU1PgUBAAoWxO7WuZOKieQCA+7WuZOKieQCBAU8YTIyPgoKxAID7ta5k4qJ5AIABTxhMjU+xAIP"
    "AhAFPGEyNz4BAgIACDcF",
]


async def test_compacting_a_log_with_holes_keeps_what_a_reload_shows(database, password_hash):
    import base64

    from server.db.models import DocumentKind
    from server.domain import documents, tables

    async with database.transaction() as session:
        table = await tables.create_table(session, slug="compattazione", name="Tavolo della compattazione")
        document = await documents.create(
            session, table_id=table.id, kind=DocumentKind.proposal_body, record_id=1, text="", user_id=None
        )
        await documents.append_many(session, document.id, [(base64.b64decode(row), None) for row in GAPPED_LOG])
    async with database.read() as session:
        before = await documents.load(session, document.id)
    assert doc_vector(before)[2] == 95
    async with database.transaction() as session:
        await documents.compact(session, document.id)
    async with database.read() as session:
        after = await documents.load(session, document.id)
    assert doc_vector(after) == doc_vector(before)
    assert text_of(after) == text_of(before)
