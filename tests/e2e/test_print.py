"""In a real browser: a meeting, the action items and a proposal print as documents (Chromium's
PDF, read back with pypdf): whose document it is and the content, never the controls nor the
navigation, and no agenda item cut in two by a page break."""

from __future__ import annotations

import io
import re

import pytest

from server.db.models import AgendaStatus
from server.domain import agenda, meetings
from tests.e2e.conftest import log_in
from tests.support import Board

pytestmark = pytest.mark.browser

PUBLISHER = "Città metropolitana di Bologna"
TABLE = "Tavolo metropolitano per il commercio e le attività turistiche"
# What is only for the screen, in Italian: the header, skip link, breadcrumb and footer, the live
# badge and the presence box, and every control of the chair's meeting page (buttons and labels).
NAVIGATION = [
    "Vai al contenuto",
    "Esci",
    "English",
    "Le mie azioni",
    "Percorso di navigazione",
    "Dichiarazione di accessibilità",
    "In diretta",
    "Collegamento agli aggiornamenti",
    "Chi è collegato ora",
]
MEETING_CONTROLS = [
    "Sposta su",
    "Sposta giù",
    "Metti in discussione",
    "Segna come trattato",
    "Rinvia",
    "Riporta da trattare",
    "Modifica",
    "Registra un'azione",
    "Rimuovi",
    "Aggiungi un punto all'ordine del giorno",
    "Titolo",
    "Descrizione",
    "Puoi usare Markdown",
    "Nessuno in particolare",
    "Minuti previsti",
    "Aggiungi il punto",
    "Ente (spunta se presente)",
    "Delegati presenti",
    "Salva le presenze",
]


@pytest.fixture
def board(browser_seed):
    return Board(browser_seed)


def printed(page) -> str:
    """The text of the page printed to PDF (A4, print media), its whitespace collapsed."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(page.pdf(format="A4")))
    text = " ".join(page_.extract_text() or "" for page_ in reader.pages)
    return " ".join(text.replace("\u2019", "'").split())


def absent(text: str, phrases: list[str]) -> list[str]:
    """The phrases found in the text as whole words (none should be)."""
    return [p for p in phrases if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text)]


def test_the_chairs_meeting_page_prints_as_a_document(browser, server, board):
    board.seed.run(
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, board.items[1].id, AgendaStatus.current, version=1, actor_id=None
        )
    )
    marks = {board.cgil.id: (True, "Marco Zanotti"), board.ascom.id: (True, "Luca Cavina")}
    board.seed.run(
        lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=0, actor_id=None)
    )
    page = browser.new_context().new_page()
    log_in(page, server, "chair@example.org")
    page.goto(f"{server.url}{board.meeting_url}")
    page.wait_for_selector("#live-status[data-state=open]")
    assert page.get_by_role("button", name="Sposta giù").first.is_visible(), "the controls are on the screen"

    text = printed(page)
    for present in (
        PUBLISHER,
        TABLE,
        "Seduta di dicembre",
        "Saldi invernali",
        "Distretti del commercio",
        "Varie ed eventuali",
        "In discussione",
        "Ordine del giorno",
        "Presenze",
        "CGIL Bologna: presente (Marco Zanotti)",
        "CNA Bologna: assente",
    ):
        assert present in text, (present, text)
    assert absent(text, NAVIGATION + MEETING_CONTROLS) == [], text

    page.emulate_media(media="print")
    breaks = page.eval_on_selector_all("#agenda .agenda-item", "all => all.map((i) => getComputedStyle(i).breakInside)")
    assert breaks == ["avoid"] * 3, "an agenda item is never cut by a page break"


def test_the_action_items_and_a_proposal_print_as_documents(browser, server, board):
    action = board.action()
    proposal = board.proposal()
    page = browser.new_context().new_page()
    log_in(page, server, "chair@example.org")
    slug = board.table.slug

    page.goto(f"{server.url}/tavoli/{slug}/azioni")
    text = printed(page)
    for present in (PUBLISHER, TABLE, "Azioni del tavolo", action.title):
        assert present in text, (present, text)
    filters = ["Qualsiasi stato", "Chiunque", "Qualsiasi ente", "Solo quelle scadute", "Mostra", "Registra un'azione"]
    assert absent(text, NAVIGATION + filters) == [], text

    page.goto(f"{server.url}/tavoli/{slug}/proposte/{proposal.id}")
    text = printed(page)
    for present in (PUBLISHER, TABLE, proposal.title, "Il testo.", "Un commento."):
        assert present in text, (present, text)
    controls = ["Nuovo commento", "Aggiungi il commento", "Rispondi", "Nascondi questo commento", "Apri la discussione"]
    assert absent(text, NAVIGATION + controls) == [], text
