"""Tavoli as bench/lib/candidate.py serves it, under cProfile: where a benchmark's server time goes.

Run as `python -m bench.lib.profiled PORT DATABASE_URL STATS`: the same app and uvicorn options;
when uvicorn stops (SIGTERM), the profile of the event loop's thread (where the requests, the
sockets and SQLite's calls run, see server/db/sqlite.py) is written to STATS (pstats format).
"""

from __future__ import annotations

import cProfile
import signal
import sys

import uvicorn

from bench.lib.candidate import build
from server.cli import server_options

if __name__ == "__main__":
    port, database_url, stats = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    app = build(port, database_url)
    # uvicorn raises the SIGTERM it caught again once stopped: let it end the process through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profile = cProfile.Profile()
    profile.enable()
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, backlog=4096, **server_options(app.state.settings))
    finally:
        profile.disable()
        profile.dump_stats(stats)
