"""The login slow-down protects against guessing without handing out a lock-out.

Failures slow down one network address, and one account *from that address*: never the account
for everyone. Attempts are recorded before they are counted, so that attempts made at the same
time all count (tested on a real server with a crowd of parallel logins)."""

import asyncio
import re
from datetime import timedelta

import httpx2 as httpx
from sqlalchemy import func, select
from starlette.testclient import TestClient

from server.app import create_app
from server.db.models import LoginAttempt
from server.db.types import utcnow
from server.domain import accounts
from server.domain.accounts import FREE_FAILURES
from tests.live_support import Browser
from tests.support import PASSWORD, csrf_of, login

LIMITS = accounts.LoginLimits(failures_per_address=100, window=timedelta(minutes=15))


def client_from(settings, host):
    """Another instance of the app, reached from the network address `host`."""
    return TestClient(create_app(settings), base_url=settings.base_url, client=(host, 40_000))


def failures(seed):
    return seed.run(lambda s: s.scalar(select(func.count()).select_from(LoginAttempt).where(~LoginAttempt.succeeded)))


def test_failures_from_one_address_do_not_slow_the_account_from_another(client, settings, seed):
    seed.user("anna@example.org")
    for i in range(FREE_FAILURES):
        assert login(client, "anna@example.org", f"guess-{i}").status_code == 400
    assert login(client, "anna@example.org", "one-more").status_code == 429, "the guessing address waits"
    assert login(client, "anna@example.org").status_code == 429, "even with the right password"
    with client_from(settings, "198.51.100.7") as elsewhere:
        assert login(elsewhere, "anna@example.org", "a-typo").status_code == 400, "a mistake, not a wait"
        assert login(elsewhere, "anna@example.org").status_code == 303, "Anna logs in from her own address"


def test_other_accounts_from_the_slowed_address_are_not_slowed(client, seed):
    seed.user("anna@example.org")
    seed.user("bruno@example.org")
    for i in range(FREE_FAILURES):
        login(client, "anna@example.org", f"guess-{i}")
    assert login(client, "anna@example.org").status_code == 429
    assert login(client, "bruno@example.org").status_code == 303


def test_the_slowed_down_page_says_how_long_to_wait(client, seed):
    seed.user("anna@example.org")
    for i in range(FREE_FAILURES):
        login(client, "anna@example.org", f"guess-{i}")
    slowed = login(client, "anna@example.org")
    assert slowed.status_code == 429
    seconds = int(slowed.headers["Retry-After"])
    assert 0 < seconds <= 15
    said = re.search(r"Troppi tentativi non riusciti\. Attendi (\d+) secondi e riprova\.", slowed.text)
    assert said is not None
    assert int(said.group(1)) == seconds
    assert 'value="anna@example.org"' in slowed.text, "the form keeps the email"


def test_the_addresses_of_one_ipv6_network_count_as_one(settings, seed):
    seed.user("anna@example.org")
    with client_from(settings, "2001:db8:1:2::1") as first, client_from(settings, "2001:db8:1:2::ffff") as second:
        for i in range(FREE_FAILURES):
            assert login(first, "anna@example.org", f"guess-{i}").status_code == 400
        assert login(second, "anna@example.org", "guess").status_code == 429
    with client_from(settings, "2001:db8:1:3::1") as other_network:
        assert login(other_network, "anna@example.org").status_code == 303


def test_network_addresses():
    assert accounts.network_address("192.0.2.10") == "192.0.2.10"
    assert accounts.network_address("::ffff:192.0.2.10") == "192.0.2.10"
    assert accounts.network_address("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert accounts.network_address("2001:DB8:1:2::9") == "2001:db8:1:2::/64"
    assert accounts.network_address("testclient") == "testclient"


def test_attempts_recorded_at_the_same_time_all_see_one_another(db_seed):
    """Parallel attempts may all pass the first look before any of them is recorded; each then
    counts the others recorded before it counts. The worst case: all recorded, then all counted."""

    def recorded_together(email, count):
        now = utcnow()

        async def record(session):
            rows = [LoginAttempt(email=email, address="192.0.2.1", succeeded=False, at=now) for _ in range(count)]
            session.add_all(rows)
            await session.flush()
            return [accounts.Attempt(email, "192.0.2.1", now, id=row.id) for row in rows]

        return db_seed.run(record)

    def wait(attempt):
        return db_seed.run(lambda s: accounts.attempt_wait(s, attempt, LIMITS))

    free = recorded_together("anna@example.org", FREE_FAILURES)
    assert [wait(a) for a in free] == [0] * FREE_FAILURES, "the free failures go on to the password"
    crowd_of = recorded_together("bruno@example.org", FREE_FAILURES + 1)
    assert all(wait(a) > 0 for a in crowd_of), "one more than the free failures: every one of them waits"
    first_look = db_seed.run(
        lambda s: accounts.record_attempt(s, "bruno@example.org", address="192.0.2.1", limits=LIMITS)
    )
    assert first_look.throttled
    assert first_look.id is None, "refused at the first look: not recorded"


def test_a_refused_attempt_is_not_a_failure_and_a_success_restarts_the_count(client, seed):
    seed.user("anna@example.org")
    for i in range(FREE_FAILURES - 1):
        login(client, "anna@example.org", f"guess-{i}")
    assert login(client, "anna@example.org").status_code == 303
    for i in range(FREE_FAILURES):
        assert login(client, "anna@example.org", f"again-{i}").status_code == 400
    assert login(client, "anna@example.org").status_code == 429
    assert login(client, "anna@example.org").status_code == 429
    assert failures(seed) == 2 * FREE_FAILURES - 1, "the refused attempts checked no password: not failures"


async def crowd(browser, path, data, count):
    """tests.live_support.crowd, waiting longer: each checked password takes Argon2's time, and the
    test machine may be busy (the assertions are on what was counted, never on time)."""
    headers = {"X-CSRF-Token": browser.csrf, "HX-Request": "true", "Origin": browser.base_url}
    clients = [
        httpx.AsyncClient(base_url=browser.base_url, cookies=browser.http.cookies, timeout=120) for _ in range(count)
    ]
    try:
        return list(await asyncio.gather(*(c.post(path, data=data, headers=headers) for c in clients)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


async def test_parallel_wrong_attempts_from_one_address_are_all_counted(live_server, live_seed):
    live_seed.user("anna@example.org")
    browser = Browser(live_server.url)
    try:
        browser.csrf = csrf_of((await browser.http.get("/login")).text)
        guess = {"email": "anna@example.org", "password": "not-the-password", "next": "/"}
        answers = await crowd(browser, "/login", guess, count=20)
        codes = [answer.status_code for answer in answers]
        assert set(codes) <= {400, 429}
        assert codes.count(400) <= FREE_FAILURES, "no more than the free failures get their password checked"
        assert all(int(a.headers["Retry-After"]) > 0 for a in answers if a.status_code == 429)
        assert failures(live_seed) == codes.count(400), "every checked password counts, no refused one does"
        right = {**guess, "password": PASSWORD, "csrf_token": browser.csrf}
        after = await browser.http.post("/login", data=right, timeout=120)
        assert after.status_code == 429 or codes.count(400) < FREE_FAILURES
    finally:
        await browser.close()
