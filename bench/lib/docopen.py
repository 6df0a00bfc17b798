"""bench/docload's measurement, one per fresh process: open a stored document and report time and memory.

Run as `python -m bench.lib.docopen MODE DATABASE_FILE DOCUMENT_ID [STATS]`, MODE `app` or `bare`
(with STATS, the opening runs under cProfile and its stats are written there):
- app: Tavoli's store (server.domain.documents.load in a read session of server.db.session.Database,
  whose connection is opened first), then the text;
- bare: the same rows' bytes, read with sqlite3 before the clock starts and kept in memory, applied
  to an empty pycrdt Doc in one transaction, then the text.
Prints one JSON line: seconds, the peak resident memory's increase over the clock (KiB: VmHWM after
minus VmRSS before, the high-water mark reset at the start through /proc/self/clear_refs), and the
text's length and SHA-256 (both modes must produce the same text).
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import hashlib
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any


def memory_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM, the peak resident set, to the current one


PROFILE: list[str] = []  # where to write the stats, when profiling


def measure(run: Callable[[], str]) -> dict[str, float | int | str]:
    gc.collect()
    reset_peak()
    before = memory_kib("VmRSS")
    profile = cProfile.Profile() if PROFILE else None
    start = time.perf_counter()
    if profile is not None:
        profile.enable()
    text = run()
    if profile is not None:
        profile.disable()
        profile.dump_stats(PROFILE[0])
    seconds = time.perf_counter() - start
    peak = memory_kib("VmHWM")
    return {
        "seconds": seconds,
        "peak_increase_kib": peak - before,
        "chars": len(text),
        "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
    }


def bare(path: str, document_id: int) -> dict[str, float | int | str]:
    from pycrdt import Doc, Text

    with sqlite3.connect(path) as connection:
        updates = [
            bytes(data)
            for (data,) in connection.execute(
                "SELECT data FROM document_updates WHERE document_id = ? ORDER BY id", (document_id,)
            )
        ]
    probe: Doc[Any] = Doc()  # the extension loaded and warm, as it is in the app's process
    probe.get("markdown", type=Text)

    def run() -> str:
        doc: Doc[Any] = Doc()
        text = doc.get("markdown", type=Text)
        with doc.transaction():
            for update in updates:
                doc.apply_update(update)
        return str(text)

    return measure(run)


def app(path: str, document_id: int) -> dict[str, float | int | str]:
    from sqlalchemy import text as sql

    from server.db.session import Database
    from server.domain import documents

    database = Database(f"sqlite+aiosqlite:///{path}")
    loop = asyncio.new_event_loop()

    async def warm() -> None:  # the connection pool open, the models and the query compiled elsewhere
        async with database.read() as session:
            await session.execute(sql("SELECT 1"))
        async with database.read() as session:
            await documents.load(session, 0)  # no rows: compiles the query on an empty document

    async def load() -> str:
        async with database.read() as session:
            return documents.text_in(await documents.load(session, document_id))

    loop.run_until_complete(warm())
    try:
        return measure(lambda: loop.run_until_complete(load()))
    finally:
        loop.run_until_complete(database.dispose())
        loop.close()


if __name__ == "__main__":
    mode, path, document_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
    PROFILE.extend(sys.argv[4:5])
    print(json.dumps((app if mode == "app" else bare)(path, document_id)), flush=True)
