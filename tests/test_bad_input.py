"""Bad input is refused with a clear 4xx, never a 500 and never a stall, and nothing is stored.

Through the real app: malformed CSRF tokens and forms, ids and numbers that no record can have,
dates out of range, unreadable addresses, too many sockets for one session, and cross-site
requests refused before the database is read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from server.app import create_app
from server.config import Settings
from server.db.models import Base, Proposal
from server.domain import inputs
from server.web.access import TableRoute
from tests.live_support import closed_with, home, next_message
from tests.support import csrf_of, login, one, texts

CAP = 3  # sockets per session in this module (settings below)
HUGE = "9" * 20
OVERFLOW = str(2**31)  # one more than the largest INTEGER id
THOUSANDS = "9" * 5_000
NOT_ASCII = ["²", "٣", "１２", "-1", "+1", " 1", "1_0", "0x1", "1e3"]
BAD_IDS = [HUGE, OVERFLOW, THOUSANDS, "0", *NOT_ASCII]
# Through the endpoints, one of each kind the parser refuses (its own test tries them all): a digit
# that isdigit() takes and int() does not, one that int() takes, out of range, too long, zero.
SOME_BAD_IDS = ["²", "٣", OVERFLOW, THOUSANDS, "0"]
FOREIGN = "https://evil.example.org"
PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_sockets_per_session=CAP)


def snapshot(seed: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused request stored nothing."""

    async def read(session: Any) -> dict[str, list[tuple[Any, ...]]]:
        rows = {}
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(r) for r in result]
        return rows

    return seed.run(read)  # type: ignore[no-any-return]


def token(client: TestClient) -> str:
    return csrf_of(client.get("/").text)


def enter(client: TestClient, email: str) -> None:
    """Log in, and keep the session's CSRF token for `post`."""
    login(client, email)
    client.csrf = token(client)  # type: ignore[attr-defined]


def post(client: TestClient, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
    csrf = getattr(client, "csrf", None) or token(client)
    return client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False, **kwargs)


def assert_error_page(response: Any, status: int, message: str | None = None) -> None:
    """The site's error page: the status, a title, a message, and never cached."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["cache-control"] == "no-store"
    assert texts(response.text, "#error-title")
    assert f"{status}" in one(response.text, ".error-page").text()
    if message is not None:
        assert message in one(response.text, ".error-page .lead").text()


# --- 1. CSRF tokens that are not ASCII ---------------------------------------------------------------


@pytest.mark.parametrize("sent", ["tökén", "é" * 64, "\u00ff", "€"])
def test_a_csrf_token_that_is_not_ascii_is_a_mismatch_in_a_form_field(client, board, sent):
    response = client.post("/login", data={"email": "chair@example.org", "password": "x", "csrf_token": sent})
    assert_error_page(response, 403, "Ricarica la pagina")
    login(client, "chair@example.org")
    before = snapshot(board.seed)
    response = client.post(f"{board.meeting_url}/punti", data={"title": "Nuovo punto", "csrf_token": sent})
    assert_error_page(response, 403)
    assert snapshot(board.seed) == before


@pytest.mark.parametrize("sent", ["tökén".encode(), "é".encode() * 64, b"\xff\xfe", "€".encode()])
def test_a_csrf_token_that_is_not_ascii_is_a_mismatch_in_the_header(client, board, sent):
    response = client.post("/login", data={"email": "x@example.org"}, headers={"X-CSRF-Token": sent})
    assert_error_page(response, 403)
    login(client, "chair@example.org")
    events = len(board.events())
    headers = {"X-CSRF-Token": sent, "HX-Request": "true"}
    response = client.post(f"{board.meeting_url}/punti", data={"title": "Nuovo punto"}, headers=headers)
    assert_error_page(response, 403)
    assert len(board.events()) == events


# --- 2. Forms the parser cannot read -----------------------------------------------------------------


def _multipart(parts: list[str], boundary: str = "B0UNDARY") -> tuple[bytes, dict[str, str]]:
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return body.encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _malformed(csrf: str) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    yield "no boundary", b"--x\r\n\r\n", {"Content-Type": "multipart/form-data"}
    body, headers = _multipart(["Content-Disposition: form-data\r\n\r\nno name", _field("csrf_token", csrf)])
    yield "a part without a name", body, headers
    body, headers = _multipart([_field("csrf_token", csrf), *(_field(f"f{n}", "x") for n in range(1_001))])
    yield "too many multipart fields", body, headers
    files = [f'Content-Disposition: form-data; name="f{n}"; filename="f{n}.txt"\r\n\r\nx' for n in range(1_001)]
    body, headers = _multipart([_field("csrf_token", csrf), *files])
    yield "too many files", body, headers
    file = 'Content-Disposition: form-data; name="title"; filename="title.txt"\r\nContent-Type: text/plain\r\n\r\nx'
    body, headers = _multipart([_field("csrf_token", csrf), file])
    yield "a field sent as a file (no page uploads any)", body, headers
    fields = "&".join(f"f{n}=x" for n in range(1_001))
    yield (
        "too many fields",
        f"csrf_token={csrf}&{fields}".encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def _field(name: str, value: str) -> str:
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'


def test_a_malformed_form_to_log_in_is_a_400_page(client, board):
    for _reason, body, headers in _malformed(token(client)):
        response = client.post("/login", content=body, headers=headers)
        assert_error_page(response, 400, "Non è stato possibile leggere il modulo")


def test_a_malformed_form_on_a_table_route_is_a_400_page_and_stores_nothing(client, board):
    login(client, "secretary@example.org")
    before = snapshot(board.seed)
    for reason, body, headers in _malformed(token(client)):
        response = client.post(f"{board.meeting_url}/punti", content=body, headers=headers)
        assert_error_page(response, 400)
        assert one(response.text, ".viewer-name").text().strip() == "Secretary", reason
        # With the token in the header (htmx), the endpoint reads the form: a 400 page too.
        with_header = {**headers, "X-CSRF-Token": token(client), "HX-Request": "true"}
        response = client.post(f"{board.meeting_url}/punti", content=body, headers=with_header)
        assert_error_page(response, 400)
    assert snapshot(board.seed) == before


# --- 3. Ids and numbers: one parser --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("2147483647", 2**31 - 1),
        ("0000000042", 42),
        ("2147483648", None),
        ("0", None),
        ("", None),
        (None, None),
        (THOUSANDS, None),
        *((text, None) for text in NOT_ASCII),
    ],
)
def test_the_id_parser(text, expected):
    assert inputs.record_id(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-12-09", "2026-12-09"), ("1900-01-01", "1900-01-01"), ("9999-12-31", "9999-12-31")]
    + [(text, None) for text in ("0001-01-01", "1899-12-31", "٢٠٢٦-١٢-٠٩", "20261209", "2026-W50-3", "", "x" * 500)],
)
def test_the_date_parser(text, expected):
    found = inputs.day(text)
    assert (found.isoformat() if found else None) == expected


def _fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values.get(m.group(1), "0") if m.group(2) == "int" else values[m.group(1)], path)


def test_a_path_id_no_record_can_have_is_404_on_every_table_route(client, board):
    login(client, "admin@example.org")
    csrf = token(client)
    routes = [r for r in client.app.routes if isinstance(r, TableRoute) and ":int}" in r.path]
    assert len(routes) >= 15
    real = {
        "slug": board.table.slug,
        "meeting_id": str(board.meeting.id),
        "item_id": str(board.items[0].id),
        "action_id": str(board.action().id),
        "proposal_id": str(board.proposal().id),
        "comment_id": str(board.comment().id),
        "membership_id": str(board.membership_id(board.member)),
    }
    before = snapshot(board.seed)
    for route in routes:
        assert isinstance(route, Route)
        ints = [name for name, kind in PARAM.findall(route.path) if kind == "int"]
        for bad in (HUGE, OVERFLOW, THOUSANDS, "0"):
            for name in ints:  # each id in turn, the others real
                path = _fill(route.path, {**real, name: bad})
                for method in sorted((route.methods or set()) - {"HEAD"}):
                    response = client.request(method, path, data={"csrf_token": csrf}, follow_redirects=False)
                    assert_error_page(response, 404)
    assert snapshot(board.seed) == before


def test_ids_within_the_range_but_unknown_are_404_too(client, board):
    login(client, "chair@example.org")
    for path in (f"/tavoli/{board.table.slug}/sedute/2147483647", f"/tavoli/{board.table.slug}/azioni/2147483647"):
        assert_error_page(client.get(path), 404)


@pytest.mark.parametrize("bad", [*SOME_BAD_IDS, "abc", "-1"])
def test_query_ids_that_are_not_ids_are_400(client, board, bad):
    login(client, "chair@example.org")
    slug = board.table.slug
    for path in (
        f"/tavoli/{slug}/cronologia?prima={bad}",
        f"/tavoli/{slug}/azioni?responsabile={bad}",
        f"/tavoli/{slug}/azioni/nuova?punto={bad}",
        f"/tavoli/{slug}/azioni/nuova?proposta={bad}",
    ):
        assert_error_page(client.get(path), 400)


def test_query_ids_that_are_ids_still_work(client, board):
    login(client, "chair@example.org")
    slug = board.table.slug
    assert client.get(f"/tavoli/{slug}/cronologia?prima=").status_code == 200
    assert client.get(f"/tavoli/{slug}/cronologia?prima=2").status_code == 200
    assert client.get(f"/tavoli/{slug}/azioni?responsabile={board.chair.id}").status_code == 200
    assert client.get(f"/tavoli/{slug}/azioni/nuova?punto={board.items[0].id}").status_code == 200


def _hidden(board: Any, bad: str) -> list[tuple[str, dict[str, str]]]:
    """Requests with one field that no person types (ids, versions, positions) set to `bad`."""
    slug = board.table.slug
    proposal = f"/tavoli/{slug}/proposte/{board.proposal().id}"
    action = {"title": "Un impegno", "description": "", "owner": "", "due_on": ""}
    ids = [
        (f"/tavoli/{slug}/azioni", {**action, "origin": bad}),
        (f"/tavoli/{slug}/azioni", {**action, "proposal": bad}),
        (f"{board.meeting_url}/presenze", {"organisation": bad, "version": "0"}),
        (f"{proposal}/commenti", {"comment": "Una risposta.", "parent": bad}),
    ]
    if bad == "0":
        return ids
    meeting = {"title": "Seduta", "day": "2032-01-01", "hour": "10:00", "place": "X", "online_url": ""}
    return [
        *ids,
        (f"{board.meeting_url}/presenze", {"organisation": str(board.ascom.id), "version": bad}),
        (f"{board.item_url(0)}/sposta", {"position": bad, "version": "1"}),
        (f"{board.item_url(0)}/sposta", {"position": "2", "version": bad}),
        (f"{board.item_url(0)}/stato", {"status": "done", "version": bad}),
        (board.meeting_url, {**meeting, "version": bad}),
        (f"{proposal}/stato", {"status": "withdrawn", "version": bad}),
    ]


@pytest.mark.parametrize("bad", SOME_BAD_IDS)
def test_hidden_fields_that_are_not_ids_or_numbers_are_400_and_store_nothing(client, board, bad):
    board.proposal()
    enter(client, "chair@example.org")
    before = snapshot(board.seed)
    for path, data in _hidden(board, bad):
        response = post(client, path, data)
        assert response.status_code == 400, (path, data, response.status_code)
        assert "La richiesta non è stata compresa" in response.text
        assert response.headers["cache-control"] == "no-store"
    assert snapshot(board.seed) == before


@pytest.mark.parametrize("bad", SOME_BAD_IDS)
def test_typed_or_chosen_ids_and_numbers_are_422_beside_the_field(client, board, bad):
    board.proposal()
    enter(client, "chair@example.org")
    before = snapshot(board.seed)
    slug = board.table.slug
    action = {"title": "Un impegno", "description": "", "owner": bad, "due_on": ""}
    response = post(client, f"/tavoli/{slug}/azioni", action)
    assert response.status_code == 422
    assert "componenti del tavolo" in one(response.text, "#owner-error").text()
    item = {"title": "Nuovo punto", "description": "", "presenter": bad, "planned_minutes": ""}
    response = post(client, f"{board.meeting_url}/punti", item)
    assert response.status_code == 422
    assert one(response.text, "#presenter-error").text().strip()
    response = post(client, f"{board.meeting_url}/punti", {**item, "presenter": "", "planned_minutes": bad})
    assert response.status_code == 422
    assert one(response.text, "#planned_minutes-error").text().strip()
    response = post(client, f"/tavoli/{slug}/proposte/{board.proposal().id}/punti", {"item": bad})
    assert response.status_code == 422
    assert "Scegli il punto" in response.text
    assert snapshot(board.seed) == before


def test_planned_minutes_in_other_digits_are_refused(client, board):
    enter(client, "chair@example.org")
    for typed in ("١٥", "１５", "²", "601", "0"):
        item = {"title": "Nuovo punto", "description": "", "presenter": "", "planned_minutes": typed}
        response = post(client, f"{board.meeting_url}/punti", item)
        assert response.status_code == 422, typed
        assert "da 1 a 600" in one(response.text, "#planned_minutes-error").text()
    assert len(board.events("agenda.item_added")) == 3


# --- dates and addresses -------------------------------------------------------------------------------


MEETING = {"title": "Seduta straordinaria", "day": "2032-02-10", "hour": "15:00", "place": "Palazzo Malvezzi"}


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "٢٠٣٢-٠٢-١٠", "2032-02-10" + "0" * 5_000, "10000-01-01"])
def test_a_meeting_on_a_date_out_of_range_is_a_field_error(client, board, day):
    enter(client, "chair@example.org")
    before = snapshot(board.seed)
    for path, extra in ((f"/tavoli/{board.table.slug}/sedute", {}), (board.meeting_url, {"version": "1"})):
        response = post(client, path, {**MEETING, "day": day, "hour": "00:30", "online_url": "", **extra})
        assert response.status_code == 422
        assert "data valida" in one(response.text, "#day-error").text()
        assert response.headers["cache-control"] == "no-store"
    assert snapshot(board.seed) == before


@pytest.mark.parametrize("hour", ["١٥:٠٠", "25:00", "15", "15:00x", "15:00:00.000", "x" * 10_000])
def test_a_meeting_hour_that_is_not_a_time_is_a_field_error(client, board, hour):
    enter(client, "chair@example.org")
    response = post(client, f"/tavoli/{board.table.slug}/sedute", {**MEETING, "hour": hour, "online_url": ""})
    assert response.status_code == 422
    assert one(response.text, "#hour-error").text().strip()


@pytest.mark.parametrize("url", ["https://[", "http://[::1", "https://[x]/", "javascript:alert(1)", "https://"])
def test_an_online_link_that_cannot_be_read_is_a_field_error(client, board, url):
    enter(client, "chair@example.org")
    before = snapshot(board.seed)
    for path, extra in ((f"/tavoli/{board.table.slug}/sedute", {}), (board.meeting_url, {"version": "1"})):
        response = post(client, path, {**MEETING, "online_url": url, **extra})
        assert response.status_code == 422
        assert "https://" in one(response.text, "#online_url-error").text()
    assert snapshot(board.seed) == before


@pytest.mark.parametrize("due_on", ["0001-01-01", "1899-12-31", "٢٠٣٢-٠٢-١٠", "2032-02-10" * 500])
def test_a_due_date_out_of_range_is_a_field_error(client, board, due_on):
    enter(client, "chair@example.org")
    data = {"title": "Un impegno", "description": "", "owner": "", "due_on": due_on}
    response = post(client, f"/tavoli/{board.table.slug}/azioni", data)
    assert response.status_code == 422
    assert one(response.text, "#due_on-error").text().strip()
    assert not board.events("action.created")


# --- 5. Error pages are never cached -------------------------------------------------------------------


def test_every_error_page_is_sent_with_no_store(client, board):
    assert_error_page(client.get("/no-such-page"), 404)
    assert_error_page(client.post("/login"), 403)
    login(client, "member@example.org")
    response = client.get(f"/tavoli/{board.table.slug}/sedute/nuova")
    assert_error_page(response, 403)
    assert one(response.text, ".viewer-name").text().strip() == "Member"


def test_a_500_page_carries_the_viewer_and_is_not_cached(settings, board, monkeypatch):
    import server.web.pages

    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as failing:
        login(failing, "member@example.org")
        csrf = token(failing)

        async def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("a bug")

        monkeypatch.setattr(server.web.pages, "tables_for", broken)
        response = failing.get("/")
    assert_error_page(response, 500)
    assert one(response.text, ".viewer-name").text().strip() == "Member"
    assert csrf in response.text, "the page carries the session's token: it must not be cached"


# --- 7. Another site's request is refused before the database is read ---------------------------------


class Reads:
    """Counts the read sessions opened on the app's database (the session lookup is one)."""

    def __init__(self, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
        database = client.app.state.database  # type: ignore[attr-defined]
        self.count = 0
        original = database.read

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(database, "read", counted)


@pytest.mark.parametrize("path", ["/login", "/logout", "/tavoli/commercio-turismo/sedute"])
def test_a_cross_site_post_is_refused_without_reading_the_session(client, board, monkeypatch, path):
    reads = Reads(client, monkeypatch)
    client.cookies.set("tavoli_session", "a-session-that-does-not-exist")
    response = client.post(path, data={"csrf_token": "x"}, headers={"Origin": FOREIGN})
    assert_error_page(response, 403, "altri siti")
    assert reads.count == 0, "the session was looked up before the cross-site refusal"
    assert "set-cookie" not in response.headers, "the session middleware did not run"
    response = client.post(path, data={"csrf_token": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert_error_page(response, 403)
    assert reads.count == 0
    # The control: the same request from our own site does look the session up (and is refused for its token).
    response = client.post(path, data={"csrf_token": "x"}, headers={"Origin": "http://127.0.0.1:8000"})
    assert_error_page(response, 403)
    assert reads.count == 1


def test_a_socket_from_another_origin_is_refused_without_reading_the_session(client, board, monkeypatch):
    reads = Reads(client, monkeypatch)
    login(client, "member@example.org")
    reads.count = 0
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(home(board), headers={"Origin": FOREIGN}):
        pass
    assert info.value.code == 1008
    assert reads.count == 0


# --- socket queries and the cap of sockets per session ---------------------------------------------------


@pytest.mark.parametrize("bad", [*SOME_BAD_IDS, HUGE])
async def test_a_socket_query_id_no_record_can_have_closes_4404(live_board, people, bad):
    member = await people("member@example.org")
    for param in ("seduta", "azione", "proposta"):
        socket = await member.socket(f"{home(live_board)}?{param}={bad}", max_size=None)
        assert await closed_with(socket) == 4404, param
    socket = await member.socket(f"{home(live_board)}?elenco=azioni&responsabile={bad}")
    assert await closed_with(socket) == 1008


async def test_one_session_opens_at_most_the_cap_of_table_sockets(live_server, live_board, people):
    member = await people("member@example.org")
    opened = [await member.socket(home(live_board)) for _ in range(CAP)]
    for socket in opened:
        assert 'id="recent-history"' in await next_message(socket)
    refused = await member.socket(home(live_board))
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(refused.recv(), 5)  # the first thing to arrive is the close
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4429
    # Another session is not affected.
    chair = await people("chair@example.org")
    assert 'id="recent-history"' in await next_message(await chair.socket(home(live_board)))
    # Once one of the member's pages is closed, there is room again.
    hub = live_server.hub
    forgotten = threading.Event()  # the signal: the hub has forgotten the closed page's connection
    original = hub._forget

    async def forget(connection: Any) -> None:
        await original(connection)
        forgotten.set()

    hub._forget = forget
    await opened[0].close()
    assert await asyncio.to_thread(forgotten.wait, 5), "the hub never forgot the closed connection"
    assert len(hub.all_connections()) == CAP
    assert 'id="recent-history"' in await next_message(await member.socket(home(live_board)))


def test_nul_in_an_address_or_a_form_is_refused_before_any_text_reaches_the_database(client, board):
    """PostgreSQL refuses NUL in any text value: it is a 400 at the door, never a 500 on a lookup."""
    login(client, "member@example.org")
    slug = board.table.slug
    answer = client.get(f"/tavoli/{slug}/azioni?stato=%00")
    assert answer.status_code == 400
    assert "NUL" in texts(answer.text, "main")[0]
    page = client.get(f"/tavoli/{slug}/proposte/nuova").text
    form = {"csrf_token": csrf_of(page), "title": "Titolo\x00nascosto", "summary": "", "body": "", "authors": "cgil"}
    posted = client.post(f"/tavoli/{slug}/proposte", data=form, follow_redirects=False)
    assert posted.status_code == 400
    assert board.seed.run(lambda s: s.scalar(select(Proposal.id))) is None
