"""The table socket on a real uvicorn, with real `websockets` clients: refusals, pushes, presence."""

from __future__ import annotations

import asyncio
import dataclasses
import socket as socket_module
from datetime import timedelta

import pytest
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.db.models import Role, UserSession
from server.db.types import utcnow
from server.domain import agenda, meetings
from server.live.connection import QUEUE_LIMIT
from tests.live_support import Browser, closed_with, home, message_with, next_message
from tests.support import one, texts


@pytest.fixture
def settings(settings):
    # One session opens a hundred pages below (the slow client's test): above the cap of sockets
    # per session, which tests/test_bad_input.py tests.
    return dataclasses.replace(settings, max_sockets_per_session=1_000)


def meeting(board):
    return f"{home(board)}?seduta={board.meeting.id}"


async def move(chair: Browser, board, index: int, position: int, version: int = 1):
    response = await chair.post(f"{board.item_url(index)}/sposta", {"position": str(position), "version": str(version)})
    assert response.status_code == 200, response.text
    return response


# --- refusals --------------------------------------------------------------------------------------


async def test_no_session_is_accepted_then_closed_4401_having_sent_nothing(live_server, live_board):
    anonymous = Browser(live_server.url)
    try:
        socket = await anonymous.socket(home(live_board))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(socket.recv(), 5)  # the first thing to arrive is the close
        assert info.value.rcvd.code == 4401
    finally:
        await anonymous.close()


async def test_an_expired_session_is_closed_4401(live_server, live_seed, live_board, people):
    member = await people("member@example.org")
    live_seed.run(lambda s: s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1))))
    socket = await member.socket(home(live_board))
    assert await closed_with(socket) == 4401


async def test_a_foreign_origin_is_refused_at_the_handshake_even_with_a_valid_cookie(live_board, people):
    member = await people("member@example.org")
    with pytest.raises(InvalidStatus) as info:
        await member.socket(home(live_board), origin="https://evil.example.org")
    assert info.value.response.status_code == 403


@pytest.mark.parametrize("email", ["outsider@example.org", "other.chair@example.org"])
async def test_no_role_on_the_table_is_closed_4403(live_board, people, email):
    socket = await (await people(email)).socket(home(live_board))
    assert await closed_with(socket) == 4403


async def test_a_meeting_of_another_table_is_closed_4404(live_board, people):
    member = await people("member@example.org")
    socket = await member.socket(f"{home(live_board)}?seduta={live_board.other_meeting.id}")
    assert await closed_with(socket) == 4404
    socket = await member.socket(f"{home(live_board)}?seduta=tre")
    assert await closed_with(socket) == 4404


async def test_an_unknown_table_is_closed_like_a_private_one(live_board, people):
    socket = await (await people("member@example.org")).socket("/ws/tavoli/nessun-tavolo")
    assert await closed_with(socket) == 4403


async def test_a_client_message_other_than_a_keepalive_closes_1008(live_board, people):
    socket = await (await people("member@example.org")).socket(home(live_board))
    await next_message(socket)  # the current state comes first
    await socket.send("ping")
    await socket.send('{"type":"ping"}')
    await socket.send('{"HEADERS": {}, "title": "scritto nel socket"}')
    assert await closed_with(socket) == 1008


async def test_an_oversized_message_closes_1009(live_server, live_board, people):
    member = await people("member@example.org")
    socket = await member.socket(home(live_board))
    await next_message(socket)
    await socket.send("x" * 2_000)  # over the table socket's own limit
    assert await closed_with(socket) == 1009
    socket = await member.socket(home(live_board), max_size=None)
    await next_message(socket)
    await socket.send("x" * (live_server.settings.ws_max_bytes + 1))  # over uvicorn's limit for every socket
    assert await closed_with(socket) == 1009


# --- pushes ----------------------------------------------------------------------------------------


async def test_the_current_state_comes_first_on_connect(live_board, people):
    socket = await (await people("member@example.org")).socket(meeting(live_board))
    first = await next_message(socket)
    for region in ('id="meeting-details"', 'id="agenda"', 'id="attendance"', 'id="presence"'):
        assert region in first
    assert "Saldi invernali" in first


async def test_a_change_by_the_chair_reaches_a_member_with_the_member_rendering(live_board, people):
    member_socket = await (await people("member@example.org")).socket(meeting(live_board))
    await next_message(member_socket)
    chair = await people("chair@example.org")
    await move(chair, live_board, 2, 1)
    pushed = await message_with(member_socket, 'id="agenda"')
    assert pushed.index("Varie ed eventuali") < pushed.index("Saldi invernali")
    assert "Sposta su" not in pushed, "no controls for a member"
    assert 'name="csrf_token"' not in pushed, "nothing personal in a pushed fragment"
    assert 'id="announcer" hx-swap-oob="innerHTML">Chair ha spostato «Varie ed eventuali» in posizione 1' in pushed


async def test_an_observer_gets_the_observer_rendering_and_the_secretary_hers(live_board, people):
    observer = await (await people("observer@example.org")).socket(meeting(live_board))
    secretary = await (await people("secretary@example.org")).socket(meeting(live_board))
    await next_message(observer)
    await next_message(secretary)
    await move(await people("chair@example.org"), live_board, 1, 3)
    for_observer = await message_with(observer, 'id="agenda"')
    for_secretary = await message_with(secretary, 'id="agenda"')
    assert "Sposta su" not in for_observer
    assert "Sposta su" in for_secretary
    assert 'name="csrf_token"' not in for_secretary


async def test_the_home_page_gets_the_next_meeting_and_history_not_the_meeting_regions(live_board, people):
    socket = await (await people("member@example.org")).socket(home(live_board))
    await next_message(socket)
    await move(await people("chair@example.org"), live_board, 2, 1)
    pushed = await message_with(socket, 'id="meetings"')
    assert 'id="recent-history"' in pushed
    assert 'id="agenda"' not in pushed


async def test_ones_own_change_is_pushed_without_an_announcement(live_board, people):
    chair = await people("chair@example.org")
    socket = await chair.socket(meeting(live_board))
    await next_message(socket)
    await move(chair, live_board, 2, 1)
    pushed = await message_with(socket, 'id="agenda"')
    assert 'id="announcer"' not in pushed


async def test_presence_shows_who_joins_and_who_leaves(live_board, people):
    member = await (await people("member@example.org")).socket(home(live_board))
    assert "Member" in await message_with(member, 'id="presence"')
    observer = await (await people("observer@example.org")).socket(meeting(live_board))
    joined = await message_with(member, "Observer")
    assert 'id="presence"' in joined
    await observer.close()
    while "Observer" in (left := await message_with(member, 'id="presence"')):
        pass
    assert "Member" in left


# --- leaving -----------------------------------------------------------------------------------------


async def test_logging_out_closes_the_socket(live_board, people):
    member = await people("member@example.org")
    socket = await member.socket(home(live_board))
    await next_message(socket)
    assert (await member.post("/logout", {})).status_code == 303
    assert await closed_with(socket) == 4401


async def test_losing_ones_role_closes_the_socket_4403(live_board, live_server, people):
    socket = await (await people("observer@example.org")).socket(home(live_board))
    await next_message(socket)
    admin = await people("admin@example.org")
    membership = live_board.membership_id(live_board.observer)
    response = await admin.post(f"/tavoli/{live_board.table.slug}/componenti/{membership}/rimuovi", {})
    assert response.status_code == 200
    assert await closed_with(socket) == 4403


async def test_a_changed_role_reconnects_to_see_the_new_view(live_board, people):
    socket = await (await people("observer@example.org")).socket(home(live_board))
    await next_message(socket)
    admin = await people("admin@example.org")
    membership = live_board.membership_id(live_board.observer)
    await admin.post(
        f"/tavoli/{live_board.table.slug}/componenti/{membership}",
        {"role": "secretary", "organisation": "", "version": "1"},
    )
    assert await closed_with(socket) == 1012  # htmx reconnects after 1012


async def test_a_session_that_expires_closes_its_socket(live_seed, live_board, people):
    member = await people("member@example.org")
    live_seed.run(lambda s: s.execute(update(UserSession).values(expires_at=utcnow() + timedelta(seconds=1))))
    socket = await member.socket(home(live_board))
    await next_message(socket)
    assert await closed_with(socket) == 4401


# --- rendering once, catching up, slow clients ---------------------------------------------------


async def test_one_change_renders_each_fragment_once_per_view_not_per_socket(
    live_server, live_seed, live_board, people
):
    sockets = []
    for i in range(15):
        for role in ("member", "observer"):
            email = f"{role}{i}@example.org"
            live_seed.person(live_board.table, Role(role), email)
            sockets.append(await (await people(email)).socket(meeting(live_board)))
    for socket in sockets:
        await next_message(socket)
    # Every socket has its page: what is rendered from now on is pushed. The arrivals' presence
    # pushes render the presence region alone, never the agenda.

    async def forget_renders():
        live_server.hub.renders.clear()

    live_server.call(forget_renders)
    await move(await people("chair@example.org"), live_board, 2, 1)
    for socket in sockets:
        pushed = await message_with(socket, 'id="agenda"')
        assert texts(pushed, "#agenda h3")[0].endswith("Varie ed eventuali")

    async def renders():
        return dict(live_server.hub.renders)

    counted = live_server.call(renders)
    assert counted.get("agenda") == 2, counted  # a member's rendering and an observer's, for 30 sockets
    assert counted.get("meetings", 0) == 0, "the home's fragments are not rendered for meeting pages"


async def test_a_reconnecting_client_catches_up_with_what_it_missed(live_server, live_board, people):
    member = await people("member@example.org")
    socket = await member.socket(meeting(live_board))
    await next_message(socket)

    async def close_members_sockets():
        for connection in live_server.hub.all_connections():
            if connection.user_id == live_board.member.id:
                connection.close(1012)

    live_server.call(close_members_sockets)
    assert await closed_with(socket) == 1012
    chair = await people("chair@example.org")
    await move(chair, live_board, 2, 1)
    # The move shifted the first item down a place: it is on its second version now.
    second = await chair.post(f"{live_board.item_url(0)}/stato", {"status": "current", "version": "2"})
    assert second.status_code == 200
    again = await member.socket(meeting(live_board))
    state = await next_message(again)
    assert state.index("Varie ed eventuali") < state.index("Saldi invernali"), "the first change"
    assert f'<li id="item-{live_board.items[0].id}" class="agenda-item agenda-item-current"' in state, "the second"


async def test_a_slow_client_is_closed_1013_while_the_others_get_every_push(live_server, live_seed, live_board, people):
    # A big agenda for the slow reader's meeting, so that every push to it is large.
    values = meetings.parse_meeting(title="Seduta lunga", day="2031-12-20", hour="10:00", place="Sala", online_url="")
    big = live_seed.run(lambda s: meetings.create_meeting(s, live_board.table, values, actor_id=None))
    big_items = [
        live_seed.run(
            lambda s, n=n: agenda.add_item(
                s,
                live_board.table,
                big.id,
                agenda.parse_item(
                    title=f"Punto {n}", description="Testo lungo. " * 1_500, presenter="", planned_minutes=""
                ),
                actor_id=None,
            )
        )
        for n in range(20)
    ]
    # The slow reader: a tiny receive buffer, and it never reads.
    raw = socket_module.create_connection(("127.0.0.1", live_server.port))
    raw.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 4096)
    await (await people("observer@example.org")).socket(
        f"{home(live_board)}?seduta={big.id}", sock=raw, max_queue=1, max_size=None
    )
    others = [await (await people("member@example.org")).socket(meeting(live_board)) for _ in range(100)]
    while not any("Observer" in name for name in texts(await next_message(others[0]), "#presence li")):
        pass  # the hub has the slow reader's connection once its owner is among those present
    for other in others[1:]:
        await next_message(other)

    async def find_slow():
        return next(c for c in live_server.hub.all_connections() if c.page.meeting_id == big.id)

    slow = live_server.call(find_slow)

    async def close_code():
        return slow.close_code

    chair = await people("chair@example.org")
    item = live_board.items[0]
    for round_number in range(QUEUE_LIMIT * 4):
        status = "done" if round_number % 2 == 0 else "pending"
        version = str(round_number + 1)
        await chair.post(
            f"/tavoli/{live_board.table.slug}/sedute/{big.id}/punti/{big_items[0].id}/stato",
            {"status": status, "version": version},
        )
        response = await chair.post(f"{live_board.item_url(0)}/stato", {"status": status, "version": version})
        assert response.status_code == 200, (round_number, response.status_code)
        for pushed in await asyncio.gather(*(message_with(o, f'id="item-{item.id}"') for o in others)):
            one(pushed, f"#agenda #item-{item.id}")  # every other page gets every push
        if live_server.call(close_code) is not None:
            break
    assert live_server.call(close_code) == 1013, "the slow reader was closed for it"
    for other in others:
        await other.close()
    raw.close()
