"""In a real browser: two people on one meeting page; what the chair does appears on the member's
page without a reload, announced politely; after a server restart the page catches up."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, start_server
from tests.support import Board

pytestmark = pytest.mark.browser


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


def titles(page):
    return [t.split(" ", 1)[1] for t in page.locator("#agenda li.agenda-item h3").all_inner_texts()]


def test_the_members_page_follows_the_chair_and_catches_up_after_a_restart(
    browser, server, board, database_url, tmp_path, console
):
    # While the server is down, the browser and htmx's websocket extension say each failed attempt.
    console.allow(r"WebSocket connection to '.*' failed", r": \[object Event\] \[")
    chair = browser.new_context().new_page()
    member = browser.new_context().new_page()
    log_in(chair, server, "chair@example.org")
    log_in(member, server, "member@example.org")
    meeting = f"{server.url}{board.meeting_url}"
    chair.goto(meeting)
    member.goto(meeting)
    expect(member.locator("#live-status")).to_have_attribute("data-state", "open")
    expect(member.locator("#presence")).to_contain_text("Chair")
    member.evaluate("() => { window.notReloaded = true; }")

    # The chair reorders the agenda: the member's page follows.
    last = board.items[2].id
    chair.locator(f"#item-{last}-up").click()
    expect(member.locator(f"#item-{last} .agenda-number")).to_have_text("2.")
    assert titles(member) == ["Saldi invernali", "Varie ed eventuali", "Distretti del commercio"]

    # The chair opens the discussion of an item: framed on the member's page, and announced.
    first = board.items[0].id
    chair.locator(f"#item-{first}-current").click()
    expect(member.locator(f"#item-{first}.agenda-item-current")).to_have_count(1)
    expect(member.locator(f"#item-{first} .agenda-status")).to_have_text("In discussione")
    expect(member.locator("#announcer")).to_have_text("Chair ha aperto la discussione su «Saldi invernali».")
    assert member.evaluate("() => document.activeElement === document.body || !document.activeElement.id"), (
        "the announcement does not move the focus"
    )

    # The server restarts; meanwhile the chair changes the agenda through another instance.
    server.stop()
    expect(member.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    other = start_server(database_url, tmp_path)
    try:
        chair.goto(f"{other.url}{board.meeting_url}")
        chair.locator(f"#item-{board.items[1].id}-up").click()
        expect(chair.locator(f"#item-{board.items[1].id} .agenda-number")).to_have_text("2.")
    finally:
        other.stop()
    restarted = start_server(database_url, tmp_path, port=int(server.url.rsplit(":", 1)[1]))
    try:
        expect(member.locator("#live-status")).to_have_attribute("data-state", "open", timeout=30_000)
        expect(member.locator(f"#item-{board.items[1].id} .agenda-number")).to_have_text("2.")
        assert titles(member) == ["Saldi invernali", "Distretti del commercio", "Varie ed eventuali"]
        assert member.evaluate("() => window.notReloaded === true"), "caught up through the socket, not a reload"
    finally:
        restarted.stop()
    chair.context.close()
    member.context.close()


def test_a_page_whose_session_ends_says_so_and_stops(browser, server, board):
    member = browser.new_context().new_page()
    log_in(member, server, "member@example.org")
    member.goto(f"{server.url}/tavoli/{board.table.slug}")
    expect(member.locator("#live-status")).to_have_attribute("data-state", "open")
    other_tab = member.context.new_page()
    other_tab.goto(f"{server.url}/")
    other_tab.get_by_role("button", name="Esci").click()
    expect(member.locator("#live-status")).to_have_attribute("data-state", "ended")
    expect(member.locator("#live-status")).to_contain_text("La sessione è terminata")
    member.context.close()


def test_typing_in_a_region_is_not_wiped_by_a_push(browser, server, board):
    secretary = browser.new_context().new_page()
    chair = browser.new_context().new_page()
    log_in(secretary, server, "secretary@example.org")
    log_in(chair, server, "chair@example.org")
    meeting = f"{server.url}{board.meeting_url}"
    secretary.goto(meeting)
    chair.goto(meeting)
    expect(secretary.locator("#live-status")).to_have_attribute("data-state", "open")
    for page in (secretary, chair):  # the attendance form is a disclosure
        page.locator("#attendance-edit > summary").click()
    delegates = secretary.get_by_label("Delegati presenti per CGIL Bologna")
    delegates.fill("Marco Zanotti")  # typing, not saved yet
    chair.get_by_role("checkbox", name="CNA Bologna").press("Space")
    chair.get_by_role("button", name="Salva le presenze").click()
    expect(secretary.locator("#attendance .newer-version")).to_be_visible()
    assert delegates.input_value() == "Marco Zanotti", "what the secretary typed is still there"
    secretary.locator("#attendance .newer-version button").click()
    expect(secretary.get_by_role("checkbox", name="CNA Bologna")).to_be_checked()
    secretary.context.close()
    chair.context.close()
