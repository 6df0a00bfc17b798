"""Proposals on a real server: endorsements and comments pushed to open pages, and a crowd of clicks."""

from __future__ import annotations

from sqlalchemy import select

from server.db.models import Endorsement
from tests.live_support import Browser, crowd, message_with, next_message


async def test_an_endorsement_and_a_comment_reach_another_members_page(live_server, live_board):
    proposal = live_board.proposal()
    member = await Browser(live_server.url).log_in("member@example.org")
    observer = await Browser(live_server.url).log_in("observer@example.org")
    try:
        socket = await observer.socket(f"/ws/tavoli/{live_board.table.slug}")
        await next_message(socket)
        base = f"/tavoli/{live_board.table.slug}/proposte/{proposal.id}"
        assert (await member.post(f"{base}/sostegno", {})).status_code == 303
        pushed = await message_with(socket, "1 sostegno")
        assert '<section id="proposals"' in pushed
        assert "Presenta una proposta" not in pushed, "the observer's rendering has no controls"
        assert (await member.post(f"{base}/commenti", {"comment": "Siamo d'accordo."})).status_code == 303
        assert "ha commentato" in await message_with(socket, "ha commentato")
    finally:
        await member.close()
        await observer.close()


async def test_fifty_identical_endorsements_from_concurrent_clients_leave_one_row_and_one_event(
    live_server, live_seed, live_board
):
    proposal = live_board.proposal()
    member = await Browser(live_server.url).log_in("member@example.org")
    path = f"/tavoli/{live_board.table.slug}/proposte/{proposal.id}/sostegno"
    try:
        answers = await crowd(member, path, {})
    finally:
        await member.close()
    assert {a.status_code for a in answers} == {303}
    rows = live_seed.run(lambda s: s.scalars(select(Endorsement).where(Endorsement.proposal_id == proposal.id)))
    assert len(rows.all()) == 1
    assert len(live_board.events("proposal.endorsed")) == 1
