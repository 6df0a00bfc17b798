"""SQLite's calls are made on the event loop's thread, except a BEGIN that has to wait for the lock.

Another process writing (a `tavoli` command beside the server) holds SQLite's write lock; a write
transaction of the server then waits for it on aiosqlite's worker thread, and the loop goes on
serving everything else meanwhile. When nobody holds the lock, BEGIN IMMEDIATE is made in place.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import event, select, text

from server.db.models import Table
from server.db.session import Database
from server.db.sqlite import LoopConnection


def _path(database: Database) -> str:
    assert database.dialect == "sqlite"
    return str(database.url.database)


async def test_sqlite_connections_are_the_loop_kind(database: Database):
    if database.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with database.read() as session:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, LoopConnection)
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
    async with database.transaction() as session:  # BEGIN IMMEDIATE made in place, lock free
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar_one() == 10_000, "timeout restored"


async def test_a_write_waiting_on_another_process_lock_leaves_the_loop_free(database: Database):
    if database.dialect != "sqlite":
        pytest.skip("SQLite only")
    holder_ready, release = threading.Event(), threading.Event()

    def other_process_writes() -> None:  # a connection of its own, as another process would have
        other = sqlite3.connect(_path(database), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE tables SET event_seq = event_seq")
        holder_ready.set()
        release.wait(10)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=other_process_writes)
    holder.start()
    assert await asyncio.to_thread(holder_ready.wait, 5)

    # The signal: SQLite starts the server's BEGIN IMMEDIATE on a thread other than the loop's,
    # where it waits for the lock (its first try, in place, found the lock taken).
    loop, loop_thread = asyncio.get_running_loop(), threading.get_ident()
    waiting = asyncio.Event()

    def traced(statement: str) -> None:
        if statement.upper().startswith("BEGIN IMMEDIATE") and threading.get_ident() != loop_thread:
            loop.call_soon_threadsafe(waiting.set)

    def trace(dbapi_connection: object, _record: object, _proxy: object) -> None:
        dbapi_connection.driver_connection._connection.set_trace_callback(traced)  # type: ignore[attr-defined]

    async def write() -> int:
        async with database.transaction() as session:
            return len((await session.scalars(select(Table))).all())

    event.listen(database.engine.sync_engine, "checkout", trace)
    try:
        writing = asyncio.create_task(write())
        async with asyncio.timeout(10):
            await waiting.wait()  # the loop runs this test while the write waits on the other thread
        assert not writing.done(), "the write waits for the other writer's lock"
        async with database.read() as session:  # and reads go on meanwhile (WAL)
            await session.scalars(select(Table))
        assert not writing.done()
        release.set()
        assert await asyncio.wait_for(writing, 5) == 0
    finally:
        release.set()
        event.remove(database.engine.sync_engine, "checkout", trace)
        holder.join(5)


async def test_concurrent_requests_reuse_the_pool_s_connections(database: Database):
    """Closing a session does not yield to the loop on SQLite, so busy pages do not open connections.

    (SQLAlchemy's own `async with` closes in a task of its own: the connection stayed checked out
    across a turn of the loop, and under 64 concurrent pages the pool opened and closed a
    connection, and its thread, every few requests.)
    """
    if database.dialect != "sqlite":
        pytest.skip("SQLite only")
    opened = 0

    def count(_dbapi_connection: object, _record: object) -> None:
        nonlocal opened
        opened += 1

    async def page() -> None:
        for _ in range(20):
            async with database.read() as session:
                await session.scalars(select(Table))
            await asyncio.sleep(0)  # the page goes on with other work, as a request does

    await page()  # the pool has a connection
    event.listen(database.engine.sync_engine, "connect", count)
    try:
        await asyncio.gather(*(page() for _ in range(64)))
    finally:
        event.remove(database.engine.sync_engine, "connect", count)
    assert opened == 0, f"{opened} connections opened for 1,280 reads made one at a time"
