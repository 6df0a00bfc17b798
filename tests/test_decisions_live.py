"""Decisions live, on a real server: an opened roll call and each position reach the chair, a member
and the room screen as they come; the decisions page follows its filters; fifty identical positions
sent at once by one organisation leave one position and one event."""

from __future__ import annotations

from sqlalchemy import func, select

from server import i18n
from server.db.models import Position, Role
from server.domain import decisions, meetings
from server.domain.actions import Actor
from tests.live_support import closed_with, crowd, home, message_with, next_message
from tests.support import css, one, texts
from tests.test_meeting_room_live import meeting_socket, projector, room_path


def it(message: str, **values: str) -> str:
    with i18n.use_locale("it"):
        said = i18n.gettext(message)
    return said.format(**values) if values else said


def prepared(board):
    """CGIL (the member) and Confcommercio Ascom (the chair) present; a decision on the first item."""
    marks = {board.cgil.id: (True, "Member"), board.ascom.id: (True, "Chair")}
    board.seed.run(
        lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=0, actor_id=None)
    )
    return board.seed.run(
        lambda s: decisions.record_decision(
            s,
            board.table,
            board.items[0].id,
            kind="agreed",
            text="Calendario unico dei **saldi**.",
            proposal_id=None,
            actor=Actor(board.chair.id, Role.chair),
        )
    )


def base(board) -> str:
    return f"/tavoli/{board.table.slug}/sedute/{board.meeting.id}"


async def test_the_roll_call_and_each_position_reach_the_chair_a_member_and_the_room_screen(
    live_server, live_board, people
):
    decision = prepared(live_board)
    chair, member = await people("chair@example.org"), await people("member@example.org")
    screen, _secret = await projector(live_server, live_board, chair)
    try:
        sockets = {
            "chair": await chair.socket(meeting_socket(live_board)),
            "member": await member.socket(meeting_socket(live_board)),
            "room": await screen.socket(f"{room_path(live_board)}/ws"),
        }
        for name, socket in sockets.items():
            first = await next_message(socket)
            assert ('id="room-roll-call"' if name == "room" else 'id="meeting-decisions"') in first, name
        assert (await chair.post(f"{base(live_board)}/apri", {})).status_code == 200
        for socket in sockets.values():
            await message_with(socket, "In corso")

        url = f"{base(live_board)}/decisioni/{decision.id}"
        assert (await chair.post(f"{url}/appello", {"open": "on"})).status_code == 200
        received = {}
        for name, socket in sockets.items():
            if name == "room":
                message = await message_with(socket, "Saldi invernali")
                region = one(message, "#room-roll-call")
                assert "saldi" in one(region.html, ".room-decision-text strong").text()
                assert texts(region.html, ".room-label") == [it("Roll call of the positions")]
            else:
                message = received[name] = await message_with(socket, 'data-roll-call="open"')
                form = one(message, f"#decision-{decision.id} form.decision-mine")
                assert sorted(form.attributes["data-organisations"].split()) == sorted(
                    [str(live_board.cgil.id), str(live_board.ascom.id)]
                )
        # Others' acts are announced, politely.
        announced = one(received["member"], "#announcer").text()
        assert it("opened the roll call on «{title}»", title="Saldi invernali") in announced

        favour = await member.post(f"{url}/posizione", {"kind": "favourable"})
        assert favour.status_code == 200, favour.text
        for name in ("chair", "member", "room"):
            message = await message_with(sockets[name], "CGIL Bologna")
            if name == "room":
                assert texts(message, "#room-roll-call .room-positions li") == [f"CGIL Bologna: {it('In favour')}"]
            else:
                entry = one(message, f"#decision-{decision.id}-organisation-{live_board.cgil.id}")
                assert texts(entry.html, ".position-kind") == [it("In favour")]

        reserved = await chair.post(f"{url}/posizione", {"kind": "reservation", "reservation": "Sulle date."})
        assert reserved.status_code == 200, reserved.text
        for name in ("chair", "member", "room"):
            message = await message_with(sockets[name], "Sulle date.")
            if name == "room":
                listed = texts(message, "#room-roll-call .room-positions li")
                assert listed == [
                    f"CGIL Bologna: {it('In favour')}",
                    f"Confcommercio Ascom Bologna: {it('In favour with a reservation')} — Sulle date.",
                ]
                count = one(message, "#room-roll-call .room-roll-call-count")
                assert one(count.html, ".positions-given").text() == it(
                    "{given} of {present} organisations present", given="2", present="2"
                )

        assert (await chair.post(f"{url}/appello", {"open": "off"})).status_code == 200
        for name, socket in sockets.items():
            if name == "room":
                message = await message_with(socket, 'id="room-roll-call"')
                assert one(message, "#room-roll-call").text().strip() == "", "nothing when no roll call is open"
            else:
                message = await message_with(socket, 'data-roll-call="closed"')
                assert not css(message, "form.decision-mine")
    finally:
        await screen.close()


async def test_the_decisions_page_follows_its_filters_live(live_server, live_board, people):
    decision = prepared(live_board)
    secretary, member = await people("secretary@example.org"), await people("member@example.org")
    # The meeting filter shares its name with the meeting page's ?seduta=: the list is still a list.
    listing = f"{home(live_board)}?elenco=decisioni&posizione=against&seduta={live_board.meeting.id}"
    socket = await member.socket(listing)
    first = await next_message(socket)
    assert css(first, "#decision-list")
    assert not css(first, "#agenda"), "not the meeting's page"
    assert not css(first, "article.decision")
    url = f"{base(live_board)}/decisioni/{decision.id}/posizioni"
    data = {"organisation": str(live_board.cgil.id), "kind": "against", "delegate": "Member"}
    assert (await secretary.post(url, data)).status_code == 200
    message = await message_with(socket, 'id="decision-list"')
    assert [a.attributes["id"] for a in css(message, "article.decision")] == [f"decision-{decision.id}"]
    refused = await member.socket(f"{home(live_board)}?elenco=decisioni&posizione=unanimous")
    assert await closed_with(refused) == 1008


async def test_fifty_identical_positions_leave_one_position_and_one_event(live_server, live_board, people):
    decision = prepared(live_board)
    chair, member = await people("chair@example.org"), await people("member@example.org")
    assert (await chair.post(f"{base(live_board)}/apri", {})).status_code == 200
    url = f"{base(live_board)}/decisioni/{decision.id}"
    assert (await chair.post(f"{url}/appello", {"open": "on"})).status_code == 200
    answers = await crowd(member, f"{url}/posizione", {"kind": "against"})
    assert {a.status_code for a in answers} == {200}

    async def count() -> int:
        async with live_server.app.state.database.read() as session:
            return int(await session.scalar(select(func.count(Position.id))))

    assert live_server.call(count) == 1
    assert len(live_board.events("decision.position")) == 1
