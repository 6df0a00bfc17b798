"""Real servers and real clients for the live tests.

`ThreadedServer` runs uvicorn with the options of `tavoli serve` in a thread of its own, so that a
test can look inside the app (the hub's render counts) while it serves real TCP connections.
Browsers are played by the `websockets` client and by httpx on real sockets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.app import create_app
from server.cli import server_options
from server.config import Settings
from tests.support import PASSWORD, Change, Seed, csrf_of, in_transaction

HOST = "127.0.0.1"


class ThreadedServer:
    """The app for `settings` on uvicorn, in a thread with its own event loop.

    uvicorn binds port 0 itself (no port is picked first and bound later, which another process
    could take meanwhile); the app is then built for the address it really has, so that the
    Origin a browser sends is the one the app expects.
    """

    def __init__(self, settings: Settings) -> None:
        listening = uvicorn.Config(create_app, host=HOST, port=0, **server_options(settings))
        self.socket = listening.bind_socket()
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://{HOST}:{self.port}"
        self.settings = dataclasses.replace(settings, base_url=self.url)
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, host=HOST, port=self.port, **server_options(self.settings))
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve(sockets=[self.socket]))
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def start(self) -> ThreadedServer:
        """Start serving; return once uvicorn says it has started (it then accepts on the socket)."""
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:  # uvicorn offers no other signal than this flag
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.socket.close()
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.socket.close()

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
        token = csrf_of(page.text)
        response = await self.http.post("/login", data={"email": email, "password": password, "csrf_token": token})
        assert response.status_code == 303, response.text
        self.csrf = csrf_of((await self.http.get("/")).text)
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


async def messages_until(socket: ClientConnection, needle: str, timeout: float = 5) -> list[str]:
    """Every message up to and including the first that contains `needle`.

    To show that something did not happen, make a later change whose push must come after it,
    and look at everything that came before that push.
    """
    received: list[str] = []
    async with asyncio.timeout(timeout):
        while not received or needle not in received[-1]:
            received.append(await next_message(socket, timeout))
    return received


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
