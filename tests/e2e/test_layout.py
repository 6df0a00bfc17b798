"""In a real browser: logging in, the home page, the language switch, accessibility and the CSP."""

from __future__ import annotations

import pytest

from server.db.models import Role
from tests.e2e.conftest import assert_accessible, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def people(browser_seed):
    org = browser_seed.org("Confcommercio Ascom Bologna")
    table = browser_seed.table(
        "commercio-turismo",
        "Tavolo metropolitano per il commercio e le attività turistiche",
        purpose="Coordinamento e co-progettazione per la ripartenza di commercio e turismo.",
    )
    browser_seed.table("inclusione", "Tavolo metropolitano per l'inclusione socio-lavorativa", public=True)
    browser_seed.person(table, Role.member, "marco@example.org", org)
    return table


def test_log_in_see_home_switch_to_english_and_back(browser, server, people):
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, "marco@example.org")
    assert page.get_by_role("heading", level=1).inner_text() == "I tavoli metropolitani"
    assert page.get_by_role("link", name="Tavolo metropolitano per il commercio e le attività turistiche").is_visible()
    assert page.locator(".viewer-organisation").inner_text() == "Confcommercio Ascom Bologna"

    page.get_by_role("button", name="English").click()
    page.wait_for_selector("html[lang=en]")
    assert page.get_by_role("heading", level=1).inner_text() == "The metropolitan tables"
    page.goto(f"{server.url}/accessibilita")
    assert page.get_by_role("heading", level=1).inner_text() == "Accessibility statement", "English is remembered"

    page.get_by_role("button", name="Italiano").click()
    page.wait_for_selector("html[lang=it]")
    assert page.get_by_role("heading", level=1).inner_text() == "Dichiarazione di accessibilità"
    context.close()


def test_log_out_returns_to_the_login_page(browser, server, people):
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, "marco@example.org")
    page.get_by_role("button", name="Esci").click()
    page.wait_for_url(f"{server.url}/login")
    page.goto(f"{server.url}/")
    assert page.get_by_role("link", name="Accedi").first.is_visible()
    context.close()


def test_the_pages_reflow_at_320_pixels_with_the_persons_links_on_screen(browser, server, people):
    """WCAG 1.4.10: at 320 CSS pixels nothing needs scrolling sideways, the header included."""
    context = browser.new_context(viewport={"width": 320, "height": 800})
    page = context.new_page()
    log_in(page, server, "marco@example.org")
    for path in ("/", "/azioni", f"/tavoli/{people.slug}"):
        page.goto(f"{server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
        for name in ("Le mie azioni", "Esci"):
            box = page.get_by_role("link", name=name).or_(page.get_by_role("button", name=name)).first.bounding_box()
            assert box is not None, (path, name)
            assert 0 <= box["x"] <= box["x"] + box["width"] <= 320, (path, name)
    context.close()


def test_wrong_password_shows_the_error_beside_the_form(browser, server, people, console):
    console.allow(r"/login: Failed to load resource: .* status of 400")  # the refusal, with the form
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Indirizzo email").fill("marco@example.org")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Accedi").click()
    assert page.locator("#login-error").inner_text() == "L'indirizzo email o la password non sono corretti."
    assert page.get_by_label("Indirizzo email").input_value() == "marco@example.org"
    context.close()


@pytest.mark.parametrize("locale", ["it", "en"])
def test_axe_finds_no_violation_on_login_home_and_error_pages(browser, server, people, locale, console):
    console.allow(r"/login: Failed to load resource: .* status of 400", r"/nessuna-pagina: .* status of 404")
    context = browser.new_context(bypass_csp=True)  # lets the injected axe-core run
    page = context.new_page()
    page.goto(f"{server.url}/login")
    if locale == "en":
        page.get_by_role("button", name="English").click()
        page.wait_for_selector("html[lang=en]")
    assert_accessible(page)
    page.get_by_label("Email address" if locale == "en" else "Indirizzo email").fill("marco@example.org")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in" if locale == "en" else "Accedi").click()
    page.wait_for_selector("#login-error")
    assert_accessible(page)  # the login page with its error
    page.get_by_label("Password").fill("password-for-tests-only")
    page.get_by_role("button", name="Log in" if locale == "en" else "Accedi").click()
    page.wait_for_url(f"{server.url}/")
    assert_accessible(page)
    page.goto(f"{server.url}/nessuna-pagina")
    assert_accessible(page)
    page.goto(f"{server.url}/accessibilita")
    assert_accessible(page)
    context.close()


def test_pages_load_without_any_content_security_policy_violation(browser, server, people, console):
    """The `browser` fixture fails the test on any console error or CSP violation it did not expect."""
    console.allow(r"/nessuna-pagina: .* status of 404")  # the error page itself answers 404
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server, "marco@example.org")
    for path in ["/", "/accessibilita", "/nessuna-pagina", "/tavoli/commercio-turismo"]:
        page.goto(f"{server.url}{path}")
        page.wait_for_load_state("networkidle")
    # htmx comes with the live pages of a table only (tests/test_assets.py checks the others).
    assert page.evaluate("typeof window.htmx") == "object", "htmx loaded"
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Titillium Web"')
    assert console.unexpected() == []
    context.close()
