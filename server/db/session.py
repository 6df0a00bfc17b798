"""The engine and the two kinds of database session the app uses: reads and write transactions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from server.db import sqlite
from server.db.models import Event
from server.markdown import MarkdownRenderer

CommitListener = Callable[[list[Event]], Awaitable[None]]
# The key of the Markdown renderer in every session's `info`.
MARKDOWN = "markdown"

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


class Database:
    """Owns the engine; hands out read sessions and write transactions.

    Write transactions collect the events that the domain records (see `domain.audit`) and, once
    the commit has succeeded, hand them to the registered listeners (the live hub): a rolled-back
    change is never announced.

    Every session carries the Markdown renderer in its `info` (`MARKDOWN`), for the domain to
    render the texts it writes (see server/markdown.py): the one given, or one of its own, which
    `dispose()` closes.
    """

    def __init__(self, url: str, *, echo: bool = False, markdown: MarkdownRenderer | None = None) -> None:
        self.url = make_url(url)
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **_engine_options(url))
        if self.url.get_backend_name() == "sqlite":
            _configure_sqlite(self.engine)
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self.markdown = markdown if markdown is not None else MarkdownRenderer()
        self._owns_markdown = markdown is None
        info = {MARKDOWN: self.markdown}
        self._reads = async_sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._writes = async_sessionmaker(writer, expire_on_commit=False, info=info)
        self._listeners: list[CommitListener] = []
        self._sqlite_writer = asyncio.Lock() if self.url.get_backend_name() == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(events)` after every write transaction that recorded events commits."""
        self._listeners.append(listener)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading; it never writes (SQLite: a deferred transaction)."""
        async with self._session(self._reads) as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed at the end of the block, rolled back on an exception.

        On SQLite it starts with BEGIN IMMEDIATE, so that concurrent writers queue on the busy
        timeout instead of failing when a read lock cannot be upgraded; and the writers of this
        process take turns on a lock first, since SQLite admits one writer at a time anyway and
        its busy handler waits by sleeping (up to 100 ms a turn) where a lock wakes the next at once.
        """
        async with self._write_turn(), self._session(self._writes) as session:
            async with session.begin():
                yield session
            events: list[Event] = session.info.pop("events", [])
        if events:
            for listener in self._listeners:
                await listener(events)

    @asynccontextmanager
    async def _session(self, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
        """A session, closed at the end of the block.

        `AsyncSession`'s own `async with` closes it in a task of its own, shielded from
        cancellation, and so yields to the loop while the connection is still checked out. On
        SQLite, where closing is a rollback made in place, that yield alone let the requests in
        flight hold more connections than the pool keeps, which were opened (a thread each) and
        closed again all the time; so there the session is closed on the spot.
        """
        if self.dialect != "sqlite":
            async with sessions() as session:
                yield session
            return
        session = sessions()
        try:
            yield session
        finally:
            await session.close()

    def _write_turn(self) -> asyncio.Lock | contextlib.nullcontext[None]:
        return self._sqlite_writer if self._sqlite_writer is not None else contextlib.nullcontext()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._owns_markdown:
            await self.markdown.close()


def _engine_options(url: str) -> dict[str, Any]:
    if make_url(url).get_backend_name() == "sqlite":
        return {"connect_args": {"async_creator_fn": sqlite.connect}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _configure_sqlite(engine: AsyncEngine) -> None:
    """SQLAlchemy's SQLite transaction recipe: we emit BEGIN ourselves and set WAL outside a transaction."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
