"""In a real browser: every kind of page loads without a single error on the console and without a
refusal of the Content Security Policy, as the chair and as a member.

The `browser` fixture (conftest.py) watches every page of every browser test and fails the test on
an unexpected console error, uncaught exception or CSP violation; this test makes sure it visits
each kind of page with the policy enforced (the axe tests run with the policy bypassed).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.support import Board

pytestmark = pytest.mark.browser


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


def test_the_watch_catches_a_violation_of_the_policy(browser, server, board, console):
    """The watch itself: an inline style set by a script is refused by the policy, and reported."""
    page = browser.new_context().new_page()
    page.goto(f"{server.url}/login")
    page.evaluate("() => document.body.setAttribute('style', 'color: red')")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 0))")  # the report is queued as a task
    caught = console.unexpected()
    assert any("CSP violation: style-src-attr" in problem for problem in caught), caught
    assert any("Content Security Policy" in problem for problem in caught), caught  # Chromium's own line
    console.problems.clear()


@pytest.mark.parametrize("email", ["chair@example.org", "member@example.org"])
def test_every_kind_of_page_loads_without_an_error_on_the_console(browser, server, board, console, email):
    action = board.action()
    proposal = board.proposal()
    slug = board.table.slug
    page = browser.new_context().new_page()
    page.goto(f"{server.url}/login")
    log_in(page, server, email)
    for path in (
        "/",
        f"/tavoli/{slug}",
        board.meeting_url,
        f"/tavoli/{slug}/azioni",
        f"/tavoli/{slug}/azioni/{action.id}",
        f"/tavoli/{slug}/proposte",
        f"/tavoli/{slug}/proposte/{proposal.id}",
        f"/tavoli/{slug}/cronologia",
        "/azioni",
    ):
        page.goto(f"{server.url}{path}")
        page.wait_for_load_state("networkidle")  # the icons and fonts too
        for badge in page.locator(".live-status").all():
            expect(badge).to_have_attribute("data-state", "open")
        assert console.unexpected() == [], path


def test_a_swap_never_writes_a_style_attribute(browser, server, board):
    """A style set through the CSSOM is allowed by the policy, and others do set them: Chromium when
    someone resizes a text box by its corner, password managers and grammar checkers that put their
    icons on fields. htmx "settles" a swapped element by copying the old element's `style` attribute
    onto the new one with setAttribute, which the policy refuses: one error per styled element on
    every swap and every push. It must not copy styles."""
    chair = browser.new_context().new_page()
    member = browser.new_context().new_page()
    log_in(chair, server, "chair@example.org")
    log_in(member, server, "secretary@example.org")
    for page in (chair, member):
        page.goto(f"{server.url}{board.meeting_url}")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
        page.evaluate(
            """() => document.querySelectorAll("#agenda, #agenda [id], #agenda-add [id], #attendance [id]")
                 .forEach((element) => { element.style.outlineOffset = "1px"; })"""
        )
    # The chair's click swaps the answer into the chair's page; the push reaches the secretary's.
    last = board.items[2].id
    chair.locator(f"#item-{last}-up").click()
    expect(chair.locator(f"#item-{last} .agenda-number")).to_have_text("2.")
    expect(member.locator(f"#item-{last} .agenda-number")).to_have_text("2.")
    # The chair makes the description box taller by its corner: Chromium writes that as its style.
    chair.locator("#agenda-add summary").click()  # the add form is a disclosure once there are items
    chair.locator("#field-description").scroll_into_view_if_needed()
    box = chair.locator("#field-description").bounding_box()
    chair.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    chair.mouse.down()
    chair.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] + 60, steps=5)
    chair.mouse.up()
    assert "height" in (chair.locator("#field-description").get_attribute("style") or "")
    chair.locator("#field-title").fill("Varie")
    chair.get_by_role("button", name="Aggiungi il punto").click()
    expect(member.locator("#agenda")).to_contain_text("Varie")
    for page in (chair, member):  # the attendance form is a disclosure
        page.locator("#attendance-edit > summary").click()
    chair.get_by_role("checkbox", name="CGIL Bologna").press("Space")
    chair.get_by_role("button", name="Salva le presenze").click()
    expect(member.get_by_role("checkbox", name="CGIL Bologna")).to_be_checked()
    # The browser fixture fails the test on the refusals, if any.
