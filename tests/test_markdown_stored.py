"""Markdown is rendered once, when written, and stored; pages and pushes only show it.

A text too slow to lay out is cut off in the worker process and kept as escaped plain text, with a
note; a new renderer version renders the stored texts again.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, text, update

from server.cli import rerender_markdown
from server.db import migrations
from server.db.models import ActionNote, AgendaItem, Proposal, ProposalComment, ProposalStatus, Role, Table
from server.db.session import Database
from server.domain import actions, decisions, minutes, minutes_remarks, proposals, tables, texts
from server.domain.actions import Actor
from server.markdown import INLINE_LIMIT, PLAIN_MARKER, RENDERER_VERSION, MarkdownRenderer, plain_html, stored
from tests.live_support import home, message_with, next_message
from tests.support import css, field_value, login, one

PATHOLOGICAL = "![" * 20000
LONG = "Il tavolo propone di **rafforzare** la rete dei servizi, con [le linee guida](https://example.org).\n\n" * 5
NOTE_IT = "Impaginare questo testo richiedeva troppo tempo"


def post(client, path, data, *, page="/"):
    token = field_value(client.get(page).text, "csrf_token")
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


# --- the renderer ---------------------------------------------------------------------------------


async def test_short_texts_render_on_the_loop_and_long_ones_in_the_worker():
    renderer = MarkdownRenderer()
    try:
        assert await renderer.render("**ciao**") == "<p><strong>ciao</strong></p>\n"
        assert renderer._worker is None, "a short text needs no worker"
        assert len(LONG) > INLINE_LIMIT
        html = await renderer.render(LONG)
        assert renderer._worker is not None, "a long text went to the worker"
        assert html.count("<strong>rafforzare</strong>") == 5
        assert 'href="https://example.org" rel="noopener noreferrer nofollow"' in html
        assert (renderer.renders, renderer.cut_off) == (2, 0)
    finally:
        await renderer.close()
    assert renderer._worker is None


async def test_a_pathological_text_is_cut_off_in_the_worker_and_kept_as_plain_text():
    renderer = MarkdownRenderer(time_limit=0.3, time_limit_per_character=0)
    try:
        await renderer.render(LONG)  # the worker is up: what follows times the rendering only
        first = renderer._worker
        started = time.monotonic()
        html = await renderer.render(PATHOLOGICAL)
        assert time.monotonic() - started < 5, "cut off at its time limit, not rendered to the end"
        assert html == plain_html(PATHOLOGICAL)
        assert html.startswith(PLAIN_MARKER)
        assert PATHOLOGICAL in html, "the text is kept whole"
        assert renderer.cut_off == 1
        assert first is not None
        assert first.returncode is not None, "the worker that was stuck was killed"
        # The next long text gets a new worker, and its HTML.
        assert "<strong>rafforzare</strong>" in await renderer.render(LONG)
        assert renderer._worker is not None
        assert renderer._worker is not first
    finally:
        await renderer.close()


async def test_a_cancelled_rendering_does_not_leave_its_answer_to_the_next_text():
    renderer = MarkdownRenderer(time_limit=30)
    try:
        await renderer.render(LONG)
        in_worker = asyncio.Event()  # the signal: the slow text is on its way to the worker
        original = renderer._in_worker

        async def sent(text: str) -> str:
            in_worker.set()
            return await original(text)

        renderer._in_worker = sent  # type: ignore[method-assign]
        task = asyncio.create_task(renderer.render("![" * 2000 + " lento"))
        await asyncio.wait_for(in_worker.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert "<strong>rafforzare</strong>" in await renderer.render(LONG)
    finally:
        await renderer.close()


def test_plain_text_is_escaped_in_paragraphs():
    html = plain_html("<script>alert(1)</script>\nseconda riga\n\n\n[x](javascript:alert(2))")
    assert html == (
        f"{PLAIN_MARKER}<p>&lt;script&gt;alert(1)&lt;/script&gt;<br>seconda riga</p>"
        "<p>[x](javascript:alert(2))</p></div>"
    )


def test_the_filter_shows_only_markdown_fields():
    table = Table(name="T", purpose="**x**", purpose_html="<p><strong>x</strong></p>")
    assert str(stored(table, "purpose")) == '<div class="markdown" hx-disable><p><strong>x</strong></p></div>'
    with pytest.raises(ValueError, match="not a Markdown field"):
        stored(table, "name")


# --- written through the domain -------------------------------------------------------------------


async def test_texts_are_stored_with_their_sanitised_html(database):
    hostile = "**ciao** <script>alert(1)</script> [x](javascript:alert(2))"
    async with database.transaction() as session:
        table = await tables.create_table(session, slug="t", name="T", purpose=hostile)
    assert table.purpose == hostile
    assert table.rendered_with == RENDERER_VERSION
    assert "<strong>ciao</strong>" in table.purpose_html
    assert "<script" not in table.purpose_html
    assert "javascript:" not in table.purpose_html.replace("[x](javascript:alert(2))", "")
    async with database.transaction() as session:
        updated = await tables.update_table(
            session, table, purpose=LONG, established="", is_public=False, version=table.version, actor_id=None
        )
    assert updated.purpose_html.count("<strong>rafforzare</strong>") == 5, "a long text, rendered in the worker"
    assert database.markdown.renders == 2


async def test_an_unchanged_text_is_not_rendered_again(database):
    async with database.transaction() as session:
        table = await tables.create_table(session, slug="t", name="T", purpose="*uno*")
    async with database.transaction() as session:
        await tables.update_table(
            session, table, purpose="*uno*", established="2024", is_public=True, version=table.version, actor_id=None
        )
    assert database.markdown.renders == 1


def test_a_pathological_proposal_is_kept_as_plain_text_with_a_note(client, board):
    login(client, "member@example.org")
    base = f"/tavoli/{board.table.slug}/proposte"
    key = field_value(client.get(f"{base}/nuova").text, "client_key")
    data = {"title": "Parentesi", "summary": "", "body": PATHOLOGICAL, "authors": [board.cgil.slug], "client_key": key}
    started = time.monotonic()
    response = post(client, base, data)
    assert response.status_code == 303, response.text
    assert time.monotonic() - started < 15, "cut off at its time limit (1.4 s for 40,000 characters)"
    renderer = client.app.state.markdown
    assert renderer.cut_off == 1
    page = client.get(response.headers["location"]).text
    body = one(page, ".proposal-body .markdown")
    assert NOTE_IT in body.text()
    assert one(page, ".proposal-body .markdown-plain").text() == PATHOLOGICAL
    assert renderer.cut_off == 1, "showing it renders nothing"


# --- shown, never rendered ------------------------------------------------------------------------


def test_a_page_view_renders_no_markdown(client, board):
    proposal = board.proposal()  # a body and a comment, rendered when written
    login(client, "member@example.org")
    renderer = client.app.state.markdown
    before = renderer.renders
    assert before > 0
    for path in (
        f"/tavoli/{board.table.slug}",
        f"/tavoli/{board.table.slug}/proposte/{proposal.id}",
        board.meeting_url,
    ):
        assert client.get(path).status_code == 200
    page = client.get(f"/tavoli/{board.table.slug}").text
    assert "ripartenza" in [node.text() for node in css(page, ".markdown strong")], "the purpose, as stored"
    assert renderer.renders == before


async def test_a_push_renders_no_markdown(live_server, live_board, people):
    action = live_board.action()  # owned by the chair
    renderer = live_server.app.state.markdown
    chair = await people("chair@example.org")
    socket = await chair.socket(f"{home(live_board)}?azione={action.id}")
    await next_message(socket)
    before = renderer.renders
    answer = await chair.post(
        f"/tavoli/{live_board.table.slug}/azioni/{action.id}/note", {"body": "Sentiti i **consorzi**."}
    )
    assert answer.status_code == 303
    message = await message_with(socket, "consorzi")
    assert "<strong>consorzi</strong>" in message
    assert renderer.renders == before + 1, "the note was rendered once, when written; the push rendered nothing"
    page = await chair.http.get(f"/tavoli/{live_board.table.slug}/azioni/{action.id}")
    assert page.status_code == 200
    assert "<strong>consorzi</strong>" in page.text
    assert renderer.renders == before + 1


# --- a new renderer version -----------------------------------------------------------------------


async def _stale_rows(database: Database) -> None:
    """Everything as an older renderer version would have left it."""
    async with database.transaction() as session:
        for model in texts.rendered_models():
            table = model.__table__
            blank = {f"{field}_html": "<p>vecchio</p>" for field in model.markdown_fields}
            await session.execute(update(table).values(rendered_with=0, **blank))


async def test_a_new_renderer_version_renders_every_stored_text_again(database, database_url, db_seed):
    from tests.support import Board

    board = Board(db_seed)
    board.proposal()
    action, chair = board.action(), Actor(board.chair.id, Role.chair)
    db_seed.run(lambda s: actions.add_note(s, board.table, action.id, "Una **nota**.", actor=chair))
    item = board.items[0]
    db_seed.run(
        lambda s: decisions.record_decision(
            s, board.table, item.id, kind="agreed", text="Si **approva**.", proposal_id=None, actor=chair
        )
    )
    minutes_row = db_seed.run(lambda s: minutes.start_drafting(s, board.table, board.meeting.id, actor=chair))
    db_seed.run(
        lambda s: minutes_remarks.add_remark(
            s, board.table, minutes_row.id, item_id=item.id, parent_id=None, body="Un'*osservazione*.", actor=chair
        )
    )
    await _stale_rows(database)
    versions = {model: await _versions(database, model) for model in (Table, Proposal)}
    assert await rerender_markdown(database_url) > 0
    async with database.read() as session:
        for model in texts.rendered_models():
            rows = (await session.scalars(select(model))).all()
            assert rows, model
            for row in rows:
                assert row.rendered_with == RENDERER_VERSION
                for field in model.markdown_fields:
                    assert "vecchio" not in getattr(row, f"{field}_html")
        purpose = (await session.scalars(select(Table).where(Table.id == board.table.id))).one().purpose_html
        assert purpose == "<p>Coordinamento per la <strong>ripartenza</strong> di commercio e turismo.</p>\n"
        note = (await session.scalars(select(ActionNote))).one()
        assert note.body_html == "<p>Una <strong>nota</strong>.</p>\n"
        assert (await session.scalars(select(ProposalComment))).one().body_html == "<p>Un commento.</p>\n"
    for model, before in versions.items():
        assert await _versions(database, model) == before, "rendering again is not an edit: no version moves"
    assert await rerender_markdown(database_url) == 0


async def _versions(database: Database, model) -> list[int]:
    async with database.read() as session:
        return list((await session.scalars(select(model.version).order_by(model.id))).all())


async def test_a_row_of_an_older_version_is_rendered_whole_when_next_written(database, monkeypatch):
    async with database.transaction() as session:
        table = await tables.create_table(session, slug="t", name="T")
        proposal = Proposal(table_id=table.id, title="P", summary="")
        await texts.write(session, proposal, body="*corpo*", outcome="**esito**")
        session.add(proposal)
    async with database.transaction() as session:
        await session.execute(update(Proposal.__table__).values(outcome_html="<p>vecchio</p>"))
    before = database.markdown.renders
    monkeypatch.setattr(texts, "RENDERER_VERSION", RENDERER_VERSION + 1)
    async with database.transaction() as session:
        proposal = await session.get_one(Proposal, proposal.id, populate_existing=True)
        await texts.write(session, proposal, body="*nuovo corpo*")
    assert proposal.rendered_with == RENDERER_VERSION + 1
    assert proposal.body_html == "<p><em>nuovo corpo</em></p>\n"
    assert proposal.outcome_html == "<p><strong>esito</strong></p>\n", "its other text was rendered again too"
    assert database.markdown.renders == before + 2


async def test_rows_from_before_the_migration_are_rendered_by_tavoli_migrate(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(migrations.upgrade, url, "0004")
    database = Database(url)
    try:
        async with database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO tables (slug, name, purpose, established, is_public, event_seq, created_at, version) "
                    "VALUES ('t', 'T', 'Lo **scopo**.', '', 0, 0, '2026-01-01 00:00:00', 1)"
                )
            )
    finally:
        await database.dispose()
    await asyncio.to_thread(migrations.upgrade, url)
    assert await rerender_markdown(url) == 1
    database = Database(url)
    try:
        async with database.read() as session:
            table = (await session.scalars(select(Table))).one()
    finally:
        await database.dispose()
    assert (table.purpose_html, table.rendered_with, table.version) == (
        "<p>Lo <strong>scopo</strong>.</p>\n",
        RENDERER_VERSION,
        1,
    )


@pytest.mark.parametrize("model", [AgendaItem, ProposalComment])
def test_every_markdown_field_has_its_html_column(model):
    for field in model.markdown_fields:
        assert f"{field}_html" in model.__table__.c


def test_the_proposal_outcome_is_stored_rendered(client, board, seed):
    proposal = board.proposal()
    chair = Actor(board.chair.id, Role.chair)

    async def decide(session):
        await proposals.set_status(
            session, board.table, proposal.id, ProposalStatus.under_discussion, version=proposal.version, actor=chair
        )
        current = await session.get_one(Proposal, proposal.id)
        return await proposals.set_status(
            session,
            board.table,
            proposal.id,
            ProposalStatus.approved,
            version=current.version,
            actor=chair,
            outcome="Approvata *all'unanimità*.",
        )

    decided = seed.run(decide)
    assert decided.outcome_html == "<p>Approvata <em>all'unanimità</em>.</p>\n"
