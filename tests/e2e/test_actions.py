"""In a real browser: the owner of an action item moves it along from the table's home, and the
chair's open page shows the change without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from server.domain import actions
from tests.e2e.conftest import log_in
from tests.support import Board

pytestmark = pytest.mark.browser


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


def test_the_owner_updates_their_action_item_and_the_chairs_page_follows(browser, server, board):
    action = board.seed.run(
        lambda s: actions.create_action(
            s,
            board.table,
            actions.parse_action(
                title="Calendario dei saldi", description="", owner=str(board.member.id), due_on="2031-12-31"
            ),
            actor_id=board.secretary.id,
        )
    )
    chair = browser.new_context().new_page()
    member = browser.new_context().new_page()
    log_in(chair, server, "chair@example.org")
    log_in(member, server, "member@example.org")
    table = f"{server.url}/tavoli/{board.table.slug}"
    chair.goto(table)
    member.goto(table)
    expect(chair.locator("#live-status")).to_have_attribute("data-state", "open")
    chair.evaluate("() => { window.notReloaded = true; }")

    # The owner sees their own buttons (shown by our script); the chair sees the managers' ones.
    start = member.locator(f"#action-{action.id}-in_progress")
    expect(start).to_be_visible()
    start.focus()
    member.keyboard.press("Enter")
    expect(member.locator(f"#action-{action.id} .action-status")).to_have_text("In corso")

    expect(chair.locator(f"#action-{action.id} .action-status")).to_have_text("In corso")
    expect(chair.locator("#announcer")).to_contain_text("Calendario dei saldi")
    expect(chair.locator(f"#action-{action.id}-cancelled")).to_be_visible()
    assert chair.evaluate("() => window.notReloaded === true"), "the chair's page was not reloaded"

    # Another member of the table does not get the owner's buttons.
    other = browser.new_context().new_page()
    log_in(other, server, "secretary@example.org")
    other.goto(table)
    expect(other.locator(f"#action-{action.id}-done")).to_be_visible()  # the secretary manages
    observer = browser.new_context().new_page()
    log_in(observer, server, "observer@example.org")
    observer.goto(table)
    expect(observer.locator(f"#action-{action.id}")).to_contain_text("Calendario dei saldi")
    expect(observer.locator(f"#action-{action.id}-done")).to_have_count(0)


@pytest.mark.parametrize("email", ["chair@example.org", "member@example.org", "observer@example.org"])
def test_axe_finds_no_violation_on_the_action_pages(browser, server, board, email):
    from datetime import date, timedelta

    from tests.e2e.conftest import assert_accessible

    late = (date.today() - timedelta(days=3)).isoformat()
    created = [
        board.seed.run(
            lambda s, t=title, o=owner, d=due: actions.create_action(
                s,
                board.table,
                actions.parse_action(title=t, description="Con **dettagli**.", owner=str(o.id), due_on=d),
                actor_id=board.secretary.id,
            )
        )
        for title, owner, due in (
            ("Calendario dei saldi", board.member, late),
            ("Mappatura dei negozi sfitti", board.chair, "2031-12-31"),
        )
    ]
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    log_in(page, server, email)
    slug = board.table.slug
    paths = [
        f"/tavoli/{slug}",
        f"/tavoli/{slug}/azioni",
        f"/tavoli/{slug}/azioni?scadute=1&ordine=-due",
        f"/tavoli/{slug}/azioni/{created[0].id}",
        "/azioni",
    ]
    if email.startswith("chair"):
        paths += [f"/tavoli/{slug}/azioni/nuova", f"/tavoli/{slug}/azioni/{created[0].id}/modifica"]
    for path in paths:
        page.goto(f"{server.url}{path}")
        assert_accessible(page)
    context.close()


def test_an_action_items_own_page_follows_changes_and_its_pushed_buttons_work(browser, server, board):
    """The chair's and the owner's pages of one action item follow each other's changes; a button
    that arrived in a pushed fragment (which carries no CSRF token) still works."""
    action = board.seed.run(
        lambda s: actions.create_action(
            s,
            board.table,
            actions.parse_action(title="Mappa dei mercati", description="", owner=str(board.member.id), due_on=""),
            actor_id=board.secretary.id,
        )
    )
    url = f"{server.url}/tavoli/{board.table.slug}/azioni/{action.id}"
    chair = browser.new_context().new_page()
    member = browser.new_context().new_page()
    log_in(chair, server, "chair@example.org")
    log_in(member, server, "member@example.org")
    chair.goto(url)
    member.goto(url)
    for page in (chair, member):
        expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    member.evaluate("() => { window.notReloaded = true; }")

    # The chair writes a note: the member's page shows it, and its status buttons are new markup.
    chair.fill("#field-body", "Sentiti i consorzi di via.")
    chair.get_by_role("button", name="Aggiungi la nota").click()
    expect(member.locator("#notes")).to_contain_text("Sentiti i consorzi di via.")
    assert member.evaluate("() => window.notReloaded === true")
    expect(chair.locator("#notes")).to_contain_text("Sentiti i consorzi di via.")  # after its own post
    expect(chair.locator("#live-status")).to_have_attribute("data-state", "open")
    chair.evaluate("() => { window.notReloaded = true; }")

    # The owner starts the work with a pushed button: it is signed with the page's token on submit.
    start = member.locator(f"#action-{action.id}-in_progress")
    expect(start).to_be_visible()
    assert member.locator(f"#action-{action.id}-in_progress >> xpath=.. >> input[name=csrf_token]").count() == 0
    start.click()
    expect(member.locator("#action .action-status")).to_have_text("In corso")
    expect(chair.locator("#action .action-status")).to_have_text("In corso")
    expect(chair.locator("#action-history")).to_contain_text("In corso")
    assert chair.evaluate("() => window.notReloaded === true"), "the chair's page was not reloaded"


def test_my_action_items_follow_each_table_without_reload(browser, server, board):
    """ "My action items" holds a connection per table: the chair moving one of mine shows at once."""
    action = board.seed.run(
        lambda s: actions.create_action(
            s,
            board.table,
            actions.parse_action(title="Censimento dei dehors", description="", owner=str(board.member.id), due_on=""),
            actor_id=board.secretary.id,
        )
    )
    member = browser.new_context().new_page()
    chair = browser.new_context().new_page()
    log_in(member, server, "member@example.org")
    log_in(chair, server, "chair@example.org")
    member.goto(f"{server.url}/azioni")
    section = member.locator(f"#my-actions-{board.table.id}")
    expect(section).to_contain_text("Censimento dei dehors")
    expect(member.locator(".my-actions-table .live-status")).to_have_attribute("data-state", "open")
    member.evaluate("() => { window.notReloaded = true; }")

    chair.goto(f"{server.url}/tavoli/{board.table.slug}/azioni/{action.id}")
    expect(chair.locator("#live-status")).to_have_attribute("data-state", "open")
    chair.locator(f"#action-{action.id}-in_progress").click()
    expect(section.locator(".action-status")).to_have_text("In corso")
    assert member.evaluate("() => window.notReloaded === true"), "the member's page was not reloaded"
