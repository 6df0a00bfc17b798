"""The chair's meeting page, by its structure for each role: one primary action per agenda item,
the others in its menu, the status a label; refusals in the notice outside the pushed region."""

import pytest

from server.db.models import AgendaItem, AgendaStatus
from server.domain import agenda
from tests.support import csrf_of, css, login, one, texts

HTMX = {"HX-Request": "true"}


def post(client, path, data, *, page="/", htmx=False):
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}, headers=HTMX if htmx else {}, follow_redirects=False)


def set_status(board, index, status):
    item = board.current(AgendaItem, board.items[index].id)
    board.seed.run(
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, item.id, status, version=item.version, actor_id=board.chair.id
        )
    )


@pytest.mark.parametrize("email", ["chair@example.org", "secretary@example.org"])
def test_each_item_has_one_primary_action_and_the_others_in_its_menu(client, board, email):
    set_status(board, 1, AgendaStatus.current)
    set_status(board, 2, AgendaStatus.done)
    login(client, email)
    page = client.get(board.meeting_url).text
    pending, current, done = (item.id for item in board.items)
    # Pending: open the discussion. Current: mark it as discussed. Discussed: nothing first.
    assert texts(page, f"#item-{pending} .agenda-primary button") == ["Apri la discussione «Saldi invernali»"]
    assert css(page, f"#item-{pending} .agenda-primary button#item-{pending}-current.btn-primary")
    assert texts(page, f"#item-{current} .agenda-primary button") == ["Segna come trattato «Distretti del commercio»"]
    assert css(page, f"#item-{done} .agenda-primary") == []
    for item in board.items:
        assert len(css(page, f"#item-{item.id} .agenda-primary button")) <= 1
        menu = one(page, f"#item-{item.id} details#item-{item.id}-menu.agenda-menu")
        assert menu.attributes.get("open") is None, "the menu is closed"
        assert " ".join(one(page, f"#item-{item.id}-menu > summary").text().split()).startswith("Altre azioni")
    menu = [t.split(" «")[0] for t in texts(page, f"#item-{pending}-menu li")]
    assert menu == ["Segna come trattato", "Rinvia", "Modifica", "Registra un'azione", "Rimuovi"]
    menu = [t.split(" «")[0] for t in texts(page, f"#item-{current}-menu li")]
    assert menu == ["Rinvia", "Riporta da trattare", "Modifica", "Registra un'azione", "Rimuovi"]
    menu = [t.split(" «")[0] for t in texts(page, f"#item-{done}-menu li")]
    assert menu == ["Apri la discussione", "Rinvia", "Riporta da trattare", "Modifica", "Registra un'azione", "Rimuovi"]
    # Reordering: the arrows on the handle (the first cannot go up, the last down), the grip.
    handle = one(page, f"#item-{current} .agenda-handle[role=group]")
    assert handle.attributes["aria-label"] == "Sposta «Distretti del commercio»"
    assert css(page, f"#item-{pending}-up[disabled]")
    assert css(page, f"#item-{done}-down[disabled]")
    assert css(page, f"#item-{current} .agenda-grip[aria-hidden=true]")


@pytest.mark.parametrize("email", ["chair@example.org", "member@example.org", "observer@example.org"])
def test_the_status_is_a_label_never_a_button(client, board, email):
    set_status(board, 1, AgendaStatus.current)
    login(client, email)
    page = client.get(board.meeting_url).text
    assert texts(page, "#agenda span.badge.agenda-status") == ["Da trattare", "In discussione", "Da trattare"]
    assert css(page, "#agenda button.agenda-status, #agenda [aria-pressed]") == []


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_see_no_chair_controls(client, board, email):
    login(client, email)
    page = client.get(board.meeting_url).text
    assert len(css(page, "#agenda li.agenda-item")) == 3
    assert css(page, "#agenda form, #agenda .agenda-handle, #agenda details, #agenda-notice, #agenda-add") == []


def test_every_agenda_form_posts_to_its_endpoint_and_swaps_nothing_itself(client, board):
    login(client, "chair@example.org")
    page = client.get(board.meeting_url).text
    forms = css(page, "#agenda form")
    assert forms
    for form in forms:
        assert form.attributes["method"] == "post"
        assert form.attributes["action"] == form.attributes["hx-post"]
        assert form.attributes["hx-swap"] == "none", "the answer swaps the agenda out of band, as a push does"


def test_a_stale_change_is_said_in_the_notice_outside_the_agenda(client, board):
    login(client, "secretary@example.org")
    post(client, f"{board.item_url(2)}/sposta", {"position": "2", "version": "1"}, htmx=True)
    stale = post(client, f"{board.item_url(2)}/stato", {"status": "deferred", "version": "1"}, htmx=True)
    assert stale.status_code == 409
    notice = " ".join(one(stale.text, '#agenda-notice[hx-swap-oob="innerHTML"]').text().split())
    assert notice.startswith(
        "«Varie ed eventuali» non è stato segnato come «Rinviato». "
        "Qualcun altro ha modificato questo punto nel frattempo."
    )
    assert css(stale.text, "#agenda #agenda-notice, #agenda .alert") == [], "nothing a push could wipe"
    assert one(stale.text, 'section#agenda[hx-swap-oob="true"]')
    assert board.current(AgendaItem, board.items[2].id).status is AgendaStatus.pending
    # The next change that succeeds empties the notice.
    done = post(client, f"{board.item_url(2)}/stato", {"status": "deferred", "version": "2"}, htmx=True)
    assert done.status_code == 200
    assert one(done.text, "#agenda-notice").text().strip() == ""


def test_without_javascript_a_refusal_shows_on_the_page_beside_the_agenda(client, board):
    login(client, "chair@example.org")
    post(client, f"{board.item_url(0)}/sposta", {"position": "2", "version": "1"})
    stale = post(client, f"{board.item_url(0)}/sposta", {"position": "3", "version": "1"})
    assert stale.status_code == 409
    notice = one(stale.text, "#agenda-notice[role=alert]")
    assert "«Saldi invernali» non è stato spostato." in notice.text()
    assert css(stale.text, "#agenda #agenda-notice") == []


def test_the_add_form_is_a_disclosure_open_while_adding(client, board):
    login(client, "chair@example.org")
    page = client.get(board.meeting_url).text
    assert one(page, "#agenda-add details.agenda-add-toggle").attributes.get("open") is None
    added = post(
        client,
        f"{board.meeting_url}/punti",
        {"title": "Mercati", "description": "", "presenter": "", "planned_minutes": "", "client_key": "k-9"},
        htmx=True,
    )
    assert "open" in one(added.text, "#agenda-add details.agenda-add-toggle").attributes
    wrong = post(client, f"{board.meeting_url}/punti", {"title": "", "client_key": "k-10"})
    assert wrong.status_code == 422
    assert "open" in one(wrong.text, "#agenda-add details.agenda-add-toggle").attributes


def test_a_closed_meetings_agenda_has_no_controls(client, board):
    from server.domain import meeting_life

    for change in (meeting_life.open_meeting, meeting_life.close_meeting):
        board.seed.run(lambda s, c=change: c(s, board.table, board.meeting.id, actor_id=board.chair.id))
    login(client, "chair@example.org")
    page = client.get(board.meeting_url).text
    assert len(css(page, "#agenda li.agenda-item")) == 3
    assert css(page, "#agenda form, #agenda .agenda-handle, #agenda details, #agenda-add form") == []
