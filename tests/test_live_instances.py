"""Several instances behave as one: two `tavoli serve` processes on one database and one broker.

Runs where Redis and PostgreSQL are reachable (as on CI, where their absence is a failure).
"""

from __future__ import annotations

import pytest

from tests.conftest import PG_URL, POSTGRES_BROKER_URL, REDIS_URL, need, reachable, unique_channel
from tests.e2e.conftest import start_server
from tests.live_support import Browser, closed_with, message_with, next_message


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


async def test_a_change_through_one_instance_is_pushed_by_the_other(two_instances, board):
    first, second = two_instances
    member = await Browser(second.url).log_in("member@example.org")
    chair = await Browser(first.url).log_in("chair@example.org")
    try:
        socket_on_second = await member.socket(f"/ws/tavoli/{board.table.slug}?seduta={board.meeting.id}")
        await next_message(socket_on_second)
        response = await chair.post(f"{board.item_url(2)}/sposta", {"position": "1", "version": "1"})
        assert response.status_code == 200
        pushed = await message_with(socket_on_second, 'id="agenda"', timeout=10)
        assert pushed.index("Varie ed eventuali") < pushed.index("Saldi invernali")
        assert "Chair ha spostato" in pushed
    finally:
        await member.close()
        await chair.close()


async def test_presence_is_shared_between_instances(two_instances, board):
    first, second = two_instances
    member = await Browser(first.url).log_in("member@example.org")
    observer = await Browser(second.url).log_in("observer@example.org")
    try:
        on_first = await member.socket(f"/ws/tavoli/{board.table.slug}")
        await next_message(on_first)
        await observer.socket(f"/ws/tavoli/{board.table.slug}")
        joined = await message_with(on_first, "Observer", timeout=10)
        assert 'id="presence"' in joined
    finally:
        await member.close()
        await observer.close()


async def test_logging_out_on_one_instance_closes_the_socket_on_the_other(two_instances, board):
    first, second = two_instances
    member_on_second = await Browser(second.url).log_in("member@example.org")
    member_on_first = Browser(first.url)
    member_on_first.http.cookies.update(member_on_second.http.cookies)  # the same browser, behind a balancer
    member_on_first.csrf = member_on_second.csrf
    try:
        socket_on_second = await member_on_second.socket(f"/ws/tavoli/{board.table.slug}")
        await next_message(socket_on_second)
        assert (await member_on_first.post("/logout", {})).status_code == 303
        assert await closed_with(socket_on_second, timeout=10) == 4401
    finally:
        await member_on_second.close()
        await member_on_first.close()
