"""One open table page: its socket, what it shows, and the bounded queue its sender task drains.

The hub never awaits a client: it appends the frame to each connection's queue and moves on.
A client too slow to keep up fills its queue and is closed with 1013 ("try again later"); htmx
reconnects it and the hub sends it the current state, so it misses nothing (DESIGN §4.2).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server.web.views import View

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


@dataclass(frozen=True)
class Page:
    """What a connection shows: the table's home, or one of its meetings."""

    meeting_id: int | None = None


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    table_id: int
    user_id: int
    session_id: str
    view: View
    locale: str
    page: Page
    expires_at: datetime
    close_code: int | None = None
    _frames: deque[str] = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def group(self) -> tuple[Page, View, str]:
        """Connections of one group receive the very same frames."""
        return self.page, self.view, self.locale

    def push(self, frame: str, *, first: bool = False) -> None:
        """Queue a frame without waiting; a full queue closes the connection (1013)."""
        if self.close_code is not None:
            return
        if len(self._frames) >= QUEUE_LIMIT:
            self.close(TRY_AGAIN)
            return
        if first:
            self._frames.appendleft(frame)
        else:
            self._frames.append(frame)
        self._wake.set()

    def close(self, code: int) -> None:
        """Ask for the connection to be closed with `code` (the first request wins)."""
        if self.close_code is None:
            self.close_code = code
            self._frames.clear()
            self._wake.set()
            self._closing.set()

    async def send_frames(self) -> None:
        """The sender task: write queued frames until a close is asked for."""
        while self.close_code is None:
            await self._wake.wait()
            self._wake.clear()
            while self._frames and self.close_code is None:
                await self.websocket.send_text(self._frames.popleft())

    async def receive(self, limit: int) -> None:
        """The receiver task: only keepalives may come in; anything else closes (1008, 1009)."""
        while self.close_code is None:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            data = text.encode() if text is not None else message.get("bytes") or b""
            if len(data) > limit:
                self.close(TOO_BIG)
            elif text not in ("ping", '{"type":"ping"}'):
                self.close(POLICY)

    async def run(self, limit: int) -> None:
        """Send and receive until the client leaves or a close is asked for; then close."""
        sender = asyncio.create_task(self.send_frames())
        receiver = asyncio.create_task(self.receive(limit))
        # A sender stuck writing to a stalled client must not keep a requested close waiting.
        closing = asyncio.create_task(self._closing.wait())
        tasks = (sender, receiver, closing)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                    await task
        if self.close_code is not None and self.websocket.application_state == WebSocketState.CONNECTED:
            # A stalled client cannot even take the close frame: give up after a moment.
            with contextlib.suppress(TimeoutError, RuntimeError, OSError, WebSocketDisconnect):
                await asyncio.wait_for(self.websocket.close(self.close_code), CLOSE_TIMEOUT)
