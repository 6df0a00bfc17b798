"""The candidate: Tavoli itself (create_app, its table socket, its hub) on uvicorn.

Run as `python -m bench.lib.candidate PORT DATABASE_URL`. It serves the real app, plus two
bench-only routes added here (not in the product): POST /bench/start pushes frames through the
hub's connections exactly as a change does (`Connection.push`), GET /bench/rss answers memory.
The database must hold the bench table (see harness.prepare_database).
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.lib.frames import WARM_UP, frame, rss_kib, unstamped
from server.app import create_app
from server.cli import server_options
from server.config import Settings
from server.live.connection import Frame


def build(port: int, database_url: str) -> Starlette:
    # Every socket of a bench run shares one login session: lift the per-session cap out of its way.
    settings = Settings(
        database_url=database_url,
        base_url=f"http://127.0.0.1:{port}",
        log_level="WARNING",
        max_sockets_per_session=1_000_000,
    )
    app = create_app(settings)

    async def push(frames: int, interval: float, size: int) -> None:
        for number in range(WARM_UP + frames):
            await asyncio.sleep(interval)
            text = unstamped(number, size) if number < WARM_UP else frame(number, time.monotonic(), size)
            data = Frame(text)
            for connection in app.state.hub.all_connections():
                connection.push(data)

    async def start(request: Request) -> Response:
        query = request.query_params
        asyncio.get_running_loop().create_task(
            push(int(query.get("frames", 50)), float(query.get("interval", 0.1)), int(query.get("size", 200)))
        )
        return PlainTextResponse(f"{len(app.state.hub.all_connections())}\n")

    async def rss(request: Request) -> Response:
        return PlainTextResponse(f"{rss_kib()}\n")

    constant: dict[str, bytes] = {}

    async def keep(request: Request) -> Response:
        """bench/render: remember a page's bytes, to serve them as the constant baseline."""
        constant["page"] = await request.body()
        return PlainTextResponse("kept\n")

    async def serve_constant(request: Request) -> Response:
        return HTMLResponse(constant["page"])

    async def count(request: Request) -> Response:
        return PlainTextResponse(f"{len(app.state.hub.all_connections())}\n")

    app.router.routes[:0] = [
        Route("/bench/start", start, methods=["GET"]),
        Route("/bench/rss", rss),
        Route("/bench/count", count),
        Route("/bench/constant", keep, methods=["POST"]),
        Route("/bench/constant", serve_constant, methods=["GET"]),
    ]
    return app


if __name__ == "__main__":
    port, database_url = int(sys.argv[1]), sys.argv[2]
    app = build(port, database_url)
    # The very options of `tavoli serve`, with a deeper backlog for the load generator's bursts.
    uvicorn.run(app, host="127.0.0.1", port=port, backlog=4096, **server_options(app.state.settings))
