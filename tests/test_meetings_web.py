"""Meetings and agendas through the real endpoints: plain forms, htmx fragments, and every refusal."""

import pytest

from server.db.models import AgendaItem, AgendaStatus, Meeting
from tests.support import csrf_of, css, field_value, login

HTMX = {"HX-Request": "true"}


def post(client, path, data, *, page="/", htmx=False):
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}, headers=HTMX if htmx else {}, follow_redirects=False)


def agenda_titles(html):
    """The agenda's titles in order, without their numbers."""
    return [node.text(deep=False).strip() for node in css(html, "#agenda .agenda-item h3")]


MEETING = {
    "title": "Seduta di febbraio",
    "day": "2032-02-10",
    "hour": "15:00",
    "place": "Palazzo Malvezzi",
    "online_url": "",
}


# --- convening -------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["chair@example.org", "secretary@example.org"])
def test_chair_and_secretary_convene_a_meeting(client, board, email):
    login(client, email)
    page = client.get(f"/tavoli/{board.table.slug}/sedute/nuova")
    key = field_value(page.text, "client_key")
    response = post(client, f"/tavoli/{board.table.slug}/sedute", {**MEETING, "client_key": key})
    assert response.status_code == 303
    meeting_page = client.get(response.headers["location"])
    assert "<h1>Seduta di febbraio</h1>" in meeting_page.text
    assert "martedì 10 febbraio 2032, ore 15:00" in meeting_page.text
    # The same form submitted again (a double click) convenes nothing more.
    again = post(client, f"/tavoli/{board.table.slug}/sedute", {**MEETING, "client_key": key})
    assert again.headers["location"] == response.headers["location"]
    assert len(board.events("meeting.created")) == 2


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_cannot_convene(client, board, email):
    login(client, email)
    assert client.get(f"/tavoli/{board.table.slug}/sedute/nuova").status_code == 403
    assert post(client, f"/tavoli/{board.table.slug}/sedute", MEETING).status_code == 403
    assert len(board.events("meeting.created")) == 1


def test_bad_meeting_input_is_shown_beside_the_fields_and_nothing_is_stored(client, board):
    login(client, "secretary@example.org")
    response = post(
        client, f"/tavoli/{board.table.slug}/sedute", {**MEETING, "title": "", "day": "31/02/2032", "place": ""}
    )
    assert response.status_code == 422
    assert 'id="title-error"' in response.text
    assert 'id="day-error"' in response.text
    assert "Inserisci una data valida" in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="Palazzo Malvezzi"' not in response.text  # place was emptied by the person
    assert 'value="31/02/2032"' in response.text, "what the person typed is kept"
    assert len(board.events("meeting.created")) == 1


def test_editing_a_meeting_on_a_stale_version_shows_both_versions(client, board, seed):
    login(client, "chair@example.org")
    edit = f"{board.meeting_url}/modifica"
    assert client.get(edit).status_code == 200
    first = post(client, board.meeting_url, {**MEETING, "title": "Seduta anticipata", "version": "1"})
    assert first.status_code == 303
    # Someone with the old form open now saves different details.
    stale = post(client, board.meeting_url, {**MEETING, "title": "Seduta posticipata", "version": "1"})
    assert stale.status_code == 409
    assert "Qualcun altro ha modificato questa seduta" in stale.text
    assert 'value="Seduta posticipata"' in stale.text, "the person's text is kept in the form"
    assert "<dd>Seduta anticipata</dd>" in stale.text, "the current version is shown beside it"
    assert board.current(Meeting, board.meeting.id).title == "Seduta anticipata"
    # The form now carries the current version: saving again is a deliberate overwrite.
    assert 'name="version" value="2"' in stale.text
    # The very same change as the one that won is a harmless repeat, not a conflict.
    repeat = post(client, board.meeting_url, {**MEETING, "title": "Seduta anticipata", "version": "1"})
    assert repeat.status_code == 303


def test_a_meeting_of_another_table_is_not_found_through_this_table(client, board):
    login(client, "chair@example.org")
    foreign = f"/tavoli/{board.table.slug}/sedute/{board.other_meeting.id}"
    assert client.get(foreign).status_code == 404
    assert post(client, foreign, {**MEETING, "version": "1"}).status_code == 404
    assert post(client, f"{foreign}/punti", {"title": "Intruso"}).status_code == 404


# --- the meeting page ------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org", "admin@example.org"])
def test_members_observers_and_admins_read_the_meeting_without_controls(client, board, email):
    login(client, email)
    page = client.get(board.meeting_url)
    assert page.status_code == 200
    assert agenda_titles(page.text) == ["Saldi invernali", "Distretti del commercio", "Varie ed eventuali"]
    assert "Sposta su" not in page.text
    assert "Aggiungi il punto" not in page.text
    assert 'name="present-' not in page.text


def test_chair_sees_every_control_reachable_by_keyboard(client, board):
    login(client, "chair@example.org")
    page = client.get(board.meeting_url).text
    item = board.items[1].id
    for control in ("up", "down", "current", "done", "deferred"):  # a pending item is not set pending
        assert css(page, f"#item-{item}-{control}[type=submit]")
    assert css(page, f"#item-{board.items[0].id}-up[disabled]")  # tests/test_agenda_page.py has the rest
    assert "Aggiungi il punto" in page


def test_markdown_in_descriptions_renders_inert(client, board):
    login(client, "chair@example.org")
    hostile = '<script>alert(1)</script> [x](javascript:alert(2)) <b hx-get="/logout" hx-trigger="load">b</b>'
    post(client, f"{board.meeting_url}/punti", {"title": "Punto ostile", "description": hostile, "client_key": "h"})
    page = client.get(board.meeting_url).text
    section = page[page.index("Punto ostile") :]
    assert "<script>alert" not in section
    assert 'href="javascript:' not in section
    assert '<b hx-get="/logout"' not in section
    assert '<div class="markdown" hx-disable>' in section


# --- the agenda ------------------------------------------------------------------------------------


def test_adding_an_item_with_htmx_answers_with_the_fragments(client, board):
    login(client, "secretary@example.org")
    response = post(
        client,
        f"{board.meeting_url}/punti",
        {
            "title": "Mercati ambulanti",
            "description": "Orari **estivi**",
            "presenter": str(board.member.id),
            "planned_minutes": "25",
            "client_key": "k-1",
        },
        htmx=True,
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="agenda-add"')
    assert css(response.text, 'section#agenda[hx-swap-oob="true"]')
    assert agenda_titles(response.text)[-1] == "Mercati ambulanti"
    assert "Relatore: Member" in response.text
    assert "25 minuti" in response.text
    assert 'hx-swap-oob="innerHTML">Punto «Mercati ambulanti» aggiunto' in response.text
    assert "<!doctype html>" not in response.text, "a fragment, not a page"


def test_adding_an_item_without_javascript_redirects_to_the_agenda(client, board):
    login(client, "secretary@example.org")
    response = post(client, f"{board.meeting_url}/punti", {"title": "Mercati ambulanti", "client_key": "k-1"})
    assert response.status_code == 303
    assert response.headers["location"] == board.meeting_url + "#agenda"
    assert agenda_titles(client.get(board.meeting_url).text)[-1] == "Mercati ambulanti"


def test_the_same_item_form_twice_adds_one_item(client, board):
    login(client, "secretary@example.org")
    for _ in range(2):
        post(client, f"{board.meeting_url}/punti", {"title": "Mercati ambulanti", "client_key": "same"}, htmx=True)
    assert agenda_titles(client.get(board.meeting_url).text).count("Mercati ambulanti") == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": ""}, "title", "Inserisci un titolo."),
        ({"title": "x" * 201}, "title", "al massimo 200 caratteri"),
        ({"title": "Ok", "planned_minutes": "0"}, "planned_minutes", "numero intero da 1 a 600"),
        ({"title": "Ok", "planned_minutes": "tanti"}, "planned_minutes", "numero intero da 1 a 600"),
        ({"title": "Ok", "presenter": "outsider"}, "presenter", "Scegli il relatore"),
    ],
)
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_item_input_is_shown_beside_the_field_and_nothing_is_stored(client, board, data, field, message, htmx):
    login(client, "secretary@example.org")
    response = post(client, f"{board.meeting_url}/punti", {**data, "client_key": "bad"}, htmx=htmx)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert message in response.text
    assert len(board.events("agenda.item_added")) == 3


def test_a_presenter_from_outside_the_table_is_refused(client, board):
    login(client, "secretary@example.org")
    response = post(
        client,
        f"{board.meeting_url}/punti",
        {"title": "Ok", "presenter": str(board.outsider.id), "client_key": "x"},
        htmx=True,
    )
    assert response.status_code == 422
    assert "Il relatore deve essere un componente del tavolo." in response.text


def test_moving_items_with_htmx_and_the_repeat(client, board):
    login(client, "chair@example.org")
    last = board.items[2]
    response = post(client, f"{board.item_url(2)}/sposta", {"position": "2", "version": "1"}, htmx=True)
    assert response.status_code == 200
    assert agenda_titles(response.text) == ["Saldi invernali", "Varie ed eventuali", "Distretti del commercio"]
    assert "Punto «Varie ed eventuali» spostato in posizione 2." in response.text
    repeat = post(client, f"{board.item_url(2)}/sposta", {"position": "2", "version": "1"}, htmx=True)
    assert repeat.status_code == 200
    assert board.current(AgendaItem, last.id).position == 2
    assert len(board.events("agenda.item_moved")) == 1


def test_a_stale_move_answers_409_with_the_current_agenda(client, board):
    login(client, "chair@example.org")
    post(client, f"{board.item_url(0)}/sposta", {"position": "2", "version": "1"}, htmx=True)
    stale = post(client, f"{board.item_url(0)}/sposta", {"position": "3", "version": "1"}, htmx=True)
    assert stale.status_code == 409
    assert "Ecco l&#39;ordine del giorno com&#39;è ora" in stale.text
    assert agenda_titles(stale.text) == ["Distretti del commercio", "Saldi invernali", "Varie ed eventuali"]


@pytest.mark.parametrize("position", ["0", "4"])
def test_a_move_beyond_either_end_is_refused(client, board, position):
    login(client, "chair@example.org")
    response = post(client, f"{board.item_url(1)}/sposta", {"position": position, "version": "1"}, htmx=True)
    assert response.status_code == 422
    assert "non può andare oltre" in response.text
    assert board.events("agenda.item_moved") == []


def test_a_malformed_request_is_a_bad_request(client, board):
    login(client, "chair@example.org")
    assert post(client, f"{board.item_url(1)}/sposta", {"position": "su", "version": "1"}).status_code == 400
    assert (
        post(client, f"{board.item_url(1)}/stato", {"status": "finito", "version": "1"}, htmx=True).status_code == 422
    )


def test_marking_the_current_item(client, board):
    login(client, "chair@example.org")
    post(client, f"{board.item_url(0)}/stato", {"status": "current", "version": "1"}, htmx=True)
    response = post(client, f"{board.item_url(1)}/stato", {"status": "current", "version": "1"}, htmx=True)
    assert response.status_code == 200
    assert response.text.count("agenda-item-current") == 1
    assert f'<li id="item-{board.items[1].id}" class="agenda-item agenda-item-current"' in response.text
    assert "«Distretti del commercio»: In discussione." in response.text
    assert board.current(AgendaItem, board.items[0].id).status is AgendaStatus.pending


def test_editing_an_item_and_the_stale_edit(client, board):
    login(client, "secretary@example.org")
    assert client.get(f"{board.item_url(0)}/modifica").status_code == 200
    ok = post(client, board.item_url(0), {"title": "Saldi invernali 2032", "description": "", "version": "1"})
    assert ok.status_code == 303
    stale = post(client, board.item_url(0), {"title": "Saldi di fine stagione", "description": "", "version": "1"})
    assert stale.status_code == 409
    assert 'value="Saldi di fine stagione"' in stale.text
    assert "<dd>Saldi invernali 2032</dd>" in stale.text


def test_removing_an_item_asks_for_confirmation_then_removes_it_once(client, board):
    login(client, "chair@example.org")
    confirm = client.get(f"{board.item_url(1)}/rimuovi")
    assert confirm.status_code == 200
    assert "Vuoi rimuovere «Distretti del commercio»" in confirm.text
    assert agenda_titles(client.get(board.meeting_url).text).count("Distretti del commercio") == 1, (
        "the confirmation page removes nothing"
    )
    for _ in range(2):
        assert post(client, f"{board.item_url(1)}/rimuovi", {}).status_code == 303
    assert agenda_titles(client.get(board.meeting_url).text) == ["Saldi invernali", "Varie ed eventuali"]
    assert len(board.events("agenda.item_removed")) == 1


def test_an_item_of_another_meeting_is_not_found(client, board):
    login(client, "chair@example.org")
    foreign = f"{board.meeting_url}/punti/{board.other_item.id}"
    assert post(client, f"{foreign}/sposta", {"position": "1", "version": "1"}).status_code == 404
    assert post(client, f"{foreign}/stato", {"status": "done", "version": "1"}).status_code == 404
    assert post(client, f"{foreign}/rimuovi", {}).status_code == 404
    assert client.get(f"{foreign}/modifica").status_code == 404
    assert board.current(AgendaItem, board.other_item.id).removed_at is None


def test_an_htmx_refusal_is_an_error_status_htmx_does_not_swap(client, board):
    login(client, "member@example.org")
    response = post(client, f"{board.item_url(0)}/stato", {"status": "current", "version": "1"}, htmx=True)
    assert response.status_code == 403


# --- attendance ------------------------------------------------------------------------------------


def attendance(board, **marks):
    data = {"organisation": [str(board.ascom.id), str(board.cgil.id), str(board.cna.id)], "version": "0"}
    for org, delegates in marks.items():
        oid = getattr(board, org).id
        data[f"present-{oid}"] = "on"
        data[f"delegates-{oid}"] = delegates
    return data


def test_recording_attendance_and_the_count(client, board):
    login(client, "secretary@example.org")
    response = post(
        client,
        f"{board.meeting_url}/presenze",
        attendance(board, ascom="Mario Rossi", cgil="Anna Bianchi, Luca Verdi"),
        htmx=True,
    )
    assert response.status_code == 200
    assert "2 enti su 3" in response.text
    assert 'value="Anna Bianchi, Luca Verdi"' in response.text
    login(client, "member@example.org")
    page = " ".join(client.get(board.meeting_url).text.split())
    assert "2 enti su 3" in page
    assert "<strong>CGIL Bologna</strong>: presente (Anna Bianchi, Luca Verdi)" in page


def test_attendance_repeat_is_a_no_op_and_stale_is_409(client, board):
    login(client, "secretary@example.org")
    post(client, f"{board.meeting_url}/presenze", attendance(board, ascom="Mario Rossi"))
    repeat = post(client, f"{board.meeting_url}/presenze", attendance(board, ascom="Mario Rossi"))
    assert repeat.status_code == 303
    stale = post(client, f"{board.meeting_url}/presenze", attendance(board, cgil="Anna"))
    assert stale.status_code == 409
    assert "Qualcun altro ha modificato le presenze" in stale.text
    assert len(board.events("attendance.recorded")) == 1


def test_attendance_of_a_foreign_organisation_is_refused(client, board, seed):
    stranger = seed.org("Legacoop Bologna")
    login(client, "secretary@example.org")
    data = {"organisation": [str(stranger.id)], f"present-{stranger.id}": "on", "version": "0"}
    response = post(client, f"{board.meeting_url}/presenze", data)
    assert response.status_code == 422
    assert board.events("attendance.recorded") == []
