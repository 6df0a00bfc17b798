"""Whatever the network and the server do, every replica of a document ends with the same text,
and nothing anyone typed is lost or doubled: a property of the real room handler and the real
store (server/live/documents.py, server/domain/documents.py), on the test's database.

Hypothesis plays three clients (tests/documents_sim.py) that insert tokens (each unique) and
delete them, disconnect and reconnect, while the messages between them and the server are
delivered in any order, dropped or repeated, in both directions, and the server restarts (its
rooms closed, new ones built on the same database). At the end every client reconnects on a
network that delivers everything: every token inserted and not deleted is there exactly once, in
the same order, in every replica, in the server's room, in the store and in a room reloaded from
it; and at every restart, the reloaded room holds every update the server acknowledged.

Each example has a document of its own (a draft proposal's), so examples share the database.
Hypothesis draws everything (the clients' ids are fixed), so a failure replays from its database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.documents_sim import Playground, World

CLIENTS = 3
clients = st.integers(0, CLIENTS - 1)
picks = st.integers(0, 15)
directions = st.booleans()


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

        @rule(n=clients, boundary=picks)
        def insert(self, n: int, boundary: int) -> None:
            self.call(self.world.insert, n, boundary)

        @rule(n=clients, which=picks)
        def delete(self, n: int, which: int) -> None:
            self.call(self.world.delete, n, which)

        @rule(n=clients, which=picks, up=directions)
        def deliver(self, n: int, which: int, up: bool) -> None:
            self.call(self.world.deliver_up if up else self.world.deliver_down, n, which)

        @rule(n=clients, which=picks, up=directions)
        def deliver_all(self, n: int, which: int, up: bool) -> None:
            """Everything in flight on one link, from the `which`-th on (in order, then the rest)."""
            self.call(self.world.deliver_every, n, which, up=up)

        @rule(n=clients, which=picks, up=directions)
        def drop(self, n: int, which: int, up: bool) -> None:
            self.call(self.world.drop, n, which, up=up)

        @rule(n=clients, which=picks, up=directions)
        def repeat(self, n: int, which: int, up: bool) -> None:
            self.call(self.world.repeat, n, which, up=up)

        @rule(n=clients)
        def disconnect(self, n: int) -> None:
            self.call(self.world.disconnect, n)

        @rule(n=clients)
        def connect(self, n: int) -> None:
            self.call(self.world.connect, n)

        @rule()
        def restart(self) -> None:
            self.call(self.world.restart)

        @invariant()
        def replicas_are_whole_tokens(self) -> None:
            for link in self.world.links:
                link.replica.tokens()

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
