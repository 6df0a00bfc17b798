"""In a real browser: the room screen opened with a room link (its secret exchanged from the fragment,
then gone from the address), following the meeting live with its clocks ticking, closed when the
link is revoked; axe on the room screen and on the meeting page of a meeting in progress."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from server.db.models import AgendaStatus
from server.domain import agenda, meeting_life, meetings, room_links, speakers
from tests.e2e.conftest import SECRET, assert_accessible, log_in
from tests.support import Board

pytestmark = pytest.mark.browser


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


def running(board):
    """The board's meeting in progress: attendance, its first item under discussion, one
    organisation speaking, a point of order and a request waiting."""
    seed = board.seed
    marks = {o.id: (True, "") for o in (board.cgil, board.ascom, board.cna)}
    seed.run(lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=0, actor_id=None))
    seed.run(lambda s: meeting_life.open_meeting(s, board.table, board.meeting.id, actor_id=board.chair.id))
    item = board.items[0]
    seed.run(
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, item.id, AgendaStatus.current, version=1, actor_id=board.chair.id
        )
    )

    def add(organisation, point_of_order=False):
        return seed.run(
            lambda s: speakers.add(
                s, board.table, board.meeting.id, item.id, organisation.id, actor_id=None, point_of_order=point_of_order
            )
        )

    first = add(board.ascom)
    seed.run(lambda s: speakers.start(s, board.table, board.meeting.id, first.id, actor_id=board.chair.id))
    add(board.cgil)
    return add(board.cna, point_of_order=True)


def room_link(board):
    return board.seed.run(
        lambda s: room_links.create_link(s, board.table, board.meeting.id, key=SECRET, actor_id=board.chair.id)
    )


def test_a_room_link_opens_the_room_screen_which_follows_the_meeting(browser, server, board):
    waiting = running(board)
    made = room_link(board)
    room_path = f"/tavoli/{board.table.slug}/sedute/{board.meeting.id}/sala"
    # bypass_csp lets the injected axe-core run (the page's own scripts are checked elsewhere).
    screen = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True).new_page()
    screen.goto(f"{server.url}{room_path}#t={made.secret}")
    expect(screen.locator("#room .room-meeting")).to_contain_text("Seduta di dicembre")
    assert screen.url == f"{server.url}{room_path}", "the secret left the address"
    expect(screen.locator("#live-status")).to_have_attribute("data-state", "open")
    expect(screen.locator("#room .room-speaker-name").first).to_contain_text("Confcommercio Ascom Bologna")
    expect(screen.locator("#room .room-next li").first).to_contain_text("CNA Bologna")
    expect(screen.locator("#room .room-next li").first).to_contain_text("Mozione d'ordine")
    # The countdown ticks on the page between pushes.
    countdown = screen.locator("#room .room-countdown .clock")
    before = countdown.inner_text()
    expect(countdown).not_to_have_text(before, timeout=5000)
    assert_accessible(screen)

    chair = browser.new_context().new_page()
    log_in(chair, server, "chair@example.org")
    chair.goto(f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}")
    expect(chair.locator("#live-status")).to_have_attribute("data-state", "open")
    chair.locator(f"#speaker-{waiting.id}-start").click()
    expect(screen.locator("#room .room-speaker-name").first).to_contain_text("CNA Bologna")
    expect(chair.locator("#speakers .current-speaker")).to_contain_text("CNA Bologna")

    # The chair revokes the link: the screen stops and says why.
    chair.locator("#room-links-manage > summary").click()  # the room links are folded
    chair.locator(f"#room-link-{made.link.id}-revoke").click()
    expect(screen.locator("#live-status")).to_have_text(re.compile("non è più valido"))
    screen.reload()
    expect(screen.locator("#room-door-message")).to_be_visible()
    assert screen.locator("#room").count() == 0


def test_a_revoked_room_link_is_refused_at_the_door(browser, server, board, console):
    made = room_link(board)
    board.seed.run(
        lambda s: room_links.revoke_link(s, board.table, board.meeting.id, made.link.id, actor_id=board.chair.id)
    )
    console.allow(r"status of 403")  # the exchange's refusal, which the page then explains
    screen = browser.new_page()
    screen.goto(f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}/sala#t={made.secret}")
    expect(screen.locator("#room-door-message")).to_contain_text("non è valido")
    assert "#t=" not in screen.url


@pytest.mark.parametrize("email", ["chair@example.org", "member@example.org"])
def test_axe_finds_no_violation_on_the_room_screen_and_the_running_meeting(browser, server, board, email):
    running(board)
    page = browser.new_context(bypass_csp=True).new_page()  # lets the injected axe-core run
    log_in(page, server, email)
    page.goto(f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}/sala")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    assert_accessible(page)
    page.goto(f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    assert_accessible(page)


def focused(page):
    return page.evaluate("document.activeElement && document.activeElement.id")


def press(page, selector):
    """Reach a control as the keyboard does (the focus on it, in view) and press Enter."""
    page.locator(selector).focus()
    page.keyboard.press("Enter")


def test_the_chair_runs_an_item_from_the_requests_to_speak_to_discussed_by_keyboard(browser, server, board):
    from server.db.models import Role

    cisl = board.seed.org("CISL Bologna")
    board.seed.person(board.table, Role.member, "member2@example.org", cisl)
    marks = {o.id: (True, "") for o in (board.cgil, cisl, board.ascom)}
    board.seed.run(
        lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=0, actor_id=None)
    )
    made = room_link(board)
    meeting_path = f"/tavoli/{board.table.slug}/sedute/{board.meeting.id}"
    first = board.items[0].id

    screen = browser.new_page()
    screen.goto(f"{server.url}{meeting_path}/sala#t={made.secret}")
    expect(screen.locator("#live-status")).to_have_attribute("data-state", "open")
    pages = {}
    for email in ("chair@example.org", "member@example.org", "member2@example.org"):
        page = browser.new_page()
        log_in(page, server, email)
        page.goto(f"{server.url}{meeting_path}")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
        pages[email.split("@")[0]] = page
    chair, member, member2 = pages["chair"], pages["member"], pages["member2"]

    press(chair, "#meeting-open")
    expect(screen.locator("#room .room-status")).to_contain_text("In corso")
    expect(member.locator(".meeting-status")).to_have_text("In corso")
    assert focused(chair) == "meeting-close", "the focus stays in the meeting's controls"
    press(chair, f"#item-{first}-current")
    expect(screen.locator("#room .room-item-title")).to_contain_text("Saldi invernali")
    expect(member.locator("#speakers-ask")).to_be_visible()

    member.locator("#speakers-ask").click()
    # One after the other: the second asks once the first request has reached their page (a click on
    # a button that a push is replacing at that instant is a race of its own, not this test's subject).
    expect(member2.locator(".speakers-waiting li")).to_have_count(1)
    member2.locator("#speakers-ask").click()
    expect(screen.locator("#room .room-next li")).to_have_count(2)
    expect(member.locator("#speakers .speakers-waiting li")).to_have_count(2)
    expect(member.locator("#speakers-ask")).to_be_hidden()  # asked already: the button is gone for CGIL
    expect(member2.locator(".speakers-waiting li").first.locator("button[id$=-withdraw]")).to_be_hidden()
    waiting = chair.locator("#speakers .speakers-waiting li")
    expect(waiting).to_have_count(2)
    cgil_id = waiting.nth(0).get_attribute("id").split("-")[1]
    cisl_id = waiting.nth(1).get_attribute("id").split("-")[1]

    press(chair, f"#speaker-{cgil_id}-start")
    expect(screen.locator("#room .room-speaker-name").first).to_contain_text("CGIL Bologna")
    expect(member2.locator("#speakers .current-speaker")).to_contain_text("CGIL Bologna")
    assert focused(chair) == "speaker-stop", "the focus moves to the next thing the chair does"
    press(chair, f"#speaker-{cisl_id}-start")
    expect(screen.locator("#room .room-speaker-name").first).to_contain_text("CISL Bologna")
    press(chair, "#speaker-stop")
    expect(screen.locator("#room .room-speaker-name").first).to_have_text("Nessuno ha la parola.")
    expect(chair.locator("#speakers .speakers-spoke li")).to_have_count(2)
    expect(member.locator("#speakers .speakers-spoke li").first).to_contain_text("CGIL Bologna")

    press(chair, f"#item-{first}-done")
    for page in (chair, member, member2):
        expect(page.locator(f"#item-{first} .agenda-status")).to_have_text("Trattato")
    expect(screen.locator("#room .room-item-title")).to_have_text("Nessuno")
    expect(member.locator("#speakers")).to_contain_text("Chi è intervenuto, punto per punto")
