"""In a real browser, keyboard only: the chair records an item's decision and opens its roll call, two
delegates of different organisations record their positions from their own pages (one with a
reservation), everyone and the room screen see them come, the chair closes it; axe on the meeting
page during a roll call, on the room screen and on the decisions page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from server.db.models import AgendaStatus, Role
from server.domain import agenda, decisions, meeting_life, meetings, room_links
from server.domain.actions import Actor
from tests.e2e.conftest import SECRET, assert_accessible, log_in
from tests.support import Board

pytestmark = pytest.mark.browser


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


def in_progress(board):
    """CISL joins the table (its delegate: member2); CGIL, CISL and Confcommercio Ascom present with
    their delegates' names; the meeting open, its first item under discussion."""
    cisl = board.seed.org("CISL Bologna")
    board.seed.person(board.table, Role.member, "member2@example.org", cisl)
    marks = {board.cgil.id: (True, "Member"), cisl.id: (True, "Member2"), board.ascom.id: (True, "Chair")}
    board.seed.run(
        lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=0, actor_id=None)
    )
    board.seed.run(lambda s: meeting_life.open_meeting(s, board.table, board.meeting.id, actor_id=board.chair.id))
    item = board.items[0]
    board.seed.run(
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, item.id, AgendaStatus.current, version=1, actor_id=board.chair.id
        )
    )
    return cisl


def press(page, selector):
    """Reach a control as the keyboard does (the focus on it) and press Enter."""
    page.locator(selector).focus()
    page.keyboard.press("Enter")


def choose(page, selector):
    """Tick a radio button with the keyboard (the focus on it, then Space)."""
    page.locator(selector).focus()
    page.keyboard.press("Space")


def type_into(page, selector, text):
    page.locator(selector).focus()
    page.keyboard.type(text)


def test_a_roll_call_with_the_chair_and_two_delegates_keyboard_only(browser, server, board):
    in_progress(board)
    meeting_path = f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}"
    made = board.seed.run(
        lambda s: room_links.create_link(s, board.table, board.meeting.id, key=SECRET, actor_id=board.chair.id)
    )
    screen = browser.new_page()
    screen.goto(f"{meeting_path}/sala#t={made.secret}")
    expect(screen.locator("#live-status")).to_have_attribute("data-state", "open")
    pages = {}
    for email in ("chair@example.org", "member@example.org", "member2@example.org"):
        page = browser.new_page()
        log_in(page, server, email)
        page.goto(meeting_path)
        expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
        pages[email.split("@")[0]] = page
    chair, cgil, cisl = pages["chair"], pages["member"], pages["member2"]

    # The chair records the decision on the item under discussion (preselected).
    press(chair, "#decision-new > summary")
    expect(chair.locator("#decision-new-text")).to_be_visible()
    expect(chair.locator("#decision-new-item")).to_have_value(str(board.items[0].id))
    type_into(chair, "#decision-new-text", "Si approva il calendario unico dei saldi.")
    press(chair, "#decision-new-save")
    decision = cgil.locator("#meeting-decisions .decision")
    expect(decision).to_have_count(1)
    expect(decision.locator(".decision-text")).to_contain_text("calendario unico")
    decision_id = decision.get_attribute("id").split("-")[1]
    entry = f"#decision-{decision_id}"

    # No roll call yet: the delegates have nothing to record from their pages.
    expect(cgil.locator(f"{entry} form.decision-mine")).to_have_count(0)
    press(chair, f"{entry}-roll-call")
    for page in (cgil, cisl):
        expect(page.locator(f"{entry} form.decision-mine")).to_be_visible()
    expect(chair.locator(f"{entry}-roll-call")).to_contain_text("Chiudi l'appello")
    expect(screen.locator("#room-roll-call .room-item-title")).to_contain_text("Saldi invernali")

    choose(cgil, f"{entry}-mine-favourable")
    press(cgil, f"{entry}-mine-save")
    expect(chair.locator(f"{entry} .decision-position")).to_have_count(1)
    expect(screen.locator("#room-roll-call .room-positions li")).to_have_text(["CGIL Bologna: Favorevole"])

    choose(cisl, f"{entry}-mine-reservation")
    type_into(cisl, f"{entry}-mine-reservation-text", "Sui tempi di avvio.")
    press(cisl, f"{entry}-mine-save")
    expect(screen.locator("#room-roll-call .room-positions li")).to_have_count(2)
    expect(screen.locator("#room-roll-call .room-positions li").nth(1)).to_contain_text("Sui tempi di avvio.")
    for page in (chair, cgil, cisl):
        expect(page.locator(f"{entry} .decision-position")).to_have_count(2)
        expect(page.locator(f"{entry} .positions-given")).to_have_text("2 di 3 organizzazioni presenti")

    # CGIL changes its mind while the roll call is open.
    choose(cgil, f"{entry}-mine-against")
    press(cgil, f"{entry}-mine-save")
    expect(chair.locator(f"{entry} [data-position='against'] .position-organisation")).to_have_text("CGIL Bologna")
    expect(screen.locator("#room-roll-call .room-positions li").first).to_have_text("CGIL Bologna: Contrario")

    press(chair, f"{entry}-roll-call")
    expect(screen.locator("#room-roll-call")).to_be_empty()
    for page in (cgil, cisl):
        expect(page.locator(f"{entry}")).to_have_attribute("data-roll-call", "closed")
        expect(page.locator(f"{entry} form.decision-mine")).to_have_count(0)
    expect(chair.locator(f"{entry} .decision-roll-call")).to_have_text("Appello chiuso")


@pytest.mark.parametrize("email", ["chair@example.org", "member@example.org"])
def test_axe_finds_no_violation_on_a_roll_call_and_the_decisions_page(browser, server, board, email):
    cisl = in_progress(board)
    chair = Actor(board.chair.id, Role.chair)
    decision = board.seed.run(
        lambda s: decisions.record_decision(
            s, board.table, board.items[0].id, kind="agreed", text="Si **approva**.", proposal_id=None, actor=chair
        )
    )
    board.seed.run(lambda s: decisions.open_roll_call(s, board.table, decision.id, actor=chair))
    board.seed.run(
        lambda s: decisions.record_position(
            s,
            board.table,
            decision.id,
            organisation_id=board.ascom.id,
            kind="reservation",
            reservation="Sulle date.",
            actor=chair,
        )
    )
    assert cisl.name == "CISL Bologna"
    page = browser.new_context(bypass_csp=True).new_page()  # lets the injected axe-core run
    log_in(page, server, email)
    base = f"{server.url}/tavoli/{board.table.slug}"
    page.goto(f"{base}/sedute/{board.meeting.id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    if email.startswith("chair"):  # its folded form, open
        page.locator(f"#decision-{decision.id}-edit-fold > summary").click()
        expect(page.locator(f"#decision-{decision.id}-text")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{base}/sedute/{board.meeting.id}/sala")
    expect(page.locator("#room-roll-call .room-positions li")).to_have_count(1)
    assert_accessible(page)
    page.goto(f"{base}/decisioni")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    expect(page.locator("#decision-list article.decision")).to_have_count(1)
    assert_accessible(page)
