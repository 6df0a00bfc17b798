"""Properties of the whole routing table: every table route checks access, GET never changes state.

The routes are read from the application itself, so a new route is covered (or fails) on its own.
"""

import re

import pytest
from sqlalchemy import select
from starlette.routing import Route

from server.db.models import Base, Role
from server.web.access import TableRoute
from tests.support import csrf_of, login

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
# What every member of a table may do, whoever owns the record: the rest must answer 403.
MEMBERS_MAY = {"create_proposal", "endorse", "withdraw_endorsement", "add_proposal_comment"}
# Members' own meeting-room requests (tests/test_meeting_room_web.py tests who may make them).
MEMBERS_MAY |= {"ask_to_speak", "withdraw_speaker", "check_in"}
# A remark on the minutes (tests/test_minutes_web.py tests who may make one).
MEMBERS_MAY |= {"add_minutes_remark"}
# A delegate's own position during a roll call (tests/test_decisions_web.py tests who may record it).
MEMBERS_MAY |= {"record_my_position"}
# The room screen's door: to whoever has no role it answers one page, the same for every address,
# whose script exchanges a room link's secret (tests/test_meeting_room_web.py).
ROOM_DOOR = "room"


def snapshot(seed):
    """Every row of every table, to compare before and after."""

    async def read(session):
        rows = {}
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(r) for r in result]
        return rows

    return seed.run(read)


def routes(app, method):
    return [r for r in app.routes if isinstance(r, Route) and method in (r.methods or ())]


def table_routes(app):
    return [r for r in app.routes if isinstance(r, Route) and r.path.startswith("/tavoli/")]


def path_values(board):
    return {
        "slug": board.table.slug,
        "meeting_id": board.meeting.id,
        "item_id": board.items[0].id,
        "membership_id": board.membership_id(board.member),
        "action_id": board.action().id,
        "proposal_id": board.proposal().id,
        "comment_id": board.comment().id,
        "decision_id": _decision(board).id,
        "version_id": 1,  # a published version of the minutes: none here, so its routes answer 404 at most
        **_protocol(board),
    }


def _protocol(board):
    """A draft protocol of the board's table with a party (CNA, not the member's organisation: the
    member may not write its text) and a PDF annex (tests/test_protocols_web.py tests the rest)."""
    from server.domain import protocol_annexes, protocol_parties, protocols
    from server.domain.actions import Actor

    secretary = Actor(board.secretary.id, Role.secretary)

    async def make(session):
        values = protocols.parse_protocol(kind="procurement", title="Protocollo appalti")
        protocol = await protocols.create_protocol(session, board.table, values, actor=secretary)
        signers = protocol_parties.parse_party(
            organisation=str(board.cna.id), external_name="", signatory="secretary@example.org", substitute=""
        )
        party = await protocol_parties.add_party(session, board.table, protocol.id, signers, actor=secretary)
        annex = await protocol_annexes.add_annex(
            session, board.table, protocol.id, name="A", filename="a.pdf", data=b"%PDF-1.4\n", actor=secretary
        )
        return {"protocol_id": protocol.id, "party_id": party.id, "annex_id": annex.id, "commitment_id": 1}

    if not hasattr(board, "_protocol_values"):
        board._protocol_values = board.seed.run(make)
    return board._protocol_values


def _decision(board):
    """The decision on the board's first item (tests/test_decisions_web.py)."""
    from server.domain import decisions
    from server.domain.actions import Actor

    chair = Actor(board.chair.id, Role.chair)
    item_id = board.items[0].id
    return board.seed.run(
        lambda s: decisions.record_decision(
            s, board.table, item_id, kind="agreed", text="Si approva.", proposal_id=None, actor=chair
        )
    )


def fill(path, values):
    unknown = set(PARAM.findall(path)) - values.keys()
    assert not unknown, f"teach this test a value for {unknown} of {path}"
    return PARAM.sub(lambda m: str(values[m.group(1)]), path)


def test_every_route_under_a_table_is_a_table_route(client):
    found = table_routes(client.app)
    assert len(found) >= 15
    for route in found:
        assert isinstance(route, TableRoute), f"{route.path} must be a TableRoute so that it checks access"
        assert route.required_role in (None, *Role)
        if route.required_role is None and (route.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}:
            assert route.admin_only, f"{route.path}: a state-changing route open to the public face"


def test_anonymous_visitors_are_sent_to_log_in_or_see_only_the_public_face(client, board):
    values = path_values(board)
    for route in table_routes(client.app):
        path = fill(route.path, values)
        for method in sorted(route.methods - {"HEAD"}):
            token = csrf_of(client.get("/").text)
            response = client.request(method, path, data={"csrf_token": token}, follow_redirects=False)
            if route.name == ROOM_DOOR:
                assert response.status_code == 200
                assert board.table.name not in response.text
                continue
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login?next=")


def test_a_person_without_a_role_finds_nothing_on_a_private_table(client, board):
    login(client, "outsider@example.org")
    values = path_values(board)
    for route in table_routes(client.app):
        path = fill(route.path, values)
        for method in sorted(route.methods - {"HEAD"}):
            token = csrf_of(client.get("/").text)
            response = client.request(method, path, data={"csrf_token": token}, follow_redirects=False)
            assert response.status_code == 404, (method, path)


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_cannot_change_anything(client, board, seed, email):
    login(client, email)
    values = path_values(board)
    before = snapshot(seed)
    for route in table_routes(client.app):
        if "POST" not in route.methods:
            continue
        if email.startswith("member") and route.name in MEMBERS_MAY:
            continue  # what any member may do is tested where it lives (test_proposals_web.py)
        token = csrf_of(client.get("/").text)
        response = client.post(
            fill(route.path, values), data={"csrf_token": token, "version": "1"}, follow_redirects=False
        )
        assert response.status_code == 403, route.path
    assert snapshot(seed) == before


def test_table_routes_of_one_table_do_not_reach_another(client, board):
    login(client, "other.chair@example.org")  # chair of the other table only
    values = path_values(board)
    for route in table_routes(client.app):
        response = client.get(fill(route.path, values), follow_redirects=False) if "GET" in route.methods else None
        if response is not None:
            assert response.status_code == 404, route.path


@pytest.mark.parametrize("who", [None, "chair@example.org", "observer@example.org", "admin@example.org"])
def test_get_never_changes_stored_state(client, seed, board, who):
    if who:
        login(client, who)
    values = path_values(board)
    before = snapshot(seed)
    visited = 0
    for route in routes(client.app, "GET"):
        response = client.get(fill(route.path, values), follow_redirects=False)
        assert response.status_code < 500, route.path
        visited += 1
    assert visited >= 10
    assert snapshot(seed) == before
