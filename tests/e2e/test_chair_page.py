"""In a real browser: the chair's meeting page on a meeting day.

Two bugs that a new user met (issue 14): a refusal (409) wiped by the live push that followed it,
and a keyboard move that scrolled the page away from the focused control. Then the page itself:
on a phone, by drag handle, and under axe.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, log_in
from tests.support import Board

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# Counts the pushed frames that carried the agenda region: the signal that a push has landed.
COUNT_AGENDA_PUSHES = """
window.agendaPushes = 0;
document.addEventListener("htmx:wsAfterMessage", (event) => {
  if (String(event.detail.message).includes('id="agenda"')) window.agendaPushes += 1;
});
"""


@pytest.fixture
def board(browser_seed: Any) -> Board:
    return Board(browser_seed)


def add_items(board: Board, *titles: str) -> None:
    from server.domain import agenda

    for title in titles:
        board.seed.run(
            lambda s, t=title: agenda.add_item(
                s,
                board.table,
                board.meeting.id,
                agenda.parse_item(title=t, description="", presenter="", planned_minutes="10"),
                actor_id=board.chair.id,
            )
        )


SIX = ("Mercati rionali", "Dehors estivi", "Bandi per le botteghe storiche")


def item_ids(page: Any) -> list[int]:
    return [int(i) for i in page.locator("#agenda li.agenda-item").evaluate_all("els => els.map(e => e.dataset.item)")]


def open_menu(page: Any, item_id: int) -> None:
    """Open an item's menu of further actions with the keyboard."""
    summary = page.locator(f"#item-{item_id}-menu > summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#item-{item_id}-menu")).to_have_attribute("open", "")


def open_meeting(page: Any, server: Any, board: Board) -> None:
    """Go to the meeting page and wait for the socket's first state (which replaces the agenda)."""
    page.goto(f"{server.url}{board.meeting_url}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open", timeout=15_000)
    page.wait_for_function("() => window.agendaPushes >= 1")


def new_page(browser: Any, server: Any, email: str, **options: Any) -> Any:
    page = browser.new_context(**options).new_page()
    page.add_init_script(COUNT_AGENDA_PUSHES)
    log_in(page, server, email)
    return page


def test_a_refusal_stays_on_screen_after_the_push_that_follows_it(browser, server, board, console):
    console.allow(r"status of 409")  # the secretary's refused request, as Chromium logs it
    chair = new_page(browser, server, "chair@example.org")
    secretary = new_page(browser, server, "secretary@example.org")
    # The secretary's network is slow: the pushes to her page wait until the test lets them go, so
    # that her click leaves while her page still shows the item as she loaded it (as when two
    # people click at once).
    held: list[str] = []
    release: dict[str, Any] = {}

    def slow_socket(ws: Any) -> None:
        upstream = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if release.get("open"):
                ws.send(message)
            else:
                held.append(message)  # type: ignore[arg-type]

        upstream.on_message(from_server)
        release["socket"] = ws

    secretary.route_web_socket("**/ws/**", slow_socket)
    open_meeting(chair, server, board)
    release["open"] = True  # until the first state has arrived
    open_meeting(secretary, server, board)
    release["open"] = False

    moved = board.items[2].id
    chair.locator(f"#item-{moved}-up").click()
    expect(chair.locator(f"#item-{moved} .agenda-number")).to_have_text("2.")
    # The secretary, on the page she loaded, defers the same item: refused (409).
    open_menu(secretary, moved)
    secretary.locator(f"#item-{moved}-deferred").click()
    refusal = "Qualcun altro ha modificato questo punto nel frattempo"
    notice = secretary.get_by_role("alert").filter(has_text=refusal)
    expect(notice).to_have_count(1)
    # Now the push of the chair's move reaches her page.
    pushes_before = secretary.evaluate("window.agendaPushes")
    release["open"] = True
    for message in held:
        release["socket"].send(message)
    held.clear()
    secretary.wait_for_function("(n) => window.agendaPushes > n", arg=pushes_before)
    expect(secretary.locator(f"#item-{moved} .agenda-number")).to_have_text("2.")
    # The refusal is still there, until she has read it; the item was not deferred.
    expect(notice).to_have_count(1)
    expect(secretary.locator(f"#item-{moved} .agenda-status")).to_have_text("Da trattare")
    # It is said in the notice beside the agenda, naming what was not done.
    expect(secretary.locator("#agenda-notice")).to_contain_text(
        "«Varie ed eventuali» non è stato segnato come «Rinviato». " + refusal
    )
    expect(secretary.locator("#agenda #agenda-notice")).to_have_count(0)
    # She closes it when she has read it.
    secretary.get_by_role("button", name="Chiudi il messaggio").click()
    expect(notice).to_have_count(0)


def test_a_keyboard_move_keeps_the_focus_on_the_moved_item_in_view(browser, server, board):
    add_items(board, *SIX)
    page = new_page(browser, server, "chair@example.org", viewport=PHONE)
    open_meeting(page, server, board)
    ids = item_ids(page)
    moved = ids[4]
    up = page.locator(f"#item-{moved}-up")
    up.scroll_into_view_if_needed()
    up.focus()
    before = page.evaluate("window.scrollY")
    pushes = page.evaluate("window.agendaPushes")
    page.keyboard.press("Enter")
    expect(page.locator(f"#item-{moved} .agenda-number")).to_have_text("4.")
    page.wait_for_function("(n) => window.agendaPushes > n", arg=pushes)  # one's own push has landed too
    assert page.evaluate("document.activeElement.id") == f"item-{moved}-up", "the focus stays on the control"
    box = page.evaluate(
        "() => { const r = document.activeElement.getBoundingClientRect(); return [r.top, r.bottom, innerHeight]; }"
    )
    assert box[0] >= 0, f"the focused control is in view: {box}"
    assert box[1] <= box[2], f"the focused control is in view: {box}"
    after = page.evaluate("window.scrollY")
    assert abs(after - before) < 200, f"the page jumped from {before} to {after}"


# The regions of the meeting page, measured one by one so that a failure says where the height went.
MEASURE_REGIONS = """
() => {
  const ids = ["meeting-details", "agenda", "speakers", "agenda-add", "attendance", "meeting-time",
               "quorum", "room-links", "presence"];
  const heights = {};
  for (const id of ids) {
    const element = document.getElementById(id);
    heights[id] = element ? Math.round(element.getBoundingClientRect().height) : null;
  }
  return heights;
}
"""


def in_progress(board: Board) -> None:
    """The board's meeting on its day: everyone present, opened by the chair, its first item under
    discussion."""
    from server.db.models import AgendaStatus
    from server.domain import agenda, meeting_life, meetings

    marks = {o.id: (True, "") for o in (board.cgil, board.ascom, board.cna)}
    board.seed.run(
        lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=0, actor_id=None)
    )
    board.seed.run(lambda s: meeting_life.open_meeting(s, board.table, board.meeting.id, actor_id=board.chair.id))
    board.seed.run(
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, board.items[0].id, AgendaStatus.current, version=1, actor_id=None
        )
    )


def test_on_a_phone_the_chairs_whole_page_with_six_items_fits_in_three_screens(browser, server, board):
    add_items(board, *SIX)
    in_progress(board)
    page = new_page(browser, server, "chair@example.org", viewport=PHONE)
    open_meeting(page, server, board)
    expect(page.locator("#agenda li.agenda-item")).to_have_count(6)
    expect(page.locator(".meeting-status")).to_have_text("In corso")
    current = board.items[0].id
    expect(page.locator(f"#item-{current}.agenda-item-current")).to_have_count(1)
    # What the chair needs first is on the page, not folded away: the current item's primary action,
    # the list of speakers with its controls, the time, the meeting's own control.
    for needed in (f"#item-{current}-done", "#speakers-add", "#meeting-time .time-item", "#meeting-close"):
        expect(page.locator(needed)).to_be_visible()
    # The whole page, header and footer included, in at most three screens.
    height = page.evaluate("document.documentElement.scrollHeight")
    regions = page.evaluate(MEASURE_REGIONS)
    assert height <= 3 * PHONE["height"], f"the chair's page is {height} px tall: {regions}"
    assert regions["agenda"] <= PHONE["height"], f"the agenda alone is {regions['agenda']} px tall"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "nothing scrolls sideways"


def test_a_folded_control_stays_open_with_the_focus_through_the_push_it_causes(browser, server, board):
    page = new_page(browser, server, "chair@example.org", viewport=PHONE)
    open_meeting(page, server, board)
    settings = page.locator("#meeting-settings")
    expect(settings).not_to_have_attribute("open", "")
    expect(page.locator("#check-in-toggle")).to_be_hidden()  # folded: the agenda comes first
    summary = page.get_by_text("Impostazioni della seduta")
    summary.focus()
    page.keyboard.press("Enter")
    expect(settings).to_have_attribute("open", "")
    toggle = page.locator("#check-in-toggle")
    expect(toggle).to_have_text("Apri la registrazione delle presenze")
    toggle.focus()
    page.keyboard.press("Enter")
    # The push replaces the meeting's details: the disclosure is still open, the focus on the button.
    expect(toggle).to_have_text("Chiudi la registrazione delle presenze")
    expect(settings).to_have_attribute("open", "")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'check-in-toggle'")
    # Closed by the person, it stays closed through the next push.
    summary.click()
    expect(settings).not_to_have_attribute("open", "")
    page.locator("#meeting-open").click()  # a push that replaces the meeting's details again
    expect(page.locator(".meeting-status")).to_have_text("In corso")
    expect(settings).not_to_have_attribute("open", "")


def test_the_drag_handle_reorders_the_agenda(browser, server, board):
    add_items(board, *SIX)
    page = new_page(browser, server, "chair@example.org", viewport={"width": 1280, "height": 1200})
    open_meeting(page, server, board)
    ids = item_ids(page)
    dragged = ids[4]
    page.locator("#agenda-title").evaluate("(title) => title.scrollIntoView({ behavior: 'instant' })")
    grip = page.locator(f"#item-{dragged} .agenda-grip")
    expect(grip).to_be_in_viewport()
    target = page.locator(f"#item-{ids[1]}").bounding_box()
    box = grip.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, target["y"] + 5, steps=8)
    expect(page.locator(f"#item-{ids[1]}.agenda-drop-before")).to_have_count(1)
    page.mouse.up()
    # Dropped above the second item: it is second, as the move request said.
    expect(page.locator(f"#item-{dragged} .agenda-number")).to_have_text("2.")
    assert item_ids(page) == [ids[0], dragged, ids[1], ids[2], ids[3], ids[5]]
    expect(page.locator("#announcer")).to_have_text("Punto «Dehors estivi» spostato in posizione 2.")
    page.reload()
    assert item_ids(page) == [ids[0], dragged, ids[1], ids[2], ids[3], ids[5]], "stored"


@pytest.mark.parametrize("email", ["chair@example.org", "member@example.org"])
def test_axe_finds_no_violation_on_the_meeting_page(browser, server, board, email):
    from server.db.models import AgendaStatus
    from server.domain import agenda

    add_items(board, *SIX)
    board.seed.run(
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, board.items[1].id, AgendaStatus.current, version=1, actor_id=None
        )
    )
    for viewport in (PHONE, {"width": 1280, "height": 900}):
        page = new_page(browser, server, email, bypass_csp=True, viewport=viewport)
        open_meeting(page, server, board)
        assert_accessible(page)
        if email.startswith("chair"):
            open_menu(page, board.items[1].id)  # an open menu, too
            assert_accessible(page)


def test_the_menu_works_with_the_keyboard_and_keeps_its_place(browser, server, board):
    page = new_page(browser, server, "chair@example.org", viewport=PHONE)
    open_meeting(page, server, board)
    item = board.items[0].id
    open_menu(page, item)
    page.keyboard.press("Tab")  # the menu's first action: "mark as discussed"
    assert page.evaluate("document.activeElement.id") == f"item-{item}-done"
    pushes = page.evaluate("window.agendaPushes")
    page.keyboard.press("Enter")
    expect(page.locator(f"#item-{item} .agenda-status")).to_have_text("Trattato")
    page.wait_for_function("(n) => window.agendaPushes > n", arg=pushes)
    # The answer and the push replaced the agenda: the menu is still open, the focus on its summary
    # (a discussed item has no primary action, and "mark as discussed" is no longer offered).
    expect(page.locator(f"#item-{item}-menu")).to_have_attribute("open", "")
    assert page.evaluate("(id) => document.activeElement.matches(`#item-${id}-menu > summary`)", item)
    page.keyboard.press("Escape")
    expect(page.locator(f"#item-{item}-menu[open]")).to_have_count(0)
    assert page.evaluate("(id) => document.activeElement.matches(`#item-${id}-menu > summary`)", item)
