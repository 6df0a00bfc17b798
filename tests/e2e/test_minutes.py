"""In a real browser: the secretary writes the minutes while the chair marks the next agenda item
as under discussion, then sends them for approval; the chair approves and publishes them; an
anonymous visitor reads the public page and the feed. axe finds nothing on the pages."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from server.db.models import Table
from tests.e2e.conftest import assert_accessible, axe_violations, log_in
from tests.support import Board

pytestmark = pytest.mark.browser

WAIT = 20_000  # ms: a machine shared with other work may take a while to connect, store and print
SAVED = "Tutte le modifiche sono salvate"


@pytest.fixture
def board(browser_seed):
    found = Board(browser_seed)
    browser_seed.run(lambda s: s.execute(update(Table).where(Table.id == found.table.id).values(is_public=True)))
    return found


def test_the_minutes_from_the_live_draft_to_the_public_page_and_feed(browser, server, board):
    minutes_url = f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}/verbale"
    first, second = board.items[0], board.items[1]

    secretary = browser.new_context().new_page()
    log_in(secretary, server, "secretary@example.org")
    secretary.goto(minutes_url)
    expect(secretary.locator(".minutes-outline h2")).to_have_count(3)
    secretary.get_by_role("button", name="Inizia la stesura del verbale").click()
    expect(secretary.locator("#minutes")).to_have_attribute("data-status", "draft")
    expect(secretary.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    expect(secretary.locator("[data-editor-fallback]")).to_be_hidden()

    chair = browser.new_context().new_page()
    log_in(chair, server, "chair@example.org")
    chair.goto(f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}")
    chair.locator(f"#item-{first.id}-current").click()
    expect(secretary.locator(f"#minutes-item-{first.id} h3")).to_contain_text("In discussione")

    # The secretary types under the first item's heading while the chair moves on to the second.
    secretary.locator(".cm-content").click()
    secretary.keyboard.press("Control+End")
    secretary.keyboard.type("Il tavolo concorda un calendario unico dei saldi. ")
    chair.locator(f"#item-{second.id}-current").click()
    secretary.keyboard.type("Seguirà una nota ai Comuni.")
    expect(secretary.locator(f"#minutes-item-{second.id} h3")).to_contain_text("In discussione")
    expect(secretary.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    expect(secretary.locator("[data-editor-mount]")).to_contain_text("Seguirà una nota ai Comuni.")
    expect(chair.locator("#minutes-state")).to_contain_text("Bozza")

    # Sent for approval: the chair's meeting page follows; the secretary's editor is read-only.
    secretary.get_by_role("button", name="Invia per l'approvazione").click()
    expect(secretary.locator("#minutes")).to_have_attribute("data-status", "sent")
    expect(chair.locator("#minutes-state")).to_contain_text("Inviato per l'approvazione")
    assert secretary.locator("[data-doc-editor]").get_attribute("data-readonly") == "true"

    # The chair approves and publishes; the secretary's open page follows.
    chair.goto(minutes_url)
    chair.get_by_role("button", name="Approva il verbale").click()
    expect(secretary.locator("#minutes")).to_have_attribute("data-status", "approved")
    chair.get_by_role("button", name="Pubblica il verbale").click()
    chair.wait_for_url(f"{server.url}/tavoli/{board.table.slug}/verbali/*", timeout=WAIT)
    version_url = chair.url
    expect(secretary.locator("#minutes")).to_have_attribute("data-status", "published")
    expect(secretary.locator(".minutes-versions a")).to_have_count(1)

    # Anyone, without an account, reads the public page and the feed.
    visitor = browser.new_context().new_page()
    visitor.goto(f"{server.url}/tavoli/{board.table.slug}")
    visitor.locator("#published-minutes a", has_text=board.meeting.title).click()
    visitor.wait_for_url(version_url)
    expect(visitor.locator(".minutes-text")).to_contain_text("Il tavolo concorda un calendario unico dei saldi.")
    expect(visitor.locator(".minutes-hashes dd code")).to_have_count(4)
    head = visitor.locator(".minutes-hashes dd code").nth(3).inner_text()
    assert len(head) == 64
    feed = visitor.context.request.get(f"{server.url}/tavoli/{board.table.slug}/verbali.atom")
    assert feed.ok
    body = feed.text()
    assert version_url in body
    assert head in body


@pytest.mark.parametrize("email", ["secretary@example.org", "chair@example.org", "member@example.org"])
def test_axe_finds_nothing_on_the_minutes_page(browser, server, board, email):
    from server.db.models import Role
    from server.domain import minutes as minutes_domain
    from server.domain import minutes_remarks
    from server.domain.actions import Actor

    secretary = Actor(board.secretary.id, Role.secretary)

    async def started(session):
        minutes = await minutes_domain.start_drafting(session, board.table, board.meeting.id, actor=secretary)
        await minutes_remarks.add_remark(
            session,
            board.table,
            minutes.id,
            item_id=board.items[0].id,
            parent_id=None,
            body="Manca una data.",
            actor=Actor(board.member.id, Role.member),
        )

    board.seed.run(started)
    page = browser.new_context(bypass_csp=True).new_page()  # lets the injected axe-core run
    log_in(page, server, email)
    page.goto(f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}/verbale")
    state = SAVED if email != "member@example.org" else "Il testo segue le modifiche in tempo reale."
    expect(page.locator(".doc-editor-state")).to_have_text(state, timeout=WAIT)
    # The outline is taller than the editor's box: its scroller (or the text in it) is reachable
    # by keyboard, read-only mounts included (static/src/editor.js).
    found = axe_violations(page)
    assert found == [], json.dumps(found, indent=2, ensure_ascii=False)


def test_axe_finds_nothing_on_the_outline_and_the_public_page(browser, server, board):
    page = browser.new_context(bypass_csp=True).new_page()
    log_in(page, server, "chair@example.org")
    page.goto(f"{server.url}/tavoli/{board.table.slug}/sedute/{board.meeting.id}/verbale")
    expect(page.locator(".minutes-outline h2")).to_have_count(3)
    assert_accessible(page)
    page.get_by_role("button", name="Inizia la stesura del verbale").click()
    expect(page.locator("#minutes")).to_have_attribute("data-status", "draft")
    page.get_by_role("button", name="Invia per l'approvazione").click()
    expect(page.locator("#minutes")).to_have_attribute("data-status", "sent")
    page.get_by_role("button", name="Approva il verbale").click()
    expect(page.locator("#minutes")).to_have_attribute("data-status", "approved")
    page.get_by_role("button", name="Pubblica il verbale").click()
    page.wait_for_url(f"{server.url}/tavoli/{board.table.slug}/verbali/*", timeout=WAIT)
    visitor = browser.new_context(bypass_csp=True).new_page()
    visitor.goto(page.url)
    expect(visitor.locator(".minutes-text")).to_be_visible()
    assert_accessible(visitor)
    visitor.goto(f"{server.url}/tavoli/{board.table.slug}")
    expect(visitor.locator("#published-minutes a")).to_have_count(2)  # the entry and the feed
    assert_accessible(visitor)
