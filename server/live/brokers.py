"""Brokers carry the live messages between instances: in-process, Redis pub/sub, PostgreSQL NOTIFY.

Each is a small adapter written on the client library directly (`broadcaster` is not
kept up and its Redis backend decodes payloads to text). Messages are bytes. Every instance,
the sender included, receives every message it publishes, in the order it published them.
A broker that lost its connection reconnects by itself and then calls `on_reconnect`, so that
the hub can resend the current state of every page it serves (nothing said meanwhile is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

log = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[None]]
CHANNEL = "tavoli"
# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more.
NOTIFY_LIMIT = 7_900
RETRY_SECONDS = (0.1, 0.5, 1, 2, 5)


class Broker(Protocol):
    async def start(self, handler: Handler, on_reconnect: Callable[[], Awaitable[None]]) -> None: ...

    async def publish(self, message: bytes) -> None: ...

    async def close(self) -> None: ...


class MemoryBroker:
    """One process: messages go from publisher to handler through a queue, in order."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self, handler: Handler, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        async def deliver() -> None:
            while True:
                message = await self._queue.get()
                await _safely(handler, message)

        self._task = asyncio.create_task(deliver(), name="memory-broker")

    async def publish(self, message: bytes) -> None:
        self._queue.put_nowait(message)

    async def close(self) -> None:
        await _cancel(self._task)


class RedisBroker:
    """Redis pub/sub with `decode_responses=False`: payloads stay bytes."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        import redis.asyncio as redis

        self._redis = redis
        self._url = url
        self._channel = channel
        self._publisher = redis.from_url(url, decode_responses=False)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, handler: Handler, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        self._task = asyncio.create_task(self._listen(handler, on_reconnect), name="redis-broker")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _listen(self, handler: Handler, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            client = self._redis.from_url(self._url, decode_responses=False)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if self._subscribed.is_set():
                        log.info("redis broker reconnected")
                        await _safely_call(on_reconnect)
                    self._subscribed.set()
                    attempt = 0
                    async for item in pubsub.listen():
                        if item.get("type") == "message":
                            await _safely(handler, item["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: wait a little and subscribe again
                log.warning("redis broker lost its connection (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                attempt += 1
            finally:
                await client.aclose()

    async def publish(self, message: bytes) -> None:
        await self._publisher.publish(self._channel, message)

    async def close(self) -> None:
        await _cancel(self._task)
        await self._publisher.aclose()


class PostgresBroker:
    """LISTEN/NOTIFY on a dedicated asyncpg connection; NOTIFY through a second one.

    NOTIFY payloads are text under 8,000 bytes: our messages are small JSON documents naming
    ids, and the receiving hub reads the rest from the database.
    """

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self._dsn = _asyncpg_dsn(url)
        self._channel = channel
        self._listener: Any = None
        self._publisher: Any = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    async def start(self, handler: Handler, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        self._received: asyncio.Queue[bytes] = asyncio.Queue()
        await self._listen()

        async def deliver() -> None:  # one at a time, in the order PostgreSQL delivered them
            while True:
                await _safely(handler, await self._received.get())

        self._task = asyncio.create_task(self._watch(on_reconnect), name="postgres-broker")
        self._delivery = asyncio.create_task(deliver(), name="postgres-broker-delivery")

    async def _listen(self) -> None:
        import asyncpg

        self._lost.clear()
        self._listener = await asyncpg.connect(self._dsn)
        self._listener.add_termination_listener(lambda _conn: self._lost.set())

        def notified(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            self._received.put_nowait(payload.encode())

        await self._listener.add_listener(self._channel, notified)

    async def _watch(self, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            await self._lost.wait()
            log.warning("postgres broker lost its LISTEN connection; reconnecting")
            while True:
                await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                attempt += 1
                try:
                    await self._listen()
                    break
                except OSError:
                    continue
            attempt = 0
            await _safely_call(on_reconnect)

    async def publish(self, message: bytes) -> None:
        import asyncpg

        if len(message) >= NOTIFY_LIMIT:
            raise ValueError(f"live message of {len(message)} bytes is too large for NOTIFY")
        async with self._lock:
            for attempt in range(2):
                try:
                    if self._publisher is None or self._publisher.is_closed():
                        self._publisher = await asyncpg.connect(self._dsn)
                    await self._publisher.execute("SELECT pg_notify($1, $2)", self._channel, message.decode())
                    return
                # A connection cut by the server shows as any of these, InternalClientError included
                # when the cut is noticed in the middle of a query: connect again, once.
                except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError):
                    if self._publisher is not None:
                        self._publisher.terminate()
                    self._publisher = None
                    if attempt:
                        raise

    async def close(self) -> None:
        await _cancel(self._task)
        await _cancel(getattr(self, "_delivery", None))
        for connection in (self._listener, self._publisher):
            if connection is not None and not connection.is_closed():
                await connection.close()


def make_broker(url: str) -> Broker:
    """The broker that `TAVOLI_BROKER_URL` names; `?channel=name` keeps deployments sharing a server apart."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    query = parse_qs(parts.query)
    channel = query.pop("channel", [CHANNEL])[0]
    rest = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, doseq=True), parts.fragment))
    if scheme == "memory":
        return MemoryBroker()
    if scheme in ("redis", "rediss"):
        return RedisBroker(rest, channel)
    if scheme in ("postgresql", "postgres"):
        return PostgresBroker(rest, channel)
    raise ValueError(f"unknown broker {url!r}: use memory://, redis://… or postgresql://…")


def _asyncpg_dsn(url: str) -> str:
    """asyncpg wants postgresql://…: drop a SQLAlchemy driver suffix such as +asyncpg."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", *parts[1:]))


async def _safely(handler: Handler, message: bytes) -> None:
    try:
        await handler(message)
    except Exception:  # one bad message must not stop the delivery of the next ones
        log.exception("live message handler failed")


async def _safely_call(callback: Callable[[], Awaitable[None]]) -> None:
    try:
        await callback()
    except Exception:
        log.exception("broker reconnect callback failed")


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
