"""The pages of one action item or proposal, the two lists and "my action items" follow the table live.

Each page's socket names what it shows (`?azione=ID`, `?proposta=ID`, `?elenco=azioni&…`,
`?elenco=proposte`, `?elenco=mie`); the hub pushes its regions when a change touches that record (or any record,
for a list), rendered once per role and locale, with the per-person controls hidden and marked.
"""

from __future__ import annotations

import pytest

from server.domain import actions
from tests.live_support import closed_with, home, message_with, messages_until, next_message
from tests.support import css, one


def action_page(board, action_id: int) -> str:
    return f"{home(board)}?azione={action_id}"


def proposal_page(board, proposal_id: int) -> str:
    return f"{home(board)}?proposta={proposal_id}"


def second_action(board, seed):
    values = actions.parse_action(title="Mappa dei mercati", description="", owner=str(board.member.id), due_on="")
    return seed.run(lambda s: actions.create_action(s, board.table, values, actor_id=board.secretary.id))


# --- one action item ------------------------------------------------------------------------------


async def test_an_action_items_page_follows_its_status_and_notes_for_every_role(live_board, people):
    action = live_board.action()  # owned by the chair
    chair, member, observer = [await people(f"{who}@example.org") for who in ("chair", "member", "observer")]
    sockets = {}
    for name, browser in (("chair", chair), ("member", member), ("observer", observer)):
        sockets[name] = await browser.socket(action_page(live_board, action.id))
        first = await next_message(sockets[name])
        assert '<div id="action" hx-swap-oob="true"' in first, "the page's current state comes first"
        assert 'id="action-history"' in first
    base = f"/tavoli/{live_board.table.slug}/azioni/{action.id}"
    answer = await chair.post(f"{base}/stato", {"status": "in_progress", "version": "1"})
    assert answer.status_code == 200, answer.text  # under htmx: the home's list of open items
    pushed = {name: await message_with(socket, "In corso") for name, socket in sockets.items()}
    for message in pushed.values():
        assert '<div id="action" hx-swap-oob="true"' in message
        assert "csrf_token" not in message, "pushed fragments carry nothing personal"
    # The owner's buttons: visible controls for the chair (who manages), none for the observer,
    # and for a member they ride hidden, marked with the owner (this member is not the owner).
    assert f"{base}/stato" in pushed["chair"]
    assert f"{base}/stato" not in pushed["observer"]
    assert f'data-owner="{live_board.chair.id}" hidden' in pushed["member"]
    assert f"{base}/modifica" in pushed["chair"]
    assert f"{base}/modifica" not in pushed["member"]

    answer = await chair.post(f"{base}/note", {"body": "Sentiti i **consorzi**."})
    assert answer.status_code == 303
    message = await message_with(sockets["observer"], "consorzi")
    assert "<strong>consorzi</strong>" in message, "the note is rendered through the Markdown renderer"


async def test_a_change_of_another_action_item_leaves_the_page_alone(live_seed, live_board, people):
    action = live_board.action()
    other = second_action(live_board, live_seed)
    chair = await people("chair@example.org")
    socket = await chair.socket(action_page(live_board, action.id))
    await next_message(socket)
    base = f"/tavoli/{live_board.table.slug}/azioni"
    answer = await chair.post(f"{base}/{other.id}/stato", {"status": "done", "version": "1"})
    assert answer.status_code == 200
    # Then a note on the page's own item: its push comes after whatever the first change sent.
    answer = await chair.post(f"{base}/{action.id}/note", {"body": "Nota di controllo."})
    assert answer.status_code == 303
    *before, own = await messages_until(socket, "Nota di controllo.")
    for message in before:
        assert css(message, "#action, #action-history") == [], "the other item's change reached this page"
    assert "Calendario dei saldi" in one(own, "#action").text()
    for message in (*before, own):
        assert "Mappa dei mercati" not in message


@pytest.mark.parametrize("query", ["azione=999999", "azione=uno", "proposta=999999", "elenco=verbali"])
async def test_a_record_or_list_that_is_not_on_the_table_is_closed_4404(live_board, people, query):
    socket = await (await people("member@example.org")).socket(f"{home(live_board)}?{query}")
    assert await closed_with(socket) == 4404


async def test_an_action_item_of_another_table_is_closed_4404(live_seed, live_board, people):
    values = actions.parse_action(title="Altrove", description="", owner="", due_on="")
    foreign = live_seed.run(lambda s: actions.create_action(s, live_board.other, values, actor_id=None))
    socket = await (await people("member@example.org")).socket(action_page(live_board, foreign.id))
    assert await closed_with(socket) == 4404


# --- the lists ------------------------------------------------------------------------------------


async def test_the_action_list_follows_new_items_within_its_filters(live_seed, live_board, people):
    chair = await people("chair@example.org")
    observer = await people("observer@example.org")
    mine = await observer.socket(f"{home(live_board)}?elenco=azioni&responsabile={live_board.member.id}")
    every = await observer.socket(f"{home(live_board)}?elenco=azioni")
    assert '<div id="action-list" hx-swap-oob="true"' in await next_message(mine)
    await next_message(every)
    answer = await chair.post(
        f"/tavoli/{live_board.table.slug}/azioni",
        {"title": "Censimento dei locali sfitti", "owner": str(live_board.chair.id), "due_on": "2031-12-31"},
    )
    assert answer.status_code == 303
    assert "1 azione" in await message_with(every, "Censimento dei locali sfitti")
    filtered = (await message_with(mine, 'id="action-list"')).split('<div id="announcer"')[0]
    assert "Censimento dei locali sfitti" not in filtered, "the member's filtered list does not show the chair's"
    assert "0 azioni" in filtered


async def test_a_list_filter_outside_the_allowlist_closes_1008(live_board, people):
    member = await people("member@example.org")
    for query in ("elenco=azioni&stato=perso", "elenco=azioni&responsabile=999999", "elenco=azioni&ordine=caso"):
        socket = await member.socket(f"{home(live_board)}?{query}")
        assert await closed_with(socket) == 1008, query


async def test_the_proposal_list_follows_a_new_proposal_seen_by_others_once_submitted(live_board, people):
    member = await people("member@example.org")  # of CGIL, which co-authors the draft
    observer = await people("observer@example.org")
    authors_list = await member.socket(f"{home(live_board)}?elenco=proposte")
    others_list = await observer.socket(f"{home(live_board)}?elenco=proposte")
    for socket in (authors_list, others_list):
        assert '<div id="proposal-list" hx-swap-oob="true"' in await next_message(socket)
    answer = await member.post(
        f"/tavoli/{live_board.table.slug}/proposte",
        {"title": "Orari estivi dei negozi", "summary": "", "body": "Testo.", "authors": live_board.cgil.slug},
    )
    assert answer.status_code == 303, answer.text
    pushed = await message_with(authors_list, "Orari estivi dei negozi")
    assert "CGIL Bologna" in pushed
    # The same change reaches the observer's list, rendered without the draft (the push is the signal).
    unseen = await next_message(others_list)
    assert '<div id="proposal-list" hx-swap-oob="true"' in unseen
    assert "Orari estivi dei negozi" not in unseen
    link = one(pushed, "#proposal-list a").attributes["href"]
    submitted = await member.post(f"{link}/stato", {"status": "submitted", "version": "1"})
    assert submitted.status_code == 303, submitted.text
    assert "CGIL Bologna" in await message_with(others_list, "Orari estivi dei negozi")


# --- my action items -----------------------------------------------------------------------------


async def test_my_action_items_follow_the_table_and_show_only_mine(live_board, people):
    chair, member = await people("chair@example.org"), await people("member@example.org")
    mine = await member.socket(f"{home(live_board)}?elenco=mie&responsabile={live_board.chair.id}")
    first = await next_message(mine)
    region = f'<div id="my-actions-{live_board.table.id}" hx-swap-oob="true"'
    assert region in first
    assert "Non hai azioni in questo tavolo." in first, "the owner is the person asking, whatever the address says"

    base = f"/tavoli/{live_board.table.slug}/azioni"
    for title, owner in (("Mappa dei dehors", live_board.member), ("Calendario dei saldi", live_board.chair)):
        answer = await chair.post(base, {"title": title, "owner": str(owner.id), "due_on": "2031-12-31"})
        assert answer.status_code == 303, answer.text
    pushed = (await message_with(mine, "Mappa dei dehors")).split('<div id="announcer"')[0]
    assert region in pushed
    assert "Calendario dei saldi" not in pushed, "another person's item is not among mine"
    assert "csrf_token" not in pushed

    action_id = int(pushed.split(f"{base}/", 1)[1].split('"', 1)[0])
    answer = await member.post(f"{base}/{action_id}/stato", {"status": "in_progress", "version": "1"})
    assert answer.status_code == 200, answer.text
    assert region in await message_with(mine, "In corso")  # after a push for the chair's item, maybe


async def test_my_action_items_of_a_table_without_my_role_are_refused(live_board, people):
    member = await people("member@example.org")
    socket = await member.socket(f"/ws/tavoli/{live_board.other.slug}?elenco=mie")
    assert await closed_with(socket) == 4403


# --- one proposal ---------------------------------------------------------------------------------


async def test_a_proposals_page_follows_comments_endorsements_and_status(live_board, people):
    proposal = live_board.proposal()  # by the chair's organisation (Ascom), submitted
    chair, member, observer = [await people(f"{who}@example.org") for who in ("chair", "member", "observer")]
    sockets = {}
    for name, browser in (("chair", chair), ("member", member), ("observer", observer)):
        sockets[name] = await browser.socket(proposal_page(live_board, proposal.id))
        first = await next_message(sockets[name])
        for region in ("proposal", "comment-threads", "proposal-side"):
            assert f'<div id="{region}" hx-swap-oob="true"' in first
    base = f"/tavoli/{live_board.table.slug}/proposte/{proposal.id}"

    comment = {"comment": "Serve un <script>calendario</script> comune."}
    assert (await member.post(f"{base}/commenti", comment)).status_code == 303
    pushed = {name: await message_with(socket, "calendario") for name, socket in sockets.items()}
    for message in pushed.values():
        assert "<script>calendario" not in message, "a comment is inert however it is written"
    assert "/nascondi" in pushed["chair"], "the chair may hide comments"
    assert "/nascondi" not in pushed["member"]
    assert "Rispondi" not in pushed["observer"], "an observer reads only"
    # The author's edit control rides hidden, marked with the author and the end of its window.
    assert "data-owner" not in pushed["observer"]
    assert f'data-owner="{live_board.member.id}" data-until="' in pushed["member"]

    assert (await member.post(f"{base}/sostegno", {})).status_code == 303
    side = await message_with(sockets["chair"], "proposal-side")
    while "CGIL Bologna" not in side:
        side = await message_with(sockets["chair"], "proposal-side")
    # Both endorsement buttons ride hidden, marked with the organisations they serve.
    assert f'data-organisations-except="{live_board.cgil.id}" hidden' in side
    assert f'data-organisations="{live_board.cgil.id}" hidden' in side

    answer = await chair.post(f"{base}/stato", {"status": "under_discussion", "version": str(proposal.version)})
    assert answer.status_code == 303, answer.text
    assert "In discussione" in await message_with(sockets["observer"], "In discussione")
    main = await message_with(sockets["member"], 'id="proposal"')
    assert f'data-organisations="{live_board.ascom.id}" hidden' in main, "the co-authors' withdraw, marked"


async def test_a_list_filtered_on_someone_who_left_the_table_does_not_stop_the_others(live_seed, live_board, people):
    from server.domain import tables

    observer = await people("observer@example.org")
    chair = await people("chair@example.org")
    theirs = await observer.socket(f"{home(live_board)}?elenco=azioni&responsabile={live_board.member.id}")
    every = await observer.socket(f"{home(live_board)}?elenco=azioni")
    await next_message(theirs)
    await next_message(every)

    async def remove(session):
        seat = await tables.membership(session, live_board.table.id, live_board.member.id)
        await tables.remove_member(session, live_board.table, seat.id, actor_id=None)

    live_seed.run(remove)
    answer = await chair.post(
        f"/tavoli/{live_board.table.slug}/azioni",
        {"title": "Censimento dei locali sfitti", "owner": str(live_board.chair.id), "due_on": ""},
    )
    assert answer.status_code == 303
    one(await message_with(every, "Censimento dei locali sfitti"), "#action-list")
    # The observer is told what happened on both pages, in the same push: on theirs, that is all.
    received = await messages_until(theirs, "Censimento dei locali sfitti")
    assert "Censimento dei locali sfitti" in one(received[-1], "#announcer").text()
    for message in received:
        assert css(message, "#action-list") == [], "a filter that no longer exists renders nothing"
