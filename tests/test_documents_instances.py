"""Two instances are one document: a client on each types at once, and both end with the same text.

Two `tavoli serve` processes on one database and one broker (Redis, or PostgreSQL's
LISTEN/NOTIFY, whose payloads carry the stored update's id, not its bytes); skipped where the
broker is not reachable, except on CI (CI=true), where its absence is a failure.
"""

from __future__ import annotations

import asyncio

import pytest

from server.db.models import Role
from tests.conftest import PG_URL, POSTGRES_BROKER_URL, REDIS_URL, need, reachable, unique_channel
from tests.documents_support import SocketReplica, draft_document, logs_on_failure, stored_text, tokens_of
from tests.e2e.conftest import start_server
from tests.live_support import Browser

TOKENS_EACH = 60


@pytest.fixture(params=["redis", "postgresql"])
def broker_url(request):
    url = REDIS_URL if request.param == "redis" else POSTGRES_BROKER_URL
    if not reachable(url):
        need(f"{request.param} is not reachable at {url}")
    return unique_channel(url)


@pytest.fixture
def two_instances(database_url, tmp_path, broker_url, board):
    if not PG_URL and "sqlite" not in database_url:
        pytest.skip("unknown database")
    first = start_server(database_url, tmp_path, TAVOLI_BROKER_URL=broker_url)
    second = start_server(database_url, tmp_path, TAVOLI_BROKER_URL=broker_url)
    yield first, second
    first.stop()
    second.stop()


async def test_a_client_on_each_instance_typing_at_once_converge(two_instances, board, database_url):
    first, second = two_instances
    board.seed.person(board.table, Role.member, "second.member@example.org", board.cgil)
    document_id = board.seed.run(lambda s: draft_document(s, board.table, board.cgil.slug, board.member.id, "<s1>"))
    anna, bruno = Browser(first.url), Browser(second.url)
    with logs_on_failure(first, second):
        try:
            await anna.log_in("member@example.org")
            await bruno.log_in("second.member@example.org")
            on_first = await SocketReplica("a", await anna.socket(f"/ws/docs/{document_id}?ack=1")).start()
            on_second = await SocketReplica("b", await bruno.socket(f"/ws/docs/{document_id}?ack=1")).start()
            await asyncio.gather(on_first.first_sync(), on_second.first_sync())

            async def type_into(client: SocketReplica, boundaries: range) -> None:
                for number, boundary in enumerate(boundaries, start=1):
                    client.replica.insert(f"<{client.replica.name}{number}>", boundary)
                    await client.flush()  # handed to the socket, and on to the next one without waiting

            # At once: the first types at the start, the second after its first token, each seeing
            # the other's tokens arrive in between.
            await asyncio.gather(
                type_into(on_first, range(TOKENS_EACH)), type_into(on_second, range(1, TOKENS_EACH + 1))
            )
            await asyncio.gather(on_first.saved(), on_second.saved())
            await asyncio.gather(
                on_first.synced(on_second.replica.vector()), on_second.synced(on_first.replica.vector())
            )
            text = str(on_first.replica.text)
            assert str(on_second.replica.text) == text
            tokens = tokens_of(text)
            expected = {"<s1>"} | {f"<{name}{n}>" for name in "ab" for n in range(1, TOKENS_EACH + 1)}
            assert len(tokens) == len(expected)
            assert set(tokens) == expected
            assert (await stored_text(database_url, document_id))[0] == text
        finally:
            await anna.close()
            await bruno.close()
