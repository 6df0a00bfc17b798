"""SQLite through aiosqlite, with the quick calls made at once on the event loop's thread.

aiosqlite runs every call on a worker thread of its own and hands the answer back to the loop;
SQLAlchemy's adapter makes about four such calls per statement (cursor, execute, fetch, close).
On a local SQLite database in WAL mode a statement takes microseconds and a reader never waits,
so the thread round trips cost more than the work: `bench/writes` measured 200 → 400 status
changes/s and `bench/render` 186 → 308 pages/s with the calls made in place.

What may wait still goes to the worker thread, so that the loop never sleeps on a lock: BEGIN
IMMEDIATE (a write transaction waits on the busy timeout while another process, such as a `tavoli`
command, writes), and opening or closing the connection. Within the process, writers already take turns
on `Database`'s lock before they BEGIN.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite


def _may_wait(args: tuple[Any, ...]) -> bool:
    """BEGIN IMMEDIATE / EXCLUSIVE take the write lock at once; a plain (deferred) BEGIN takes none."""
    if not args or not isinstance(args[0], str):
        return False
    words = args[0].split()
    return len(words) > 1 and words[0].upper() == "BEGIN" and words[1].upper() in ("IMMEDIATE", "EXCLUSIVE")


class LoopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run in place, except those that may wait on a lock."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if _may_wait(args):
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def connect(database: str, **kwargs: Any) -> LoopConnection:
    """What SQLAlchemy's aiosqlite dialect calls to connect (its `async_creator_fn` argument)."""
    kwargs["check_same_thread"] = False  # made on the worker thread, used on the loop's thread

    def connector() -> sqlite3.Connection:
        made: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return made

    connection = LoopConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
    return connection
