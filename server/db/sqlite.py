"""SQLite through aiosqlite, with the quick calls made at once on the event loop's thread.

aiosqlite runs every call on a worker thread of its own and hands the answer back to the loop;
SQLAlchemy's adapter makes about four such calls per statement (cursor, execute, fetch, close).
On a local SQLite database in WAL mode a statement takes microseconds and a reader never waits,
so the thread round trips cost more than the work: `bench/writes` measured 200 → 400 status
changes/s and `bench/render` 186 → 308 pages/s with the calls made in place.

What may wait goes to the worker thread, so that the loop never sleeps on a lock: opening or
closing the connection, and a BEGIN IMMEDIATE that finds the write lock taken (another process,
such as a `tavoli` command, is writing), which then waits there on the busy timeout. Within the
process, writers already take turns on `Database`'s lock before they BEGIN, so a BEGIN IMMEDIATE is
first tried in place with no busy timeout and nearly always succeeds (`bench/writes`: a further 25 %).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite

_BUSY = object()


def _may_wait(args: tuple[Any, ...]) -> bool:
    """BEGIN IMMEDIATE / EXCLUSIVE take the write lock at once; a plain (deferred) BEGIN takes none."""
    if not args or not isinstance(args[0], str):
        return False
    words = args[0].split()
    return len(words) > 1 and words[0].upper() == "BEGIN" and words[1].upper() in ("IMMEDIATE", "EXCLUSIVE")


class LoopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run in place, except those that may wait on a lock."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        if not _may_wait(args):
            return fn(*args, **kwargs)
        if (done := self._without_waiting(fn, *args, **kwargs)) is not _BUSY:
            return done
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _without_waiting(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args)` in place with the busy timeout off; `_BUSY` if the lock is taken (nothing began)."""
        assert self._connection is not None
        timeout = self._connection.execute("PRAGMA busy_timeout").fetchone()[0]
        self._connection.execute("PRAGMA busy_timeout = 0")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # or an extended code of BUSY
                raise
            return _BUSY
        finally:
            self._connection.execute(f"PRAGMA busy_timeout = {int(timeout)}")


def connect(database: str, **kwargs: Any) -> LoopConnection:
    """What SQLAlchemy's aiosqlite dialect calls to connect (its `async_creator_fn` argument)."""
    kwargs["check_same_thread"] = False  # made on the worker thread, used on the loop's thread

    def connector() -> sqlite3.Connection:
        made: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return made

    connection = LoopConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
    return connection
