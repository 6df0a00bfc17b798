"""Action items through the real endpoints: plain forms, htmx fragments, lists, and every refusal."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.db.models import ActionItem, ActionNote, ActionStatus, AgendaItem
from server.domain import actions
from tests.support import csrf_of, field_value, login, texts

HTMX = {"HX-Request": "true"}


def post(client, path, data, *, page="/", htmx=False):
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}, headers=HTMX if htmx else {}, follow_redirects=False)


def url(board, action_id=None):
    base = f"/tavoli/{board.table.slug}/azioni"
    return base if action_id is None else f"{base}/{action_id}"


FORM = {"title": "Mappatura dei negozi sfitti", "description": "", "owner": "", "due_on": "2031-12-31"}


def create(board, seed, title="Mappatura dei negozi sfitti", owner=None, due="2031-12-31", description=""):
    return seed.run(
        lambda s: actions.create_action(
            s,
            board.table,
            actions.parse_action(title=title, description=description, owner=str(owner or ""), due_on=due),
            actor_id=board.secretary.id,
        )
    )


# --- recording ------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["chair@example.org", "secretary@example.org"])
def test_chair_and_secretary_record_an_action_item_once_per_form(client, board, email):
    login(client, email)
    page = client.get(f"{url(board)}/nuova")
    key = field_value(page.text, "client_key")
    data = {**FORM, "owner": str(board.member.id), "client_key": key}
    response = post(client, url(board), data)
    assert response.status_code == 303
    again = post(client, url(board), data)
    assert again.headers["location"] == response.headers["location"]
    shown = client.get(response.headers["location"]).text
    assert "Mappatura dei negozi sfitti" in shown
    assert "CGIL Bologna" in shown
    assert len(board.events("action.created")) == 1


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_cannot_record_action_items(client, board, email):
    login(client, email)
    assert client.get(f"{url(board)}/nuova").status_code == 403
    assert post(client, url(board), FORM).status_code == 403
    assert board.events("action.created") == []


def test_an_action_decided_on_an_agenda_item_starts_from_the_agenda(client, board):
    login(client, "secretary@example.org")
    assert f"/azioni/nuova?punto={board.items[0].id}" in client.get(board.meeting_url).text
    form = client.get(f"{url(board)}/nuova?punto={board.items[0].id}").text
    assert f'name="origin" value="{board.items[0].id}"' in form
    response = post(client, url(board), {**FORM, "origin": str(board.items[0].id)})
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert f"#item-{board.items[0].id}" in page
    # An agenda item of another table is not a place where this table decided anything.
    assert post(client, url(board), {**FORM, "origin": str(board.other_item.id)}).status_code == 404
    assert post(client, url(board), {**FORM, "origin": "uno"}).status_code == 400
    assert len(board.events("action.created")) == 1


def test_bad_input_is_shown_beside_the_fields_and_nothing_is_stored(client, board):
    login(client, "secretary@example.org")
    typed = {**FORM, "title": "", "due_on": "31/12/2031", "owner": str(board.outsider.id)}
    response = post(client, url(board), typed)
    assert response.status_code == 422
    assert 'id="title-error"' in response.text
    assert 'id="due_on-error"' in response.text
    assert 'value="31/12/2031"' in response.text, "what the person typed is kept"
    response = post(client, url(board), {**FORM, "owner": str(board.outsider.id)})
    assert response.status_code == 422
    assert 'id="owner-error"' in response.text
    assert board.events("action.created") == []


def test_editing_on_a_stale_version_shows_both_versions(client, board, seed):
    action = create(board, seed)
    login(client, "chair@example.org")
    assert client.get(f"{url(board, action.id)}/modifica").status_code == 200
    assert post(client, url(board, action.id), {**FORM, "title": "Censimento", "version": "1"}).status_code == 303
    stale = post(client, url(board, action.id), {**FORM, "title": "Mappa dei vuoti", "version": "1"})
    assert stale.status_code == 409
    assert 'value="Mappa dei vuoti"' in stale.text, "the person's input stays in the form"
    assert "<dd>Censimento</dd>" in stale.text, "the current state is shown beside it"
    assert board.current(ActionItem, action.id).title == "Censimento"


# --- status -------------------------------------------------------------------------------------------


def test_the_owner_changes_the_status_from_the_table_home_with_htmx(client, board, seed):
    action = create(board, seed, owner=board.member.id)
    login(client, "member@example.org")
    home = client.get(f"/tavoli/{board.table.slug}").text
    # The owner's buttons travel hidden, marked for the owner; the script shows them to that person.
    assert f'data-owner="{board.member.id}" hidden' in home
    assert f'data-user-id="{board.member.id}"' in home
    response = post(
        client,
        f"{url(board, action.id)}/stato",
        {"status": "in_progress", "version": "1"},
        page=f"/tavoli/{board.table.slug}",
        htmx=True,
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="actions"')
    assert "In corso" in response.text
    assert 'id="announcer"' in response.text
    assert board.current(ActionItem, action.id).status is ActionStatus.in_progress


def test_status_refusals(client, board, seed):
    action = create(board, seed, owner=board.chair.id)
    login(client, "member@example.org")
    # A member who does not own it: 403, nothing changes.
    assert post(client, f"{url(board, action.id)}/stato", {"status": "done", "version": "1"}).status_code == 403
    login(client, "observer@example.org")
    assert post(client, f"{url(board, action.id)}/stato", {"status": "done", "version": "1"}).status_code == 403
    login(client, "chair@example.org")
    assert post(client, f"{url(board, action.id)}/stato", {"status": "finita", "version": "1"}).status_code == 422
    assert post(client, f"{url(board, action.id)}/stato", {"status": "cancelled", "version": "1"}).status_code == 303
    illegal = post(client, f"{url(board, action.id)}/stato", {"status": "open", "version": "2"})
    assert illegal.status_code == 422
    assert "non può passare" in illegal.text
    assert board.current(ActionItem, action.id).status is ActionStatus.cancelled
    assert len(board.events("action.status")) == 1


def test_a_stale_status_change_answers_409_with_the_current_list(client, board, seed):
    action = create(board, seed, owner=board.member.id)
    login(client, "member@example.org")
    home = f"/tavoli/{board.table.slug}"
    assert post(client, f"{url(board, action.id)}/stato", {"status": "in_progress", "version": "1"}).status_code == 303
    stale = post(client, f"{url(board, action.id)}/stato", {"status": "done", "version": "1"}, page=home, htmx=True)
    assert stale.status_code == 409
    assert "nel frattempo" in stale.text
    assert board.current(ActionItem, action.id).status is ActionStatus.in_progress


def test_another_tables_action_item_is_not_found(client, board, seed):
    other = seed.run(
        lambda s: actions.create_action(
            s,
            board.other,
            actions.parse_action(title="Altrove", description="", owner="", due_on=""),
            actor_id=None,
        )
    )
    login(client, "chair@example.org")
    assert client.get(url(board, other.id)).status_code == 404
    assert post(client, f"{url(board, other.id)}/stato", {"status": "done", "version": "1"}).status_code == 404
    assert post(client, f"{url(board, other.id)}/note", {"body": "no"}).status_code == 404


# --- notes and the action page ---------------------------------------------------------------------------


def test_the_owner_writes_progress_notes_and_the_page_shows_them_with_the_history(client, board, seed):
    action = create(board, seed, owner=board.member.id)
    login(client, "member@example.org")
    page = client.get(url(board, action.id)).text
    key = field_value(page, "client_key")
    note = {"body": "Contattati i primi **venti** negozi.", "client_key": key}
    assert post(client, f"{url(board, action.id)}/note", note).status_code == 303
    assert post(client, f"{url(board, action.id)}/note", note).status_code == 303
    empty = post(client, f"{url(board, action.id)}/note", {"body": "  "})
    assert empty.status_code == 422
    assert 'id="body-error"' in empty.text
    page = client.get(url(board, action.id)).text
    assert "<strong>venti</strong>" in page
    assert "ha aggiunto una nota di avanzamento" in page
    assert "ha registrato l&#39;azione" in page or "ha registrato l'azione" in page
    assert len(seed.run(lambda s: s.scalars(select(ActionNote))).all()) == 1


def test_observers_read_without_controls_and_members_cannot_write_notes_on_others_items(client, board, seed):
    action = create(board, seed, owner=board.chair.id)
    login(client, "observer@example.org")
    page = client.get(url(board, action.id)).text
    assert "Mappatura dei negozi sfitti" in page
    assert "/stato" not in page
    assert 'name="body"' not in page
    login(client, "member@example.org")
    assert 'name="body"' not in client.get(url(board, action.id)).text
    assert post(client, f"{url(board, action.id)}/note", {"body": "Io no"}).status_code == 403


def test_titles_descriptions_and_notes_are_inert(client, board, seed):
    action = create(
        board,
        seed,
        title="<script>alert(1)</script>",
        description='[clic](javascript:alert(1)) <img src=x onerror=alert(1)> <b hx-get="/logout">x</b>',
    )
    login(client, "chair@example.org")
    for path in (url(board, action.id), url(board), f"/tavoli/{board.table.slug}"):
        page = client.get(path).text
        assert "<script>alert(1)</script>" not in page
        assert 'href="javascript' not in page
        assert "<img" not in page
        assert "<b hx-get" not in page


# --- lists --------------------------------------------------------------------------------------------------


def test_the_list_filters_from_an_allowlist(client, board, seed):
    past = (date.today() - timedelta(days=5)).isoformat()
    create(board, seed, title="Ritardataria", owner=board.member.id, due=past)
    create(board, seed, title="Puntuale", owner=board.chair.id, due="2040-01-01")
    login(client, "observer@example.org")
    every = client.get(url(board)).text
    assert "Ritardataria" in every
    assert "Puntuale" in every
    assert "action-row-overdue" in every
    assert "Scaduta" in every, "overdue is said in words, not only by colour"
    late = client.get(url(board), params={"scadute": "1"}).text
    assert "Ritardataria" in late
    assert "Puntuale" not in late
    by_owner = client.get(url(board), params={"responsabile": str(board.chair.id)}).text
    assert "Puntuale" in by_owner
    assert "Ritardataria" not in by_owner
    by_org = client.get(url(board), params={"ente": board.cgil.slug}).text
    assert "Ritardataria" in by_org
    assert "Puntuale" not in by_org
    for bad in ({"ordine": "title; drop table"}, {"stato": "chiusa"}, {"responsabile": "99999"}, {"ente": "x"}):
        assert client.get(url(board), params=bad).status_code == 400


def test_my_action_items_span_my_tables(client, board, seed):
    create(board, seed, title="La mia azione", owner=board.member.id)
    create(board, seed, title="Di altri", owner=board.chair.id)
    assert client.get("/azioni", follow_redirects=False).status_code == 303
    login(client, "member@example.org")
    page = client.get("/azioni").text
    assert "La mia azione" in page
    assert "Di altri" not in page
    assert "action-row-overdue" not in page
    past = (date.today() - timedelta(days=5)).isoformat()
    create(board, seed, title="In ritardo", owner=board.member.id, due=past)
    page = client.get("/azioni").text
    assert page.count("action-row-overdue") == 1, "overdue stands out on my action items too"
    assert "Scaduta" in page
    assert board.table.name in page
    # One section per table, each following its table live.
    assert f'ws-connect="/ws/tavoli/{board.table.slug}?elenco=mie"' in page
    assert f'id="my-actions-{board.table.id}"' in page
    login(client, "observer@example.org")
    page = client.get("/azioni").text
    assert "Non hai azioni in questo tavolo." in page
    login(client, "outsider@example.org")
    assert "Non hai ancora un ruolo in nessun tavolo" in client.get("/azioni").text


def test_convening_the_next_meeting_proposes_reviewing_the_open_action_items(client, board, seed):
    create(board, seed, title="Calendario dei saldi", owner=board.member.id)
    login(client, "secretary@example.org")
    data = {"title": "Seduta di gennaio", "day": "2032-01-13", "hour": "15:00", "place": "Palazzo Malvezzi"}
    response = post(client, f"/tavoli/{board.table.slug}/sedute", {**data, "online_url": "", "client_key": "k"})
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "Verifica delle azioni aperte" in page
    assert "Calendario dei saldi" in page
    assert any(item.title == "Verifica delle azioni aperte" for item in _items(seed))


def _items(seed):
    return seed.run(lambda s: s.scalars(select(AgendaItem))).all()


def test_the_due_date_is_labelled_once_where_a_header_already_names_it(client, board, seed):
    action = create(board, seed, title="Una scadenza", owner=board.member.id, due="2031-12-11")
    login(client, "member@example.org")
    page = client.get(url(board, action.id)).text
    dd = texts(page, "#action dd:has(.action-due)")
    assert dd
    assert all(not text.startswith("Scadenza") for text in dd), dd
    assert "11 dicembre 2031" in dd[0]
    for listing in (client.get(url(board)).text, client.get("/azioni").text):
        cells = texts(listing, "td:has(.action-due)")
        assert cells == ["11 dicembre 2031"], cells
    home = client.get(f"/tavoli/{board.table.slug}").text
    assert texts(home, "#actions .action-due") == ["Scadenza 11 dicembre 2031"], "a list item without header keeps it"
