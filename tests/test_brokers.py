"""The brokers carry the hubs' notes between instances: in process, through Redis, through PostgreSQL.

Redis and PostgreSQL are the real services (skipped where they are missing, failed on CI). Each
test talks on a channel of its own, and finds its own connections on the server by a name of its
own, so that it disturbs no other test or program using the same server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import redis.asyncio as redis

from server.live.brokers import NOTIFY_LIMIT, Broker, MemoryBroker, PostgresBroker, RedisBroker, make_broker
from tests.conftest import unique_channel

WAIT = 10  # seconds: a bound on waiting for what must come, never a measure


class Inbox:
    """What one broker delivers, and whether it said it reconnected."""

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.reconnected = asyncio.Event()
        self.fail_on = fail_on

    async def handler(self, message: bytes) -> None:
        await self.received.put(message)
        if message == self.fail_on:
            raise RuntimeError("a handler that fails on one message")

    async def on_reconnect(self) -> None:
        self.reconnected.set()

    async def take(self, count: int) -> list[bytes]:
        async with asyncio.timeout(WAIT):
            return [await self.received.get() for _ in range(count)]


@pytest.fixture
async def started() -> AsyncIterator[Callable[[Broker], Awaitable[Inbox]]]:
    """Starts brokers with an inbox each, and closes them at the end."""
    brokers: list[Broker] = []

    async def start(broker: Broker, inbox: Inbox | None = None) -> Inbox:
        inbox = inbox or Inbox()
        await broker.start(inbox.handler, inbox.on_reconnect)
        brokers.append(broker)
        return inbox

    yield start
    for broker in brokers:
        await broker.close()


def messages(prefix: str, count: int) -> list[bytes]:
    return [f'{{"{prefix}": {n}}}'.encode() for n in range(count)]


# --- in process -------------------------------------------------------------------------------------


async def test_memory_delivers_what_it_publishes_in_order(started):
    broker = MemoryBroker()
    inbox = await started(broker)
    sent = messages("n", 50)
    for message in sent:
        await broker.publish(message)
    assert await inbox.take(50) == sent


async def test_a_failing_handler_does_not_stop_the_next_deliveries(started):
    broker = MemoryBroker()
    inbox = await started(broker, Inbox(fail_on=b"bad"))
    for message in (b"first", b"bad", b"after"):
        await broker.publish(message)
    assert await inbox.take(3) == [b"first", b"bad", b"after"]


def test_the_url_names_the_broker_and_its_channel():
    assert isinstance(make_broker("memory://"), MemoryBroker)
    assert isinstance(make_broker("redis://127.0.0.1:6379/0?channel=uno"), RedisBroker)
    assert isinstance(make_broker("postgresql+asyncpg://postgres@127.0.0.1/test?channel=uno"), PostgresBroker)
    with pytest.raises(ValueError, match="unknown broker"):
        make_broker("kafka://127.0.0.1")


# --- shared by the services -----------------------------------------------------------------------


@pytest.fixture(params=["redis", "postgresql"])
def service_url(request) -> str:
    """The base URL of a broker service, with a channel and a client name of this test's own."""
    base = request.getfixturevalue("redis_url" if request.param == "redis" else "postgres_broker_url")
    name = f"tavoli-test-{uuid.uuid4().hex[:8]}"
    key = "client_name" if request.param == "redis" else "application_name"
    return f"{unique_channel(base)}&{key}={name}"


async def test_every_instance_gets_every_message_in_the_order_it_was_published(started, service_url):
    first, second = make_broker(service_url), make_broker(service_url)
    first_inbox, second_inbox = await started(first), await started(second)
    sent = messages("seq", 30)
    for message in sent:
        await first.publish(message)
    assert await first_inbox.take(30) == sent, "the sender hears itself"
    assert await second_inbox.take(30) == sent


async def test_a_broker_hears_nothing_of_another_channel(started, service_url):
    ours, theirs = make_broker(service_url), make_broker(unique_channel(service_url.split("?")[0]))
    our_inbox = await started(ours)
    their_inbox = await started(theirs)
    # Each message is published after the other channel's: heard across, it would come first.
    await ours.publish(b'{"for": "us"}')
    await theirs.publish(b'{"for": "them"}')
    await ours.publish(b'{"for": "us", "again": true}')
    assert await their_inbox.take(1) == [b'{"for": "them"}']
    assert await our_inbox.take(2) == [b'{"for": "us"}', b'{"for": "us", "again": true}']


async def test_a_failing_handler_does_not_stop_a_service_broker(started, service_url):
    broker = make_broker(service_url)
    inbox = await started(broker, Inbox(fail_on=b'"bad"'))
    for message in (b'"first"', b'"bad"', b'"after"'):
        await broker.publish(message)
    assert await inbox.take(3) == [b'"first"', b'"bad"', b'"after"']


async def test_a_broker_whose_connection_is_cut_reconnects_and_says_so(started, service_url):
    broker = make_broker(service_url)
    inbox = await started(broker)
    await broker.publish(b'"before"')
    assert await inbox.take(1) == [b'"before"']
    await cut_listener(service_url)
    async with asyncio.timeout(WAIT):
        await inbox.reconnected.wait()  # the hub then sends every page its current state
    await broker.publish(b'"after"')
    assert await inbox.take(1) == [b'"after"']


# --- each service's own --------------------------------------------------------------------------


async def test_redis_carries_any_bytes(started, redis_url):
    broker = make_broker(unique_channel(redis_url))
    inbox = await started(broker)
    await broker.publish(bytes(range(256)))
    assert await inbox.take(1) == [bytes(range(256))]


async def test_postgresql_carries_text_and_refuses_what_notify_cannot(started, postgres_broker_url):
    broker = make_broker(unique_channel(postgres_broker_url))
    inbox = await started(broker)
    await broker.publish('{"title": "Città metropolitana"}'.encode())
    assert await inbox.take(1) == ['{"title": "Città metropolitana"}'.encode()]
    with pytest.raises(ValueError, match="too large"):
        await broker.publish(b"x" * NOTIFY_LIMIT)


async def test_postgresql_publishes_again_after_its_publishing_connection_is_cut(started, postgres_broker_url):
    name = f"tavoli-test-{uuid.uuid4().hex[:8]}"
    url = f"{unique_channel(postgres_broker_url)}&application_name={name}"
    broker = make_broker(url)
    inbox = await started(broker)
    await broker.publish(b'"one"')
    assert await inbox.take(1) == [b'"one"']
    # The signal that the broker's client has seen its connection end (the test below publishes
    # without waiting for it).
    seen_closed = asyncio.Event()
    broker._publisher.add_termination_listener(lambda _connection: seen_closed.set())
    killed = await terminate(url, "query NOT ILIKE 'LISTEN%'")
    assert killed == 1, "the publishing connection"
    async with asyncio.timeout(WAIT):
        await seen_closed.wait()
    await broker.publish(b'"two"')
    assert await inbox.take(1) == [b'"two"']


async def test_postgresql_publish_racing_the_cut_of_its_connection_still_arrives(started, postgres_broker_url):
    name = f"tavoli-test-{uuid.uuid4().hex[:8]}"
    url = f"{unique_channel(postgres_broker_url)}&application_name={name}"
    broker = make_broker(url)
    inbox = await started(broker)
    await broker.publish(b'"one"')
    assert await inbox.take(1) == [b'"one"']
    killed = await terminate(url, "query NOT ILIKE 'LISTEN%'")
    assert killed == 1, "the publishing connection"
    await broker.publish(b'"two"')  # whatever the client has noticed of the cut by now
    assert await inbox.take(1) == [b'"two"']


async def cut_listener(url: str) -> None:
    """Close the broker's subscribing connection from the server's side."""
    if url.startswith("redis"):
        name = url.split("client_name=")[1]
        client = redis.from_url(url.split("?")[0])
        try:
            subscribers = [c for c in await client.client_list(_type="pubsub") if c["name"] == name]
            assert len(subscribers) == 1, subscribers
            await client.client_kill_filter(_id=subscribers[0]["id"])
        finally:
            await client.aclose()
    else:
        assert await terminate(url, "query ILIKE 'LISTEN%'") == 1, "the listening connection"


async def terminate(url: str, which: str) -> int:
    """Terminate the broker's PostgreSQL connections (found by its application name) matching `which`."""
    name = url.split("application_name=")[1]
    connection = await asyncpg.connect(url.split("?")[0])
    try:
        return len(
            await connection.fetch(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND {which}",
                name,
            )
        )
    finally:
        await connection.close()
