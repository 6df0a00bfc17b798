"""The baseline: a bare `websockets` server that pushes the same bytes with `broadcast()`.

Run as `python -m bench.lib.bare PORT`. HTTP GET /start?frames=F&interval=S&size=B starts the
pushes; GET /rss answers the process's resident memory in KiB.
"""

from __future__ import annotations

import asyncio
import sys
import time
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

from bench.lib.frames import WARM_UP, frame, rss_kib, unstamped

CLIENTS: set[ServerConnection] = set()


async def handler(connection: ServerConnection) -> None:
    CLIENTS.add(connection)
    try:
        await connection.wait_closed()
    finally:
        CLIENTS.discard(connection)


async def push(frames: int, interval: float, size: int) -> None:
    for number in range(WARM_UP):
        await asyncio.sleep(interval)
        broadcast(CLIENTS, unstamped(number, size))
    for number in range(frames):
        await asyncio.sleep(interval)
        broadcast(CLIENTS, frame(number, time.monotonic(), size))


def control(connection: ServerConnection, request: Request) -> Response | None:
    url = urlsplit(request.path)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    if url.path == "/start":
        asyncio.get_running_loop().create_task(
            push(int(query.get("frames", 50)), float(query.get("interval", 0.1)), int(query.get("size", 200)))
        )
        return connection.respond(HTTPStatus.OK, f"{len(CLIENTS)}\n")
    if url.path == "/rss":
        return connection.respond(HTTPStatus.OK, f"{rss_kib()}\n")
    if url.path == "/count":
        return connection.respond(HTTPStatus.OK, f"{len(CLIENTS)}\n")
    return None


async def main(port: int) -> None:
    async with serve(
        handler,
        "127.0.0.1",
        port,
        process_request=control,
        compression=None,
        max_size=65_536,
        ping_interval=20,  # the keepalive Tavoli's server keeps too
        ping_timeout=20,
        backlog=4096,
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
