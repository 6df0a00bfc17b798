"""In a real browser: the chair runs a meeting with the keyboard; a member sees it; axe on the pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, log_in
from tests.support import Board

pytestmark = pytest.mark.browser


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


def agenda_titles(page):
    return [t.split(" ", 1)[1] for t in page.locator("#agenda li.agenda-item h3").all_inner_texts()]


def test_chair_builds_and_runs_a_meeting_with_the_keyboard_and_a_member_sees_it(browser, server, board):
    chair = browser.new_context().new_page()
    log_in(chair, server, "chair@example.org")
    chair.goto(f"{server.url}/tavoli/{board.table.slug}")
    chair.get_by_role("link", name="Convoca una seduta").click()
    chair.get_by_label("Titolo").fill("Seduta straordinaria sui saldi")
    chair.get_by_label("Data").fill("2032-01-12")
    chair.get_by_label("Ora di inizio").fill("15:00")
    chair.get_by_label("Luogo").fill("Palazzo Malvezzi")
    chair.get_by_role("button", name="Convoca la seduta").click()
    chair.wait_for_selector("h1:has-text('Seduta straordinaria sui saldi')")

    for title in ("Calendario dei saldi", "Controlli sulle vendite promozionali", "Varie ed eventuali"):
        chair.locator("#field-title").fill(title)
        chair.locator("#field-planned_minutes").fill("20")
        chair.keyboard.press("Enter")  # submits the add form, through htmx
        chair.wait_for_selector(f"#agenda h3:has-text('{title}')")
        assert chair.locator("#field-title").input_value() == "", "a fresh form after each item"
    assert agenda_titles(chair) == [
        "Calendario dei saldi",
        "Controlli sulle vendite promozionali",
        "Varie ed eventuali",
    ]
    assert chair.locator("#announcer").inner_text() == "Punto «Varie ed eventuali» aggiunto all'ordine del giorno."

    # Reorder with the keyboard: focus "move up" of the last item, press Enter twice.
    last_id = chair.locator("#agenda li.agenda-item").nth(2).get_attribute("data-item")
    up = chair.locator(f"#item-{last_id}-up")
    up.focus()
    chair.keyboard.press("Enter")
    expect(chair.locator(f"#item-{last_id} .agenda-number")).to_have_text("2.")
    assert chair.evaluate("document.activeElement.id") == f"item-{last_id}-up", "the focus stays on the button"
    chair.keyboard.press("Enter")
    expect(chair.locator(f"#item-{last_id} .agenda-number")).to_have_text("1.")
    assert agenda_titles(chair) == [
        "Varie ed eventuali",
        "Calendario dei saldi",
        "Controlli sulle vendite promozionali",
    ]
    # At the top its "move up" is disabled: the focus stays within the moved item all the same.
    expect(chair.locator(f"#item-{last_id} :focus")).to_have_count(1)

    # Mark the (now) second item current, with the keyboard.
    second_id = chair.locator("#agenda li.agenda-item").nth(1).get_attribute("data-item")
    chair.locator(f"#item-{second_id}-current").focus()
    chair.keyboard.press("Enter")
    chair.wait_for_selector(f"#item-{second_id}.agenda-item-current")
    assert "In discussione" in chair.locator(f"#item-{second_id} .agenda-status").inner_text()
    assert chair.locator(".agenda-item-current").count() == 1

    # Attendance: two organisations present, with their delegates, in its disclosure.
    chair.locator("#attendance-edit > summary").press("Enter")
    chair.get_by_role("checkbox", name="Confcommercio Ascom Bologna").press("Space")
    chair.get_by_label("Delegati presenti per Confcommercio Ascom Bologna").fill("Luca Cavina")
    chair.get_by_role("checkbox", name="CGIL Bologna").press("Space")
    chair.get_by_label("Delegati presenti per CGIL Bologna").fill("Marco Zanotti, Anna Rossi")
    chair.get_by_role("button", name="Salva le presenze").click()
    chair.wait_for_selector("#attendance .attendance-count:has-text('2 enti su 3')")
    meeting_url = chair.url

    member = browser.new_context().new_page()
    log_in(member, server, "member@example.org")
    member.goto(meeting_url)
    assert agenda_titles(member) == [
        "Varie ed eventuali",
        "Calendario dei saldi",
        "Controlli sulle vendite promozionali",
    ]
    assert member.locator(".agenda-item-current h3").inner_text().endswith("Calendario dei saldi")
    assert member.locator("#meeting-details .attendance-count").inner_text() == "2 enti su 3"
    assert "CGIL Bologna: presente (Marco Zanotti, Anna Rossi)" in member.locator("#attendance").inner_text()
    assert member.get_by_role("button", name="Sposta su").count() == 0, "no controls for members"
    chair.context.close()
    member.context.close()


def test_a_plain_form_without_javascript_still_works(browser, server, board, console):
    console.allow(r"status of 422")  # the form sent back with its error
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, server, "secretary@example.org")
    page.goto(f"{server.url}{board.meeting_url}")
    page.locator(f"#item-{board.items[2].id}-up").click()
    page.wait_for_url(f"{server.url}{board.meeting_url}#agenda")
    assert agenda_titles(page) == ["Saldi invernali", "Varie ed eventuali", "Distretti del commercio"]
    page.locator("#agenda-add summary").click()  # the add form is a disclosure once there are items
    page.locator("#field-title").fill("")
    page.get_by_role("button", name="Aggiungi il punto").click()
    assert page.locator("#title-error").inner_text() == "Inserisci un titolo."
    context.close()


@pytest.mark.parametrize("email", ["chair@example.org", "member@example.org"])
def test_axe_finds_no_violation_on_the_table_meeting_and_history_pages(browser, server, board, email):
    from server.db.models import AgendaStatus
    from server.domain import agenda

    board.seed.run(
        lambda s: agenda.set_status(
            s,
            board.table,
            board.meeting.id,
            board.items[1].id,
            AgendaStatus.current,
            version=1,
            actor_id=board.chair.id,
        )
    )
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    log_in(page, server, email)
    for path in (f"/tavoli/{board.table.slug}", board.meeting_url, f"/tavoli/{board.table.slug}/cronologia"):
        page.goto(f"{server.url}{path}")
        assert_accessible(page)
    if email.startswith("chair"):
        for path in (
            f"{board.meeting_url}/modifica",
            f"{board.item_url(0)}/modifica",
            f"{board.item_url(0)}/rimuovi",
            f"/tavoli/{board.table.slug}/sedute/nuova",
        ):
            page.goto(f"{server.url}{path}")
            assert_accessible(page)
    context.close()


def test_axe_finds_no_violation_on_the_admin_view_of_a_table(browser, server, board):
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    log_in(page, server, "admin@example.org")
    page.goto(f"{server.url}/tavoli/{board.table.slug}")
    page.locator("details.member-admin summary").first.click()
    assert_accessible(page)
    context.close()
