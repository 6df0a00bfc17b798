"""bench/collab's baseline: pycrdt's own `WebsocketServer` (no store, no authorisation) on Tavoli's uvicorn.

Run as `python -m bench.lib.ybaseline PORT`. Every websocket path is a room (pycrdt-websocket names
rooms by path); GET /count answers how many clients its rooms hold, GET /rss the resident memory.
Only the benchmark uses pycrdt-websocket (the dev extra): the product writes its own rooms.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from pycrdt.websocket import ASGIServer, WebsocketServer

from bench.lib.frames import rss_kib
from server.cli import server_options
from server.config import Settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

rooms = WebsocketServer(rooms_ready=True, auto_clean_rooms=False)
sockets = ASGIServer(rooms)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        task: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                task = asyncio.create_task(rooms.start())
                await rooms.started.wait()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await rooms.stop()
                if task is not None:
                    await asyncio.gather(task, return_exceptions=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "websocket":
        await sockets(scope, receive, send)
    elif scope["type"] == "http":
        if scope["path"] == "/rss":
            body = f"{rss_kib()}\n".encode()
        else:
            body = f"{sum(len(room.clients) for room in rooms.rooms.values())}\n".encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    port = int(sys.argv[1])
    settings = Settings(base_url=f"http://127.0.0.1:{port}", log_level="WARNING")
    uvicorn.run(app, host="127.0.0.1", port=port, backlog=4096, **server_options(settings))
