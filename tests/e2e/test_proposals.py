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
    if not email.startswith("observer"):
        paths.append(f"{base}/nuova")
    if email.startswith("member"):
        paths.append(f"{base}/{drafted.id}/modifica")
    for path in paths:
        page.goto(f"{server.url}{path}")
        assert_accessible(page)
    context.close()
