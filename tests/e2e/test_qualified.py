"""In a real browser: a party's signatory signs with a firma digitale — a .p7m of the stored PDF made in
the test with the test CA (tests/qualified_ca.py) — uploading it from the signing page in a browser of
their own, while the chair's page, opened before, shows the qualified signature appear (signer,
"valida, revoca non verificata") without being reloaded. axe finds nothing on the signing page with
its upload form nor on the chair's page showing the qualified signature and the acceptance form."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from server.db.models import User
from server.domain import protocol_keys, protocol_seal, protocols
from tests import protocols_support as ps
from tests.e2e.conftest import Server, assert_accessible, log_in, start_server
from tests.qualified_ca import TestCA, sample_pdf, sign_cades
from tests.support import PASSWORD, Board

pytestmark = pytest.mark.browser

WAIT = 20_000  # ms: a machine shared with other work may take a while to connect, check and store
STORED = sample_pdf("Protocollo appalti - versione 1")


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.make()


@pytest.fixture
def server(database_url: str, tmp_path: Path, ca: TestCA) -> Iterator[Server]:
    """`tavoli serve` trusting the test CA's root (TAVOLI_TRUST_DIR)."""
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.pem").write_bytes(ca.root_pem)
    running = start_server(database_url, tmp_path, TAVOLI_TRUST_DIR=str(trust))
    yield running
    running.stop()


@pytest.fixture
def board(browser_seed: Any) -> Board:
    found = Board(browser_seed)
    # CGIL's signatory is Mario Rossi, the name on the certificate.
    browser_seed.run(lambda s: s.execute(update(User).where(User.id == found.member.id).values(name="Mario Rossi")))
    protocol_keys.ensure_key_file(os.environ["TAVOLI_SIGNING_KEY_FILE"])
    return found


def opened(board: Board) -> tuple[Any, list[Any]]:
    """A protocol open for signature whose stored PDF is the sample PDF (as opening keeps its PDF/A)."""
    protocol, parties = ps.ready(board)

    async def keep(session: Any) -> None:
        version = await protocols.current_version(session, protocol.id)
        assert version is not None
        await protocol_seal.keep_pdf(session, version.id, STORED)

    board.seed.run(keep)
    return protocol, parties


def protocol_url(server: Server, board: Board, protocol_id: int) -> str:
    return f"{server.url}/tavoli/{board.table.slug}/protocolli/{protocol_id}"


def test_a_party_uploads_a_p7m_and_the_chair_sees_the_qualified_signature_appear(browser, server, board, ca, tmp_path):
    protocol, parties = opened(board)
    cgil = parties[0]
    p7m = tmp_path / "protocollo.pdf.p7m"
    p7m.write_bytes(board.seed.run(lambda _s: sign_cades(STORED, ca.person("Mario", "Rossi", "RSSMRA80A01A944I"))))
    url = protocol_url(server, board, protocol.id)

    chair = browser.new_context(bypass_csp=True).new_page()  # lets the injected axe-core run
    log_in(chair, server, "chair@example.org")
    chair.goto(url)
    expect(chair.locator(f"#party-{cgil.id}")).to_have_attribute("data-signed", "no")
    expect(chair.locator("#live-status")).to_have_attribute("data-state", "open", timeout=WAIT)
    chair.evaluate("window.__notReloaded = true")

    member = browser.new_context(bypass_csp=True).new_page()
    log_in(member, server, "member@example.org")
    member.goto(f"{url}/firma?parte={cgil.id}")
    expect(member.locator("#sign-qualified-form")).to_be_visible()
    assert_accessible(member)
    member.locator("#qualified-file").set_input_files(str(p7m))
    member.locator("#qualified-password").fill(PASSWORD)
    member.locator("#sign-qualified-form button[type=submit]").click()
    expect(member.locator(f"#party-{cgil.id}")).to_have_attribute("data-signed", "yes", timeout=WAIT)

    shown = chair.locator(f"#party-{cgil.id} dl.signature-qualified")
    expect(shown).to_have_attribute("data-status", "valid_revocation_unchecked", timeout=WAIT)
    expect(chair.locator(f"#party-{cgil.id} .qualified-signer")).to_have_text("Mario Rossi")
    expect(chair.locator(f"#party-{cgil.id} .qualified-status")).to_have_text("Valida, revoca non verificata")
    expect(chair.locator(f"#party-{cgil.id} a.qualified-file")).to_be_visible()
    assert chair.evaluate("window.__notReloaded") is True, "the chair's page was reloaded"
    chair.locator("#qualified-accept summary").click()  # the acceptance form, open, checked too
    assert_accessible(chair)
