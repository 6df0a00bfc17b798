"""Logging in and out through the real endpoints: sessions, CSRF, slow-down, redirects."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.db.models import LoginAttempt, UserSession
from server.db.types import utcnow
from server.domain import accounts
from server.domain.accounts import FREE_FAILURES
from tests.conftest import SECRET
from tests.support import PASSWORD, csrf_of, login, post_form


def move_attempts_back(seed, *, seconds):
    """Let time pass for the slow-down: every recorded attempt happened `seconds` earlier."""

    async def change(session):
        for attempt in (await session.scalars(select(LoginAttempt))).all():
            attempt.at -= timedelta(seconds=seconds)

    seed.run(change)


def session_count(seed):
    return seed.run(lambda s: s.scalar(select(func.count()).select_from(UserSession)))


def test_login_opens_a_session_and_shows_the_person(client, seed):
    org = seed.org("CGIL Bologna")
    seed.user("anna@example.org", "Anna Bianchi", organisation=org)
    response = login(client, "anna@example.org")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = client.get("/").text
    assert "Anna Bianchi" in page
    assert "CGIL Bologna" in page
    assert session_count(seed) == 1


def test_session_cookie_is_httponly_lax_and_not_secure_on_local_http(client, seed):
    seed.user("anna@example.org")
    cookie = login(client, "anna@example.org").headers["set-cookie"]
    assert cookie.startswith("tavoli_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_https_base_url_gives_host_prefixed_secure_cookies(settings, seed):
    https = Settings(database_url=settings.database_url, base_url="https://tavoli.example.org", secret_key=SECRET)
    seed.user("anna@example.org")
    with TestClient(create_app(https), base_url="https://tavoli.example.org") as client:
        cookie = login(client, "anna@example.org").headers["set-cookie"]
        assert cookie.startswith("__Host-tavoli_session=")
        assert "Secure" in cookie
        assert "Path=/" in cookie
        assert "Domain" not in cookie
        assert client.get("/").text.count("Anna") >= 1
        assert "Strict-Transport-Security" in client.get("/").headers


def test_wrong_password_and_unknown_email_get_the_same_answer(client, seed):
    seed.user("anna@example.org")
    wrong = login(client, "anna@example.org", "not-the-password")
    unknown = login(client, "nobody@example.org", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    message = "L&#39;indirizzo email o la password non sono corretti."
    assert message in wrong.text
    assert message in unknown.text
    assert session_count(seed) == 0


def test_an_unknown_email_is_checked_against_a_password_hash_as_a_known_one_is(client, seed):
    """No shortcut for an address without an account: its password is verified against a stand-in
    hash (Argon2 costs the same whichever hash it checks), so the answer does not come sooner.
    (How long each takes is for bench/, not for a test.)"""
    seed.user("anna@example.org")
    stand_in = accounts._dummy_hash
    for i in range(3):  # within the free failures, so that no slow-down answers early
        before = stand_in.cache_info()
        assert login(client, "anna@example.org", f"wrong-{i}").status_code == 400
        assert stand_in.cache_info() == before, "a known account is checked against its own hash"
        assert login(client, f"nobody-{i}@example.org", f"wrong-{i}").status_code == 400
        after = stand_in.cache_info()
        assert after.hits + after.misses == before.hits + before.misses + 1, "the unknown email skipped the check"
    assert accounts._verify(stand_in(), "any password") is False


def test_login_rotates_the_session(client, seed):
    seed.user("anna@example.org")
    first = login(client, "anna@example.org").cookies["tavoli_session"]
    second = client.post(
        "/login",
        data={"email": "anna@example.org", "password": PASSWORD, "csrf_token": csrf_of(client.get("/").text)},
        follow_redirects=False,
    ).cookies["tavoli_session"]
    assert first != second
    assert session_count(seed) == 1, "the replaced session must be deleted"
    client.cookies.clear()
    client.cookies.set("tavoli_session", first)
    assert "Anna" not in client.get("/").text


def test_anonymous_cookie_is_not_reused_as_session(client, seed):
    seed.user("anna@example.org")
    client.get("/login")
    anonymous = client.cookies["tavoli_anon"]
    token = login(client, "anna@example.org").cookies["tavoli_session"]
    assert token != anonymous


def test_logout_deletes_the_session_on_the_server(client, seed):
    seed.user("anna@example.org", "Anna Bianchi")
    token = login(client, "anna@example.org").cookies["tavoli_session"]
    response = post_form(client, "/logout", {})
    assert response.status_code == 303
    assert session_count(seed) == 0
    client.cookies.clear()
    client.cookies.set("tavoli_session", token)  # an old copy of the cookie opens nothing
    page = client.get("/")
    assert "Anna Bianchi" not in page.text
    assert 'href="/login"' in page.text


def test_expired_session_is_anonymous_and_its_cookie_is_cleared(client, seed):
    seed.user("anna@example.org", "Anna Bianchi")
    login(client, "anna@example.org")
    seed.run(lambda s: s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1))))
    page = client.get("/")
    assert "Anna Bianchi" not in page.text
    assert 'tavoli_session=""' in page.headers["set-cookie"] or "tavoli_session=;" in page.headers["set-cookie"]


@pytest.mark.parametrize("token", [None, "", "0" * 64, "forged"])
def test_state_changing_request_without_the_right_csrf_token_is_refused(client, seed, token):
    seed.user("anna@example.org")
    login(client, "anna@example.org")
    data = {} if token is None else {"csrf_token": token}
    response = client.post("/logout", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "Ricarica la pagina" in response.text
    assert session_count(seed) == 1, "a refused logout must not log out"


def test_csrf_token_of_another_session_is_refused(client, settings, seed):
    seed.user("anna@example.org")
    seed.user("bruno@example.org")
    login(client, "anna@example.org")
    with TestClient(create_app(settings), base_url=settings.base_url) as other:
        login(other, "bruno@example.org")
        foreign = csrf_of(other.get("/").text)
    assert client.post("/logout", data={"csrf_token": foreign}).status_code == 403
    assert session_count(seed) == 2


def test_csrf_token_in_the_htmx_header_is_accepted(client, seed):
    seed.user("anna@example.org")
    login(client, "anna@example.org")
    token = csrf_of(client.get("/").text)
    response = client.post("/logout", headers={"X-CSRF-Token": token, "HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 303
    assert session_count(seed) == 0


def test_login_form_itself_needs_its_csrf_token(client, seed):
    seed.user("anna@example.org")
    response = client.post("/login", data={"email": "anna@example.org", "password": PASSWORD})
    assert response.status_code == 403
    assert session_count(seed) == 0


def test_request_from_another_origin_is_refused_even_with_a_valid_token(client, seed):
    seed.user("anna@example.org")
    login(client, "anna@example.org")
    token = csrf_of(client.get("/").text)
    response = client.post("/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example.org"})
    assert response.status_code == 403
    response = client.post("/logout", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert session_count(seed) == 1


def test_oversized_body_is_refused(client):
    response = client.post(
        "/login", content=b"x" * (1_048_576 + 1), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


def test_failed_logins_are_slowed_down_per_account(client, seed):
    seed.user("anna@example.org")
    for i in range(FREE_FAILURES):
        assert login(client, "anna@example.org", f"guess-{i}").status_code == 400
    slowed = login(client, "anna@example.org")  # even the right password waits now
    assert slowed.status_code == 429
    assert 0 < int(slowed.headers["Retry-After"]) <= 15
    assert "Attendi" in slowed.text
    assert session_count(seed) == 0
    # Other accounts from the same office are not affected.
    seed.user("bruno@example.org")
    assert login(client, "bruno@example.org").status_code == 303


def test_the_wait_grows_with_each_failure_and_then_lets_the_person_in(client, seed):
    seed.user("anna@example.org")
    for i in range(FREE_FAILURES):
        login(client, "anna@example.org", f"guess-{i}")
    assert 0 < int(login(client, "anna@example.org").headers["Retry-After"]) <= 15
    move_attempts_back(seed, seconds=16)
    assert login(client, "anna@example.org", "one-more-guess").status_code == 400
    assert 15 < int(login(client, "anna@example.org").headers["Retry-After"]) <= 30
    move_attempts_back(seed, seconds=31)
    assert login(client, "anna@example.org").status_code == 303


def test_failed_logins_are_limited_per_address_generously(settings, seed):
    strict = Settings(
        database_url=settings.database_url, base_url=settings.base_url, secret_key=SECRET, login_failures_per_address=3
    )
    seed.user("anna@example.org")
    with TestClient(create_app(strict), base_url=settings.base_url) as client:
        for i in range(3):
            assert login(client, f"guess-{i}@example.org", "x").status_code == 400
        refused = login(client, "anna@example.org")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example.org/", "//evil.example.org/x", "/\\evil.example.org", "javascript:alert(1)", "http:/evil"],
)
def test_off_site_next_is_ignored(client, seed, next_url):
    seed.user("anna@example.org")
    response = login(client, "anna@example.org", next_url=next_url)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_same_site_next_is_followed(client, seed):
    seed.user("anna@example.org")
    response = login(client, "anna@example.org", next_url="/tavoli/commercio-turismo?seduta=3")
    assert response.headers["location"] == "/tavoli/commercio-turismo?seduta=3"


def test_login_page_of_a_logged_in_person_goes_on_to_next(client, seed):
    seed.user("anna@example.org")
    login(client, "anna@example.org")
    response = client.get("/login?next=/accessibilita", follow_redirects=False)
    assert response.headers["location"] == "/accessibilita"
    response = client.get("/login?next=https://evil.example.org", follow_redirects=False)
    assert response.headers["location"] == "/"


def test_disabled_account_cannot_log_in_nor_keep_its_session(client, seed):
    from server.db.models import User

    seed.user("anna@example.org", "Anna Bianchi")
    login(client, "anna@example.org")
    seed.run(lambda s: s.execute(update(User).values(is_active=False)))
    assert "Anna Bianchi" not in client.get("/").text
    assert login(client, "anna@example.org").status_code == 400
