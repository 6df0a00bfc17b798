"""In a real browser: axe finds nothing on the proposal pages, as an author, as the chair, as an observer."""

from __future__ import annotations

import pytest

from server.db.models import Role
from server.domain import proposals
from server.domain.actions import Actor
from tests.e2e.conftest import assert_accessible, log_in
from tests.support import Board

pytestmark = pytest.mark.browser


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


@pytest.mark.parametrize("email", ["member@example.org", "chair@example.org", "observer@example.org"])
def test_axe_finds_no_violation_on_the_proposal_pages(browser, server, board, email):
    member = Actor(board.member.id, Role.member)
    first = proposals.parse_text(title="Saldi in una data unica", summary="Una data.", body="Il primo sabato.")
    second = proposals.ProposalText(first.title, first.summary, "Il primo sabato di gennaio, per tutti.")

    async def draft_and_revise(session):
        proposal = await proposals.create_proposal(session, board.table, first, [board.cgil.slug], actor=member)
        proposal = await proposals.update_draft(
            session, board.table, proposal.id, first, version=1, actor=member, save_version=True
        )
        return await proposals.update_draft(
            session, board.table, proposal.id, second, version=proposal.version, actor=member, save_version=True
        )

    drafted = board.seed.run(draft_and_revise)
    submitted = board.proposal()
    board.comment()
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    log_in(page, server, email)
    base = f"/tavoli/{board.table.slug}/proposte"
    paths = [base, f"{base}/{drafted.id}?da=1&a=2", f"{base}/{submitted.id}"]
    if email.startswith("observer"):  # a draft is its co-authors' (and the chair's): a comparison of the other
        paths[1] = f"{base}/{submitted.id}?da=1&a=1"
    else:
        paths.append(f"{base}/nuova")
    if email.startswith("member"):
        paths.append(f"{base}/{drafted.id}/modifica")
    for path in paths:
        page.goto(f"{server.url}{path}")
        assert_accessible(page)
    context.close()


def test_a_proposals_page_shows_each_organisation_its_own_controls_and_follows_changes(browser, server, board):
    """Co-authors' and endorsers' controls travel hidden in the shared fragments and our script
    shows them to the right organisation; the chair's open page follows every change live."""
    from playwright.sync_api import expect

    member = Actor(board.member.id, Role.member)
    text = proposals.parse_text(title="Orari estivi dei negozi", summary="", body="Aperture serali.")
    drafted = board.seed.run(lambda s: proposals.create_proposal(s, board.table, text, [board.cgil.slug], actor=member))
    url = f"{server.url}/tavoli/{board.table.slug}/proposte/{drafted.id}"
    pages = {}
    for who in ("chair", "member", "secretary"):
        pages[who] = browser.new_context().new_page()
        log_in(pages[who], server, f"{who}@example.org")
        pages[who].goto(url)
        expect(pages[who].locator("#live-status")).to_have_attribute("data-state", "open")
    chair, author, secretary = pages["chair"], pages["member"], pages["secretary"]
    chair.evaluate("() => { window.notReloaded = true; }")

    edit = f'#proposal a[href="/tavoli/{board.table.slug}/proposte/{drafted.id}/modifica"]'
    expect(author.locator(edit)).to_be_visible()  # a member sitting for CGIL, the co-author
    expect(secretary.locator(edit)).to_be_hidden()  # CNA did not write it
    expect(chair.locator(edit)).to_be_hidden()

    author.locator("#proposal form:has(input[name=status][value=submitted]) button").click()
    expect(chair.locator("#proposal .proposal-status")).to_have_text("Presentata")
    expect(secretary.locator("#proposal .proposal-status")).to_have_text("Presentata")

    # Endorsing: the secretary's organisation has not endorsed, so it gets the endorse button.
    endorse = secretary.locator("#endorsements form[action$='/sostegno'] button")
    expect(endorse).to_be_visible()
    expect(secretary.locator("#endorsements form[action$='/ritira']")).to_be_hidden()
    endorse.click()
    expect(secretary.locator("#endorsements form[action$='/ritira'] button")).to_be_visible()
    expect(secretary.locator("#endorsements form[action$='/sostegno']")).to_be_hidden()
    expect(chair.locator("#endorsements")).to_contain_text("CNA Bologna")
    expect(author.locator("#endorsements form[action$='/sostegno'] button")).to_be_visible()  # CGIL may still

    # A comment: its author may edit it for a while; nobody else gets that control.
    secretary.fill("#field-comment", "Serve un calendario comune.")
    secretary.get_by_role("button", name="Aggiungi il commento").click()
    expect(chair.locator("#comment-threads")).to_contain_text("Serve un calendario comune.")
    expect(secretary.locator("#comment-threads details[data-owner]")).to_be_visible()
    expect(author.locator("#comment-threads details[data-owner]")).to_be_hidden()
    assert chair.evaluate("() => window.notReloaded === true"), "the chair's page was not reloaded"


def test_what_a_co_author_types_reaches_the_chair_s_preview_rendered_by_the_server(browser, server, board):
    """The editor beside the preview: a co-author types Markdown, the server stores, renders and pushes
    it; the chair, who reads the draft, sees the rendered text follow, and the page is not reloaded."""
    from playwright.sync_api import expect

    member = Actor(board.member.id, Role.member)
    text = proposals.parse_text(title="Orari estivi dei negozi", summary="", body="Aperture serali.")
    drafted = board.seed.run(lambda s: proposals.create_proposal(s, board.table, text, [board.cgil.slug], actor=member))
    url = f"{server.url}/tavoli/{board.table.slug}/proposte/{drafted.id}"
    author, chair = browser.new_context().new_page(), browser.new_context().new_page()
    for page, who in ((author, "member"), (chair, "chair")):
        log_in(page, server, f"{who}@example.org")
        page.goto(url)
        expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    expect(chair.locator("[data-doc-editor]")).to_have_count(0)
    editor = author.locator("[data-doc-editor] .cm-content")
    expect(editor).to_be_visible()
    expect(author.locator("form[data-editor-fallback]")).to_be_hidden()
    chair.evaluate("() => { window.notReloaded = true; }")
    editor.click()
    author.keyboard.press("Control+End")
    author.keyboard.type("\n\nAnche la **domenica**.")
    expect(author.locator("[data-editor-state]")).to_have_text("Tutte le modifiche sono salvate")
    expect(author.locator("#proposal-body strong")).to_have_text("domenica")
    expect(chair.locator("#proposal-body strong")).to_have_text("domenica")
    expect(chair.locator("#proposal-body")).to_contain_text("Aperture serali.")
    assert chair.evaluate("() => window.notReloaded === true"), "the chair's page was not reloaded"
