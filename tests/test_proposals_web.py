"""Proposals through the real endpoints: drafting, versions and their comparison, endorsing, comments."""

import pytest
from sqlalchemy import select

from server.db.models import Endorsement, Proposal, ProposalStatus
from tests.support import csrf_of, css, field_value, login, texts


def post(client, path, data, *, page="/"):
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def url(board, proposal_id=None):
    base = f"/tavoli/{board.table.slug}/proposte"
    return base if proposal_id is None else f"{base}/{proposal_id}"


DRAFT = {"title": "Saldi invernali in una data unica", "summary": "Una data comune.", "body": "Il **testo**."}


def bring(client, board, **fields):
    page = client.get(f"{url(board)}/nuova").text
    key = field_value(page, "client_key")
    return post(client, url(board), {**DRAFT, "authors": [board.cgil.slug], "client_key": key, **fields})


def proposal_id(response):
    return int(response.headers["location"].rsplit("/", 1)[1])


def test_a_member_brings_a_draft_for_their_organisation_once_per_form(client, board):
    login(client, "member@example.org")
    form = client.get(f"{url(board)}/nuova").text
    assert f'value="{board.cgil.slug}" checked' in form, "their own organisation is proposed"
    key = field_value(form, "client_key")
    data = {**DRAFT, "authors": [board.cgil.slug, board.ascom.slug], "client_key": key}
    first, again = post(client, url(board), data), post(client, url(board), data)
    assert first.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    page = client.get(first.headers["location"]).text
    assert "CGIL Bologna, Confcommercio Ascom Bologna" in page
    assert "<strong>testo</strong>" in page
    assert len(board.events("proposal.created")) == 1


def test_bad_drafts_are_refused_beside_the_fields(client, board):
    login(client, "member@example.org")
    response = bring(client, board, title="", authors=[])
    assert response.status_code == 422
    assert 'id="title-error"' in response.text
    assert 'id="authors-error"' in response.text
    assert bring(client, board, authors=["inesistente"]).status_code == 422
    assert bring(client, board, authors=[board.cna.slug]).status_code == 403  # not their organisation
    login(client, "observer@example.org")
    assert client.get(f"{url(board)}/nuova").status_code == 403
    assert board.events("proposal.created") == []


def test_an_organisation_without_a_seat_on_the_table_is_refused_as_co_author(client, board, seed):
    outside = seed.org("Legacoop Bologna")  # sits on no table
    login(client, "member@example.org")
    response = bring(client, board, authors=[board.cgil.slug, outside.slug])
    assert response.status_code == 422
    (error,) = css(response.text, "#authors-error")
    assert "Nessun componente di questo tavolo rappresenta Legacoop Bologna." in error.text()
    assert field_value(response.text, "title") == DRAFT["title"], "what was typed is kept"
    assert board.events("proposal.created") == []
    assert seed.run(lambda s: s.scalars(select(Proposal))).all() == []


def test_co_authors_edit_keep_versions_and_compare_them_word_by_word(client, board):
    login(client, "member@example.org")
    pid = proposal_id(bring(client, board))
    assert client.get(f"{url(board, pid)}/modifica").status_code == 200
    saved = post(client, url(board, pid), {**DRAFT, "version": "1", "save_version": "on"})
    assert saved.status_code == 303
    # The form carries the text it was loaded with: the save applies the difference from it.
    changed = {**DRAFT, "body": "Il testo con il primo sabato di gennaio.", "version": "1", "base": DRAFT["body"]}
    assert post(client, url(board, pid), {**changed, "save_version": "on"}).status_code == 303
    stale = post(client, url(board, pid), {**DRAFT, "title": "Altro titolo", "version": "1"})
    assert stale.status_code == 409
    assert 'value="Altro titolo"' in stale.text
    page = client.get(url(board, pid), params={"da": "1", "a": "2"}).text
    assert "<ins>" in page
    assert "primo sabato di gennaio" in page
    assert client.get(url(board, pid), params={"da": "1", "a": "9"}).status_code == 400
    login(client, "chair@example.org")  # not a co-author
    assert client.get(f"{url(board, pid)}/modifica").status_code == 403
    assert post(client, url(board, pid), {**DRAFT, "title": "Mio", "version": "3"}).status_code == 403


def test_the_path_to_approval_and_the_refusals_on_the_way(client, board, seed):
    login(client, "member@example.org")
    pid = proposal_id(bring(client, board))
    assert post(client, f"{url(board, pid)}/stato", {"status": "submitted", "version": "1"}).status_code == 303
    assert post(client, f"{url(board, pid)}/stato", {"status": "approved", "version": "2"}).status_code == 422
    login(client, "chair@example.org")
    assert "Apri la discussione" in client.get(url(board, pid)).text
    assert post(client, f"{url(board, pid)}/stato", {"status": "under_discussion", "version": "2"}).status_code == 303
    missing = post(client, f"{url(board, pid)}/stato", {"status": "approved", "version": "3"})
    assert missing.status_code == 422
    assert "esito" in missing.text
    done = post(client, f"{url(board, pid)}/stato", {"status": "approved", "version": "3", "outcome": "Sì."})
    assert done.status_code == 303
    back = post(client, f"{url(board, pid)}/stato", {"status": "draft", "version": "4"})
    assert back.status_code == 422
    assert board.current(Proposal, pid).status is ProposalStatus.approved
    assert post(client, f"{url(board, pid)}/stato", {"status": "nuovo", "version": "4"}).status_code == 422
    # Approved without ever being on an agenda: the page does not say it is still waiting for one.
    shown = texts(client.get(url(board, pid)).text, "#links p")
    assert "Decisa fuori seduta: non è mai stata all'ordine del giorno." in shown
    assert "Non ancora all'ordine del giorno di una seduta." not in shown


def test_endorsing_on_behalf_of_ones_organisation(client, board, seed):
    proposal = board.proposal()
    login(client, "member@example.org")
    assert "Sostieni a nome del tuo ente" in client.get(url(board, proposal.id)).text
    assert post(client, f"{url(board, proposal.id)}/sostegno", {}).status_code == 303
    assert post(client, f"{url(board, proposal.id)}/sostegno", {}).status_code == 303
    page = client.get(url(board, proposal.id)).text
    assert "Ritira il sostegno del tuo ente" in page
    assert len(seed.run(lambda s: s.scalars(select(Endorsement))).all()) == 1
    assert post(client, f"{url(board, proposal.id)}/sostegno/ritira", {}).status_code == 303
    assert seed.run(lambda s: s.scalars(select(Endorsement))).all() == []
    login(client, "observer@example.org")
    assert post(client, f"{url(board, proposal.id)}/sostegno", {}).status_code == 403


def test_comments_replies_and_hiding(client, board):
    proposal = board.proposal()
    first = board.comment()
    login(client, "member@example.org")
    reply = post(client, f"{url(board, proposal.id)}/commenti", {"comment": "Siamo d'accordo.", "parent": first.id})
    assert reply.status_code == 303
    empty = post(client, f"{url(board, proposal.id)}/commenti", {"comment": "  "})
    assert empty.status_code == 422
    assert 'id="comment-error"' in empty.text
    inert = "<script>alert(1)</script> [x](javascript:alert(1))"
    assert post(client, f"{url(board, proposal.id)}/commenti", {"comment": inert}).status_code == 303
    page = client.get(url(board, proposal.id)).text
    assert "<script>alert(1)</script>" not in page
    assert 'href="javascript' not in page
    assert post(client, f"{url(board, proposal.id)}/commenti/{first.id}", {"comment": "Mio?"}).status_code == 403
    assert post(client, f"{url(board, proposal.id)}/commenti/{first.id}/nascondi", {"reason": "x"}).status_code == 403
    login(client, "chair@example.org")
    hidden = post(client, f"{url(board, proposal.id)}/commenti/{first.id}/nascondi", {"reason": "Fuori tema."})
    assert hidden.status_code == 303
    page = client.get(url(board, proposal.id)).text
    assert "Commento nascosto dalla presidenza: Fuori tema." in page
    assert "Un commento." not in page


def test_the_table_home_lists_the_proposals_in_progress(client, board):
    board.proposal()
    login(client, "observer@example.org")
    home = client.get(f"/tavoli/{board.table.slug}").text
    section = home.split('id="proposals"', 1)[1]
    assert "Saldi in una data unica" in section
    assert "Presentata" in section
    assert "Presenta una proposta" not in section, "observers bring no proposal"
    assert "Saldi in una data unica" in client.get(url(board)).text


@pytest.mark.parametrize("path", ["", "/modifica"])
def test_another_tables_proposal_is_not_found(client, board, path):
    proposal = board.proposal()
    login(client, "other.chair@example.org")
    assert client.get(f"/tavoli/{board.other.slug}/proposte/{proposal.id}{path}").status_code == 404


def test_the_secretary_links_the_agenda_item_where_it_is_discussed(client, board):
    proposal = board.proposal()
    login(client, "secretary@example.org")
    page = client.get(url(board, proposal.id)).text
    assert f'<option value="{board.items[1].id}">' in page
    assert post(client, f"{url(board, proposal.id)}/punti", {"item": str(board.items[1].id)}).status_code == 303
    assert post(client, f"{url(board, proposal.id)}/punti", {"item": str(board.other_item.id)}).status_code == 404
    assert post(client, f"{url(board, proposal.id)}/punti", {"item": "x"}).status_code == 422
    page = client.get(url(board, proposal.id)).text
    assert f"#item-{board.items[1].id}" in page
    assert len(board.events("proposal.linked")) == 1
    login(client, "member@example.org")
    assert post(client, f"{url(board, proposal.id)}/punti", {"item": str(board.items[0].id)}).status_code == 403


def test_authors_edit_their_comment_from_the_page(client, board):
    proposal = board.proposal()
    login(client, "member@example.org")
    assert post(client, f"{url(board, proposal.id)}/commenti", {"comment": "Primo pensiero."}).status_code == 303
    page = client.get(url(board, proposal.id)).text
    addresses = [form.attributes["action"].split("/") for form in css(page, "form[action]")]
    comment_id = int([parts[-1] for parts in addresses if parts[-2:-1] == ["commenti"] and parts[-1].isdigit()][-1])
    edited = post(client, f"{url(board, proposal.id)}/commenti/{comment_id}", {"comment": "Pensiero corretto."})
    assert edited.status_code == 303
    page = client.get(url(board, proposal.id)).text
    assert "Pensiero corretto." in page
    assert "(modificato)" in page


def test_an_approved_proposal_becomes_an_action_item_from_its_page(client, board, seed):
    from server.db.models import ActionItem, Role
    from server.domain import proposals
    from server.domain.actions import Actor

    proposal = board.proposal()
    chair = Actor(board.chair.id, Role.chair)

    async def approve(session):
        moved = await proposals.set_status(
            session, board.table, proposal.id, ProposalStatus.under_discussion, version=2, actor=chair
        )
        return await proposals.set_status(
            session,
            board.table,
            proposal.id,
            ProposalStatus.approved,
            version=moved.version,
            actor=chair,
            outcome="Sì.",
        )

    login(client, "secretary@example.org")
    data = {"title": "Lettera alla Regione", "description": "", "owner": "", "due_on": "", "proposal": str(proposal.id)}
    not_yet = post(client, f"/tavoli/{board.table.slug}/azioni", data)
    assert not_yet.status_code == 422, "a proposal still under way carries out nothing"
    assert client.get(f"/tavoli/{board.table.slug}/azioni/nuova?proposta=uno").status_code == 400
    seed.run(approve)
    assert f"/azioni/nuova?proposta={proposal.id}" in client.get(url(board, proposal.id)).text
    form = client.get(f"/tavoli/{board.table.slug}/azioni/nuova?proposta={proposal.id}").text
    assert f'name="proposal" value="{proposal.id}"' in form
    created = post(client, f"/tavoli/{board.table.slug}/azioni", data)
    assert created.status_code == 303
    action_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert board.current(ActionItem, action_id).origin_proposal_id == proposal.id
    assert "Saldi in una data unica" in client.get(created.headers["location"]).text
    # A proposal that is not approved carries out nothing.
    other = {**data, "proposal": str(proposal.id + 1000)}
    assert post(client, f"/tavoli/{board.table.slug}/azioni", other).status_code == 404


def test_a_comparison_of_versions_comes_first_on_the_page(client, board, seed):
    proposal = board.proposal()
    login(client, "chair@example.org")
    page = client.get(f"{url(board, proposal.id)}?da=1&a=1").text
    order = [node.attributes.get("id") for node in css(page, "#diff, #proposal, #links")]
    assert order == ["diff", "proposal", "links"]
    assert texts(page, "#diff p") == ["Nessuna differenza"]
