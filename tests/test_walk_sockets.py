"""The table socket refuses bad addresses with its own close codes, never 1011 nor a server error.

The walk reads the live address of every page of the seeded world (`ws-connect`, as htmx-ext-ws
opens it: the table's home, a meeting, an action item, a proposal, the lists with each of the
filters their forms offer, one's own action items), so that a screen or a filter an area declares
is walked as soon as a page uses it. Each address is first opened as it is (the current state
arrives), then with one part changed at a time — the table in the path, each query parameter —
to each awkward value of tests/walking.py's corpus, and without a session and from other origins.

An awkward value must close the socket with 4401/4403/4404 or 1008 before anything is sent, or
(only for a filter left empty or out, which means "no filter") be served like the valid address;
never 1011, never an exception, never an error in the log (docs/architecture.md, "The live protocol").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import anyio
import pytest
from starlette.websockets import WebSocketDisconnect

from server.views.areas import CATALOG
from tests.conftest import BASE_URL
from tests.walking import (
    ABSENT,
    ACTOR,
    ANONYMOUS,
    CORPUS,
    TWICE,
    World,
    as_,
    corpus,
    live_addresses,
    opened_world,
    where,
)

# The socket's own refusals (4401 no session, 4403 no role, 4404 no such record, 4429 too many
# sockets…) and 1008 (a filter outside the allowlist).
REFUSALS = {*range(4400, 4500), 1008}
# How long the first frame (or the close) may take: far more than it needs, less than a stalled test.
WAIT_SECONDS = 20
# Origins that are not this site's: refused at the handshake.
FOREIGN_ORIGINS = ["https://evil.example.org", "null", "", f"{BASE_URL}.evil.example.org", "http://127.0.0.1:8001"]


@pytest.fixture(scope="module")
def world(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with opened_world(template_database, tmp_path_factory.mktemp("walk-sockets")) as opened:
        yield opened


def socket_addresses(world: World) -> list[str]:
    """The live addresses of the crawled pages of the board's table, fewest first covering every
    screen and every query parameter: the fullest address of each screen, then any that names a
    parameter not seen yet."""
    home = f"/ws/tavoli/{world.board.table.slug}"
    found = {a for html in world.pages.values() for a in live_addresses(html) if urlsplit(a).path == home}
    by_screen: dict[str, list[dict[str, str]]] = {}
    for address in found:
        query = dict(parse_qsl(urlsplit(address).query, keep_blank_values=True))
        screen = query.get("elenco") or next((k for k in query if k != "elenco"), "")
        by_screen.setdefault(screen, []).append(query)
    chosen = []
    for queries in by_screen.values():
        seen: set[str] = set()
        for query in sorted(queries, key=lambda q: (-len(q), sorted(q.items()))):
            if not seen >= query.keys() or not query:
                chosen.append(_with(home, sorted(query.items())))
                seen |= query.keys()
    return sorted(chosen)


async def _within(stream: Any, seconds: float) -> Any:
    with anyio.fail_after(seconds):
        return await stream.receive()


def opened(world: World, address: str, origin: str | None = BASE_URL) -> tuple[str, Any]:
    """("served", first frame), ("closed", code), ("refused", code) before accepting, or ("error", exc)."""
    headers = {"origin": origin} if origin is not None else {}
    url = "ws://127.0.0.1:8000" + address
    try:
        with world.client.websocket_connect(url, headers=headers) as socket:
            receive = getattr(socket, "_send_rx", None)
            message = socket.portal.call(_within, receive, WAIT_SECONDS) if receive is not None else socket.receive()
            if message["type"] == "websocket.close":
                return "closed", message.get("code")
            return "served", message.get("text") or message.get("bytes")
    except WebSocketDisconnect as exc:
        return "refused", exc.code
    except Exception as exc:
        return "error", exc


class Walk:
    def __init__(self, world: World, caplog: pytest.LogCaptureFixture) -> None:
        self.world, self.caplog = world, caplog
        self.findings: list[str] = []
        self.opened = 0

    def expect(self, label: str, address: str, *, may_serve: bool, origin: str | None = BASE_URL) -> None:
        self.caplog.clear()
        outcome, detail = opened(self.world, address, origin)
        self.opened += 1
        logged = [r for r in self.caplog.records if r.levelno >= logging.ERROR]
        problem = None
        if outcome == "error":
            problem = f"server error, {where(detail)}"
        elif logged:
            problem = f"logged {logged[0].levelname}: {logged[0].getMessage()[:200]}"
        elif outcome in ("closed", "refused") and detail not in REFUSALS:
            problem = f"closed with {detail}"
        elif outcome == "served" and not may_serve:
            problem = "served: an awkward value was taken for a valid one"
        if problem:
            self.findings.append(f"{address[:140]} [{label}]: {problem}")


def _with(path: str, pairs: list[tuple[str, str]]) -> str:
    return path + (f"?{urlencode(pairs)}" if pairs else "")


def test_every_declared_screen_is_opened_by_some_page(world: World) -> None:
    """A screen an area declares (server/views/*.py) must be used by a page of the seeded world:
    otherwise the walk below would not know its address."""
    addresses = socket_addresses(world)
    queries = [dict(parse_qsl(urlsplit(a).query)) for a in addresses]
    for kind in CATALOG.screens.values():
        if kind.param is not None:
            assert any(kind.param in q for q in queries), f"no page opens ?{kind.param}="
        elif kind.listing is not None:
            assert any(q.get("elenco") == kind.listing for q in queries), f"no page opens ?elenco={kind.listing}"
    assert any(not q for q in queries), "no page opens the table's home"
    filters = {k for q in queries if q.get("elenco") == "azioni" for k in q} - {"elenco"}
    assert {"stato", "responsabile", "ente", "ordine", "scadute"} <= filters, filters


def test_awkward_socket_addresses_are_closed_with_a_reason_never_1011(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    as_(world, ACTOR)
    walk = Walk(world, caplog)
    addresses = socket_addresses(world)
    assert len(addresses) >= 6
    for address in addresses:
        parts = urlsplit(address)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        outcome, detail = opened(world, address)
        assert outcome == "served", f"{address}: the page's own address was not served: {outcome} {detail}"
        for label, value in corpus(shapes=False, in_address=True):
            if value:
                path = "/ws/tavoli/" + quote(value, safe="")
                walk.expect(f"table={label}", _with(path, pairs), may_serve=False)
        for index, (name, _value) in enumerate(pairs):
            # In a list's address every other parameter is a filter (the decisions' `seduta` too).
            listed = any(n == "elenco" for n, _v in pairs)
            is_filter = name != "elenco" and (listed or all(kind.param != name for kind in CATALOG.record_screens()))
            for label, value in (*corpus("any", in_address=True), (ABSENT, ABSENT), (TWICE, TWICE)):
                if value == ABSENT:
                    changed = pairs[:index] + pairs[index + 1 :]
                elif value == TWICE:
                    changed = [*pairs, (name, CORPUS["non-ascii"])]
                else:
                    changed = [(n, value if i == index else v) for i, (n, v) in enumerate(pairs)]
                # A filter left empty means "no filter"; a parameter left out names another screen.
                may_serve = value == ABSENT or (value == "" and is_filter)
                walk.expect(f"{name}={label}", _with(parts.path, changed), may_serve=may_serve)
        for origin in FOREIGN_ORIGINS:
            walk.expect(f"origin {origin!r}", address, may_serve=False, origin=origin)
        walk.expect("no origin", address, may_serve=False, origin=None)
    as_(world, ANONYMOUS)
    for address in addresses:
        walk.expect("no session", address, may_serve=False)
    as_(world, ACTOR)
    shown = "\n".join(walk.findings[:40])
    assert not walk.findings, f"{len(walk.findings)} of {walk.opened} sockets went wrong:\n{shown}"


def test_a_record_screen_with_two_records_or_two_screens_is_refused_or_served_never_an_error(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Addresses no page builds: two screens at once, a record screen with a list's filters."""
    as_(world, ACTOR)
    walk = Walk(world, caplog)
    home = f"/ws/tavoli/{world.board.table.slug}"
    meeting, other = world.board.meeting.id, world.board.other_meeting.id
    for query in (
        [("seduta", str(meeting)), ("seduta", str(other))],
        [("seduta", str(other)), ("seduta", str(meeting))],
        [("seduta", str(meeting)), ("elenco", "azioni"), ("stato", "perché")],
        [("elenco", "azioni"), ("elenco", "perché")],
        [("elenco", "mie"), ("responsabile", "٣")],
        [("elenco", "proposte"), ("stato", "perché")],
    ):
        walk.expect(f"{query}", _with(home, query), may_serve=True)
    assert not walk.findings, "\n".join(walk.findings)
