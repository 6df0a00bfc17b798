"""The minutes page over HTTP: the outline before drafting, every transition by the roles that may
make it, and every refusal (status, message, nothing changed), read with CSS selectors."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.db.models import ActionItem, Minutes, MinutesRemark, MinutesStatus, MinutesVersion, Role
from server.domain import documents
from server.domain import minutes as minutes_domain
from server.domain.actions import Actor
from tests.support import Board, csrf_of, css, login, one, post_form, texts


def page_url(board: Board) -> str:
    return f"{board.meeting_url}/verbale"


def post(client: Any, board: Board, suffix: str, data: dict[str, Any] | None = None) -> Any:
    return post_form(client, f"{page_url(board)}/{suffix}", data or {}, page=page_url(board))


def minutes_row(board: Board) -> Minutes | None:
    return board.seed.run(
        lambda s: s.scalar(
            select(Minutes).where(Minutes.meeting_id == board.meeting.id).execution_options(populate_existing=True)
        )
    )


def start(board: Board) -> Minutes:
    return board.seed.run(
        lambda s: minutes_domain.start_drafting(
            s, board.table, board.meeting.id, actor=Actor(board.secretary.id, Role.secretary)
        )
    )


def move(board: Board, to: str, **kwargs: Any) -> Minutes:
    chair = Actor(board.chair.id, Role.chair)

    async def change(session: Any) -> Any:
        row = await minutes_domain.minutes_of_meeting(session, board.meeting.id)
        assert row is not None
        if to == "sent":
            return (
                await minutes_domain.send_for_approval(session, board.table, row.id, version=row.version, actor=chair)
            ).minutes
        if to == "approved":
            return await minutes_domain.approve(
                session, board.table, row.id, version=row.version, actor=chair, **kwargs
            )
        raise AssertionError(to)

    return board.seed.run(change)


def status_of(html: str) -> str:
    return one(html, "#minutes").attributes["data-status"] or ""


# --- before drafting ----------------------------------------------------------------------------


def test_before_drafting_the_page_shows_the_outline_with_a_heading_per_item(client, board):
    login(client, "member@example.org")
    page = client.get(page_url(board))
    assert page.status_code == 200
    assert status_of(page.text) == "none"
    headings = texts(page.text, "#minutes .minutes-outline h2")
    assert headings == ["1. Saldi invernali", "2. Distretti del commercio", "3. Varie ed eventuali"]
    assert css(page.text, "form[action$='/verbale/avvia']") == [], "a member cannot start the minutes"
    assert css(page.text, "[data-doc-editor]") == [], "no document before drafting"


@pytest.mark.parametrize("email", ["secretary@example.org", "chair@example.org"])
def test_the_secretary_and_the_chair_see_the_start_button(client, board, email):
    login(client, email)
    page = client.get(page_url(board))
    assert len(css(page.text, "form[action$='/verbale/avvia'] button")) == 1


def test_the_page_of_a_meeting_of_another_table_is_404(client, board):
    login(client, "chair@example.org")
    assert client.get(f"/tavoli/{board.table.slug}/sedute/{board.other_meeting.id}/verbale").status_code == 404


# --- drafting -----------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_cannot_start_the_minutes(client, board, email):
    login(client, email)
    answer = post(client, board, "avvia")
    assert answer.status_code == 403
    assert minutes_row(board) is None


def test_the_secretary_starts_drafting_once_from_the_outline(client, board):
    login(client, "secretary@example.org")
    answer = post(client, board, "avvia")
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(page_url(board))
    row = minutes_row(board)
    assert row is not None
    assert row.status is MinutesStatus.draft
    assert row.document_id is not None
    text = board.seed.run(lambda s: documents.text_of(s, row.document_id))
    assert "## 1. Saldi invernali" in text
    assert "## 3. Varie ed eventuali" in text
    page = client.get(page_url(board))
    assert status_of(page.text) == "draft"
    editor = one(page.text, "[data-doc-editor]")
    assert editor.attributes["data-document-id"] == str(row.document_id)
    assert "data-readonly" not in editor.attributes, "the secretary writes the draft"
    assert len(css(page.text, "form[data-editor-fallback] textarea[name=minutes_text]")) == 1

    again = post(client, board, "avvia")
    assert again.status_code == 409
    assert one(again.text, "#minutes-alert").text().strip(), "the page says why"
    assert board.seed.run(lambda s: s.scalar(select(func.count()).select_from(Minutes))) == 1


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_read_the_draft_live_and_readonly(client, board, email):
    row = start(board)
    login(client, email)
    page = client.get(page_url(board))
    editor = one(page.text, "[data-doc-editor]")
    assert editor.attributes["data-readonly"] == "true"
    assert css(page.text, "form[data-editor-fallback]") == []
    assert "Saldi invernali" in one(page.text, f"div[data-editor-fallback='{row.document_id}']").text()
    assert css(page.text, "form[action$='/verbale/invia']") == []


def test_the_text_saved_without_javascript_reaches_the_document(client, board):
    row = start(board)
    login(client, "secretary@example.org")
    base = board.seed.run(lambda s: documents.text_of(s, row.document_id))
    answer = post(client, board, "testo", {"base": base, "minutes_text": base + "\nIl tavolo concorda.\n"})
    assert answer.status_code == 303
    assert "Il tavolo concorda." in board.seed.run(lambda s: documents.text_of(s, row.document_id))
    stale = post(client, board, "testo", {"base": base, "minutes_text": base + "Altro."})
    assert stale.status_code == 409
    assert "Altro." not in board.seed.run(lambda s: documents.text_of(s, row.document_id))


def test_a_member_cannot_save_the_text(client, board):
    row = start(board)
    login(client, "member@example.org")
    base = board.seed.run(lambda s: documents.text_of(s, row.document_id))
    assert post(client, board, "testo", {"base": base, "minutes_text": "Riscritto."}).status_code == 403
    assert board.seed.run(lambda s: documents.text_of(s, row.document_id)) == base


# --- the lifecycle ------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["member@example.org", "observer@example.org"])
def test_members_and_observers_cannot_send_the_minutes(client, board, email):
    row = start(board)
    login(client, email)
    assert post(client, board, "invia", {"version": str(row.version)}).status_code == 403
    assert minutes_row(board).status is MinutesStatus.draft


def test_sending_freezes_the_text_and_going_back_reopens_it(client, board):
    row = start(board)
    login(client, "secretary@example.org")
    answer = post(client, board, "invia", {"version": str(row.version)})
    assert answer.status_code == 303
    sent = minutes_row(board)
    assert sent.status is MinutesStatus.sent
    document = board.seed.run(lambda s: documents.get(s, row.document_id))
    assert document.frozen_at is not None
    page = client.get(page_url(board))
    assert status_of(page.text) == "sent"
    assert one(page.text, "[data-doc-editor]").attributes["data-readonly"] == "true", "nobody writes a sent draft"
    assert css(page.text, "form[action$='/verbale/approva']") == [], "only the chair approves"
    # A stale version is refused, nothing changes.
    stale = post(client, board, "riapri", {"version": str(row.version)})
    assert stale.status_code == 409
    assert one(stale.text, "#minutes-alert").text().strip()
    assert minutes_row(board).status is MinutesStatus.sent
    back = post(client, board, "riapri", {"version": str(sent.version)})
    assert back.status_code == 303
    assert minutes_row(board).status is MinutesStatus.draft
    assert board.seed.run(lambda s: documents.get(s, row.document_id)).frozen_at is None


def test_a_draft_cannot_be_approved_and_the_secretary_cannot_approve(client, board):
    row = start(board)
    login(client, "chair@example.org")
    refused = post(client, board, "approva", {"version": str(row.version)})
    assert refused.status_code == 422
    assert one(refused.text, "#minutes-alert").text().strip()
    assert minutes_row(board).status is MinutesStatus.draft
    sent = move(board, "sent")
    login(client, "secretary@example.org")
    assert post(client, board, "approva", {"version": str(sent.version)}).status_code == 403
    assert minutes_row(board).status is MinutesStatus.sent


def test_the_chair_approves_and_then_publishes(client, board):
    start(board)
    sent = move(board, "sent")
    login(client, "chair@example.org")
    page = client.get(page_url(board))
    assert len(css(page.text, "form[action$='/verbale/approva'] button")) >= 1
    answer = post(client, board, "approva", {"version": str(sent.version)})
    assert answer.status_code == 303
    approved = minutes_row(board)
    assert approved.status is MinutesStatus.approved
    page = client.get(page_url(board))
    assert len(css(page.text, "form[action$='/verbale/pubblica'] button")) == 1
    published = post(client, board, "pubblica", {"version": str(approved.version)})
    assert published.status_code == 303, published.text
    version = board.seed.run(lambda s: s.scalar(select(MinutesVersion)))
    assert published.headers["location"].endswith(f"/tavoli/{board.table.slug}/verbali/{version.id}")
    assert version.state.value == "published"
    assert version.chain_hash
    page = client.get(page_url(board))
    assert status_of(page.text) == "published"
    assert css(page.text, "[data-doc-editor]") == [], "a published text is never edited"
    assert len(css(page.text, f".minutes-versions a[href$='/verbali/{version.id}']")) == 1
    # Publishing again is refused: nothing new is published.
    again = post(client, board, "pubblica", {"version": str(approved.version)})
    assert again.status_code == 422
    assert board.seed.run(lambda s: s.scalar(select(func.count()).select_from(MinutesVersion))) == 1


def test_the_secretary_cannot_publish_nor_redact(client, board):
    start(board)
    sent = move(board, "sent")
    approved = move(board, "approved")
    login(client, "secretary@example.org")
    assert post(client, board, "pubblica", {"version": str(approved.version)}).status_code == 403
    assert post(client, board, "omissis", {"passages": "Saldi"}).status_code == 403
    assert minutes_row(board).status is MinutesStatus.approved
    assert sent.id == approved.id


def test_approval_recorded_by_an_item_of_a_later_meeting(client, board, seed):
    from server.domain import agenda, meetings

    later = seed.run(
        lambda s: meetings.create_meeting(
            s,
            board.table,
            meetings.parse_meeting(
                title="Seduta di gennaio", day="2032-01-13", hour="15:00", place="Palazzo Malvezzi", online_url=""
            ),
            actor_id=board.chair.id,
        )
    )
    item = seed.run(
        lambda s: agenda.add_item(
            s,
            board.table,
            later.id,
            agenda.parse_item(title="Approvazione del verbale", description="", presenter="", planned_minutes=""),
            actor_id=board.chair.id,
        )
    )
    start(board)
    sent = move(board, "sent")
    login(client, "chair@example.org")
    page = client.get(page_url(board))
    assert one(page.text, f"#approval-item option[value='{item.id}']")
    # An item of this same meeting is not a later one: refused.
    refused = post(client, board, "approva", {"version": str(sent.version), "item": str(board.items[0].id)})
    assert refused.status_code == 422
    assert minutes_row(board).status is MinutesStatus.sent
    answer = post(client, board, "approva", {"version": str(sent.version), "item": str(item.id)})
    assert answer.status_code == 303
    assert minutes_row(board).approved_at_item_id == item.id


# --- redaction ----------------------------------------------------------------------------------


def _write(board: Board, row: Minutes, extra: str) -> None:
    async def change(session: Any) -> None:
        base = await documents.text_of(session, row.document_id)
        await documents.apply_text(session, row.document_id, base=base, new=base + extra, user_id=board.secretary.id)

    board.seed.run(change)


def test_the_chair_sees_the_names_and_marks_passages(client, board):
    row = start(board)
    _write(board, row, "\nInterviene Member del CGIL.\n")
    sent = move(board, "sent")
    login(client, "chair@example.org")
    page = client.get(page_url(board))
    assert "Member" in texts(page.text, "#minutes-redaction .minutes-names li")
    refused = post(client, board, "omissis", {"version": str(sent.version), "passages": "Non nel testo"})
    assert refused.status_code == 422
    assert "Non nel testo" in one(refused.text, "#minutes-alert").text()
    assert minutes_row(board).redactions == []
    answer = post(client, board, "omissis", {"version": str(sent.version), "passage": "Member"})
    assert answer.status_code == 303
    assert minutes_row(board).redactions == ["Member"]
    login(client, "member@example.org")
    assert "Member" not in one(client.get(page_url(board)).text, "#minutes-redaction").text(), (
        "only the chair sees the panel"
    )


# --- remarks and action items -------------------------------------------------------------------


def test_a_member_adds_a_remark_on_an_item_and_replies(client, board):
    start(board)
    login(client, "member@example.org")
    item = board.items[1]
    answer = post(client, board, "osservazioni", {"item": str(item.id), "body": "Manca il **parere** del CGIL."})
    assert answer.status_code == 303
    remark = board.seed.run(lambda s: s.scalar(select(MinutesRemark)))
    assert answer.headers["location"].endswith(f"#remark-{remark.id}")
    page = client.get(page_url(board))
    section = one(page.text, f"#remarks-{item.id}")
    assert "Distretti del commercio" in section.text()
    assert one(page.text, f"#remark-{remark.id}-body .markdown strong").text() == "parere"
    reply = post(client, board, "osservazioni", {"parent": str(remark.id), "body": "Aggiunto."})
    assert reply.status_code == 303
    page = client.get(page_url(board))
    assert "Aggiunto." in one(page.text, f"#remark-{remark.id} .minutes-reply").text()
    empty = post(client, board, "osservazioni", {"item": str(item.id), "body": "  "})
    assert empty.status_code == 422
    assert one(empty.text, "#body-error").text().strip()
    assert board.seed.run(lambda s: s.scalar(select(func.count()).select_from(MinutesRemark))) == 2


def test_an_observer_cannot_remark(client, board):
    start(board)
    login(client, "observer@example.org")
    page = client.get(page_url(board))
    assert css(page.text, "#minutes-remark-form") == []
    assert post(client, board, "osservazioni", {"body": "Io no."}).status_code == 403
    assert board.seed.run(lambda s: s.scalar(select(func.count()).select_from(MinutesRemark))) == 0


def test_the_secretary_records_an_action_item_for_an_item_without_leaving_the_page(client, board):
    start(board)
    login(client, "secretary@example.org")
    page = client.get(page_url(board))
    token = csrf_of(page.text)
    item = board.items[0]
    data = {
        "item": str(item.id),
        "title": "Calendario unico dei saldi",
        "owner": str(board.member.id),
        "due_on": "2031-12-20",
        "client_key": "k-1",
        "csrf_token": token,
    }
    answer = client.post(f"{page_url(board)}/azioni", data=data, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert "Calendario unico dei saldi" in one(answer.text, "#minutes-action-result").text()
    assert one(answer.text, "#minutes-new-action form")
    action = board.seed.run(lambda s: s.scalar(select(ActionItem)))
    assert action.origin_item_id == item.id
    page = client.get(page_url(board))
    assert "Calendario unico dei saldi" in one(page.text, f"#minutes-item-{item.id}").text()
    # The same form again records it once; a missing title is refused beside the field.
    client.post(f"{page_url(board)}/azioni", data=data, headers={"HX-Request": "true"})
    bad = client.post(
        f"{page_url(board)}/azioni", data={**data, "title": "", "client_key": "k-2"}, headers={"HX-Request": "true"}
    )
    assert bad.status_code == 422
    assert one(bad.text, "#title-error").text().strip()
    assert board.seed.run(lambda s: s.scalar(select(func.count()).select_from(ActionItem))) == 1


def test_a_member_cannot_record_an_action_item_from_the_minutes(client, board):
    start(board)
    login(client, "member@example.org")
    assert css(client.get(page_url(board)).text, "#minutes-new-action") == []
    answer = post(client, board, "azioni", {"item": str(board.items[0].id), "title": "No"})
    assert answer.status_code == 403
    assert board.seed.run(lambda s: s.scalar(select(func.count()).select_from(ActionItem))) == 0


# --- the meeting page ---------------------------------------------------------------------------


def test_the_meeting_page_shows_the_minutes_state_and_links_to_them(client, board):
    login(client, "member@example.org")
    page = client.get(board.meeting_url)
    state = one(page.text, "#minutes-state")
    assert "Non iniziato" in state.text()
    assert one(page.text, "#minutes-state a").attributes["href"].endswith(page_url(board))
    start(board)
    assert "Bozza" in one(client.get(board.meeting_url).text, "#minutes-state").text()


# --- the demo -----------------------------------------------------------------------------------


async def test_the_demo_has_minutes_at_every_point_of_their_life(database, tmp_path):
    from server.demo import load_demo
    from server.demo.minutes import publish_errata
    from server.domain import minutes_publishing

    directory = tmp_path / "minutes"
    report = await load_demo(database, "una-password-demo-lunga")
    await minutes_publishing.repair(database, directory)
    errata = await publish_errata(database, directory, report.created_tables)
    assert [version.number for version in errata] == [2]
    async with database.read() as session:
        statuses = sorted(row.status.value for row in (await session.scalars(select(Minutes))).all())
        versions = (await session.scalars(select(MinutesVersion).order_by(MinutesVersion.id))).all()
    assert statuses == ["approved", "draft", "published", "published", "sent"]
    assert [v.state.value for v in versions] == ["published"] * 3
    redacted = [v for v in versions if v.redactions]
    assert len(redacted) == 1
    assert redacted[0].redactions[0] not in redacted[0].public_markdown
    assert redacted[0].redactions[0] in redacted[0].full_markdown
    checked = await minutes_publishing.verify(database, directory)
    assert checked.findings == []
    assert checked.files == 3


# --- errata and the frozen text -----------------------------------------------------------------


def test_a_sent_draft_takes_no_edit_without_javascript(client, board):
    row = start(board)
    base = board.seed.run(lambda s: documents.text_of(s, row.document_id))
    move(board, "sent")
    login(client, "secretary@example.org")
    answer = post(client, board, "testo", {"base": base, "minutes_text": base + "Tardi."})
    assert answer.status_code == 422
    assert one(answer.text, "#minutes-alert").text().strip()
    assert board.seed.run(lambda s: documents.text_of(s, row.document_id)) == base


def test_an_erratum_reopens_the_published_minutes_on_a_new_document(client, board):
    start(board)
    sent = move(board, "sent")
    approved = move(board, "approved")
    login(client, "chair@example.org")
    assert post(client, board, "pubblica", {"version": str(approved.version)}).status_code == 303
    version = board.seed.run(lambda s: s.scalar(select(MinutesVersion)))
    erratum_url = f"/tavoli/{board.table.slug}/verbali/{version.id}/errata"
    version_page = f"/tavoli/{board.table.slug}/verbali/{version.id}"
    assert len(css(client.get(version_page).text, f"form[action='{erratum_url}'] button")) == 1
    login(client, "member@example.org")
    assert css(client.get(version_page).text, f"form[action='{erratum_url}']") == []
    assert post_form(client, erratum_url, {}, page=version_page).status_code == 403
    assert minutes_row(board).status is MinutesStatus.published
    login(client, "secretary@example.org")
    answer = post_form(client, erratum_url, {}, page=version_page)
    assert answer.status_code == 303
    assert answer.headers["location"] == page_url(board)
    row = minutes_row(board)
    assert row.status is MinutesStatus.draft
    assert row.document_id != version.document_id
    page = client.get(page_url(board))
    editor = one(page.text, "[data-doc-editor]")
    assert editor.attributes["data-document-id"] == str(row.document_id)
    assert "data-readonly" not in editor.attributes
    again = post_form(client, erratum_url, {}, page=version_page)
    assert again.status_code in (409, 422)
    assert sent.id == row.id
