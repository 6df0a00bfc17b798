"""Action items on a real server: pushed to every open table page, and safe under a crowd of clicks."""

from __future__ import annotations

from server.db.models import ActionItem, ActionStatus
from server.domain import actions
from tests.live_support import Browser, crowd, message_with, next_message


def home(board):
    return f"/ws/tavoli/{board.table.slug}"


def create(board, seed, owner=None):
    return seed.run(
        lambda s: actions.create_action(
            s,
            board.table,
            actions.parse_action(title="Calendario dei saldi", description="", owner=str(owner or ""), due_on=""),
            actor_id=board.secretary.id,
        )
    )


async def test_a_new_action_item_and_its_status_reach_every_role_with_its_own_rendering(live_server, live_board):
    chair = await Browser(live_server.url).log_in("chair@example.org")
    member = await Browser(live_server.url).log_in("member@example.org")
    observer = await Browser(live_server.url).log_in("observer@example.org")
    try:
        sockets = {}
        for name, browser in (("member", member), ("observer", observer), ("chair", chair)):
            sockets[name] = await browser.socket(home(live_board))
            await next_message(sockets[name])  # the page's current state
        created = await chair.post(
            f"/tavoli/{live_board.table.slug}/azioni",
            {"title": "Censimento dei locali sfitti", "owner": str(live_board.member.id), "due_on": "2031-12-31"},
        )
        assert created.status_code == 303, created.text
        pushed = {name: await message_with(socket, "Censimento dei locali sfitti") for name, socket in sockets.items()}
        for message in pushed.values():
            assert '<section id="actions"' in message
            assert 'hx-swap-oob="true"' in message
            assert "csrf_token" not in message, "pushed fragments carry nothing personal"
        # The owner's buttons ride hidden for members (the page's script shows them to the owner),
        # visible for the chair, and are not there at all for an observer.
        assert f'data-owner="{live_board.member.id}" hidden' in pushed["member"]
        assert "/stato" not in pushed["observer"]
        assert "/stato" in pushed["chair"]
        assert "data-owner" not in pushed["chair"]

        action_id = int(created.headers["location"].rsplit("/", 1)[1])
        changed = await member.post(
            f"/tavoli/{live_board.table.slug}/azioni/{action_id}/stato", {"status": "in_progress", "version": "1"}
        )
        assert changed.status_code == 200, changed.text
        seen = await message_with(sockets["chair"], "In corso")
        assert "Censimento dei locali sfitti" in seen
        assert "In corso" in await message_with(sockets["observer"], "In corso")
    finally:
        for browser in (chair, member, observer):
            await browser.close()


async def test_a_progress_note_is_announced_on_the_table_history(live_server, live_seed, live_board):
    action = create(live_board, live_seed, owner=live_board.member.id)
    member = await Browser(live_server.url).log_in("member@example.org")
    chair = await Browser(live_server.url).log_in("chair@example.org")
    try:
        socket = await chair.socket(home(live_board))
        await next_message(socket)
        response = await member.post(
            f"/tavoli/{live_board.table.slug}/azioni/{action.id}/note", {"body": "Primi contatti avviati."}
        )
        assert response.status_code == 303
        message = await message_with(socket, "nota di avanzamento")
        assert 'id="recent-history"' in message
    finally:
        await member.close()
        await chair.close()


async def test_fifty_identical_status_changes_at_once_leave_one_change_and_one_event(
    live_server, live_seed, live_board
):
    action = create(live_board, live_seed, owner=live_board.member.id)
    owner = await Browser(live_server.url).log_in("member@example.org")
    path = f"/tavoli/{live_board.table.slug}/azioni/{action.id}/stato"
    try:
        answers = await crowd(owner, path, {"status": "done", "version": "1"})
    finally:
        await owner.close()
    assert {a.status_code for a in answers} == {200}, {a.status_code for a in answers}
    assert live_board.current(ActionItem, action.id).status is ActionStatus.done
    assert live_board.current(ActionItem, action.id).version == 2
    assert len(live_board.events("action.status")) == 1
