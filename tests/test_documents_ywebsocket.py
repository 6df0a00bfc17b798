"""The wire protocol is the standard one: the unmodified `y-websocket` client syncs with the server.

Node runs `tests/node/ywebsocket_client.mjs`, which uses `WebsocketProvider` from node_modules as
it is (with the platform's WebSocket, made with the session's cookie and Origin); a Python client
speaking y-protocols sits in the same document. Text typed in node reaches the server (the store)
and the Python client; text typed on the server's side reaches node; and node never sees a
message it cannot read (our message 100 goes only to sockets that asked for it with `?ack=1`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need
from tests.documents_support import SocketReplica, draft_document, stored_text
from tests.live_support import Browser

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "tests" / "node" / "ywebsocket_client.mjs"


def node_command() -> list[str]:
    node = shutil.which("node")
    if node is None:
        need("node is not installed")
    if not (ROOT / "node_modules" / "y-websocket" / "package.json").exists():
        need("y-websocket is not installed (npm ci)")
    assert node is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    major = int(version.strip().lstrip("v").split(".")[0])
    # Node 22 has a global WebSocket; Node 20 (20.10 and later) behind a flag.
    return [node] if major >= 22 else [node, "--experimental-websocket", "--no-warnings"]


class NodeClient:
    """The node script, driven by JSON lines on its stdin; its events read from its stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, server_url: str, document_id: int, cookie: str) -> NodeClient:
        socket_base = server_url.replace("http://", "ws://") + "/ws/docs"
        process = await asyncio.create_subprocess_exec(
            *node_command(),
            str(CLIENT),
            socket_base,
            str(document_id),
            cookie,
            server_url,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def event(self, name: str, timeout: float = 10, *, closing: bool = False) -> dict[str, Any]:
        """The next event called `name` (a socket that closes first fails, unless `closing`)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"node exited before {name!r}: {await self.errors()}")
                event: dict[str, Any] = json.loads(line)
                if event["event"] == name:
                    return event
                assert closing or event["event"] != "closed", f"the server closed node's socket: {event}"

    async def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()

    async def errors(self) -> str:
        assert self.process.stderr is not None
        if self.process.returncode is None:
            return ""
        return (await self.process.stderr.read()).decode()

    async def quit(self) -> str:
        """End the client; what it wrote on stderr."""
        await self.send({"quit": True})
        await self.event("bye", closing=True)  # destroying the provider closes its socket
        await asyncio.wait_for(self.process.wait(), 10)
        return await self.errors()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


async def save_on_the_server(app: Any, document_id: int) -> None:
    from server.domain import documents

    async with app.state.database.transaction() as session:
        await documents.apply_text(
            session,
            document_id,
            base="Ciao da node e da Python",
            new="Buongiorno, ciao da node e da Python",
            user_id=None,
        )
        row_id = (await documents.stored(session, document_id))[-1].id
    await app.state.documents.publish(document_id, row_id)


@pytest.fixture
def document_id(live_seed, live_board) -> int:
    return int(
        live_seed.run(lambda s: draft_document(s, live_board.table, live_board.cgil.slug, live_board.member.id, "Ciao"))
    )


async def test_the_unmodified_y_websocket_client_syncs_with_the_server(live_server, document_id, database_url):
    person = await Browser(live_server.url).log_in("member@example.org")
    node = await NodeClient.start(live_server.url, document_id, person.cookie)
    try:
        synced = await node.event("synced")
        assert synced["text"] == "Ciao", "node received the stored document"

        python = await SocketReplica("p", await person.socket(f"/ws/docs/{document_id}?ack=1")).start()
        await python.first_sync()
        await node.send({"insert": " da node"})
        await node.event("inserted")
        await python.has("Ciao da node")
        # What the server relays it has stored first.
        assert (await stored_text(database_url, document_id))[0] == "Ciao da node"

        python.replica.text.insert(len(str(python.replica.text)), " e da Python")
        await python.flush()
        await node.send({"wait": " e da Python"})
        seen = await node.event("seen")
        assert seen["text"] == "Ciao da node e da Python"
        await python.saved()
        assert (await stored_text(database_url, document_id))[0] == "Ciao da node e da Python"

        # A change made on the server, outside any socket (as the save without JavaScript does),
        # relayed by reference to the room, reaches node too.
        await asyncio.to_thread(live_server.call, lambda: save_on_the_server(live_server.app, document_id))
        await node.send({"wait": "Buongiorno"})
        seen = await node.event("seen")
        assert seen["text"] == "Buongiorno, ciao da node e da Python"

        errors = await node.quit()
        assert errors == "", f"node reported: {errors}"
    finally:
        node.kill()
        await person.close()
