"""A table's home page, its public face, its history, and what administrators change there."""

import pytest
from sqlalchemy import select, update

from server.db.models import Membership, Role, Table
from tests.support import csrf_of, login

HTMX = {"HX-Request": "true"}


def post(client, path, data, *, htmx=False):
    token = csrf_of(client.get("/").text)
    return client.post(path, data={**data, "csrf_token": token}, headers=HTMX if htmx else {}, follow_redirects=False)


def flat(html):
    return " ".join(html.split())


def test_a_member_sees_purpose_members_by_organisation_meetings_and_history(client, board):
    login(client, "member@example.org")
    page = flat(client.get(f"/tavoli/{board.table.slug}").text)
    assert "<h1>Tavolo metropolitano per il commercio e le attività turistiche</h1>" in page
    assert "<strong>ripartenza</strong>" in page
    assert '<h3 class="h6 mt-3 mb-1">Confcommercio Ascom Bologna</h3>' in page
    assert 'Chair <span class="badge role-badge role-chair">Presidente</span>' in page
    assert 'Observer <span class="badge role-badge role-observer">Osservatore</span>' in page
    assert "Senza ente" in page
    assert "Seduta di dicembre" in page
    assert "Saldi invernali" in page, "the next meeting's agenda preview"
    assert "ha convocato la seduta «Seduta di dicembre»" in page
    assert "Convoca una seduta" not in page, "members do not convene"
    assert "Impostazioni del tavolo" not in page


def test_the_chair_gets_the_button_to_convene(client, board):
    login(client, "chair@example.org")
    assert "Convoca una seduta" in client.get(f"/tavoli/{board.table.slug}").text


def test_a_private_table_is_not_found_for_a_person_without_a_role(client, board):
    login(client, "outsider@example.org")
    assert client.get(f"/tavoli/{board.table.slug}").status_code == 404
    assert client.get("/tavoli/no-such-table").status_code == 404


def test_anonymous_visitors_of_a_private_table_are_sent_to_log_in(client, board):
    response = client.get(f"/tavoli/{board.table.slug}/sedute/{board.meeting.id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/tavoli/{board.table.slug}/sedute/{board.meeting.id}"


@pytest.mark.parametrize("email", [None, "outsider@example.org"])
def test_a_public_table_shows_its_purpose_and_meeting_dates_only(client, board, seed, email):
    seed.run(lambda s: s.execute(update(Table).where(Table.id == board.table.id).values(is_public=True)))
    if email:
        login(client, email)
    page = flat(client.get(f"/tavoli/{board.table.slug}").text)
    assert "ripartenza" in page
    assert "martedì 9 dicembre 2031, ore 15:00" in page
    assert "Seduta di dicembre" not in page, "titles and agendas are for the members"
    assert "Member" not in page, "no names of the members"
    assert "Presidente" not in page
    assert "Cronologia" not in page
    assert client.get(f"/tavoli/{board.table.slug}/sedute/{board.meeting.id}", follow_redirects=False).status_code in (
        303,
        403,
    )


def test_the_history_page_lists_who_what_and_when(client, board):
    login(client, "observer@example.org")
    page = flat(client.get(f"/tavoli/{board.table.slug}/cronologia").text)
    assert "<h1>Cronologia del tavolo</h1>" in page
    added = "ha aggiunto «Varie ed eventuali» all&#39;ordine del giorno di «Seduta di dicembre»"
    assert f"<td>Chair</td> <td>{added}" in page
    assert "<td>Il sistema</td> <td>ha creato il tavolo" in page
    assert "<time datetime=" in page
    assert "ha assegnato a Observer il ruolo Osservatore" in page


def test_the_history_pages_back_in_time(client, board, seed, monkeypatch):
    from server.web import tables as table_pages

    monkeypatch.setattr(table_pages, "HISTORY_PAGE_SIZE", 3)
    login(client, "observer@example.org")
    first = client.get(f"/tavoli/{board.table.slug}/cronologia").text
    assert "Modifiche precedenti" in first
    total = len(board.events())
    assert f"<td>{total}</td>" in first
    assert f"<td>{total - 3}</td>" not in first
    older = client.get(f"/tavoli/{board.table.slug}/cronologia?prima={total - 2}").text
    assert f"<td>{total - 3}</td>" in older


# --- administrators ----------------------------------------------------------------------------------


def test_an_admin_gives_a_role_with_the_organisation_represented(client, board, seed):
    newcomer = seed.user("newcomer@example.org", "Nuova Persona")
    login(client, "admin@example.org")
    response = post(
        client,
        f"/tavoli/{board.table.slug}/componenti",
        {"email": "newcomer@example.org", "role": "member", "organisation": "cgil-bologna"},
        htmx=True,
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="members"')
    assert "Nuova Persona" in response.text
    event = board.events("member.added")[-1]
    assert (event.payload["user_id"], event.payload["role"]) == (newcomer.id, "member")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "nobody@example.org", "role": "member"}, "email", "Non esiste un account"),
        ({"email": "member@example.org", "role": "chair"}, "email", "ha già un ruolo"),
        ({"email": "outsider@example.org", "role": "king"}, "role", "Scegli un ruolo."),
        (
            {"email": "outsider@example.org", "role": "member", "organisation": "uil"},
            "organisation",
            "Non esiste un ente",
        ),
    ],
)
def test_bad_member_input_is_shown_beside_the_field(client, board, data, field, message):
    login(client, "admin@example.org")
    before = len(board.events())
    response = post(client, f"/tavoli/{board.table.slug}/componenti", data)
    assert response.status_code == 422
    assert f'{field}-error"' in response.text
    assert message in response.text
    assert len(board.events()) == before


def test_giving_the_same_role_twice_is_a_no_op(client, board):
    login(client, "admin@example.org")
    for _ in range(2):
        response = post(
            client,
            f"/tavoli/{board.table.slug}/componenti",
            {"email": "member@example.org", "role": "member", "organisation": "cgil-bologna"},
        )
        assert response.status_code == 303
    assert len([e for e in board.events("member.added") if e.payload["user_id"] == board.member.id]) == 1


def test_an_admin_changes_a_role_and_a_stale_change_is_refused(client, board):
    login(client, "admin@example.org")
    membership = board.membership_id(board.member)
    path = f"/tavoli/{board.table.slug}/componenti/{membership}"
    assert post(client, path, {"role": "secretary", "organisation": "cgil-bologna", "version": "1"}).status_code == 303
    assert board.current(Membership, membership).role is Role.secretary
    stale = post(client, path, {"role": "observer", "organisation": "", "version": "1"}, htmx=True)
    assert stale.status_code == 409
    assert "Qualcun altro ha modificato questo ruolo" in stale.text
    assert board.current(Membership, membership).role is Role.secretary


def test_an_admin_removes_a_role_after_confirming(client, board):
    login(client, "admin@example.org")
    membership = board.membership_id(board.observer)
    path = f"/tavoli/{board.table.slug}/componenti/{membership}/rimuovi"
    assert "Vuoi togliere il ruolo di Observer" in client.get(path).text
    assert post(client, path, {}).status_code == 303
    assert board.current(Membership, membership) is None
    login(client, "observer@example.org")
    assert client.get(f"/tavoli/{board.table.slug}").status_code == 404


def test_a_membership_of_another_table_is_not_found(client, board, seed):
    other = seed.run(lambda s: s.scalar(select(Membership.id).where(Membership.table_id == board.other.id)))
    login(client, "admin@example.org")
    response = post(client, f"/tavoli/{board.table.slug}/componenti/{other}", {"role": "member", "version": "1"})
    assert response.status_code == 404


@pytest.mark.parametrize("email", ["chair@example.org", "secretary@example.org", "member@example.org"])
def test_only_admins_manage_members(client, board, email):
    login(client, email)
    response = post(
        client, f"/tavoli/{board.table.slug}/componenti", {"email": "outsider@example.org", "role": "chair"}
    )
    assert response.status_code == 403


def test_an_admin_edits_the_description_and_makes_the_table_public(client, board):
    login(client, "admin@example.org")
    page = client.get(f"/tavoli/{board.table.slug}").text
    assert "Impostazioni del tavolo" in page
    response = post(
        client,
        f"/tavoli/{board.table.slug}/impostazioni",
        {"purpose": "Nuovo scopo", "established": "Febbraio 2021", "is_public": "on", "version": "1"},
    )
    assert response.status_code == 303
    table = board.current(Table, board.table.id)
    assert (table.purpose, table.established, table.is_public) == ("Nuovo scopo", "Febbraio 2021", True)
    stale = post(
        client,
        f"/tavoli/{board.table.slug}/impostazioni",
        {"purpose": "Altro scopo", "established": "", "version": "1"},
    )
    assert stale.status_code == 409
    assert "Altro scopo" in stale.text
    too_long = post(
        client, f"/tavoli/{board.table.slug}/impostazioni", {"purpose": "x" * 5001, "established": "", "version": "2"}
    )
    assert too_long.status_code == 422
    assert board.current(Table, board.table.id).purpose == "Nuovo scopo"


def test_the_table_home_is_served_from_the_page_cache_until_the_table_changes(client, board, seed):
    from server.db.models import ActionStatus
    from server.domain import actions

    action = board.action()
    seed.person(board.table, Role.chair, "cochair@example.org", board.cna)
    cache = client.app.state.page_cache
    login(client, "chair@example.org")
    home = f"/tavoli/{board.table.slug}"
    first = client.get(home).text
    renders = cache.renders
    again = client.get(home).text
    assert cache.renders == renders, "nothing changed: every fragment came from the cache"
    assert csrf_of(again) == csrf_of(first)
    assert f'name="csrf_token" value="{csrf_of(first)}"' in again.split('id="actions"', 1)[1]
    # Another person with the same role gets the same fragments, from the cache, with their own token.
    login(client, "cochair@example.org")
    theirs = client.get(home).text
    assert cache.renders == renders
    assert csrf_of(theirs) != csrf_of(first)
    assert csrf_of(first) not in theirs
    # A change of the table moves its sequence number: the next page shows it.
    seed.run(
        lambda s: actions.set_status(
            s,
            board.table,
            action.id,
            ActionStatus.in_progress,
            version=1,
            actor=actions.Actor(board.chair.id, Role.chair),
        )
    )
    assert "In corso" in client.get(home).text.split('id="actions"', 1)[1]
