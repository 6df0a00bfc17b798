"""Decisions and positions through their real endpoints: who may do what, the answers (htmx and plain),
every refusal said plainly beside the controls with nothing changed, the decisions page and its
filters, the proposal's outcome recorded as its item's decision, the action item's link back."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server import i18n
from server.db.models import Decision, Position, ProposalStatus, Role
from server.domain import actions, decisions, meetings, proposals
from server.domain.actions import Actor
from tests.support import csrf_of, css, login, one, texts

HTMX = {"HX-Request": "true"}
FILTER_REFUSED = "This filter does not exist: choose among those of the form."


def it(message: str, **values: Any) -> str:
    """A message as the Italian page says it."""
    with i18n.use_locale("it"):
        said = i18n.gettext(message)
    return said.format(**values) if values else said


def post(client, path, data=None, *, htmx=True, page="/"):
    token = csrf_of(client.get(page).text)
    headers = HTMX if htmx else {}
    return client.post(path, data={**(data or {}), "csrf_token": token}, headers=headers, follow_redirects=False)


def decisions_url(board) -> str:
    return f"{board.meeting_url}/decisioni"


def decision_url(board, decision_id: int) -> str:
    return f"{decisions_url(board)}/{decision_id}"


def list_url(board) -> str:
    return f"/tavoli/{board.table.slug}/decisioni"


def alert_of(html: str) -> str:
    return " ".join(one(html, '#decisions-alert[role="alert"]').text().split())


def chair(board) -> Actor:
    return Actor(board.chair.id, Role.chair)


def seed_decision(board, index=0, kind="agreed", text="Si approva il calendario.", proposal_id=None) -> Decision:
    item = board.items[index]
    return board.seed.run(
        lambda s: decisions.record_decision(
            s, board.table, item.id, kind=kind, text=text, proposal_id=proposal_id, actor=chair(board)
        )
    )


def present(board) -> None:
    """CGIL (its delegate: the member) and Confcommercio Ascom (the chair) present; CNA absent."""
    marks = {board.cgil.id: (True, "Member"), board.ascom.id: (True, "Chair"), board.cna.id: (False, "")}
    board.seed.run(
        lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=0, actor_id=None)
    )


def open_meeting(client, board) -> None:
    login(client, "chair@example.org")
    assert post(client, f"{board.meeting_url}/apri").status_code == 200


def roll_call(client, board, decision, state="on"):
    return post(client, f"{decision_url(board, decision.id)}/appello", {"open": state})


def current(board, decision: Decision) -> Decision:
    return board.current(Decision, decision.id)


def positions(board) -> list[Position]:
    async def read(session):
        return list((await session.scalars(select(Position).order_by(Position.organisation_id))).all())

    return board.seed.run(read)


def decision_rows(board) -> list[Decision]:
    async def read(session):
        return list((await session.scalars(select(Decision).order_by(Decision.id))).all())

    return board.seed.run(read)


# --- recording a decision ------------------------------------------------------------------------


def test_the_chair_records_an_items_decision(client, board):
    login(client, "chair@example.org")
    page = client.get(board.meeting_url).text
    assert not css(page, "#meeting-decisions .decision")
    options = [o.attributes["value"] for o in css(page, "#decision-new-item option")]
    assert options == [str(item.id) for item in board.items]
    response = post(
        client,
        decisions_url(board),
        {"item": str(board.items[0].id), "kind": "agreed", "text": "Si **approva** il calendario.", "proposal": ""},
    )
    assert response.status_code == 200, response.text
    region = one(response.text, "#meeting-decisions:not([hx-swap-oob])")
    decision = decision_rows(board)[0]
    entry = one(region.html, f"#decision-{decision.id}")
    assert texts(entry.html, ".decision-kind") == [it("Agreed")]
    assert one(entry.html, ".decision-text strong").text() == "approva"
    assert "Saldi invernali" in one(entry.html, "h3").text()
    assert one(response.text, "#announcer").text() == it("Decision recorded.")
    assert alert_of(response.text) == ""
    # The item now decided is no longer offered for a new decision.
    assert str(board.items[0].id) not in [o.attributes["value"] for o in css(region.html, "#decision-new-item option")]
    assert len(board.events("decision.recorded")) == 1


def test_a_plain_form_records_the_decision_and_comes_back_to_the_region(client, board):
    login(client, "secretary@example.org")
    response = post(
        client,
        decisions_url(board),
        {"item": str(board.items[1].id), "kind": "postponed", "text": "Rinviato."},
        htmx=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"{board.meeting_url}#meeting-decisions")
    page = client.get(board.meeting_url).text
    assert texts(page, "#meeting-decisions .decision-kind") == [it("Postponed")]


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_only_the_chair_and_the_secretary_record_a_decision(client, board, email):
    login(client, email)
    data = {"item": str(board.items[0].id), "kind": "agreed", "text": "Approvato."}
    assert post(client, decisions_url(board), data).status_code == 403
    assert decision_rows(board) == []
    page = client.get(board.meeting_url).text
    assert not css(page, "#decision-new")
    none_yet = it("No decision has been recorded for this meeting yet.")
    assert texts(page, "#meeting-decisions .decisions-none") == [none_yet]  # everyone reads the decisions


def test_an_empty_text_is_refused_and_what_was_typed_stays(client, board):
    login(client, "chair@example.org")
    data = {"item": str(board.items[0].id), "kind": "not_agreed", "text": "   ", "proposal": ""}
    response = post(client, decisions_url(board), data)
    assert response.status_code == 422
    assert alert_of(response.text) == it("Write what the table decided.")
    assert not css(response.text, "#meeting-decisions"), "the region is not sent: the form keeps what was typed"
    assert response.headers["hx-reswap"] == "none"
    plain = post(client, decisions_url(board), {**data, "text": ""}, htmx=False)
    assert plain.status_code == 422
    assert alert_of(plain.text) == it("Write what the table decided.")
    assert css(plain.text, "details#decision-new[open]")
    assert one(plain.text, "#decision-new-text").attributes["aria-invalid"] == "true"
    assert one(plain.text, "#decision-new-text-error").text() == it("Write what the table decided.")
    assert "selected" in one(plain.text, '#decision-new-kind option[value="not_agreed"]').attributes
    assert decision_rows(board) == []


def test_a_bad_kind_item_or_proposal_is_refused(client, board):
    login(client, "chair@example.org")
    item = str(board.items[0].id)
    bad_kind = post(client, decisions_url(board), {"item": item, "kind": "unanimous", "text": "Testo."})
    assert bad_kind.status_code == 422
    assert alert_of(bad_kind.text) == it("Choose what the table decided.")
    for other in (str(board.other_item.id), "abc", ""):
        refused = post(client, decisions_url(board), {"item": other, "kind": "agreed", "text": "Testo."})
        assert refused.status_code == 422, other
        assert alert_of(refused.text) == it("Choose an item on the agenda of one of this table's meetings.")
    hand_made = post(client, decisions_url(board), {"item": item, "kind": "agreed", "text": "T.", "proposal": "x"})
    assert hand_made.status_code == 400
    assert decision_rows(board) == []


def test_the_secretary_edits_a_decision_and_a_stale_form_is_refused(client, board):
    decision = seed_decision(board)
    login(client, "secretary@example.org")
    page = client.get(board.meeting_url).text
    form = one(page, f"#decision-{decision.id}-edit-fold form")
    version = one(form.html, 'input[name="version"]').attributes["value"]
    data = {"kind": "agreed_reserved", "text": "Si approva, con le riserve dette.", "proposal": "", "version": version}
    saved = post(client, decision_url(board, decision.id), data)
    assert saved.status_code == 200
    assert texts(saved.text, f"#decision-{decision.id} .decision-kind") == [it("Agreed with reservations")]
    assert one(saved.text, "#announcer").text() == it("Decision saved.")
    stale = post(client, decision_url(board, decision.id), {**data, "text": "Un altro testo."})
    assert stale.status_code == 409
    assert it("Someone else changed the decision on this item in the meantime.") in alert_of(stale.text)
    assert current(board, decision).text == "Si approva, con le riserve dette."
    assert len(board.events("decision.changed")) == 1


def test_a_decision_in_another_meetings_address_is_not_found(client, board):
    decision = seed_decision(board)
    values = meetings.parse_meeting(title="Seconda", day="2031-12-20", hour="10:00", place="Sala", online_url="")
    second = board.seed.run(lambda s: meetings.create_meeting(s, board.table, values, actor_id=None))
    login(client, "chair@example.org")
    elsewhere = f"/tavoli/{board.table.slug}/sedute/{second.id}/decisioni/{decision.id}"
    data = {"kind": "agreed", "text": "Altro.", "version": "1"}
    assert post(client, elsewhere, data).status_code == 404
    assert post(client, f"{elsewhere}/appello", {"open": "on"}).status_code == 404
    assert post(client, decision_url(board, 99999), data).status_code == 404
    assert current(board, decision).text == "Si approva il calendario."


# --- the roll call -------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["secretary@example.org", "member@example.org"])
def test_only_the_chair_opens_the_roll_call(client, board, email):
    decision = seed_decision(board)
    open_meeting(client, board)
    login(client, email)
    assert roll_call(client, board, decision).status_code == 403
    assert current(board, decision).roll_call.value == "none"
    assert not css(client.get(board.meeting_url).text, f"#decision-{decision.id}-roll-call")


def test_a_roll_call_needs_the_meeting_in_progress(client, board):
    decision = seed_decision(board)
    login(client, "chair@example.org")
    assert not css(client.get(board.meeting_url).text, f"#decision-{decision.id}-roll-call")
    refused = roll_call(client, board, decision)
    assert refused.status_code == 422
    assert alert_of(refused.text) == it("A roll call takes place during the meeting: the meeting is not in progress.")
    assert current(board, decision).roll_call.value == "none"
    assert roll_call(client, board, decision, "maybe").status_code == 400


def test_the_chair_opens_and_closes_the_roll_call_which_does_not_reopen(client, board):
    present(board)
    decision = seed_decision(board)
    open_meeting(client, board)
    opened = roll_call(client, board, decision)
    assert opened.status_code == 200
    entry = one(opened.text, f"#meeting-decisions:not([hx-swap-oob]) #decision-{decision.id}")
    assert entry.attributes["data-roll-call"] == "open"
    assert texts(entry.html, ".decision-roll-call") == [it("Roll call open")]
    assert one(opened.text, "#announcer").text() == it("The roll call is open.")
    assert one(entry.html, f"#decision-{decision.id}-roll-call").text().startswith(it("Close the roll call"))
    room = client.get(f"{board.meeting_url}/sala").text
    assert "Saldi invernali" in one(room, "#room-roll-call").text()
    assert not css(client.get(board.meeting_url).text, f"#decision-{decision.id}-position-fold"), (
        "while it is open, each delegate records their own"
    )

    again = roll_call(client, board, decision)  # a double click changes nothing
    assert again.status_code == 200
    closed = roll_call(client, board, decision, "off")
    assert closed.status_code == 200
    assert one(closed.text, f"#decision-{decision.id}").attributes["data-roll-call"] == "closed"
    assert one(closed.text, "#announcer").text() == it("The roll call is closed.")
    assert not css(closed.text, f"#decision-{decision.id}-roll-call"), "a closed roll call does not reopen"
    assert one(client.get(f"{board.meeting_url}/sala").text, "#room-roll-call").text().strip() == ""
    reopened = roll_call(client, board, decision)
    assert reopened.status_code == 422
    assert alert_of(reopened.text) == it("The roll call on this decision is closed: it does not reopen.")
    assert [e.payload["state"] for e in board.events("decision.roll_call")] == ["open", "closed"]


def test_one_roll_call_at_a_time(client, board):
    first, second = seed_decision(board, 0), seed_decision(board, 1, text="Si prende atto.")
    open_meeting(client, board)
    assert roll_call(client, board, first).status_code == 200
    refused = roll_call(client, board, second)
    assert refused.status_code == 422
    assert alert_of(refused.text) == it(
        "The roll call on «{title}» is still open: close it first.", title="Saldi invernali"
    )
    assert current(board, second).roll_call.value == "none"


# --- positions -----------------------------------------------------------------------------------


def running_roll_call(client, board) -> Decision:
    present(board)
    decision = seed_decision(board)
    open_meeting(client, board)
    assert roll_call(client, board, decision).status_code == 200
    return decision


def mine_url(board, decision) -> str:
    return f"{decision_url(board, decision.id)}/posizione"


def theirs_url(board, decision) -> str:
    return f"{decision_url(board, decision.id)}/posizioni"


def test_the_position_form_travels_hidden_for_the_organisations_present(client, board):
    decision = running_roll_call(client, board)
    login(client, "member@example.org")
    page = client.get(board.meeting_url).text
    form = one(page, f"#decision-{decision.id} form.decision-mine")
    assert "hidden" in form.attributes, "owner.js shows it to the delegates of the organisations present"
    assert sorted(form.attributes["data-organisations"].split()) == sorted([str(board.cgil.id), str(board.ascom.id)])
    labels = texts(form.html, ".form-check label")
    assert labels == [it("In favour"), it("Against"), it("Abstains"), it("In favour with a reservation")]
    for radio in css(form.html, 'input[type="radio"]'):
        assert one(form.html, f'label[for="{radio.attributes["id"]}"]')
    login(client, "observer@example.org")
    assert not css(client.get(board.meeting_url).text, "form.decision-mine")


def test_a_delegate_records_and_changes_their_organisations_position(client, board):
    decision = running_roll_call(client, board)
    login(client, "member@example.org")
    favour = post(client, mine_url(board, decision), {"kind": "favourable"}, page=board.meeting_url)
    assert favour.status_code == 200, favour.text
    entry = one(favour.text, f"#decision-{decision.id}-organisation-{board.cgil.id}")
    assert texts(entry.html, ".position-kind") == [it("In favour")]
    assert texts(entry.html, ".position-delegate") == ["(Member)"]
    announced = it(
        "Position of {organisation} recorded: {position}.", organisation="CGIL Bologna", position=it("In favour")
    )
    assert one(favour.text, "#announcer").text() == announced
    count = one(favour.text, f"#decision-{decision.id} .decision-count")
    assert one(count.html, '[data-position="favourable"]').text() == f"{it('In favour')}: 1"

    missing = post(client, mine_url(board, decision), {"kind": "reservation", "reservation": " "})
    assert missing.status_code == 422
    assert alert_of(missing.text) == it("Write the reservation.")
    assert [p.kind.value for p in positions(board)] == ["favourable"]
    bad = post(client, mine_url(board, decision), {"kind": "maybe"})
    assert bad.status_code == 422
    assert alert_of(bad.text) == it("Choose the organisation's position.")

    reserved = post(client, mine_url(board, decision), {"kind": "reservation", "reservation": "Sui tempi."})
    assert reserved.status_code == 200
    assert texts(reserved.text, f"#decision-{decision.id}-organisation-{board.cgil.id} .position-reservation") == [
        "Sui tempi."
    ]
    repeat = post(client, mine_url(board, decision), {"kind": "reservation", "reservation": "Sui tempi."})
    assert repeat.status_code == 200
    events = board.events("decision.position")
    assert [(e.payload["position"], e.payload["before"]) for e in events] == [
        ("favourable", None),
        ("reservation", "favourable"),
    ]
    assert len(positions(board)) == 1


def test_a_delegate_names_no_other_organisation(client, board):
    decision = running_roll_call(client, board)
    login(client, "member@example.org")
    sneaky = post(client, mine_url(board, decision), {"kind": "against", "organisation": str(board.ascom.id)})
    assert sneaky.status_code == 200
    assert [(p.organisation_id, p.kind.value) for p in positions(board)] == [(board.cgil.id, "against")]
    assert (
        post(client, theirs_url(board, decision), {"organisation": str(board.ascom.id), "kind": "against"}).status_code
        == 403
    )


def test_a_delegates_refusals_are_clear_and_change_nothing(client, board):
    present(board)
    decision = seed_decision(board)
    cgil_second = board.seed.person(board.table, Role.member, "member2@example.org", board.cgil)
    open_meeting(client, board)
    login(client, "member@example.org")
    early = post(client, mine_url(board, decision), {"kind": "favourable"})
    assert early.status_code == 422
    assert alert_of(early.text) == it(
        "The roll call on this decision has not been opened: the chair opens it during the meeting."
    )
    login(client, "chair@example.org")
    assert roll_call(client, board, decision).status_code == 200

    login(client, "secretary@example.org")  # sits for CNA, which is not present
    absent = post(client, mine_url(board, decision), {"kind": "favourable"})
    assert absent.status_code == 422
    assert alert_of(absent.text) == it(
        "{organisation} is not recorded as present at this meeting: it has no position to record.",
        organisation="CNA Bologna",
    )
    login(client, "member2@example.org")  # CGIL is present, but this person is not among its delegates
    stranger = post(client, mine_url(board, decision), {"kind": "favourable"})
    assert stranger.status_code == 422
    assert alert_of(stranger.text) == it(
        "You are not among the delegates of {organisation} recorded at this meeting: check in, or ask the "
        "secretary to add your name to the attendance.",
        organisation="CGIL Bologna",
    )
    assert cgil_second.name == "Member2"
    login(client, "observer@example.org")
    assert post(client, mine_url(board, decision), {"kind": "favourable"}).status_code == 403

    login(client, "chair@example.org")
    assert roll_call(client, board, decision, "off").status_code == 200
    login(client, "member@example.org")
    late = post(client, mine_url(board, decision), {"kind": "favourable"})
    assert late.status_code == 422
    assert alert_of(late.text) == it(
        "The roll call on this decision is closed: positions are no longer recorded from the delegates' "
        "devices. Ask the secretary to record yours."
    )
    plain = post(client, mine_url(board, decision), {"kind": "favourable"}, htmx=False)
    assert plain.status_code == 422
    assert alert_of(plain.text) == alert_of(late.text), "a plain form: the meeting page says it beside the region"
    assert positions(board) == []
    assert board.events("decision.position") == []


def test_the_secretary_records_positions_outside_the_roll_call_naming_the_delegate(client, board):
    present(board)
    decision = seed_decision(board)
    login(client, "secretary@example.org")
    page = client.get(board.meeting_url).text
    fold = one(page, f"details#decision-{decision.id}-position-fold")
    names = texts(fold.html, f"#decision-{decision.id}-organisation option")
    assert names == ["CGIL Bologna (Member)", "Confcommercio Ascom Bologna (Chair)"], "only those present"
    url = theirs_url(board, decision)
    nameless = post(client, url, {"organisation": str(board.cgil.id), "kind": "against", "delegate": " "})
    assert nameless.status_code == 422
    assert alert_of(nameless.text) == it("Write the name of the delegate who gave the position.")
    plain = post(client, url, {"organisation": str(board.cgil.id), "kind": "against", "delegate": ""}, htmx=False)
    assert plain.status_code == 422
    assert alert_of(plain.text) == it("Write the name of the delegate who gave the position.")
    assert css(plain.text, f"#decision-{decision.id}-position-fold")
    two = {"organisation": str(board.cgil.id), "kind": ["against", "favourable"], "delegate": "Maria Rossi"}
    assert post(client, url, two).status_code == 400, "a radio group sends one value"
    absent = post(client, url, {"organisation": str(board.cna.id), "kind": "against", "delegate": "Carla Verdi"})
    assert absent.status_code == 422
    assert "CNA Bologna" in alert_of(absent.text)
    assert post(client, url, {"organisation": "x", "kind": "against", "delegate": "A"}).status_code == 400
    assert positions(board) == []

    saved = post(client, url, {"organisation": str(board.cgil.id), "kind": "against", "delegate": "Maria Rossi"})
    assert saved.status_code == 200
    entry = one(saved.text, f"#decision-{decision.id}-organisation-{board.cgil.id}")
    assert texts(entry.html, ".position-delegate") == [f"(Maria Rossi, {it('recorded by the secretary')})"]
    [position] = positions(board)
    assert (position.kind.value, position.delegate, position.by_secretary) == ("against", "Maria Rossi", True)

    # While the roll call is open, each delegate records their own.
    login(client, "chair@example.org")
    assert post(client, f"{board.meeting_url}/apri").status_code == 200
    assert roll_call(client, board, decision).status_code == 200
    login(client, "secretary@example.org")
    during = post(client, url, {"organisation": str(board.ascom.id), "kind": "abstains", "delegate": "Chair"})
    assert during.status_code == 422
    assert alert_of(during.text) == it(
        "The roll call is open: each organisation's delegate records its position. You can record "
        "positions on their behalf once it is closed."
    )
    assert len(positions(board)) == 1


def test_a_locked_decision_refuses_every_change(client, board):
    present(board)
    decision = seed_decision(board)
    board.seed.run(lambda s: decisions.lock_decisions(s, board.meeting.id, actor_id=None))
    locked = it("This decision is locked: the minutes are approved; corrections go through an erratum.")
    login(client, "chair@example.org")
    page = client.get(board.meeting_url).text
    entry = one(page, f"#decision-{decision.id}")
    assert texts(entry.html, ".decision-locked") == [it("Locked: the minutes are approved")]
    assert not css(entry.html, "form"), "no control on a locked decision"
    data = {"kind": "not_agreed", "text": "Cambiato.", "version": str(decision.version)}
    edit = post(client, decision_url(board, decision.id), data)
    assert edit.status_code == 422
    assert alert_of(edit.text) == locked
    login(client, "secretary@example.org")
    position = post(
        client, theirs_url(board, decision), {"organisation": str(board.cgil.id), "kind": "against", "delegate": "A"}
    )
    assert position.status_code == 422
    assert alert_of(position.text) == locked
    assert current(board, decision).text == "Si approva il calendario."
    assert positions(board) == []


# --- the decisions page --------------------------------------------------------------------------


def furnished(board):
    """Two decisions of the meeting: the first on the proposal, with positions and an action item."""
    present(board)
    proposal = board.proposal()
    board.seed.run(lambda s: proposals.link_item(s, board.table, proposal.id, board.items[0].id, actor=chair(board)))
    first = seed_decision(board, 0, proposal_id=proposal.id)
    second = seed_decision(board, 1, kind="not_agreed", text="Non si approva.")

    def position(decision, organisation, kind, delegate):
        return board.seed.run(
            lambda s: decisions.record_position(
                s,
                board.table,
                decision.id,
                organisation_id=organisation.id,
                kind=kind,
                delegate=delegate,
                actor=Actor(board.secretary.id, Role.secretary),
            )
        )

    position(first, board.cgil, "favourable", "Member")
    position(first, board.ascom, "against", "Chair")
    position(second, board.cgil, "against", "Member")
    values = actions.parse_action(title="Calendario unico", description="", owner=str(board.member.id), due_on="")
    action = board.seed.run(
        lambda s: actions.create_action(s, board.table, values, actor_id=None, origin_item_id=board.items[0].id)
    )
    return proposal, first, second, action


def test_the_decisions_page_links_each_decision_to_its_item_proposal_and_action_items(client, board):
    proposal, first, second, action = furnished(board)
    login(client, "observer@example.org")
    page = client.get(list_url(board))
    assert page.status_code == 200
    listed = css(page.text, "#decision-list article.decision")
    assert [a.attributes["id"] for a in listed] == [f"decision-{first.id}", f"decision-{second.id}"]
    entry = one(page.text, f"#decision-{first.id}")
    assert one(entry.html, "h3 a").attributes["href"] == f"{board.meeting_url}#item-{board.items[0].id}"
    assert (
        one(entry.html, ".decision-proposal a").attributes["href"]
        == f"/tavoli/{board.table.slug}/proposte/{proposal.id}"
    )
    assert (
        one(entry.html, "ul.decision-actions a").attributes["href"] == f"/tavoli/{board.table.slug}/azioni/{action.id}"
    )
    assert texts(entry.html, ".position-organisation") == ["CGIL Bologna", "Confcommercio Ascom Bologna"]
    assert one(page.text, "#live").attributes["ws-connect"] == f"/ws/tavoli/{board.table.slug}?elenco=decisioni"
    assert css(page.text, 'form.decision-filters select[name="seduta"]')
    assert one(page.text, 'label[for="field-posizione"]')


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("posizione=against", ["first", "second"]),
        ("posizione=favourable", ["first"]),
        ("posizione=abstains", []),
        ("organizzazione={ascom}", ["first"]),
        ("organizzazione={ascom}&posizione=favourable", []),
        ("organizzazione={cgil}&posizione=against", ["second"]),
        ("seduta={meeting}", ["first", "second"]),
        ("organizzazione={cna}", []),
    ],
)
def test_the_decisions_page_filters_combine(client, board, query, expected):
    _proposal, first, second, _action = furnished(board)
    ids = {"first": first.id, "second": second.id}
    login(client, "member@example.org")
    address = query.format(ascom=board.ascom.id, cgil=board.cgil.id, cna=board.cna.id, meeting=board.meeting.id)
    page = client.get(f"{list_url(board)}?{address}")
    assert page.status_code == 200
    shown = [a.attributes["id"] for a in css(page.text, "#decision-list article.decision")]
    assert shown == [f"decision-{ids[name]}" for name in expected]
    assert one(page.text, "#live").attributes["ws-connect"].endswith("elenco=decisioni&" + address)


@pytest.mark.parametrize(
    "query",
    [
        "posizione=unanimous",
        "seduta=abc",
        "seduta={other_meeting}",
        "organizzazione=99999",
        "organizzazione=-1",
        "ordine=x",
    ],
)
def test_a_filter_outside_the_form_is_a_400_with_a_message(client, board, query):
    login(client, "member@example.org")
    page = client.get(f"{list_url(board)}?{query.format(other_meeting=board.other_meeting.id)}")
    assert page.status_code == 400
    assert it(FILTER_REFUSED) in page.text


def test_who_reads_the_decisions_page(client, board):
    seed_decision(board)
    assert client.get(list_url(board), follow_redirects=False).status_code == 303  # log in first
    login(client, "outsider@example.org")
    assert client.get(list_url(board)).status_code == 404
    login(client, "admin@example.org")
    assert client.get(list_url(board)).status_code == 200


def test_the_table_home_shows_the_latest_decisions_and_links_to_them(client, board):
    decision = seed_decision(board)
    login(client, "member@example.org")
    home = client.get(f"/tavoli/{board.table.slug}").text
    region = one(home, "#decisions")
    assert one(region.html, "li a").attributes["href"] == f"{board.meeting_url}#item-{board.items[0].id}"
    assert css(region.html, f'a[href="{list_url(board)}"]')
    meeting_page = client.get(board.meeting_url).text
    assert css(meeting_page, f'#meeting-decisions a[href="{list_url(board)}?seduta={board.meeting.id}"]')
    assert decision.item_id == board.items[0].id


# --- one act: the proposal's outcome records its item's decision ----------------------------------


def discussed(board):
    proposal = board.proposal()
    for item in board.items[:2]:
        board.seed.run(lambda s, i=item: proposals.link_item(s, board.table, proposal.id, i.id, actor=chair(board)))
    return board.seed.run(
        lambda s: proposals.set_status(
            s, board.table, proposal.id, ProposalStatus.under_discussion, version=proposal.version, actor=chair(board)
        )
    )


def test_the_outcome_at_an_agenda_item_records_its_decision_in_one_act(client, board):
    proposal = discussed(board)
    url = f"/tavoli/{board.table.slug}/proposte/{proposal.id}"
    login(client, "chair@example.org")
    page = client.get(url).text
    select = one(page, "select#field-outcome-item")
    assert one(page, 'label[for="field-outcome-item"]').text() == it("At agenda item")
    assert [o.attributes["value"] for o in css(select.html, "option")] == [
        str(board.items[1].id),
        str(board.items[0].id),
    ]
    data = {"status": "approved", "outcome": "Approvata all'unanimità.", "version": str(proposal.version)}
    moved = post(client, f"{url}/stato", {**data, "item": str(board.items[0].id)}, htmx=False, page=url)
    assert moved.status_code == 303
    [decision] = decision_rows(board)
    assert (decision.item_id, decision.kind.value, decision.proposal_id) == (board.items[0].id, "agreed", proposal.id)
    assert decision.text == "Approvata all'unanimità."
    meeting_page = client.get(board.meeting_url).text
    assert one(meeting_page, f"#decision-{decision.id} .decision-proposal a").text() == "Saldi in una data unica"


def test_an_outcome_at_an_item_where_the_proposal_was_not_discussed_is_refused(client, board):
    proposal = discussed(board)
    url = f"/tavoli/{board.table.slug}/proposte/{proposal.id}"
    login(client, "chair@example.org")
    data = {"status": "rejected", "outcome": "Respinta.", "version": str(proposal.version)}
    refused = post(client, f"{url}/stato", {**data, "item": str(board.items[2].id)}, htmx=False, page=url)
    assert refused.status_code == 422
    assert texts(refused.text, '#proposal [role="alert"]') == [
        it("Choose an agenda item where this proposal was discussed.")
    ]
    assert board.current(type(proposal), proposal.id).status is ProposalStatus.under_discussion
    assert decision_rows(board) == []
    assert post(client, f"{url}/stato", {**data, "item": "abc"}, htmx=False, page=url).status_code == 400


# --- the action item's link back -----------------------------------------------------------------


def test_an_action_item_links_back_to_the_decision_on_its_item(client, board):
    values = actions.parse_action(title="Calendario", description="", owner=str(board.member.id), due_on="")
    action = board.seed.run(
        lambda s: actions.create_action(s, board.table, values, actor_id=None, origin_item_id=board.items[0].id)
    )
    login(client, "member@example.org")
    page = client.get(f"/tavoli/{board.table.slug}/azioni/{action.id}").text
    link = one(page, "#action a.action-decision").attributes["href"]
    assert link == f"{list_url(board)}/punti/{board.items[0].id}"
    before = client.get(link, follow_redirects=False)
    assert before.status_code == 303
    assert before.headers["location"].endswith(f"{board.meeting_url}#meeting-decisions"), (
        "none yet: where it is recorded"
    )
    decision = seed_decision(board)
    after = client.get(link, follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"] == f"{list_url(board)}?seduta={board.meeting.id}#decision-{decision.id}"
    assert client.get(f"{list_url(board)}/punti/{board.other_item.id}").status_code == 404
