"""The collaborative editor in a real browser (issue 13): two people type into the same draft at
once, through the real island (static/src/editor.js), the real `/ws/docs` socket and the real
store.

The server runs in this process (`live_server`, tests/live_support.py) so that the test can close
one person's socket from the server's side, as a network cut or a restart would: Playwright's
`set_offline` keeps open sockets open, so the page is put offline (no reconnect gets through) and
the server closes its socket. The editor's node checks (tests/e2e/editor_modules.test.mjs) run
here too.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server.db.models import DocumentKind, Role
from server.domain import documents, proposals
from server.domain.actions import Actor
from server.live.documents import RESTART
from tests.conftest import need
from tests.e2e.conftest import assert_accessible, log_in
from tests.live_support import ThreadedServer
from tests.support import Board

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20_000  # ms: a machine shared with other work may take a while to connect and store
SAVED = "Tutte le modifiche sono salvate"
OFFLINE = "Non connesso — le modifiche restano su questo dispositivo e saranno inviate"
# Chromium's own line when a page offline tries to connect again (y-websocket retries with backoff).
RECONNECT_REFUSED = r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws/docs/\d+\?ack=1' failed"

# The editor's text as CodeMirror shows it, without the others' carets (their names are widgets).
EDITOR_TEXT = """(root) => Array.from(root.querySelectorAll('.cm-line'), (line) => {
  const copy = line.cloneNode(true);
  copy.querySelectorAll('.cm-ySelectionCaret').forEach((caret) => caret.remove());
  return copy.textContent;
}).join('\\n')"""


def test_the_editors_modules_in_node():
    node = shutil.which("node")
    if node is None:
        need("node is not installed")
    if not (ROOT / "node_modules" / "yjs").exists():
        need("the npm packages are not installed (npm ci)")
    result = subprocess.run(
        [node, "--test", str(ROOT / "tests" / "e2e" / "editor_modules.test.mjs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _editor_text(page: Any) -> str:
    return str(page.locator("[data-editor-mount]").evaluate(EDITOR_TEXT))


def _server_text(server: ThreadedServer, document_id: int) -> str:
    async def read() -> str:
        async with server.app.state.database.read() as session:
            return await documents.text_of(session, document_id)

    return str(server.call(read))


def _close_sockets_of(server: ThreadedServer, user_id: int, code: int) -> int:
    async def close() -> int:
        closing = [s for s in server.app.state.documents.sockets() if s.user_id == user_id]
        for socket in closing:
            socket.close(code)
        return len(closing)

    return int(server.call(close))


# Records, in the page, the names of the list of who is here after each of its changes.
RECORD_PEOPLE = """(list) => {
  const names = () => Array.from(list.querySelectorAll("li[data-remote]"), (item) => item.textContent);
  window.peopleSeen = [names()];
  new MutationObserver(() => window.peopleSeen.push(names())).observe(list, { childList: true, subtree: true });
}"""


def _leaving_is_stopped(page: Any) -> bool:
    """Whether the page asks the browser to warn before it is left (its beforeunload handler)."""
    return bool(
        page.evaluate("""() => {
            const event = new Event("beforeunload", { cancelable: true });
            window.dispatchEvent(event);
            return event.defaultPrevented;
        }""")
    )


def _type_at_end(page: Any, text: str) -> None:
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def test_two_people_type_at_once_and_an_offline_page_catches_up(browser, console, live_server, live_board: Board):
    from playwright.sync_api import expect

    board = live_board
    second = board.seed.person(board.table, Role.member, "second@example.org", board.cgil)
    member = Actor(board.member.id, Role.member)
    text = proposals.parse_text(title="Orari estivi dei negozi", summary="", body="Aperture serali.")
    drafted = board.seed.run(lambda s: proposals.create_proposal(s, board.table, text, [board.cgil.slug], actor=member))
    url = f"{live_server.url}/tavoli/{board.table.slug}/proposte/{drafted.id}"

    pages = {}
    for who in ("member@example.org", "second@example.org"):
        pages[who] = browser.new_context().new_page()
        log_in(pages[who], live_server, who)
        pages[who].goto(url)
    first, other = pages["member@example.org"], pages["second@example.org"]
    for page in (first, other):
        expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
        expect(page.locator("[data-editor-fallback]")).to_be_hidden()  # the no-JavaScript form
        assert _editor_text(page) == "Aperture serali."
    document_id = int(first.locator("[data-doc-editor]").get_attribute("data-document-id") or "")
    assert board.seed.run(lambda s: documents.find(s, DocumentKind.proposal_body, drafted.id)).id == document_id

    # Who is here: the other person, named by the server, in their organisation's colour.
    expect(first.locator("[data-editor-people] li[data-remote]")).to_have_text(second.name)
    expect(other.locator("[data-editor-people] li[data-remote]")).to_have_text(board.member.name)
    assert "remote-" in (first.locator("[data-editor-people] li[data-remote] span").get_attribute("class") or "")

    # Both type at once, a word each in turn, without waiting for each other.
    first.locator(".cm-content").click()
    first.keyboard.press("Control+Home")
    other.locator(".cm-content").click()
    other.keyboard.press("Control+End")
    for index in range(6):
        first.keyboard.type(f"uno{index} ")
        other.keyboard.type(f" due{index}")
    for page in (first, other):
        expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    # "saved" was said after the server stored every edit: the store has them all.
    stored = _server_text(live_server, document_id)
    expect(first.locator("[data-editor-mount]")).to_contain_text("due5")
    for page in (first, other):
        assert _editor_text(page) == stored
    for index in range(6):
        assert stored.count(f"uno{index} ") == 1, stored
        assert stored.count(f" due{index}") == 1, stored
    assert "Aperture serali." in stored
    # The other's caret is drawn with a palette class and the server's name.
    caret = first.locator(".cm-ySelectionCaret")
    expect(caret).to_have_count(1)
    expect(caret.locator(".cm-ySelectionInfo")).to_have_text(second.name)
    assert any(name.startswith("remote-") for name in (caret.get_attribute("class") or "").split())

    # The first page loses the server: offline (no reconnect gets through), its socket closed by
    # the server. It keeps typing; its state line says so; the other page types too.
    console.allow(RECONNECT_REFUSED)
    first.context.set_offline(True)
    assert _close_sockets_of(live_server, board.member.id, RESTART) == 1
    expect(first.locator(".doc-editor-state")).to_have_text(OFFLINE)
    expect(other.locator("[data-editor-people] li[data-remote]")).to_have_count(0)
    assert not _leaving_is_stopped(first)  # nothing unsent yet
    _type_at_end(first, " scritto-senza-rete")
    first.keyboard.press("Control+Home")
    first.keyboard.press("Delete")  # a deletion too, which no state vector shows
    assert _leaving_is_stopped(first)  # the browser asks before the page goes
    _type_at_end(other, " scritto-in-rete")
    expect(other.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    expect(first.locator(".doc-editor-state")).to_have_text(OFFLINE)
    assert "scritto-senza-rete" not in _server_text(live_server, document_id)
    assert "scritto-in-rete" not in _editor_text(first)

    # Back online: it reconnects, its offline edits reach the server and the other page, and the
    # other's edit reaches it; "saved" comes only once the store has the last of them.
    first.context.set_offline(False)
    expect(first.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    stored = _server_text(live_server, document_id)
    assert "scritto-senza-rete" in stored
    assert "scritto-in-rete" in stored
    assert not stored.startswith("uno0"), "the deletion made offline is stored"
    expect(other.locator("[data-editor-mount]")).to_contain_text("scritto-senza-rete")
    expect(other.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    for page in (first, other):
        assert _editor_text(page) == stored
    expect(first.locator("[data-editor-people] li[data-remote]")).to_have_text(second.name)
    assert not _leaving_is_stopped(first)

    # The other page, idle, loses its socket and reconnects: the first sees it leave, then come
    # back (the list's changes are recorded as they happen, so that none is missed).
    first.locator("[data-editor-people]").evaluate(RECORD_PEOPLE)
    assert _close_sockets_of(live_server, second.id, RESTART) == 1
    first.wait_for_function(
        "(name) => window.peopleSeen.some((names, i) => names.length === 0"
        " && window.peopleSeen.slice(i).some((later) => later.join() === name))",
        arg=second.name,
        timeout=WAIT,
    )
    expect(other.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)


def test_the_editor_is_accessible_and_its_toolbar_works_from_the_keyboard(browser, live_server, live_board: Board):
    from playwright.sync_api import expect

    board = live_board
    member = Actor(board.member.id, Role.member)
    text = proposals.parse_text(title="Orari estivi dei negozi", summary="", body="Aperture serali")
    drafted = board.seed.run(lambda s: proposals.create_proposal(s, board.table, text, [board.cgil.slug], actor=member))
    page = browser.new_context().new_page()
    log_in(page, live_server, "member@example.org")
    page.goto(f"{live_server.url}/tavoli/{board.table.slug}/proposte/{drafted.id}")
    expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)

    toolbar = page.get_by_role("toolbar", name="Formattazione del testo")
    expect(toolbar.get_by_role("button")).to_have_text(["Titolo", "Grassetto", "Elenco puntato", "Collegamento"])
    textbox = page.get_by_role("textbox", name="Testo della proposta")
    expect(textbox).to_be_visible()

    # Select the text, then Shift+Tab to the toolbar (one stop), arrows between its buttons.
    textbox.click()
    page.keyboard.press("Control+a")
    toolbar.get_by_role("button", name="Titolo").focus()
    page.keyboard.press("ArrowRight")
    expect(toolbar.get_by_role("button", name="Grassetto")).to_be_focused()
    expect(toolbar.get_by_role("button", name="Grassetto")).to_have_attribute("tabindex", "0")
    expect(toolbar.get_by_role("button", name="Titolo")).to_have_attribute("tabindex", "-1")
    page.keyboard.press("Enter")
    expect(textbox).to_be_focused()
    expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    assert _editor_text(page) == "**Aperture serali**"
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type("nuova riga")
    toolbar.get_by_role("button", name="Elenco puntato").click()
    expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    assert _editor_text(page) == "**Aperture serali**\n- nuova riga"
    # A deletion alone moves no state vector: "saved" comes once the server's delete set has it.
    page.keyboard.press("Backspace")
    expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    document_id = int(page.locator("[data-doc-editor]").get_attribute("data-document-id") or "")
    assert _server_text(live_server, document_id) == "**Aperture serali**\n- nuova rig"

    # axe runs as a script of its own, which the CSP would refuse: a page of its own without it.
    checked = browser.new_context(bypass_csp=True).new_page()
    log_in(checked, live_server, "member@example.org")
    checked.goto(page.url)
    expect(checked.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    expect(checked.locator("[data-editor-people] li[data-remote]")).to_have_text(board.member.name)  # the other tab
    assert_accessible(checked)


@pytest.fixture
def small_documents_server(settings):
    """The app with a document size limit a paste can pass."""
    server = ThreadedServer(dataclasses.replace(settings, doc_max_bytes=2048)).start()
    yield server
    server.stop()


def _draft(board: Board, body: str) -> Any:
    member = Actor(board.member.id, Role.member)
    text = proposals.parse_text(title="Orari estivi dei negozi", summary="", body=body)
    return board.seed.run(lambda s: proposals.create_proposal(s, board.table, text, [board.cgil.slug], actor=member))


def test_a_text_past_the_size_limit_ends_the_connection_and_says_so(browser, small_documents_server, password_hash):
    from playwright.sync_api import expect

    server = small_documents_server
    board = Board(server.seed(password_hash))
    drafted = _draft(board, "Aperture serali.")
    page = browser.new_context().new_page()
    log_in(page, server, "member@example.org")
    page.goto(f"{server.url}/tavoli/{board.table.slug}/proposte/{drafted.id}")
    expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    document_id = int(page.locator("[data-doc-editor]").get_attribute("data-document-id") or "")

    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text(" " + "molto lungo " * 400)  # one update of about 5 kB
    # 1009 is final: the island stops (y-websocket's shouldReconnect says no before it schedules
    # another attempt), says what happened, and takes no more typing.
    expect(page.locator(".doc-editor-state")).to_have_text(
        "Il documento ha raggiunto la dimensione massima: le ultime modifiche non sono state salvate. "
        "Copiale prima di lasciare la pagina."
    )
    expect(page.locator("[data-doc-editor]")).to_have_attribute("data-state", "ended")
    expect(page.locator(".cm-content")).to_have_attribute("contenteditable", "false")
    assert _server_text(server, document_id) == "Aperture serali."


def test_a_draft_submitted_while_someone_types_closes_their_editor(browser, live_server, live_board: Board):
    from playwright.sync_api import expect

    board = live_board
    board.seed.person(board.table, Role.member, "second@example.org", board.cgil)
    drafted = _draft(board, "Aperture serali.")
    url = f"{live_server.url}/tavoli/{board.table.slug}/proposte/{drafted.id}"
    typing, submitting = browser.new_context().new_page(), browser.new_context().new_page()
    for page, who in ((typing, "member@example.org"), (submitting, "second@example.org")):
        log_in(page, live_server, who)
        page.goto(url)
        expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    _type_at_end(typing, " ultima parola")
    expect(typing.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)

    submitting.locator("#proposal form:has(input[name=status][value=submitted]) button").click()
    expect(typing.locator(".doc-editor-state")).to_have_text(
        "Il testo è stato chiuso alle modifiche (la proposta è stata presentata): ricarica la pagina per leggerlo."
    )
    expect(typing.locator(".cm-content")).to_have_attribute("contenteditable", "false")
    document_id = int(typing.locator("[data-doc-editor]").get_attribute("data-document-id") or "")
    assert _server_text(live_server, document_id) == "Aperture serali. ultima parola"


# A second mount of the same document, read-only, added to the page after it loaded (the island
# mounts editors that a swap brings): the macro's markup with readonly=True, from the server.
READ_ONLY_MOUNT = """(html) => {
  const holder = document.createElement("div");
  holder.innerHTML = html;
  document.querySelector("main").append(holder.firstElementChild);
}"""


def test_a_read_only_mount_shows_the_text_live_without_a_toolbar(browser, live_server, live_board: Board):
    from playwright.sync_api import expect

    from server.views.templating import make_environment

    board = live_board
    drafted = _draft(board, "Aperture serali.")
    page = browser.new_context().new_page()
    log_in(page, live_server, "member@example.org")
    page.goto(f"{live_server.url}/tavoli/{board.table.slug}/proposte/{drafted.id}")
    expect(page.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
    document_id = int(page.locator("[data-doc-editor]").get_attribute("data-document-id") or "")
    writer = page.locator(f"#editor-{document_id}")

    environment = make_environment()
    environment.globals["url_for"] = lambda name, **params: live_server.app.url_path_for(name, **params)
    template = environment.from_string(
        '{% from "documents/_editor.html" import editor %}{{ editor(document_id, "Testo letto", readonly=True) }}'
    )
    markup = template.render(document_id=document_id).replace(f"editor-{document_id}", "reader")
    page.evaluate(READ_ONLY_MOUNT, markup)
    reader = page.locator("#reader")
    expect(reader.locator(".doc-editor-state")).to_have_text(
        "Il testo segue le modifiche in tempo reale.", timeout=WAIT
    )
    expect(reader.locator("[role=toolbar]")).to_have_count(0)
    content = reader.locator(".cm-content")
    expect(content).to_have_attribute("contenteditable", "false")
    expect(content).to_have_attribute("aria-readonly", "true")
    expect(content).to_have_text("Aperture serali.")

    writer.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" Anche la domenica.")
    page.wait_for_function(
        f"(expected) => ({EDITOR_TEXT})(document.querySelector('#reader [data-editor-mount]')) === expected",
        arg="Aperture serali. Anche la domenica.",
        timeout=WAIT,
    )
    # The writer's caret is drawn in the reader, named by the server.
    expect(reader.locator(".cm-ySelectionInfo")).to_have_text(board.member.name)
    expect(writer.locator(".doc-editor-state")).to_have_text(SAVED, timeout=WAIT)
