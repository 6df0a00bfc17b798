"""A participant of a document room behind a real websocket (`/ws/docs/{document_id}`, opened
by server/web/documents.py once it decided the person's access).

What the room sends is queued and written by a sender task, so that a room never waits for a
slow client; a client that lets too much pile up is closed (1013) and catches up on reconnecting.
The socket closes itself when its login session expires (4401); the hub closes it on logout, on a
lost role and when the session is gone (server/live/hub.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode

from server.live.direct import DirectWriter
from server.live.yprotocol import SESSION_ENDED, TRY_AGAIN, UNSUPPORTED

if TYPE_CHECKING:
    from server.live.documents import Room

QUEUE_BYTES = 16 * 1024 * 1024  # what may wait for a slow client before it is closed (1013)
CLOSE_TIMEOUT = 2.0


CACHED_FRAME_BYTES = 65_536  # frames up to this size are kept (64 of them) for the next participant


def binary_frame(message: bytes) -> bytes:
    """A complete, unmasked websocket binary frame carrying `message`, as a server sends it: a
    room relays the same bytes to every participant, so a small one is encoded once for them all."""
    if len(message) > CACHED_FRAME_BYTES:
        return _encode(message)
    return _encode_cached(message)


def _encode(message: bytes) -> bytes:
    return WireFrame(Opcode.BINARY, message).serialize(mask=False)


_encode_cached = functools.lru_cache(maxsize=64)(_encode)


@dataclass(eq=False)
class DocumentSocket:
    """A participant behind a real websocket (`/ws/docs/{document_id}`, server/web/documents.py).

    What the room sends goes straight to a socket that can take it at once (server/live/direct.py,
    the frame encoded once for every participant); otherwise it is queued and written by a sender
    task, in order, so the room never waits for a slow client; one that lets too much pile up is
    closed (1013) and catches up on reconnecting.
    """

    websocket: WebSocket
    document_id: int
    table_id: int
    user_id: int
    session_id: str
    name: str
    colour: int
    may_edit: bool
    wants_ack: bool
    expires_at: datetime
    close_code: int | None = None
    direct: DirectWriter | None = None
    _queue: deque[bytes] = field(default_factory=deque)
    _queued: int = 0
    _sender: asyncio.Task[None] | None = None
    _serving: asyncio.Task[None] | None = None
    _expiry: asyncio.TimerHandle | None = None

    async def send(self, message: bytes) -> None:
        if self.close_code is not None:
            return
        if (
            self.direct is not None
            and self._sender is None
            and not self._queue
            and self.direct.try_write(binary_frame(message))
        ):
            return
        if self._queued + len(message) > QUEUE_BYTES:
            self.close(TRY_AGAIN)
            return
        self._queue.append(message)
        self._queued += len(message)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_queued())

    async def _send_queued(self) -> None:
        try:
            while self._queue and self.close_code is None:
                message = self._queue.popleft()
                self._queued -= len(message)
                await self.websocket.send_bytes(message)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client left: `serve` sees it too
        finally:
            self._sender = None

    def close(self, code: int) -> None:
        """Ask for the socket to be closed with `code` (the first request wins)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self._queue.clear()
        self._queued = 0
        if self._serving is not None and self._serving is not asyncio.current_task():
            self._serving.cancel()  # stops its wait for the client; `serve` then closes the socket

    async def serve(self, room: Room) -> None:
        """Join the room, hand it the client's messages until either side ends, then leave."""
        self._serving = asyncio.current_task()
        delay = (self.expires_at - datetime.now(self.expires_at.tzinfo)).total_seconds()
        self._expiry = asyncio.get_running_loop().call_later(max(delay, 0), self.close, SESSION_ENDED)
        try:
            if self.close_code is None:
                await room.join(self)
            while self.close_code is None:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("bytes")
                if data is None:
                    self.close(UNSUPPORTED)  # y-protocols messages are binary
                    break
                await room.receive(self, data)
        except asyncio.CancelledError:
            if self.close_code is None:
                raise  # not ours: the server is stopping
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        finally:
            self._serving = None
            await room.leave(self)

    async def finish(self) -> None:
        """Close the websocket with the code asked for (the sender task goes first)."""
        if self._expiry is not None:
            self._expiry.cancel()
        if self._sender is not None:
            if self.close_code is None:
                self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._sender, CLOSE_TIMEOUT)
        if self.close_code is not None and self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(TimeoutError, RuntimeError, OSError, WebSocketDisconnect):
                await asyncio.wait_for(self.websocket.close(self.close_code), CLOSE_TIMEOUT)
