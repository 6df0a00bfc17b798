"""The meeting room, live, on a real server: what the chair does reaches the members and the room
screen; fifty identical requests to speak make one; a room link's socket opens its own screen only,
closes when the link is revoked, and its secret reaches no server log."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from server.db.models import Speaker
from tests.live_support import Browser, closed_with, crowd, home, message_with, next_message
from tests.support import csrf_of, one


def meeting_socket(board) -> str:
    return f"{home(board)}?seduta={board.meeting.id}"


def room_path(board, meeting=None) -> str:
    return f"/tavoli/{board.table.slug}/sedute/{(meeting or board.meeting).id}/sala"


async def projector(live_server, board, chair) -> tuple[Browser, str]:
    """A browser with no login that opens the room screen with a room link the chair made."""
    made = await chair.post(f"{room_path(board)}/collegamenti", {})
    assert made.status_code == 200
    secret = one(made.text, "#new-room-link-address").attributes["value"].split("#t=")[1]
    screen = Browser(live_server.url)
    screen.csrf = csrf_of((await screen.http.get("/")).text)
    exchanged = await screen.post(f"{room_path(board)}/accesso", {"secret": secret})
    assert exchanged.status_code == 204
    return screen, secret


async def test_the_chair_s_steps_reach_the_members_and_the_room_screen(live_server, live_board, people):
    chair, member, observer = [await people(f"{who}@example.org") for who in ("chair", "member", "observer")]
    screen, _secret = await projector(live_server, live_board, chair)
    try:
        sockets = {
            "chair": await chair.socket(meeting_socket(live_board)),
            "member": await member.socket(meeting_socket(live_board)),
            "observer": await observer.socket(meeting_socket(live_board)),
            "room": await screen.socket(f"{room_path(live_board)}/ws"),
        }
        for name, socket in sockets.items():
            first = await next_message(socket)
            assert ('id="room"' if name == "room" else 'id="speakers"') in first, name
        base = f"/tavoli/{live_board.table.slug}/sedute/{live_board.meeting.id}"

        assert (await chair.post(f"{base}/apri", {})).status_code == 200
        for name, socket in sockets.items():
            message = await message_with(socket, "In corso")
            assert ('id="room"' if name == "room" else 'id="meeting-details"') in message, name

        item = live_board.items[0]
        answer = await chair.post(f"{base}/punti/{item.id}/stato", {"status": "current", "version": "1"})
        assert answer.status_code == 200
        await message_with(sockets["room"], "Saldi invernali")

        asked = await member.post(f"{base}/punti/{item.id}/interventi", {})
        assert asked.status_code == 200, asked.text
        for name in ("chair", "observer", "room"):
            message = await message_with(sockets[name], "CGIL Bologna")
            assert ('class="room-next"' if name == "room" else "speakers-waiting") in message, name

        speaker_id = live_server.call(lambda: _only_speaker(live_server))
        started = await chair.post(f"{base}/interventi/avvia", {"speaker": str(speaker_id)})
        assert started.status_code == 200
        for name, socket in sockets.items():
            message = await message_with(socket, 'data-clock="down"')
            assert "CGIL Bologna" in message, name
            if name == "member":  # others' changes are announced, politely
                assert "ha dato la parola a CGIL Bologna" in one(message, "#announcer").text()

        assert (await chair.post(f"{base}/chiudi", {})).status_code == 200
        for name, socket in sockets.items():
            message = await message_with(socket, "Chiusa")
            assert ('id="room"' if name == "room" else 'id="meeting-details"') in message, name
    finally:
        await screen.close()


async def _only_speaker(live_server) -> int:
    async with live_server.app.state.database.read() as session:
        return int(await session.scalar(select(Speaker.id)))


async def test_fifty_identical_requests_to_speak_leave_one(live_server, live_board, people):
    chair, member = await people("chair@example.org"), await people("member@example.org")
    base = f"/tavoli/{live_board.table.slug}/sedute/{live_board.meeting.id}"
    assert (await chair.post(f"{base}/apri", {})).status_code == 200
    item = live_board.items[0]
    assert (await chair.post(f"{base}/punti/{item.id}/stato", {"status": "current", "version": "1"})).status_code == 200
    answers = await crowd(member, f"{base}/punti/{item.id}/interventi", {})
    assert {a.status_code for a in answers} == {200}

    async def count() -> int:
        async with live_server.app.state.database.read() as session:
            return int(await session.scalar(select(func.count(Speaker.id))))

    assert live_server.call(count) == 1
    assert len(live_board.events("speaker.requested")) == 1


async def test_a_room_link_opens_its_own_socket_only_and_closes_when_revoked(live_server, live_board, people):
    chair = await people("chair@example.org")
    screen, _secret = await projector(live_server, live_board, chair)
    try:
        # Not the table's socket, nor the meeting page's: a room link is no session.
        assert await closed_with(await screen.socket(home(live_board))) == 4401
        assert await closed_with(await screen.socket(meeting_socket(live_board))) == 4401
        # Not another meeting's room screen, even with the cookie sent there by hand.
        other = f"/tavoli/{live_board.other.slug}/sedute/{live_board.other_meeting.id}/sala/ws"
        assert await closed_with(await screen.socket(other)) == 4401
        socket = await screen.socket(f"{room_path(live_board)}/ws")
        assert 'id="room"' in await next_message(socket)
        link_id = live_board.events("meeting.room_link_created")[-1].payload["link_id"]
        revoked = await chair.post(f"{room_path(live_board)}/collegamenti/revoca", {"link": str(link_id)})
        assert revoked.status_code == 303
        assert await closed_with(socket) == 4401
        assert await closed_with(await screen.socket(f"{room_path(live_board)}/ws")) == 4401
    finally:
        await screen.close()


async def test_a_room_socket_without_a_link_is_refused(live_server, live_board):
    nobody = Browser(live_server.url)
    try:
        assert await closed_with(await nobody.socket(f"{room_path(live_board)}/ws")) == 4401
    finally:
        await nobody.close()


async def test_the_secret_reaches_no_server_log(live_server, live_board, people, caplog):
    # The server's loggers (the test's own HTTP client logs what it receives, the cookie included).
    names = ("uvicorn", "uvicorn.access", "uvicorn.error", "server", "starlette", "sqlalchemy")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.DEBUG)
    try:
        chair = await people("chair@example.org")
        screen, secret = await projector(live_server, live_board, chair)
        try:
            page = await screen.http.get(room_path(live_board))
            assert page.status_code == 200
            socket = await screen.socket(f"{room_path(live_board)}/ws")
            await next_message(socket)
            refused = await screen.post(f"{room_path(live_board)}/accesso", {"secret": secret + "x"})
            assert refused.headers["hx-redirect"].startswith("/login"), "no pass: sent to log in"
            assert "set-cookie" not in refused.headers
        finally:
            await screen.close()
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(caplog.handler)
            logger.setLevel(level)
    server = [r for r in caplog.records if r.name.split(".")[0] in {n.split(".")[0] for n in names}]
    logged = "\n".join(f"{record.getMessage()} {record.args!r}" for record in server)
    assert "/sala/accesso" in logged, "the access log was captured"
    assert secret not in logged
