"""The meeting room through its real endpoints: who may do what, the answers (htmx and plain), every
refusal said plainly, the room screen and the scope of a room link."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server.db.models import Meeting, MeetingStatus, RoomLink, Speaker, Table
from server.db.types import utcnow
from tests.support import csrf_of, css, login, one, texts

HTMX = {"HX-Request": "true"}


def post(client, path, data=None, *, htmx=True, page="/"):
    token = csrf_of(client.get(page).text)
    headers = HTMX if htmx else {}
    return client.post(path, data={**(data or {}), "csrf_token": token}, headers=headers, follow_redirects=False)


def open_meeting(client, board):
    login(client, "chair@example.org")
    assert post(client, f"{board.meeting_url}/apri").status_code == 200


def discuss_first(client, board):
    item = board.items[0]
    response = post(client, f"{board.item_url(0)}/stato", {"status": "current", "version": str(item.version)})
    assert response.status_code == 200


def record_present(client, board, *organisations):
    data = {"version": "0"}
    for organisation in (board.ascom, board.cna, board.cgil):
        data.setdefault("organisation", [])
        data["organisation"].append(str(organisation.id))
    for organisation in organisations:
        data[f"present-{organisation.id}"] = "on"
    assert post(client, f"{board.meeting_url}/presenze", data).status_code == 200


# --- a meeting's life ----------------------------------------------------------------------------


def test_the_chair_opens_and_closes_the_meeting(client, board):
    login(client, "chair@example.org")
    page = client.get(board.meeting_url).text
    assert texts(page, ".meeting-status") == ["Convocata"]
    response = post(client, f"{board.meeting_url}/apri")
    assert response.status_code == 200
    assert texts(response.text, '#meeting-details[hx-swap-oob="true"] .meeting-status') == ["In corso"]
    assert "La seduta «Seduta di dicembre» è aperta." in one(response.text, "#announcer").text()
    assert one(response.text, "#details-alert").text().strip() == ""
    closed = post(client, f"{board.meeting_url}/chiudi", htmx=False)
    assert closed.status_code == 303
    page = client.get(board.meeting_url).text
    assert texts(page, ".meeting-status") == ["Chiusa"]
    assert not css(page, "#meeting-close"), "a closed meeting has no controls left"
    assert not css(page, 'input[name^="present-"]'), "nor an attendance form"


@pytest.mark.parametrize("email", ["secretary@example.org", "member@example.org", "observer@example.org"])
def test_only_the_chair_opens_the_meeting(client, board, email):
    login(client, email)
    assert post(client, f"{board.meeting_url}/apri").status_code == 403
    assert board.current(Meeting, board.meeting.id).status is MeetingStatus.convened


def test_a_refusal_stays_beside_the_controls_in_an_alert(client, board):
    login(client, "chair@example.org")
    response = post(client, f"{board.meeting_url}/chiudi")
    assert response.status_code == 422
    alert = one(response.text, '#details-alert[role="alert"][hx-swap-oob="true"]')
    assert "La seduta non è stata aperta" in alert.text()
    plain = post(client, f"{board.meeting_url}/chiudi", htmx=False)
    assert plain.status_code == 422
    assert "La seduta non è stata aperta" in one(plain.text, "#details-alert").text()


def test_a_closed_meeting_refuses_an_agenda_change_with_a_clear_message(client, board):
    open_meeting(client, board)
    post(client, f"{board.meeting_url}/chiudi")
    for htmx in (True, False):
        response = post(client, f"{board.item_url(1)}/stato", {"status": "done", "version": "1"}, htmx=htmx)
        assert response.status_code == 422
        assert "Questa seduta è chiusa" in response.text
    assert len(board.events("agenda.item_status")) == 0


def test_a_closed_meeting_refuses_the_attendance(client, board):
    open_meeting(client, board)
    post(client, f"{board.meeting_url}/chiudi")
    response = post(client, f"{board.meeting_url}/presenze", {"version": "0"})
    assert response.status_code == 422
    assert "Questa seduta è chiusa" in response.text


def test_a_new_meeting_receives_what_the_closed_one_left(client, board):
    open_meeting(client, board)
    post(client, f"{board.meeting_url}/chiudi")
    form = {"title": "Seduta di gennaio", "day": "2032-01-20", "hour": "15:00", "place": "Sala", "online_url": ""}
    created = post(client, f"/tavoli/{board.table.slug}/sedute", {**form, "client_key": "k"}, htmx=False)
    page = client.get(created.headers["location"]).text
    titles = [" ".join(t.split()[1:]) for t in texts(page, "#agenda .agenda-item h3")]
    assert "Saldi invernali" in titles
    assert "Varie ed eventuali" in titles


# --- the list of speakers -----------------------------------------------------------------------


def speakers_url(board, index=0):
    return f"{board.item_url(index)}/interventi"


def test_nobody_asks_to_speak_before_an_item_is_under_discussion(client, board):
    login(client, "member@example.org")
    page = client.get(board.meeting_url).text
    assert "Nessun punto è in discussione" in one(page, "#speakers").text()
    assert not css(page, "#speakers-ask")


def test_a_member_asks_to_speak_for_their_organisation_with_one_button(client, board):
    open_meeting(client, board)
    discuss_first(client, board)
    login(client, "member@example.org")
    page = client.get(board.meeting_url).text
    assert one(page, "body").attributes["data-organisation-id"] == str(board.cgil.id)
    ask = one(page, "form:has(#speakers-ask)")
    assert "hidden" in ask.attributes, "it travels hidden: owner.js shows it to the organisations it serves"
    assert ask.attributes["data-organisations-except"] == ""
    response = post(client, speakers_url(board), page=board.meeting_url)
    assert response.status_code == 200
    assert texts(response.text, '#speakers[hx-swap-oob="true"] .speakers-waiting .speaker-name') == [
        "CGIL Bologna (Member)"
    ]
    assert "Richiesta di intervento per CGIL Bologna registrata." in one(response.text, "#announcer").text()
    page = client.get(board.meeting_url).text
    assert one(page, "form:has(#speakers-ask)").attributes["data-organisations-except"] == str(board.cgil.id)
    withdraw = one(page, "form:has([id$=-withdraw])")
    assert withdraw.attributes["data-organisations"] == str(board.cgil.id)


def test_observers_cannot_ask_to_speak(client, board):
    open_meeting(client, board)
    discuss_first(client, board)
    login(client, "observer@example.org")
    assert post(client, speakers_url(board)).status_code == 403
    assert not css(client.get(board.meeting_url).text, "#speakers-ask")


def test_asking_on_a_closed_list_is_refused_plainly(client, board):
    open_meeting(client, board)
    discuss_first(client, board)
    assert post(client, f"{speakers_url(board)}/lista", {"open": "off"}).status_code == 200
    login(client, "member@example.org")
    response = post(client, speakers_url(board))
    assert response.status_code == 422
    assert "è chiuso: non si accettano nuove richieste" in one(response.text, "#speakers-alert").text()
    assert board.events("speaker.requested") == []
    page = client.get(board.meeting_url).text
    assert not css(page, "#speakers-ask")
    assert "L'elenco è chiuso" in one(page, "#speakers").text()


def test_a_member_cannot_withdraw_another_organisations_request(client, board):
    open_meeting(client, board)
    discuss_first(client, board)
    post(client, speakers_url(board))  # the chair, for Confcommercio Ascom
    speaker = board.seed.run(lambda s: s.scalar(select(Speaker.id)))
    login(client, "member@example.org")
    assert post(client, f"{board.meeting_url}/interventi/ritira", {"speaker": str(speaker)}).status_code == 403
    assert post(client, f"{board.meeting_url}/interventi/ritira", {"speaker": "abc"}).status_code == 400


def test_the_chair_runs_the_list_from_request_to_spoken(client, board):
    open_meeting(client, board)
    record_present(client, board, board.cgil, board.cna)
    discuss_first(client, board)
    response = post(client, f"{speakers_url(board)}/aggiungi", {"organisation": str(board.cgil.id)})
    assert response.status_code == 200
    post(client, f"{speakers_url(board)}/aggiungi", {"organisation": str(board.cna.id), "point_of_order": "on"})
    page = client.get(board.meeting_url).text
    assert texts(page, ".speakers-waiting .speaker-name") == ["CNA Bologna", "CGIL Bologna"]
    assert texts(page, ".speakers-waiting .point-of-order") == ["Mozione d'ordine"]
    first = board.seed.run(lambda s: s.scalar(select(Speaker.id).where(Speaker.organisation_id == board.cna.id)))
    started = post(client, f"{board.meeting_url}/interventi/avvia", {"speaker": str(first)})
    assert started.status_code == 200
    assert "CNA Bologna" in one(started.text, "#speakers .current-speaker").text()
    clock = one(started.text, "#speakers .current-speaker [data-clock]")
    assert clock.attributes["data-clock-limit"] == "180"
    assert clock.attributes["data-clock-running"] == "true"
    assert css(started.text, '#meeting-time[hx-swap-oob="true"]')
    stopped = post(client, f"{board.meeting_url}/interventi/ferma", {"speaker": str(first)})
    assert stopped.status_code == 200
    assert texts(stopped.text, ".speakers-spoke li")[0].startswith("CNA Bologna Mozione d'ordine · 0:0")


def test_a_bad_speaking_time_is_refused_beside_the_list(client, board):
    open_meeting(client, board)
    discuss_first(client, board)
    response = post(client, f"{speakers_url(board)}/tempo", {"speaking_time": "tanto"})
    assert response.status_code == 422
    assert "Inserisci il tempo di intervento" in one(response.text, "#speakers-alert").text()
    assert post(client, f"{speakers_url(board)}/tempo", {"speaking_time": "2:30"}).status_code == 200
    assert "Tempo di intervento: 2:30" in one(client.get(board.meeting_url).text, ".speakers-about").text()


def test_a_toggle_that_is_neither_on_nor_off_is_a_bad_request(client, board):
    open_meeting(client, board)
    assert post(client, f"{board.meeting_url}/presenze/accettazione", {"open": "maybe"}).status_code == 400


# --- time ---------------------------------------------------------------------------------------


def test_the_clocks_carry_the_servers_count_and_the_planned_time(client, board):
    open_meeting(client, board)
    discuss_first(client, board)
    page = client.get(board.meeting_url).text
    item_clock = one(page, "#meeting-time .time-item [data-clock]")
    assert item_clock.attributes["data-clock-limit"] == str(15 * 60)
    assert int(item_clock.attributes["data-clock-base"]) < 60
    assert "su 15:00 previsti" in one(page, "#meeting-time .time-item").text()
    meeting_clock = one(page, "#meeting-time .time-meeting [data-clock]")
    assert meeting_clock.attributes["data-clock-limit"] == str(45 * 60)
    over = one(page, "#meeting-time .time-item .clock-over")
    assert "hidden" in over.attributes
    assert over.text() == "oltre il tempo previsto"


# --- check-in and quorum ------------------------------------------------------------------------


def test_delegates_check_in_when_the_chair_opens_it(client, board):
    login(client, "member@example.org")
    refused = post(client, f"{board.meeting_url}/presenze/registrati")
    assert refused.status_code == 422
    assert "non è aperta" in one(refused.text, "#quorum-alert").text()
    login(client, "chair@example.org")
    assert post(client, f"{board.meeting_url}/presenze/accettazione", {"open": "on"}).status_code == 200
    login(client, "member@example.org")
    page = client.get(board.meeting_url).text
    assert one(page, "form:has(#check-in)").attributes["data-organisations-except"] == ""
    done = post(client, f"{board.meeting_url}/presenze/registrati")
    assert done.status_code == 200
    assert "1 organizzazioni componenti presenti su 3" in one(done.text, "#quorum").text()
    page = client.get(board.meeting_url).text
    assert one(page, "form:has(#check-in)").attributes["data-organisations-except"] == str(board.cgil.id)
    assert "registrata, da confermare" in one(page, "#attendance").text()


def test_observers_cannot_check_in(client, board):
    login(client, "observer@example.org")
    assert post(client, f"{board.meeting_url}/presenze/registrati").status_code == 403


def test_the_administrator_sets_the_quorum_in_the_table_settings(client, board):
    login(client, "admin@example.org")
    settings = f"/tavoli/{board.table.slug}/impostazioni"
    table = board.current(Table, board.table.id)
    form = {"purpose": table.purpose, "established": "", "version": str(table.version)}
    bad = post(client, settings, {**form, "quorum": "metà"}, htmx=False)
    assert bad.status_code == 422
    assert "Inserisci il quorum" in one(bad.text, "#quorum-error").text()
    assert post(client, settings, {**form, "quorum": "50%"}, htmx=False).status_code == 303
    assert board.current(Table, board.table.id).quorum_percent == 50
    assert len(board.events("table.quorum_set")) == 1
    login(client, "member@example.org")
    assert "Richieste: 2 (50%)" in one(client.get(board.meeting_url).text, "#quorum").text()


# --- the room screen and room links -------------------------------------------------------------


def room_url(board, meeting=None):
    return f"/tavoli/{board.table.slug}/sedute/{(meeting or board.meeting).id}/sala"


def make_link(client, board):
    login(client, "chair@example.org")
    page = post(client, f"{room_url(board)}/collegamenti", htmx=False)
    assert page.status_code == 200
    address = one(page.text, "#new-room-link-address").attributes["value"]
    assert address.startswith(f"http://127.0.0.1:8000{room_url(board)}#t=")
    return address.split("#t=")[1]


def test_members_see_the_room_screen_with_their_role(client, board):
    login(client, "observer@example.org")
    page = client.get(room_url(board))
    assert page.status_code == 200
    assert one(page.text, "#live").attributes["ws-connect"] == f"/ws/tavoli/{board.table.slug}?sala={board.meeting.id}"
    assert "Seduta di dicembre" in one(page.text, "#room .room-meeting").text()
    assert not css(page.text, "#room form, #room button, #room input"), "no controls on the room screen"


def test_only_the_chair_makes_room_links_and_the_secret_is_kept_nowhere(client, board):
    login(client, "secretary@example.org")
    assert post(client, f"{room_url(board)}/collegamenti", htmx=False).status_code == 403
    secret = make_link(client, board)
    stored = board.seed.run(lambda s: s.scalar(select(RoomLink)))
    assert secret not in stored.secret_hash
    assert all(secret not in str(e.payload) for e in board.events())
    page = client.get(board.meeting_url).text
    assert secret not in page, "shown once, in the answer that made it"
    assert css(page, f"#room-link-{stored.id}")


def exchange(client, board, secret, meeting=None):
    token = csrf_of(client.get("/").text)  # the language switch's form carries it, for anyone
    return client.post(
        f"{room_url(board, meeting)}/accesso",
        data={"secret": secret},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )


@pytest.fixture
def stranger(settings):
    """A second browser, logged in as nobody (the projector's)."""
    from starlette.testclient import TestClient

    from server.app import create_app

    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as browser:
        yield browser


def test_a_room_link_opens_its_room_screen_and_nothing_else(client, board, stranger):
    secret = make_link(client, board)
    door = stranger.get(room_url(board))
    assert door.status_code == 200
    assert board.table.name not in door.text, "the door says nothing of the table"
    assert one(door.text, "body").attributes["data-room-exchange"] == f"{room_url(board)}/accesso"
    answer = exchange(stranger, board, secret)
    assert answer.status_code == 204
    cookie = answer.headers["set-cookie"]
    assert f"Path={room_url(board)}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Max-Age=" in cookie
    screen = stranger.get(room_url(board))
    assert screen.status_code == 200
    assert one(screen.text, "#live").attributes["ws-connect"] == f"{room_url(board)}/ws"
    assert "Seduta di dicembre" in one(screen.text, "#room").text()
    # The cookie, sent by hand anywhere else, opens nothing: not the meeting, not another screen.
    assert secret not in cookie, "the cookie is not the link's secret"
    jar = {"Cookie": cookie.split(";")[0]}
    assert stranger.get(board.meeting_url, headers=jar, follow_redirects=False).status_code == 303
    assert stranger.get(f"/tavoli/{board.table.slug}", headers=jar, follow_redirects=False).status_code == 303
    other = stranger.get(room_url(board, board.other_meeting).replace(board.table.slug, board.other.slug), headers=jar)
    assert board.other.name not in other.text
    assert "Crisi aziendale" not in other.text
    assert exchange(stranger, board, secret, board.other_meeting).status_code == 303, "another meeting: no pass"


def test_a_wrong_secret_opens_nothing(client, board, stranger):
    make_link(client, board)
    assert exchange(stranger, board, "x" * 43).status_code == 303  # anonymous and no pass: to the login
    login(client, "member@example.org")
    refused = exchange(client, board, "x" * 43)
    assert refused.status_code == 403
    assert "non è valido" in refused.text


def test_a_revoked_link_and_an_expired_one_open_nothing(client, board, stranger):
    secret = make_link(client, board)
    assert exchange(stranger, board, secret).status_code == 204
    link = board.seed.run(lambda s: s.scalar(select(RoomLink)))
    revoked = post(client, f"{room_url(board)}/collegamenti/revoca", {"link": str(link.id)}, htmx=False)
    assert revoked.status_code == 303
    assert "Seduta di dicembre" not in stranger.get(room_url(board)).text
    assert len(board.events("meeting.room_link_revoked")) == 1
    fresh = make_link(client, board)
    assert exchange(stranger, board, fresh).status_code == 204
    assert "Seduta di dicembre" in stranger.get(room_url(board)).text

    async def expire(session):
        await session.execute(update(RoomLink).values(expires_at=utcnow() - timedelta(seconds=1)))

    board.seed.run(expire)
    assert "Seduta di dicembre" not in stranger.get(room_url(board)).text


def test_someone_logged_in_without_a_role_finds_only_the_door(client, board):
    login(client, "outsider@example.org")
    door = client.get(room_url(board))
    assert door.status_code == 404
    assert board.table.name not in door.text
