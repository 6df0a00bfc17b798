"""A draft proposal belongs to its co-authoring organisations (and the chair and secretary, who prepare
the agenda): its title and text reach nobody else's HTML, on a page or in a push, until it is submitted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.db.models import ProposalComment, Role
from server.domain import proposals
from server.domain.actions import Actor
from tests.live_support import closed_with, home, messages_until, next_message
from tests.support import login, post_form

SECRET = "Bozza riservata ZQX"
TEXT = "Testo ancora segreto ZQX."


def draft(board, seed, authors=None):
    """A draft by the CGIL member, co-authored by CGIL (or `authors`)."""
    text = proposals.parse_text(title=SECRET, summary="", body=TEXT)
    actor = Actor(board.member.id, Role.member)
    slugs = authors or [board.cgil.slug]
    return seed.run(lambda s: proposals.create_proposal(s, board.table, text, slugs, actor=actor))


def another_member(board, seed):
    """A member for CNA, an organisation that does not co-author the draft."""
    return seed.person(board.table, Role.member, "member.cna@example.org", board.cna)


def pages(board, proposal_id):
    slug = board.table.slug
    return [f"/tavoli/{slug}", f"/tavoli/{slug}/proposte", f"/tavoli/{slug}/cronologia"]


@pytest.mark.parametrize("email", ["member.cna@example.org", "observer@example.org", "admin@example.org"])
def test_draft_never_reaches_others_pages(client, board, seed, email):
    another_member(board, seed)
    proposal = draft(board, seed)
    login(client, email)
    for path in pages(board, proposal.id):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "ZQX" not in page.text, path
    base = f"/tavoli/{board.table.slug}/proposte/{proposal.id}"
    assert client.get(base).status_code == 404
    assert "ZQX" not in client.get(base).text
    edit = client.get(f"{base}/modifica")  # a role that may not edit at all is refused before (403)
    assert edit.status_code in (403, 404)
    assert "ZQX" not in edit.text


def test_draft_is_not_there_for_an_anonymous_visitor(client, board, seed):
    proposal = draft(board, seed)
    for path in [*pages(board, proposal.id), f"/tavoli/{board.table.slug}/proposte/{proposal.id}"]:
        assert "ZQX" not in client.get(path).text, path


@pytest.mark.parametrize("email", ["member@example.org", "chair@example.org", "secretary@example.org"])
def test_co_authors_chair_and_secretary_see_the_draft(client, board, seed, email):
    proposal = draft(board, seed)
    login(client, email)
    for path in pages(board, proposal.id):
        assert SECRET in client.get(path).text, path
    assert TEXT in client.get(f"/tavoli/{board.table.slug}/proposte/{proposal.id}").text


def test_others_cannot_act_on_a_draft_and_nothing_is_stored(client, board, seed):
    another_member(board, seed)
    proposal = draft(board, seed)
    login(client, "member.cna@example.org")
    base = f"/tavoli/{board.table.slug}/proposte/{proposal.id}"
    answer = post_form(client, f"{base}/commenti", {"body": "Un commento"}, page=f"/tavoli/{board.table.slug}")
    assert answer.status_code == 404
    assert board.seed.run(lambda s: s.scalar(select(func.count(ProposalComment.id)))) == 0


def test_once_submitted_the_proposal_is_everyone_s(client, board, seed):
    another_member(board, seed)
    proposal = draft(board, seed)
    login(client, "member@example.org")
    base = f"/tavoli/{board.table.slug}/proposte/{proposal.id}"
    assert post_form(client, f"{base}/stato", {"status": "submitted", "version": "1"}, page=base).status_code == 303
    login(client, "member.cna@example.org")
    assert TEXT in client.get(base).text
    assert SECRET in client.get(f"/tavoli/{board.table.slug}/cronologia").text


def test_a_draft_withdrawn_before_submission_stays_private(client, board, seed):
    another_member(board, seed)
    proposal = draft(board, seed)
    login(client, "member@example.org")
    base = f"/tavoli/{board.table.slug}/proposte/{proposal.id}"
    assert post_form(client, f"{base}/stato", {"status": "withdrawn", "version": "1"}, page=base).status_code == 303
    login(client, "member.cna@example.org")
    assert client.get(base).status_code == 404
    assert "ZQX" not in client.get(f"/tavoli/{board.table.slug}/proposte").text


async def test_draft_never_reaches_others_in_a_push(live_board, live_seed, people):
    another_member(live_board, live_seed)
    author, other, observer = (
        await people("member@example.org"),
        await people("member.cna@example.org"),
        await people("observer@example.org"),
    )
    chair = await people("chair@example.org")
    watchers = [
        await b.socket(path)
        for b in (other, observer)
        for path in (home(live_board), f"{home(live_board)}?elenco=proposte")
    ]
    mine = await author.socket(f"{home(live_board)}?elenco=proposte")
    for socket in [*watchers, mine]:
        await next_message(socket)
    created = await author.post(
        f"/tavoli/{live_board.table.slug}/proposte",
        {"title": SECRET, "summary": "", "body": TEXT, "authors": live_board.cgil.slug},
    )
    assert created.status_code == 303, created.text
    assert SECRET in "".join(await messages_until(mine, SECRET))
    # A later change everyone sees: every push before it is what the draft's creation sent them.
    item = live_board.items[0]
    renamed = await chair.post(
        f"/tavoli/{live_board.table.slug}/sedute/{live_board.meeting.id}/punti/{item.id}",
        {
            "title": "Saldi invernali e estivi",
            "description": "",
            "presenter": "",
            "planned_minutes": "15",
            "version": "1",
        },
    )
    assert renamed.status_code in (200, 303), renamed.text
    for socket in watchers[::2]:  # the home pages show the agenda preview and the recent history
        received = await messages_until(socket, "Saldi invernali e estivi")
        assert "ZQX" not in "".join(received)
    for socket in watchers[1::2]:  # the lists were pushed once, narrowed
        assert "ZQX" not in await next_message(socket)


async def test_the_draft_s_socket_is_refused_to_others(live_board, live_seed, people):
    another_member(live_board, live_seed)
    proposal = draft(live_board, live_seed)
    other = await people("member.cna@example.org")
    socket = await other.socket(f"{home(live_board)}?proposta={proposal.id}")
    assert await closed_with(socket) == 4404
    author = await people("member@example.org")
    allowed = await author.socket(f"{home(live_board)}?proposta={proposal.id}")
    assert TEXT in await next_message(allowed)
