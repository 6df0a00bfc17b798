"""Writing a pushed frame straight to the socket, encoded once for every connection.

Going through ASGI, every frame for every connection costs a task switch in its sender task and
a fresh encoding of the same bytes; with thousands of pages open that is most of a push's latency
(bench/fanout). A server-to-browser text frame is the same bytes for every socket (unmasked, no
compression), so a push serialises it once, and a connection whose socket can take it at once
writes those bytes there and then. Anything else (a paused transport, frames already waiting,
a negotiated extension, another server) goes through the queue and the sender task as before.

This leans on uvicorn's websockets-sansio protocol (pinned in pyproject.toml): `DirectWriter.find`
checks for the attributes it uses and returns None when they are not there, and the queue serves
alone.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode
from websockets.protocol import State

SCOPE_KEY = "tavoli.raw_send"


class RawSendMiddleware:
    """Outermost: remembers the server's own `send` for websockets, before anything wraps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SCOPE_KEY] = send
        await self.app(scope, receive, send)


class DirectWriter:
    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    @classmethod
    def find(cls, scope: Scope) -> DirectWriter | None:
        protocol = getattr(scope.get(SCOPE_KEY), "__self__", None)
        needed = ("conn", "transport", "writable", "close_sent")
        if protocol is None or type(protocol).__name__ != "WebSocketsSansIOProtocol":
            return None
        if not all(hasattr(protocol, name) for name in needed):
            return None
        return cls(protocol)

    def try_write(self, wire: bytes) -> bool:
        """Write an encoded text frame now if the socket can take it without waiting; False otherwise."""
        protocol = self._protocol
        conn = protocol.conn
        if (
            conn.state is not State.OPEN
            or conn.extensions
            or conn.expect_continuation_frame
            or protocol.close_sent
            or protocol.transport.is_closing()
            or not protocol.writable.is_set()
        ):
            return False
        protocol.transport.write(wire)
        return True


def encode_text(data: bytes) -> bytes:
    """A complete, unmasked websocket text frame carrying `data` (UTF-8), as a server sends it."""
    return WireFrame(Opcode.TEXT, data).serialize(mask=False)
