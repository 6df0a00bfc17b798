"""The floor under the candidate: uvicorn (Tavoli's options) and a bare Starlette websocket route.

Run as `python -m bench.lib.floor PORT`. The route accepts and waits: what any ASGI app on this
server pays per socket before doing anything of its own. bench/idle reports it beside the others,
to show how much of the candidate's figure is the server stack and how much is Tavoli.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench.lib.frames import rss_kib
from server.cli import server_options
from server.config import Settings

OPEN: set[WebSocket] = set()


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    OPEN.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        OPEN.discard(websocket)


async def rss(request: Request) -> Response:
    return PlainTextResponse(f"{rss_kib()}\n")


async def count(request: Request) -> Response:
    return PlainTextResponse(f"{len(OPEN)}\n")


app = Starlette(routes=[WebSocketRoute("/", socket), Route("/rss", rss), Route("/count", count)])

if __name__ == "__main__":
    port = int(sys.argv[1])
    settings = Settings(base_url=f"http://127.0.0.1:{port}", log_level="WARNING")
    uvicorn.run(app, host="127.0.0.1", port=port, backlog=4096, **server_options(settings))
