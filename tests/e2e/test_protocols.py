"""In a real browser: a protocol open for signature; the signatories of its two parties sign it, each in
a browser of their own (the password again), while the chair's page, opened before, shows each
signature arrive and the protocol come into force without being reloaded. An anonymous visitor then
reads the public page and downloads its PDF/A. axe finds nothing on the pages."""

from __future__ import annotations

import os
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from server.db.models import ProtocolStatus, Table
from server.domain import protocol_keys
from tests import protocols_support as ps
from tests.e2e.conftest import Server, assert_accessible, log_in
from tests.support import PASSWORD, Board

pytestmark = pytest.mark.browser

WAIT = 20_000  # ms: a machine shared with other work may take a while to connect, store and print


@pytest.fixture
def board(browser_seed):
    found = Board(browser_seed)
    browser_seed.run(lambda s: s.execute(update(Table).where(Table.id == found.table.id).values(is_public=True)))
    # The server seals with the key file its settings name (the tests' own folder, tests/conftest.py).
    protocol_keys.ensure_key_file(os.environ["TAVOLI_SIGNING_KEY_FILE"])
    return found


def protocol_url(server: Server, board: Board, protocol_id: int) -> str:
    return f"{server.url}/tavoli/{board.table.slug}/protocolli/{protocol_id}"


def sign_in_own_browser(page: Any, server: Server, board: Board, protocol_id: int, party_id: int, email: str) -> None:
    """`email` opens the protocol's page, follows its party's "Sign" link, reads and signs."""
    log_in(page, server, email)
    page.goto(protocol_url(server, board, protocol_id))
    page.locator(f"#party-{party_id} a.protocol-sign:visible").click()
    page.wait_for_url(f"{protocol_url(server, board, protocol_id)}/firma*")
    expect(page.locator("code.sign-text-sha256")).to_have_count(1)
    page.locator("#sign-password").fill(PASSWORD)
    page.locator("#sign-form button[type=submit]").click()
    expect(page.locator(f"#party-{party_id}")).to_have_attribute("data-signed", "yes", timeout=WAIT)


def test_two_parties_sign_in_their_own_browsers_and_the_chair_sees_the_protocol_come_into_force(browser, server, board):
    protocol, parties = ps.ready(board, "Protocollo di sito Interporto")
    cgil, cna = parties

    chair = browser.new_context().new_page()
    log_in(chair, server, "chair@example.org")
    chair.goto(protocol_url(server, board, protocol.id))
    expect(chair.locator("#protocol")).to_have_attribute("data-status", "open")
    expect(chair.locator("#protocol-parties li.protocol-party[data-signed=no]")).to_have_count(2)
    expect(chair.locator("#live-status")).to_have_attribute("data-state", "open", timeout=WAIT)
    chair.evaluate("window.__notReloaded = true")

    member = browser.new_context().new_page()
    sign_in_own_browser(member, server, board, protocol.id, cgil.id, "member@example.org")
    expect(chair.locator(f"#party-{cgil.id}")).to_have_attribute("data-signed", "yes", timeout=WAIT)
    expect(chair.locator("#protocol")).to_have_attribute("data-status", "open")

    secretary = browser.new_context().new_page()
    sign_in_own_browser(secretary, server, board, protocol.id, cna.id, "secretary@example.org")
    expect(chair.locator(f"#party-{cna.id}")).to_have_attribute("data-signed", "yes", timeout=WAIT)
    expect(chair.locator("#protocol")).to_have_attribute("data-status", "in_force", timeout=WAIT)
    expect(chair.locator("#protocol-parties .signature-valid")).to_have_count(2)
    assert chair.evaluate("window.__notReloaded") is True, "the chair's page was reloaded"
    assert ps.current(board, protocol.id).status is ProtocolStatus.in_force

    # In force on a public table: anyone reads it, and downloads its PDF/A.
    visitor = browser.new_context().new_page()
    visitor.goto(protocol_url(server, board, protocol.id))
    expect(visitor.locator(".protocol-public .signature-valid")).to_have_count(2)
    pdf = visitor.context.request.get(f"{protocol_url(server, board, protocol.id)}.pdf", timeout=WAIT)
    assert pdf.ok
    assert pdf.body().startswith(b"%PDF-")


def test_axe_finds_nothing_on_the_protocol_the_signing_and_the_public_pages(browser, server, board):
    protocol, parties = ps.ready(board)
    url = protocol_url(server, board, protocol.id)

    chair = browser.new_context(bypass_csp=True).new_page()  # lets the injected axe-core run
    log_in(chair, server, "chair@example.org")
    chair.goto(url)
    expect(chair.locator("#protocol")).to_have_attribute("data-status", "open")
    assert_accessible(chair)

    member = browser.new_context(bypass_csp=True).new_page()
    log_in(member, server, "member@example.org")
    member.goto(f"{url}/firma?parte={parties[0].id}")
    expect(member.locator("#sign-form")).to_be_visible()
    assert_accessible(member)
    member.locator("#sign-password").fill(PASSWORD)
    member.locator("#sign-form button[type=submit]").click()
    expect(member.locator(f"#party-{parties[0].id}")).to_have_attribute("data-signed", "yes", timeout=WAIT)

    secretary = browser.new_context(bypass_csp=True).new_page()
    log_in(secretary, server, "secretary@example.org")
    secretary.goto(f"{url}/firma?parte={parties[1].id}")
    secretary.locator("#sign-password").fill(PASSWORD)
    secretary.locator("#sign-form button[type=submit]").click()
    expect(secretary.locator("#protocol")).to_have_attribute("data-status", "in_force", timeout=WAIT)
    assert_accessible(secretary)

    visitor = browser.new_context(bypass_csp=True).new_page()
    visitor.goto(url)
    expect(visitor.locator(".protocol-public")).to_be_visible()
    assert_accessible(visitor)
