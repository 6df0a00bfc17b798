"""Test harness: every test gets its own database, built by Alembic, on SQLite or PostgreSQL.

SQLite (default): the schema is migrated once into a template file, copied for each test.
PostgreSQL (`TAVOLI_TEST_DATABASE_URL`): the schema is migrated once, and every table is
truncated before each test. With CI=true, what the suite needs (PostgreSQL, Chromium) must be
there: a missing piece fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from anyio.from_thread import start_blocking_portal
from sqlalchemy import text
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.db import migrations
from server.db.models import Base
from server.db.session import Database
from server.domain.accounts import hash_password
from tests.live_support import Browser, ThreadedServer
from tests.support import PASSWORD, Board, Seed, in_transaction

T = TypeVar("T")
PG_URL = os.environ.get("TAVOLI_TEST_DATABASE_URL", "").strip()
CI = os.environ.get("CI", "").lower() == "true"
BASE_URL = "http://127.0.0.1:8000"
REDIS_URL = os.environ.get("TAVOLI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_BROKER_URL = os.environ.get("TAVOLI_TEST_BROKER_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "a-secret-key-for-the-tests-that-is-long-enough"


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a thread of its own: the browser tests' Playwright keeps
    an event loop marked as running in the main thread, where asyncio.run would refuse."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def need(reason: str) -> None:
    """Skip for want of something the machine lacks, except on CI where it must be there."""
    if CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def reachable(url: str) -> bool:
    """Whether something answers TCP at the host and port of `url`."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def unique_channel(url: str) -> str:
    """`url` with a broker channel of its own, apart from any other test or run on the same server."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}channel=tavoli-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def own_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a test's commands and apps write (the minutes archive, the server's signing key) goes into
    the test's own folder, never the repository's, whatever settings they read from the environment."""
    monkeypatch.setenv("TAVOLI_MINUTES_DIR", str(tmp_path / "minutes"))
    monkeypatch.setenv("TAVOLI_SIGNING_KEY_FILE", str(tmp_path / "tavoli-signing.key"))


@pytest.fixture
def redis_url() -> str:
    if not reachable(REDIS_URL):
        need(f"Redis is not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def postgres_broker_url() -> str:
    if not reachable(POSTGRES_BROKER_URL):
        need(f"PostgreSQL is not reachable at {POSTGRES_BROKER_URL}")
    return POSTGRES_BROKER_URL


async def _reset_postgres(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await database.dispose()


async def _truncate(url: str) -> None:
    database = Database(url)
    try:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        try:
            run_async(_reset_postgres(PG_URL))
        except OSError as exc:
            pytest.exit(f"TAVOLI_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", 2)
        migrations.upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrations.upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(template_database: str, tmp_path: Path) -> str:
    """A fresh, migrated, empty database for this test."""
    if PG_URL:
        run_async(_truncate(PG_URL))
        return PG_URL
    path = tmp_path / "tavoli.db"
    shutil.copyfile(template_database, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, base_url=BASE_URL, secret_key=SECRET, minutes_dir=str(tmp_path / "minutes")
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def seed(client: TestClient, password_hash: str) -> Seed:
    """Seeds through the app's own database and event loop (the TestClient's portal)."""
    database = client.app.state.database  # type: ignore[attr-defined]
    assert client.portal is not None
    portal = client.portal
    return Seed(lambda change: portal.call(in_transaction, database, change), password_hash)


@pytest.fixture
def board(seed: Seed) -> Board:
    return Board(seed)


@pytest.fixture
def db_seed(database_url: str, password_hash: str) -> Iterator[Seed]:
    """Seeds the test's database directly, with no app around it: for tests of the domain.

    The database lives on an event loop in a thread of its own, so that sync tests can use it
    (and async ones too, and browser tests, whose Playwright holds the main thread's loop).
    """
    with start_blocking_portal() as portal:
        database = Database(database_url)
        try:
            yield Seed(lambda change: portal.call(in_transaction, database, change), password_hash)
        finally:
            portal.call(database.dispose)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[ThreadedServer]:
    """The app on a real uvicorn, on the port it bound; its base URL is the one browsers will use."""
    server = ThreadedServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def live_seed(live_server: ThreadedServer, password_hash: str) -> Seed:
    return live_server.seed(password_hash)


@pytest.fixture
def live_board(live_seed: Seed) -> Board:
    return Board(live_seed)


@pytest.fixture
async def people(live_server: ThreadedServer, live_board: Board) -> AsyncIterator[Callable[[str], Awaitable[Browser]]]:
    """Logged-in browsers for the board's people, closed at the end."""
    opened: dict[str, Browser] = {}

    async def person(email: str) -> Browser:
        if email not in opened:
            opened[email] = await Browser(live_server.url).log_in(email)
        return opened[email]

    yield person
    for browser in opened.values():
        await browser.close()
