"""Real servers and real clients for the live tests.

`ThreadedServer` runs uvicorn (websockets-sansio, no compression, a size limit) in a thread of
its own, so that a test can look inside the app (the hub's render counts) while it serves real
TCP connections. Browsers are played by the `websockets` client and by httpx on real sockets.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import PASSWORD, Change, Seed, in_transaction

WS_MAX_SIZE = 65_536


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """uvicorn serving `app` on a free port, in a thread with its own event loop."""

    def __init__(self, app: Starlette, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            ws="websockets-sansio",
            ws_max_size=WS_MAX_SIZE,
            ws_per_message_deflate=False,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def start(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)

    def call(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run a coroutine on the server's loop and wait for its result (blocking the caller)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(_awaited(make), self.loop).result(30)

    def seed(self, password_hash: str) -> Seed:
        database = self.app.state.database

        def run(change: Change) -> Any:
            return self.call(lambda: in_transaction(database, change))

        return Seed(run, password_hash)

    @property
    def hub(self) -> Any:
        return self.app.state.hub


async def _awaited(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()


class Browser:
    """A logged-in person, as far as HTTP goes: cookies and the CSRF token of their session."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False)
        self.csrf = ""
        self.sockets: list[ClientConnection] = []

    async def log_in(self, email: str, password: str = PASSWORD) -> Browser:
        page = await self.http.get("/login")
        token = _csrf(page.text)
        response = await self.http.post("/login", data={"email": email, "password": password, "csrf_token": token})
        assert response.status_code == 303, response.text
        self.csrf = _csrf((await self.http.get("/")).text)
        return self

    async def post(self, path: str, data: dict[str, Any]) -> httpx.Response:
        return await self.http.post(
            path, data=data, headers={"X-CSRF-Token": self.csrf, "HX-Request": "true", "Origin": self.base_url}
        )

    @property
    def cookie(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())

    async def socket(self, path: str, *, origin: str | None = None, **options: Any) -> ClientConnection:
        url = self.base_url.replace("http://", "ws://") + path
        socket = await connect(
            url,
            origin=origin or self.base_url,
            additional_headers={"Cookie": self.cookie},
            proxy=None,
            compression=None,
            **options,
        )
        self.sockets.append(socket)
        return socket

    async def close(self) -> None:
        for connection in self.sockets:
            connection.transport.abort()  # no closing handshake: some of these peers are gone or stuck
            await connection.wait_closed()
        await self.http.aclose()


async def crowd(browser: Browser, path: str, data: dict[str, Any], count: int = 50) -> list[httpx.Response]:
    """The same form posted by `count` clients at once, each on its own connection, with one session."""
    headers = {"X-CSRF-Token": browser.csrf, "HX-Request": "true", "Origin": browser.base_url}
    clients = [httpx.AsyncClient(base_url=browser.base_url, cookies=browser.http.cookies) for _ in range(count)]
    try:
        return list(await asyncio.gather(*(c.post(path, data=data, headers=headers) for c in clients)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def next_message(socket: ClientConnection, timeout: float = 5) -> str:
    message = await asyncio.wait_for(socket.recv(), timeout)
    return message if isinstance(message, str) else message.decode()


async def message_with(socket: ClientConnection, needle: str, timeout: float = 5) -> str:
    """The first message that contains `needle` (presence and other pushes may come first)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no message with {needle!r}")
        message = await next_message(socket, remaining)
        if needle in message:
            return message


def home(board: Any) -> str:
    """The socket address of the board's table home."""
    return f"/ws/tavoli/{board.table.slug}"


async def closed_with(socket, timeout: float = 5) -> int:
    """Read until the server closes the socket; return the close code."""
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(timeout):
            while True:
                await socket.recv()
    assert info.value.rcvd is not None, "closed without a close frame"
    return info.value.rcvd.code
