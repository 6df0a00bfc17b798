"""A proposal's body is a collaborative document: created with the proposal and seeded once, created
once for an older proposal, rendered and stored while its co-authors type (the history keeping
editing sessions, not keystrokes), saved without JavaScript as a difference, kept as a version,
frozen on submission (domain); the editor, the preview and the refusals on the page (web)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pycrdt
import pytest
from pycrdt import create_update_message
from sqlalchemy import delete, func, select

from server.db.models import Document, DocumentKind, Event, Proposal, ProposalStatus, Role, Table
from server.db.types import utcnow
from server.domain import documents, edit_sessions, proposal_bodies, proposals
from server.domain.actions import Actor
from server.domain.documents import DocumentFrozen
from server.domain.errors import Forbidden, Invalid, Stale
from server.domain.proposal_basics import ProposalEvent
from tests.live_support import home, message_with, next_message
from tests.support import css, field_value, login, one, post_form, texts

BODY = "# Saldi\n\nPrimo paragrafo.\n\nSecondo paragrafo."
TEXT = proposals.parse_text(title="Saldi in una data unica", summary="Una data comune.", body=BODY)


@pytest.fixture
def seed(db_seed):
    """These tests go straight to the database, through the domain: no app runs."""
    return db_seed


def author(board):
    return Actor(board.member.id, Role.member)


def draft(board, seed):
    return seed.run(lambda s: proposals.create_proposal(s, board.table, TEXT, [board.cgil.slug], actor=author(board)))


def document_of(seed, proposal):
    return seed.run(lambda s: documents.find(s, DocumentKind.proposal_body, proposal.id))


def text_of(seed, document):
    return seed.run(lambda s: documents.text_of(s, document.id))


def replica_edit(seed, document, change):
    """A browser's edit: made on a replica loaded from the store; the update it would send."""
    doc = seed.run(lambda s: documents.load(s, document.id))
    before = doc.get_state()
    change(doc.get(documents.TEXT, type=pycrdt.Text))
    return doc.get_update(before)


def type_in(seed, document, change, user_id):
    """A co-author's edit reaching the store, as the room stores it."""
    update = replica_edit(seed, document, change)
    seed.run(lambda s: documents.append(s, document.id, update, user_id))
    return text_of(seed, document)


def changed(seed, document, text, editors, now=None):
    """What the room calls after storing; returns what the transaction hands the hub on commit."""

    async def run(session):
        await proposal_bodies.body_changed(session, document, text, frozenset(editors), now=now)
        return list(session.info.get("events", []))

    return seed.run(run)


def body_events(board):
    return board.events(ProposalEvent.body_edited.value)


# --- created with the proposal, or once for an older one ------------------------------------------


def test_a_new_proposal_has_its_document_seeded_once_from_its_body(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    assert document.table_id == board.table.id
    stored = seed.run(lambda s: documents.stored(s, document.id))
    assert len(stored) == 1, "seeded by exactly one update"
    assert stored[0].user_id == board.member.id
    assert text_of(seed, document) == BODY


def test_an_older_proposal_gets_its_document_once_at_first_need(board, seed):
    proposal = draft(board, seed)
    seed.run(lambda s: s.execute(delete(Document)))  # as if made before documents existed
    first = seed.run(lambda s: proposal_bodies.document_of(s, proposal))
    again = seed.run(lambda s: proposal_bodies.document_of(s, proposal))
    assert again.id == first.id
    # Another request that had not seen it yet tries to create it: the constraint stops it, the first is reused.
    racing = seed.run(lambda s: proposal_bodies.create_once(s, proposal))
    assert racing.id == first.id
    assert seed.run(lambda s: s.scalar(select(func.count(Document.id)))) == 1
    assert len(seed.run(lambda s: documents.stored(s, first.id))) == 1, "seeded once, never again"
    assert text_of(seed, first) == BODY


async def test_two_requests_creating_a_document_at_once_make_one(database, seed, board):
    proposal = draft(board, seed)
    seed.run(lambda s: s.execute(delete(Document)))

    async def open_it():
        async with database.transaction() as session:
            return (await proposal_bodies.document_of(session, proposal)).id

    first, second = await asyncio.gather(open_it(), open_it())
    assert first == second
    async with database.read() as session:
        assert await session.scalar(select(func.count(Document.id))) == 1
        assert len(await documents.stored(session, first)) == 1


# --- what the room reports while people type ------------------------------------------------------


def test_a_change_is_rendered_and_stored_without_moving_the_proposal_version(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    text = type_in(seed, document, lambda t: t.insert(len(BODY), "\n\nTerzo **paragrafo**."), board.member.id)
    changed(seed, document, text, {board.member.id})
    stored = board.current(Proposal, proposal.id)
    assert stored.body == text
    assert "<strong>paragrafo</strong>" in stored.body_html
    assert stored.version == proposal.version, "the status buttons of open pages stay valid"


def test_the_history_records_one_editing_session_per_person_not_one_event_per_render(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    start = utcnow()
    second = seed.person(board.table, Role.member, "member.two@example.org", board.cgil)
    seq_before = board.current(Table, board.table.id).event_seq
    notes = []
    for minute in range(0, 30, 3):  # half an hour of typing, rendered again and again
        text = type_in(seed, document, lambda t: t.insert(0, "x"), board.member.id)
        notes += changed(seed, document, text, {board.member.id}, now=start + timedelta(minutes=minute))
    assert len(body_events(board)) == 1, "one session, one event"
    # Each rendering took the table's next number and told the hub, without a row in the history.
    assert [n.kind for n in notes] == [ProposalEvent.body_edited] + [ProposalEvent.body_rendered] * 9
    assert [n.seq for n in notes] == list(range(seq_before + 1, seq_before + 11))
    assert board.current(Table, board.table.id).event_seq == seq_before + 10
    rows = board.events()
    assert {e.seq for e in rows} & {n.seq for n in notes[1:]} == set(), "no row for a rendering"
    # Quiet for longer than QUIET: the next edit is a new session; a second person has their own.
    later = start + timedelta(minutes=27) + edit_sessions.QUIET + timedelta(seconds=1)
    text = type_in(seed, document, lambda t: t.insert(0, "y"), board.member.id)
    changed(seed, document, text, {board.member.id, second.id}, now=later)
    sessions = body_events(board)
    assert [(e.actor_id, e.payload["proposal_id"]) for e in sessions] == [
        (board.member.id, proposal.id),
        (board.member.id, proposal.id),
        (second.id, proposal.id),
    ]
    assert sessions[0].payload["last_edit"] == (start + timedelta(minutes=27)).isoformat()


def test_an_unchanged_text_or_a_frozen_document_changes_nothing(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    assert changed(seed, document, BODY, {board.member.id}) == []
    assert body_events(board) == []
    seed.run(lambda s: documents.freeze(s, document.id))
    assert changed(seed, document, BODY + " tardi", {board.member.id}) == []
    assert board.current(Proposal, proposal.id).body == BODY


# --- the save without JavaScript --------------------------------------------------------------------


def save(seed, board, proposal, body, base, version=None):
    values = proposals.ProposalText(TEXT.title, TEXT.summary, body)
    return seed.run(
        lambda s: proposals.save_draft(
            s,
            board.table,
            proposal.id,
            values,
            version=proposal.version if version is None else version,
            base=base,
            actor=author(board),
        )
    )


def test_a_form_save_is_applied_as_a_difference_and_keeps_a_concurrent_edit(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    # A co-author's browser typed inside the first paragraph; its update is still on its way.
    in_flight = replica_edit(seed, document, lambda t: t.insert(BODY.index("paragrafo.") + 9, " importante"))
    rewritten = BODY.replace("Secondo paragrafo.", "Secondo paragrafo, riscritto.")
    saved = save(seed, board, proposal, rewritten, BODY)
    assert saved.document_id == document.id
    assert saved.update_id is not None
    assert board.current(Proposal, proposal.id).body == rewritten
    again = save(seed, board, proposal, rewritten, BODY)  # the same form sent twice: nothing more
    assert again.update_id is None
    assert len(board.events(ProposalEvent.updated.value)) == 1
    seed.run(lambda s: documents.append(s, document.id, in_flight, board.member.id))
    assert text_of(seed, document) == "# Saldi\n\nPrimo paragrafo importante.\n\nSecondo paragrafo, riscritto."


def test_a_form_based_on_an_older_text_is_stale_and_shows_the_text_as_it_is_now(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    now = type_in(seed, document, lambda t: t.insert(0, "Nota. "), board.member.id)
    rows = len(seed.run(lambda s: documents.stored(s, document.id)))
    with pytest.raises(Stale) as stale:
        save(seed, board, proposal, BODY + " Mio.", BODY)
    assert stale.value.current.body == now
    assert len(seed.run(lambda s: documents.stored(s, document.id))) == rows, "nothing stored"
    assert text_of(seed, document) == now


# --- keeping a version, freezing on submission ----------------------------------------------------


def test_keeping_a_version_snapshots_the_document_when_it_differs_from_the_last(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)

    def keep(who):
        return seed.run(lambda s: proposal_bodies.keep_version(s, board.table, proposal.id, actor=who))

    same = keep(author(board))
    assert same.version is None
    assert same.last.number == 1, "the first draft is version 1 already"
    text = type_in(seed, document, lambda t: t.insert(len(BODY), "\n\nAggiunta."), board.member.id)
    kept = keep(author(board))
    assert kept.version.number == 2
    assert kept.version.body == text
    assert len(board.events(ProposalEvent.version_saved.value)) == 1
    with pytest.raises(Forbidden):
        keep(Actor(board.secretary.id, Role.secretary))


def test_submitting_freezes_the_text_as_stored_and_keeps_it_as_a_version(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    text = type_in(seed, document, lambda t: t.insert(len(BODY), " Ultima riga."), board.member.id)
    submitted = seed.run(
        lambda s: proposals.set_status(
            s, board.table, proposal.id, ProposalStatus.submitted, version=proposal.version, actor=author(board)
        )
    )
    assert submitted.body == text, "the text frozen is the stored one, not the last rendering"
    assert seed.run(lambda s: documents.get(s, document.id)).frozen_at is not None
    versions = seed.run(lambda s: proposals.versions_of(s, proposal.id))
    assert (versions[-1].kind, versions[-1].body) == ("submitted", text)
    with pytest.raises(DocumentFrozen):
        type_in(seed, document, lambda t: t.insert(0, "tardi "), board.member.id)
    with pytest.raises(Invalid):
        seed.run(lambda s: proposal_bodies.keep_version(s, board.table, proposal.id, actor=author(board)))


def test_withdrawing_a_draft_freezes_its_text_too(board, seed):
    proposal = draft(board, seed)
    seed.run(
        lambda s: proposals.set_status(
            s, board.table, proposal.id, ProposalStatus.withdrawn, version=proposal.version, actor=author(board)
        )
    )
    assert document_of(seed, proposal).frozen_at is not None
    assert seed.run(lambda s: s.scalar(select(func.count(Event.id)).where(Event.kind == "proposal.body_edited"))) == 0


# --- the demo ---------------------------------------------------------------------------------------


async def test_the_demo_drafts_are_documents_edited_by_different_co_authors(database_url, database):
    from tests.test_demo import run_demo

    result = run_demo(database_url)
    assert result.exit_code == 0, result.output
    async with database.read() as session:
        drafts = (await session.scalars(select(Proposal).where(Proposal.status == ProposalStatus.draft))).all()
        edited = []
        for proposal in drafts:
            document = await documents.find(session, DocumentKind.proposal_body, proposal.id)
            assert document is not None, proposal.title
            stored = await documents.stored(session, document.id)
            authors = {row.user_id for row in stored[1:]}  # after the seed, the co-authors' edits
            if len(authors) >= 2:
                edited.append(proposal)
            assert await documents.text_of(session, document.id) == proposal.body, "rendered as stored"
    assert len(edited) >= 2, [p.title for p in drafts]
    assert all("<" in p.body_html for p in edited)


# --- the page (web) ---------------------------------------------------------------------------------
# `board` is seeded straight into the test's database (db_seed); the client's app reads the same one.


def page_of(board, proposal, path=""):
    return f"/tavoli/{board.table.slug}/proposte/{proposal.id}{path}"


def rows_of(seed, document):
    return len(seed.run(lambda s: documents.stored(s, document.id)))


def test_a_co_author_gets_the_editor_beside_the_preview_and_the_form_without_javascript(client, board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    login(client, "member@example.org")
    page = client.get(page_of(board, proposal)).text
    mount = one(page, "[data-doc-editor]")
    assert mount.attributes["data-document-id"] == str(document.id)
    assert mount.attributes["data-socket-url"] == f"/ws/docs/{document.id}"
    assert "editor" in one(page, "script[src*='editor']").attributes["src"]
    assert "<h1>Saldi</h1>" in one(page, "#proposal-body").html, "the preview is the server's rendering"
    fallback = one(page, f"form[data-editor-fallback='{document.id}']")
    assert one(fallback.html, "textarea[name=body]").text() == BODY
    assert one(fallback.html, "input[name=base]").attributes["value"] == BODY
    assert css(page, f"form[action='{page_of(board, proposal, '/versioni')}']"), "'Keep this version'"


@pytest.mark.parametrize("email", ["chair@example.org", "secretary@example.org"])
def test_the_chair_and_the_secretary_read_the_draft_s_preview_without_an_editor(client, board, seed, email):
    proposal = draft(board, seed)
    login(client, email)
    page = client.get(page_of(board, proposal)).text
    assert "<h1>Saldi</h1>" in one(page, "#proposal-body").html
    assert css(page, "[data-doc-editor]") == []
    assert css(page, "form[data-editor-fallback]") == []
    assert css(page, "script[src*='editor']") == [], "the editor's island loads only where someone edits"


@pytest.mark.parametrize("email", ["member.cna@example.org", "observer@example.org"])
def test_others_do_not_see_a_draft_nor_act_on_its_text(client, board, seed, email):
    seed.person(board.table, Role.member, "member.cna@example.org", board.cna)
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    login(client, email)
    assert client.get(page_of(board, proposal)).status_code == 404
    save = post_form(client, page_of(board, proposal), {**TEXT.__dict__, "version": "1", "base": BODY}, page="/")
    keep = post_form(client, page_of(board, proposal, "/versioni"), {}, page="/")
    assert {save.status_code, keep.status_code} <= {403, 404}
    assert rows_of(seed, document) == 1
    assert len(seed.run(lambda s: proposals.versions_of(s, proposal.id))) == 1


def test_a_proposal_made_before_documents_gets_one_when_a_co_author_opens_it(client, board, seed):
    proposal = draft(board, seed)
    seed.run(lambda s: s.execute(delete(Document)))
    login(client, "chair@example.org")  # a reader: the page needs no document, and makes none
    assert client.get(page_of(board, proposal)).status_code == 200
    assert document_of(seed, proposal) is None
    login(client, "member@example.org")
    first = one(client.get(page_of(board, proposal)).text, "[data-doc-editor]").attributes["data-document-id"]
    again = one(client.get(page_of(board, proposal)).text, "[data-doc-editor]").attributes["data-document-id"]
    assert first == again == str(document_of(seed, proposal).id)
    assert text_of(seed, document_of(seed, proposal)) == BODY
    assert rows_of(seed, document_of(seed, proposal)) == 1


def test_the_form_save_keeps_an_edit_made_meanwhile_through_the_document(client, board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    login(client, "member@example.org")
    page = client.get(page_of(board, proposal)).text
    form = {
        "title": TEXT.title,
        "summary": TEXT.summary,
        "version": field_value(page, "version"),
        "base": field_value(page, "base"),
        "body": BODY.replace("Secondo paragrafo.", "Secondo paragrafo, riscritto."),
    }
    # Another co-author's browser typed in the first paragraph; its update reaches the store after the save.
    in_flight = replica_edit(seed, document, lambda t: t.insert(BODY.index("paragrafo.") + 9, " importante"))
    saved = post_form(client, page_of(board, proposal), form, page=page_of(board, proposal))
    assert saved.status_code == 303
    seed.run(lambda s: documents.append(s, document.id, in_flight, board.member.id))
    assert text_of(seed, document) == "# Saldi\n\nPrimo paragrafo importante.\n\nSecondo paragrafo, riscritto."
    assert rows_of(seed, document) == 3, "the seed, the form's difference, the other co-author's edit"


@pytest.mark.parametrize("path", ["", "/modifica"])
def test_a_form_loaded_before_someone_typed_is_409_with_both_texts(client, board, seed, path):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    login(client, "member@example.org")
    page = client.get(page_of(board, proposal, path)).text
    now = type_in(seed, document, lambda t: t.insert(0, "Nota della CGIL. "), board.member.id)
    form = {
        "title": TEXT.title,
        "summary": TEXT.summary,
        "version": field_value(page, "version"),
        "base": field_value(page, "base"),
        "body": "Il mio testo.",
    }
    stale = post_form(client, page_of(board, proposal), form, page=page_of(board, proposal))
    assert stale.status_code == 409
    assert one(stale.text, "textarea[name=body]").text() == "Il mio testo.", "what the person typed is kept"
    assert "Nota della CGIL." in one(stale.text, ".current-version").text(), "beside the text as it is now"
    assert field_value(stale.text, "base") == now, "saving again is based on the text as it is now"
    assert rows_of(seed, document) == 2
    assert text_of(seed, document) == now
    again = post_form(client, page_of(board, proposal), {**form, "base": now}, page=page_of(board, proposal))
    assert again.status_code == 303
    assert text_of(seed, document) == "Il mio testo."


def test_keep_this_version_from_the_page(client, board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    login(client, "member@example.org")
    keep = page_of(board, proposal, "/versioni")
    same = post_form(client, keep, {}, page=page_of(board, proposal))
    assert same.status_code == 200
    assert "Nulla è cambiato dalla versione 1" in one(same.text, "#proposal").text()
    type_in(seed, document, lambda t: t.insert(len(BODY), "\n\nAggiunta."), board.member.id)
    assert post_form(client, keep, {}, page=page_of(board, proposal)).status_code == 303
    versions = seed.run(lambda s: proposals.versions_of(s, proposal.id))
    assert [v.body for v in versions] == [BODY, BODY + "\n\nAggiunta."]
    compared = client.get(page_of(board, proposal), params={"da": "1", "a": "2"}).text
    assert "Aggiunta." in one(compared, "#diff ins").text()
    login(client, "chair@example.org")
    assert post_form(client, keep, {}, page=page_of(board, proposal)).status_code == 403


def test_submitting_closes_the_text_for_everyone(client, board, seed):
    seed.person(board.table, Role.member, "member.cna@example.org", board.cna)
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    text = type_in(seed, document, lambda t: t.insert(len(BODY), " Fine."), board.member.id)
    login(client, "member@example.org")
    page = client.get(page_of(board, proposal)).text
    submit = {"status": "submitted", "version": str(proposal.version)}
    assert (
        post_form(client, page_of(board, proposal, "/stato"), submit, page=page_of(board, proposal)).status_code == 303
    )
    assert document_of(seed, proposal).frozen_at is not None
    after = client.get(page_of(board, proposal)).text
    assert css(after, "[data-doc-editor]") == []
    assert "Fine." in one(after, "#proposal-body").text()
    late = {
        "title": TEXT.title,
        "summary": TEXT.summary,
        "version": field_value(page, "version"),
        "base": field_value(page, "base"),
        "body": "Troppo tardi.",
    }
    assert post_form(client, page_of(board, proposal), late, page=page_of(board, proposal)).status_code == 422
    assert text_of(seed, document) == text
    login(client, "member.cna@example.org")
    assert "Fine." in one(client.get(page_of(board, proposal)).text, "#proposal-body").text()


def test_the_page_s_history_shows_editing_sessions_not_renders(client, board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    for letter in "abcde":
        text = type_in(seed, document, lambda t, x=letter: t.insert(0, x), board.member.id)
        changed(seed, document, text, {board.member.id})
    login(client, "member@example.org")
    history = texts(client.get(page_of(board, proposal)).text, "#proposal-side li")
    assert sum("ha modificato il testo di «Saldi in una data unica»" in line for line in history) == 1


# --- live: what the co-authors type reaches the draft's readers ---------------------------------------


async def test_a_change_to_the_document_pushes_the_rendered_preview_to_a_reader(live_board, live_seed, people):
    proposal = draft(live_board, live_seed)
    document = document_of(live_seed, proposal)
    author, chair = await people("member@example.org"), await people("chair@example.org")
    reader = await chair.socket(f"{home(live_board)}?proposta={proposal.id}")
    assert "Primo paragrafo." in await next_message(reader)
    editor = await author.socket(f"/ws/docs/{document.id}")
    update = replica_edit(live_seed, document, lambda t: t.insert(len(BODY), "\n\nTerzo **punto**."))
    await editor.send(create_update_message(update))
    # The room stored it and told the area, which rendered it once and started the author's session.
    pushed = await message_with(reader, "<strong>punto</strong>")
    assert 'id="proposal-body"' in pushed
    assert "ha modificato il testo di «Saldi in una data unica»" in pushed
    # The next change is in the same session: the preview alone is pushed, with no history row.
    update = replica_edit(live_seed, document, lambda t: t.insert(len(BODY), "\n\nQuarto punto."))
    await editor.send(create_update_message(update))
    pushed = await message_with(reader, "Quarto punto.")
    assert 'id="proposal-body"' in pushed
    assert 'id="proposal-side"' not in pushed
    assert 'id="announcer"' not in pushed
    assert len(body_events(live_board)) == 1
    stored = live_board.current(Proposal, proposal.id)
    assert stored.body == BODY + "\n\nQuarto punto.\n\nTerzo **punto**."


def test_a_form_save_past_the_document_s_size_limit_is_refused_beside_the_text(board, seed):
    proposal = draft(board, seed)
    document = document_of(seed, proposal)
    values = proposals.ProposalText(TEXT.title, TEXT.summary, BODY + " Una frase in più.")
    with pytest.raises(Invalid) as refused:
        seed.run(
            lambda s: proposals.save_draft(
                s, board.table, proposal.id, values, version=proposal.version, base=BODY, actor=author(board), limit=64
            )
        )
    assert "dimensione massima" in refused.value.errors["body"]
    assert rows_of(seed, document) == 1
    assert text_of(seed, document) == BODY
