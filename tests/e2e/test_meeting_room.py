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
