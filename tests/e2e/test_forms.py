"""In a real browser: on every page with a form, at desktop width and at 390 px, no label covers a
heading or a field other than its own.

Bootstrap Italia draws the label of a `.form-group` or `.select-wrapper` on top of its field
(absolutely positioned, lifted above it): without room above the group, the first label hides
under the heading ("Titolo *" behind "Aggiungi un punto all'ordine del giorno") and a label after
a select touches the select.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from server.db.models import Role
from server.domain import proposals
from server.domain.actions import Actor
from tests.e2e.conftest import log_in
from tests.support import Board

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether two boxes share more than half a pixel each way (touching edges do not count)."""
    across = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    down = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return across > 0.5 and down > 0.5


def box_of(element: Any) -> dict[str, float] | None:
    """Its box when it is on the screen (not hidden, not in a closed <details>), and more than the
    1-pixel box of a visually hidden element."""
    if not element.is_visible():
        return None
    box = element.bounding_box()
    return box if box is not None and box["width"] > 1 and box["height"] > 1 else None


def collisions(page: Any) -> list[str]:
    """Every label in the page's main area that covers a heading (h1 to h3) or another field."""
    main = page.locator("main")
    headings = [(" ".join(h.inner_text().split()), box_of(h)) for h in main.locator("h1, h2, h3").all()]
    controls = main.locator("input:not([type=hidden]), select, textarea")
    fields = [(f.get_attribute("id"), box_of(f)) for f in controls.all()]
    found = []
    for label in main.locator("label").all():
        box = box_of(label)
        if box is None:
            continue
        name = " ".join(label.inner_text().split())
        own = label.get_attribute("for")
        found += [f"«{name}» covers the heading «{text}»" for text, other in headings if other and overlap(box, other)]
        found += [
            f"«{name}» covers the field #{field_id}"
            for field_id, other in fields
            if field_id != own and other and overlap(box, other)
        ]
    return found


def check(page: Any, url: str) -> list[str]:
    """Open the page, unfold its folded forms, and measure at each width."""
    found = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        for badge in page.locator(".live-status").all():  # the regions come again when the socket opens
            expect(badge).to_have_attribute("data-state", "open")
        page.eval_on_selector_all("main details:not([hidden])", "all => all.forEach((d) => { d.open = true; })")
        found += [f"{url} at {width} px: {problem}" for problem in collisions(page)]
    return found


def test_no_label_covers_a_heading_or_another_field_on_any_form(browser, server, board, console):
    member = Actor(board.member.id, Role.member)
    text = proposals.parse_text(title="Orari estivi dei negozi", summary="In breve.", body="Aperture serali.")
    draft = board.seed.run(lambda s: proposals.create_proposal(s, board.table, text, [board.cgil.slug], actor=member))
    submitted = board.proposal()
    action = board.action()
    base = f"{server.url}/tavoli/{board.table.slug}"
    problems: list[str] = []

    page = browser.new_context().new_page()
    problems += check(page, f"{server.url}/login")

    log_in(page, server, "chair@example.org")
    for path in (
        board.meeting_url,  # add an agenda item, the attendance
        f"{board.meeting_url}/modifica",
        f"{board.item_url(0)}/modifica",
        f"{board.item_url(0)}/rimuovi",
    ):
        problems += check(page, f"{server.url}{path}")
    for path in (
        "/sedute/nuova",
        "/azioni",  # the filters
        "/azioni/nuova",
        f"/azioni/{action.id}",  # a progress note
        f"/azioni/{action.id}/modifica",
        "/proposte/nuova",
        f"/proposte/{submitted.id}",  # a comment, a reply, hiding a comment
    ):
        problems += check(page, f"{base}{path}")
    # A form sent back with its errors beside the fields (plain form, no JavaScript needed).
    page.goto(f"{base}/sedute/nuova")
    page.get_by_role("button", name="Convoca la seduta").click()
    page.wait_for_selector("#title-error")
    console.allow(r"status of 422")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        problems += [f"with errors at {width} px: {p}" for p in collisions(page)]

    member_page = browser.new_context().new_page()
    log_in(member_page, server, "member@example.org")
    problems += check(member_page, f"{base}/proposte/{draft.id}/modifica")

    admin = browser.new_context().new_page()
    log_in(admin, server, "admin@example.org")
    problems += check(admin, base)  # the table's settings, its members (their forms unfolded)
    problems += check(admin, f"{base}/componenti/{board.membership_id(board.member)}/rimuovi")

    assert problems == [], "\n".join(problems)
