"""bench/collab's load generator: thin editors that send pre-built updates and only record what arrives.

Run as `python -m bench.lib.editors SPEC OUT` (pickles written and read by bench/collab). Every
update was generated, encoded as a y-protocols sync-update message and masked as a websocket frame
before this process starts. While the editors type, the process writes those frames on schedule
(noting the time of each) and keeps every read as it came with its time; once a second it finds the
frame boundaries, only to answer the server's pings. Everything else happens after the typing:
cutting the reads into messages, finding the edits each carries (client id and clock, read from the
update's header), and applying what each replica received to its document.

Lines on standard output: {"ready": …} once every socket is open and synchronised, then (after
"go T0" on standard input, T0 a time.monotonic() shared by every worker) {"typed": …} once the
last edit is sent, {"done": …} once the
results are in OUT; the sockets close when standard input closes.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import json
import os
import pickle
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycrdt import Doc, Text

from bench.lib.ywire import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    SYNC_STEP1,
    SYNC_STEP2,
    SYNC_UPDATE,
    client_frame,
    frame_ends,
    pong,
    struct_ranges,
    sync_message,
    sync_payload,
)

TEXT = "markdown"


@dataclass
class Editor:
    """One editor as bench/collab built it: its frames in typing order and the clock of each."""

    client_id: int
    frames: list[bytes]
    clocks: list[int]
    final: bytes  # the editor's own document after all its edits (the seed included)
    phase: float  # seconds after T0 of its first edit


@dataclass
class Spec:
    host: str
    port: int
    path: str
    observer_path: str
    cookie: str
    origin: str
    seed: bytes
    rate: float  # edits per second per editor
    editors: list[Editor]
    every_editor: dict[int, int]  # every worker's editors: client id → clock after its last edit
    observe: bool  # this worker also reads the server's document at the end
    drain_timeout: float = 60.0  # after the typing, for a server that fell behind to catch up


class Socket(asyncio.Protocol):
    """A client websocket that records reads and parses them later."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.ends = array("q")
        self.times = array("d")
        self.walked = 0  # how far the ping scan has read
        self.closed: int | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            head, rest = bytes(self.head).split(b"\r\n\r\n", 1)
            status = head.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                self.upgraded.set_exception(RuntimeError(f"handshake refused: {status.decode(errors='replace')}"))
                return
            self.upgraded.set_result(None)
            if not rest:
                return
            data = rest
        self.buffer += data
        self.ends.append(len(self.buffer))
        self.times.append(time.monotonic())

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.upgraded.done():
            self.upgraded.set_exception(RuntimeError(f"connection lost during the handshake: {exc}"))

    def send(self, frame: bytes) -> None:
        assert self.transport is not None
        if not self.lost and not self.transport.is_closing():  # the server closed it: its edits are lost
            self.transport.write(frame)

    def answer_pings(self) -> None:
        """Walk the new frames (headers only): answer pings, note a close."""
        for opcode, start, end in frame_ends(self.buffer, self.walked):
            if opcode == OP_PING:
                self.send(pong(bytes(self.buffer[start:end])))
            elif opcode == OP_CLOSE and self.closed is None:
                self.closed = int.from_bytes(self.buffer[start : start + 2], "big") if end - start >= 2 else 1005
            self.walked = end

    def messages(self, at: int) -> tuple[list[tuple[float, bytes]], int]:
        """The binary messages from byte `at`, each with the time its last byte was read."""
        found = []
        for opcode, start, end in frame_ends(self.buffer, at):
            if opcode == OP_BINARY:
                when = self.times[bisect.bisect_left(self.ends, end)]
                found.append((when, bytes(self.buffer[start:end])))
            at = end
        return found, at


async def open_socket(spec: Spec, path: str) -> Socket:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {spec.host}:{spec.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if spec.origin:
        lines.append(f"Origin: {spec.origin}")
    if spec.cookie:
        lines.append(f"Cookie: {spec.cookie}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    _, socket = await loop.create_connection(lambda: Socket(request), spec.host, spec.port)
    await asyncio.wait_for(socket.upgraded, 30)
    return socket


@dataclass
class Replica:
    """What one editor's socket received, read after the typing."""

    editor: Editor
    socket: Socket
    read_to: int = 0
    updates: list[bytes] = field(default_factory=list)
    seen: dict[int, int] = field(default_factory=dict)  # client → highest clock end received
    clients: array[int] = field(default_factory=lambda: array("q"))
    clocks: array[int] = field(default_factory=lambda: array("q"))
    arrived: array[float] = field(default_factory=lambda: array("d"))

    def read(self, editors: dict[int, int]) -> None:
        messages, self.read_to = self.socket.messages(self.read_to)
        for when, message in messages:
            found = sync_payload(message)
            if found is None or found[0] not in (SYNC_STEP2, SYNC_UPDATE):
                continue  # awareness, the server's sync step 1, an acknowledgement
            update = found[1]
            self.updates.append(update)
            for client, first, end in struct_ranges(update):
                if client not in editors or client == self.editor.client_id:
                    continue  # the seed; an editor's own edit echoed back
                self.seen[client] = max(self.seen.get(client, 0), end)
                for clock in range(first, end):
                    self.clients.append(client)
                    self.clocks.append(clock)
                    self.arrived.append(when)

    def complete(self, editors: dict[int, int]) -> bool:
        own = self.editor.client_id
        return all(self.seen.get(client, 0) >= end for client, end in editors.items() if client != own)

    def text(self) -> str:
        """The replica: the editor's own document (the seed and its edits) and all it received.

        Applied one by one in a transaction (pycrdt's merge_updates grows faster than linearly
        with thousands of small updates)."""
        doc: Doc[Any] = Doc()
        text = doc.get(TEXT, type=Text)
        with doc.transaction():
            doc.apply_update(self.editor.final)
            for update in self.updates:
                doc.apply_update(update)
        return str(text)


async def server_text(spec: Spec) -> str:
    """The server's document as a new client receives it (sync step 1 with an empty state)."""
    socket = await open_socket(spec, spec.observer_path)
    socket.send(client_frame(sync_message(SYNC_STEP1, b"\x00")))
    read_to = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        messages, read_to = socket.messages(read_to)
        for _, message in messages:
            found = sync_payload(message)
            if found is not None and found[0] == SYNC_STEP2:
                doc: Doc[Any] = Doc()
                doc.apply_update(found[1])
                assert socket.transport is not None
                socket.transport.close()
                return str(doc.get(TEXT, type=Text))
        await asyncio.sleep(0.05)
    raise RuntimeError("the server sent no document to the observer")


async def type_edits(spec: Spec, sockets: list[Socket], t0: float) -> tuple[array[int], array[int], array[float]]:
    """Write every editor's frames on schedule; the time of each send (just before the write)."""
    schedule = sorted(
        (editor.phase + k / spec.rate, index, k)
        for index, editor in enumerate(spec.editors)
        for k in range(len(editor.frames))
    )
    clients, clocks, sent = array("q"), array("q"), array("d")
    next_scan = time.monotonic() + 1.0
    for due, index, k in schedule:
        now = time.monotonic()
        # Behind schedule, it still yields, so that reads keep being timed as they come.
        await asyncio.sleep(max(0.0, t0 + due - now))
        editor = spec.editors[index]
        sent.append(time.monotonic())
        sockets[index].send(editor.frames[k])
        clients.append(editor.client_id)
        clocks.append(editor.clocks[k])
        if time.monotonic() >= next_scan:
            for socket in sockets:
                socket.answer_pings()
            next_scan = time.monotonic() + 1.0
    return clients, clocks, sent


async def main(spec: Spec, out_path: Path) -> None:
    path = spec.path
    sockets = [await open_socket(spec, path) for _ in spec.editors]
    hello = client_frame(sync_message(SYNC_STEP1, state_of(spec.seed)))
    for socket in sockets:
        socket.send(hello)
    print(json.dumps({"ready": len(sockets)}), flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    t0 = float(line.split()[1])

    cpu_start, wall_start = time.process_time(), time.monotonic()
    clients, clocks, sent = await type_edits(spec, sockets, t0)
    cpu, wall = time.process_time() - cpu_start, time.monotonic() - wall_start
    print(json.dumps({"typed": len(sent)}), flush=True)

    replicas = [Replica(editor, socket) for editor, socket in zip(spec.editors, sockets, strict=True)]
    deadline = time.monotonic() + spec.drain_timeout
    while True:
        for socket in sockets:
            socket.answer_pings()
        for replica in replicas:
            replica.read(spec.every_editor)
        if all(r.complete(spec.every_editor) for r in replicas) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    closed = sorted({s.closed for s in sockets if s.closed is not None})
    lost = sum(1 for s in sockets if s.lost)
    result: dict[str, Any] = {
        "cpu": cpu,
        "wall": wall,
        "sends": (clients, clocks, sent),
        "arrivals": [(r.clients, r.clocks, r.arrived) for r in replicas],
        "complete": sum(1 for r in replicas if r.complete(spec.every_editor)),
        "texts": [r.text() for r in replicas],
        "closed": closed,
        "lost": lost,
        "server_text": await server_text(spec) if spec.observe else None,
    }
    await loop.run_in_executor(None, out_path.write_bytes, pickle.dumps(result))
    print(json.dumps({"done": True}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    for socket in sockets:
        if socket.transport is not None:
            socket.transport.close()


def state_of(seed: bytes) -> bytes:
    doc: Doc[Any] = Doc()
    doc.apply_update(seed)
    return doc.get_state()


if __name__ == "__main__":
    written: Spec = pickle.loads(Path(sys.argv[1]).read_bytes())  # noqa: S301 (bench/collab's, a moment ago)
    asyncio.run(main(written, Path(sys.argv[2])))
