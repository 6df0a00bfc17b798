"""What the benchmarks share: starting the servers, the load generator, and the statistics.

Method: a discarded warm-up, then alternating baseline/candidate rounds in the same
minute; each figure is reported with the median of the per-round ratios (candidate ÷ baseline).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "password-for-the-bench"
EMAIL = "bench@example.org"
TABLE = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def prepare_database(folder: Path) -> str:
    """A migrated SQLite database with the bench table and one member (whose session all sockets share)."""
    from server.db import migrations
    from server.db.models import Role
    from server.db.session import Database
    from server.domain import accounts, tables

    url = f"sqlite+aiosqlite:///{folder}/bench.db"
    migrations.upgrade(url)

    async def seed() -> None:
        database = Database(url)
        async with database.transaction() as session:
            table = await tables.create_table(session, slug=TABLE, name="Tavolo di prova")
            user = await accounts.create_user(session, email=EMAIL, name="Bench", password=PASSWORD)
            await tables.add_member(session, table, user, Role.member)
        await database.dispose()

    asyncio.run(seed())
    return url


@dataclass
class Server:
    kind: str
    port: int
    process: subprocess.Popen[bytes]
    cookie: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        path = f"/ws/tavoli/{TABLE}" if self.kind == "candidate" else "/"
        return f"ws://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> str:
        prefix = "/bench" if self.kind == "candidate" else ""
        with urllib.request.urlopen(f"{self.url}{prefix}{path}", timeout=30) as response:  # noqa: S310 (ours)
            return str(response.read().decode().strip())

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(kind: str, database_url: str) -> Server:
    port = free_port()
    module = f"bench.lib.{kind}"
    args = [sys.executable, "-m", module, str(port)] + ([database_url] if kind == "candidate" else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAVOLI_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(kind, port, process)
    deadline = time.monotonic() + 30
    while True:
        try:
            server.get("/count")
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{kind} server did not start") from None
            time.sleep(0.1)
    if kind == "candidate":
        server.cookie = _log_in(server.url)
    return server


def _log_in(url: str) -> str:
    with httpx.Client(base_url=url) as client:
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        response = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303, response.status_code
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items() if k == "tavoli_session")


@dataclass
class Load:
    """The load generator: client processes holding `count` sockets between them."""

    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    @classmethod
    def open(cls, server: Server, count: int, frames: int, workers: int) -> Load:
        load = cls()
        share = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for part in share:
            load.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.lib.clients",
                        server.socket_url,
                        str(part),
                        server.cookie,
                        server.url,
                        str(frames),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for process in load.processes:
            line = process.stdout.readline() if process.stdout else ""
            if not line or not json.loads(line).get("ready"):
                load.close()
                raise RuntimeError("the load generator could not connect")
        return load

    def results(self) -> list[dict[str, float | list[float]]]:
        """Each process's figures, once all its sockets have their frames; then the sockets close."""
        found = []
        for process in self.processes:
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                raise RuntimeError("a load generator stopped before reporting")
            found.append(json.loads(line))
        for process in self.processes:
            if process.stdin:
                process.stdin.close()
        for process in self.processes:
            process.wait(timeout=60)
        return found

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def ratio_line(bench: str, fields: dict[str, float | int | str]) -> str:
    """One machine-readable line: `bench=… key=value …`."""
    parts = [f"bench={bench}"]
    for key, value in fields.items():
        parts.append(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def temporary_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="tavoli-bench-"))
