"""One open table page: its socket, what it shows, and the bounded queue of frames it has not taken yet.

The hub never awaits a client. A frame goes straight to a socket that can take it; otherwise it
waits in the connection's queue, which a sender task drains (started when needed, gone when the
queue is empty). A client too slow to keep up fills its queue and is closed with 1013 ("try again
later"); htmx reconnects it and the hub sends it the current state, so it misses nothing
(docs/architecture.md, "The live protocol"). An idle connection costs no task of its own beyond
the one serving its socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server.live.direct import DirectWriter, encode_text
from server.views.audience import Audience, Screen

QUEUE_LIMIT = 64
CLOSE_TIMEOUT = 2.0

# Close codes. 1008/1009/1013 are RFC 6455's; the 44xx ones are ours, so that htmx-ext-ws (which
# retries only after 1006, 1011, 1012 and 1013) stops and the page can say why.
POLICY = 1008
TOO_BIG = 1009
RECONNECT = 1012
TRY_AGAIN = 1013
SESSION_ENDED = 4401
NO_ACCESS = 4403
NOT_FOUND = 4404
TOO_MANY = 4429  # the session has as many table sockets open on this instance as it may


class Frame:
    """A message for many connections: its text, and its websocket frame encoded once for them all."""

    __slots__ = ("_wire", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = encode_text(self.text.encode())
        return self._wire


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    table_id: int
    user_id: int
    session_id: str
    audience: Audience
    locale: str
    page: Screen
    expires_at: datetime
    close_code: int | None = None
    direct: DirectWriter | None = None
    _frames: deque[Frame] = field(default_factory=deque)
    _started: bool = False
    _sender: asyncio.Task[None] | None = None
    _serving: asyncio.Task[None] | None = None

    @property
    def group(self) -> tuple[Screen, Audience, str]:
        """Connections of one group receive the very same frames."""
        return self.page, self.audience, self.locale

    def push(self, frame: Frame | str, *, first: bool = False) -> None:
        """Send or queue a frame without waiting; a full queue closes the connection (1013).

        The `first` frame (the page's current state) goes before anything queued. Once it is
        out, and with nothing queued or in flight, a writable socket takes a frame at once;
        otherwise it waits in the queue behind the others, so the order of frames is kept.
        """
        if self.close_code is not None:
            return
        if isinstance(frame, str):
            frame = Frame(frame)
        if first:
            self._started = True
        if (
            self._started
            and self.direct is not None
            and self._sender is None
            and not self._frames
            and self.direct.try_write(frame.wire)
        ):
            return
        if len(self._frames) >= QUEUE_LIMIT:
            self.close(TRY_AGAIN)
            return
        if first:
            self._frames.appendleft(frame)
        else:
            self._frames.append(frame)
        if self._sender is None and self._started:
            self._sender = asyncio.create_task(self._send_queued())

    def close(self, code: int) -> None:
        """Ask for the connection to be closed with `code` (the first request wins)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self._frames.clear()
        if self._serving is not None and self._serving is not asyncio.current_task():
            self._serving.cancel()  # stops its wait for the client; `serve` then closes the socket

    async def _send_queued(self) -> None:
        """The sender task: write the queued frames, in order, then end."""
        try:
            while self._frames and self.close_code is None:
                await self.websocket.send_text(self._frames.popleft().text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client left: `serve` sees it too
        finally:
            self._sender = None

    async def serve(self, limit: int) -> None:
        """Receive until the client leaves or a close is asked for; then close.

        Only keepalives may come in; anything else closes (1008, 1009).
        """
        self._serving = asyncio.current_task()
        try:
            while self.close_code is None:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                data = text.encode() if text is not None else message.get("bytes") or b""
                if len(data) > limit:
                    self.close(TOO_BIG)
                elif text not in ("ping", '{"type":"ping"}'):
                    self.close(POLICY)
        except asyncio.CancelledError:
            if self.close_code is None:
                raise  # not ours: the server is stopping
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        finally:
            self._serving = None
            if self._sender is not None:
                # A sender stuck writing to a stalled client must not keep the close waiting.
                self._sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._sender
        if self.close_code is not None and self.websocket.application_state == WebSocketState.CONNECTED:
            # A stalled client cannot even take the close frame: give up after a moment.
            with contextlib.suppress(TimeoutError, RuntimeError, OSError, WebSocketDisconnect):
                await asyncio.wait_for(self.websocket.close(self.close_code), CLOSE_TIMEOUT)
