"""Short texts shown in a line (a table's purpose on its card, a proposal's summary) show their words, not Markdown."""

from __future__ import annotations

from server.db.models import Role
from server.domain import proposals
from server.domain.actions import Actor
from server.domain.plain_text import plain
from tests.support import login, texts


def test_plain_text_keeps_the_words_and_drops_the_marks() -> None:
    assert plain("La **ripartenza** delle _imprese_: [il bando](https://example.org) e `codice`.") == (
        "La ripartenza delle imprese: il bando e codice."
    )
    assert plain("# Titolo\n\n- uno\n- due") == "Titolo • uno • due"


def test_a_table_card_shows_its_purpose_without_markdown(client, board) -> None:
    login(client, "member@example.org")
    cards = texts(client.get("/").text, ".card-text")
    assert "Coordinamento per la ripartenza di commercio e turismo." in cards
    assert all("**" not in card for card in cards)


def test_a_proposal_summary_shows_without_markdown(client, board, seed) -> None:
    text = proposals.parse_text(title="Saldi", summary="Una **data unica** per i saldi", body="Testo.")
    actor = Actor(board.member.id, Role.member)
    proposal = seed.run(lambda s: proposals.create_proposal(s, board.table, text, [board.cgil.slug], actor=actor))
    login(client, "member@example.org")
    page = client.get(f"/tavoli/{board.table.slug}/proposte/{proposal.id}").text
    assert texts(page, "#proposal .lead") == ["Una data unica per i saldi"]
