"""Browser tests: a real `tavoli serve` process, Debian's Chromium driven by Playwright, axe-core.

Every page a test opens is watched: an error on its console (a failed request, an exception, a
refusal of the Content Security Policy) or a CSP violation fails the test, unless the test said
it expects it (`console.allow(...)`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRET, need
from tests.support import PASSWORD, Seed

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def free_port() -> int:
    """A port free now; `start_server` tries again elsewhere if another process takes it first."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running `tavoli serve` process."""

    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PortTaken(RuntimeError):
    pass


def start_server(database_url: str, tmp_path: Path, port: int | None = None, **env: str) -> Server:
    """`tavoli serve` on `port`, or on a free one.

    The app must know its address before it starts (the Origin it accepts), so the port is chosen
    first; should another process bind it in the meantime, the server exits and is started again
    on another port.
    """
    if port is not None:
        return _start_server(database_url, tmp_path, port, env)
    for _attempt in range(5):
        try:
            return _start_server(database_url, tmp_path, free_port(), env)
        except PortTaken:
            continue
    raise RuntimeError("no free port for the server after five attempts")


def _copy_output(
    process: subprocess.Popen[bytes], log: Path, needle: str, running: threading.Event, decided: threading.Event
) -> None:
    """Copy the server's output to its log; at `needle`, set `running`; at it or at the end, `decided`."""
    assert process.stdout is not None
    with process.stdout, log.open("wb") as out:
        for line in process.stdout:
            out.write(line)
            out.flush()
            if needle.encode() in line:
                running.set()
                decided.set()
    decided.set()


def _start_server(database_url: str, tmp_path: Path, port: int, env: dict[str, str]) -> Server:
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / f"server-{port}.log"
    environment = {
        **os.environ,
        "TAVOLI_DATABASE_URL": database_url,
        "TAVOLI_BASE_URL": url,
        "TAVOLI_SECRET_KEY": SECRET,
        "TAVOLI_MINUTES_DIR": str(tmp_path / "minutes"),
        "TAVOLI_LOG_LEVEL": "INFO",  # uvicorn's "running on" line tells when the server is up
        **env,
    }
    tavoli = Path(sys.executable).parent / "tavoli"
    process = subprocess.Popen(
        [str(tavoli), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # The process's only signal is its output: a thread copies it to the log, line by line, and
    # says when uvicorn's "running on" line (logged once the port is bound) or the end has come.
    running, decided = threading.Event(), threading.Event()
    needle = f"Uvicorn running on {url}"
    threading.Thread(target=_copy_output, args=(process, log, needle, running, decided), daemon=True).start()
    decided.wait(20)
    if running.is_set():
        return Server(url, database_url, process, log)
    if decided.is_set():  # the output ended: the process is exiting
        process.wait(10)
        output = log.read_text()
        if "address already in use" in output.lower():
            raise PortTaken(output)
        raise RuntimeError(f"the server exited: {output}")
    process.kill()
    process.wait()
    raise RuntimeError(f"the server did not start: {log.read_text()}")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(database_url, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def browser_seed(db_seed: Seed) -> Seed:
    """Seeds the server's database from the test, through a database connection of its own."""
    return db_seed


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        need("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# Reports every CSP violation, with where it comes from, on the console (where the watch below
# reads it). Chromium logs its own line too, but without the source file and line.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} refused ${event.blockedURI || "inline"}`
    + ` (${event.sourceFile || "?"}:${event.lineNumber}:${event.columnNumber}) ${event.sample || ""}`);
});
"""


@dataclass
class Console:
    """What the pages of one test reported as errors: console errors, uncaught exceptions, CSP
    violations. A test that provokes one on purpose (a 404, a server that restarts) allows it."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, *patterns: str) -> None:
        """Expect console errors matching these regular expressions (searched in the message)."""
        self.allowed += [re.compile(pattern) for pattern in patterns]

    def watch(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error":
                where = message.location.get("url") or page.url
                self.problems.append(f"{page.url}: {message.text} [{where}]")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: uncaught {error}"))

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(pattern.search(p) for pattern in self.allowed)]


class WatchedBrowser:
    """Chromium whose every context and page is watched by the test's `Console`; the contexts
    a test opens are closed after it."""

    def __init__(self, chromium: Any, console: Console) -> None:
        self.chromium = chromium
        self.console = console
        self.contexts: list[Any] = []

    def new_context(self, **options: Any) -> Any:
        context = self.chromium.new_context(**options)
        context.add_init_script(CSP_WATCH)
        context.on("page", self.console.watch)
        self.contexts.append(context)
        return context

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()

    def drain(self) -> None:
        """Take in the messages the pages sent before now (one round trip to each open page)."""
        for context in self.contexts:
            for page in context.pages:
                if not page.is_closed():
                    with contextlib.suppress(Exception):  # a page navigating or closing has nothing left to say
                        page.evaluate("0")

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):  # already closed by the test
                context.close()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def browser(chromium: Any, console: Console) -> Iterator[WatchedBrowser]:
    watched = WatchedBrowser(chromium, console)
    yield watched
    watched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test that used the browser fails when a page reported an error it did not expect."""
    result = yield
    watched = getattr(item, "funcargs", {}).get("browser")
    if isinstance(watched, WatchedBrowser):
        watched.drain()
        problems = watched.console.unexpected()
        assert problems == [], "errors on the browser console:\n" + "\n".join(problems)
    return result


def log_in(page: Any, server: Server, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Indirizzo email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(f"{server.url}/")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core with the WCAG 2.0/2.1 A and AA rules, none disabled; return what it finds."""
    if not AXE.exists():
        need("axe-core is not installed (npm ci)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def assert_accessible(page: Any) -> None:
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=2, ensure_ascii=False)
