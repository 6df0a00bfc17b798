"""The minutes in the domain: the outline and the document seeded once, who writes and reads it, the
lifecycle by role with every refusal, the freeze that really freezes, approval locking the
decisions, the published versions (full and public copies, redaction only in the public one),
errata, remarks and action items recorded from the minutes."""

import asyncio
import dataclasses
import hashlib
import io
from datetime import timedelta

import pycrdt
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from server.db.models import (
    ActionItem,
    Decision,
    DecisionKind,
    Document,
    DocumentKind,
    DocumentUpdate,
    Minutes,
    MinutesRemark,
    MinutesStatus,
    MinutesVersion,
    Position,
    PositionKind,
    PublicationState,
    Role,
)
from server.domain import actions, agenda, documents, meetings, minutes_archive, texts
from server.domain import minutes as m
from server.domain.actions import Actor
from server.domain.decisions import position_label
from server.domain.documents import DocumentAccess, DocumentFrozen
from server.domain.errors import Duplicate, Forbidden, Invalid, NotFound, Stale
from server.domain.minutes_record import collect
from server.domain.minutes_redaction import OMISSIS, find_names, names_in, redact
from server.domain.minutes_remarks import add_remark, remarks_by_item, remarks_of
from server.i18n import use_locale
from server.live.documents import FROZEN, RESTART, Rooms
from server.live.yprotocol import UPDATE, sync_message

NAME = "Mario Rossi"


@pytest.fixture
def seed(db_seed):
    """The records of these tests go straight into the database, through the domain: no app runs."""
    return db_seed


@pytest.fixture
def people(board):
    return {
        "chair": Actor(board.chair.id, Role.chair),
        "secretary": Actor(board.secretary.id, Role.secretary),
        "member": Actor(board.member.id, Role.member),
        "observer": Actor(board.observer.id, Role.observer),
    }


@pytest.fixture
def attended(board, seed):
    """The board's meeting with its attendance: Confcommercio (Mario Rossi) and CNA present, CGIL absent."""
    marks = {board.ascom.id: (True, f"{NAME}, Anna Bianchi"), board.cna.id: (True, "Carla Verdi")}
    seed.run(lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=0, actor_id=None))
    return board


def start(seed, board, actor):
    return seed.run(lambda s: m.start_drafting(s, board.table, board.meeting.id, actor=actor))


def current(seed, minutes_id):
    return seed.run(lambda s: s.get(Minutes, minutes_id, populate_existing=True))


def text_of(seed, document_id):
    return seed.run(lambda s: documents.text_of(s, document_id))


def rows(seed, document_id):
    return seed.run(
        lambda s: s.scalar(
            select(func.count()).select_from(DocumentUpdate).where(DocumentUpdate.document_id == document_id)
        )
    )


def edit(seed, document_id, change, user_id=None):
    """A browser's edit: an update made on a replica loaded from the store, then stored."""
    doc = seed.run(lambda s: documents.load(s, document_id))
    before = doc.get_state()
    change(doc.get(documents.TEXT, type=pycrdt.Text))
    update = doc.get_update(before)
    return seed.run(lambda s: documents.append(s, document_id, update, user_id))


def append_text(seed, document_id, words, user_id=None):
    return edit(seed, document_id, lambda t: t.insert(len(str(t).encode()), words), user_id)


def send(seed, board, minutes_id, actor):
    version = current(seed, minutes_id).version
    return seed.run(lambda s: m.send_for_approval(s, board.table, minutes_id, version=version, actor=actor))


def reopen(seed, board, minutes_id, actor):
    version = current(seed, minutes_id).version
    return seed.run(lambda s: m.back_to_draft(s, board.table, minutes_id, version=version, actor=actor))


def approve(seed, board, minutes_id, actor, at_item_id=None):
    version = current(seed, minutes_id).version
    return seed.run(
        lambda s: m.approve(s, board.table, minutes_id, version=version, actor=actor, at_item_id=at_item_id)
    )


def publish(seed, minutes_id, actor):
    """What the publishing protocol does around the archive: build the version, then mark it published."""
    built = seed.run(lambda s: m.build_version(s, minutes_id, actor))
    assert built.state is PublicationState.publishing
    return seed.run(lambda s: m.mark_published(s, built.id, actor_id=actor.user_id, chain_hash="c" * 64))


def kinds(board):
    return [e.kind for e in board.events() if e.kind.startswith("minutes.")]


def record_decision(seed, board, item, kind=DecisionKind.agreed, text="Si approva il calendario."):
    async def make(session):
        decision = Decision(table_id=board.table.id, meeting_id=board.meeting.id, item_id=item.id, kind=kind)
        await texts.write(session, decision, text=text)
        session.add(decision)
        await session.flush()
        session.add_all(
            [
                Position(
                    decision_id=decision.id, organisation_id=board.ascom.id, kind=PositionKind.favourable, delegate=NAME
                ),
                Position(
                    decision_id=decision.id,
                    organisation_id=board.cna.id,
                    kind=PositionKind.reservation,
                    reservation="Solo per il centro storico.",
                    delegate="Carla Verdi",
                ),
            ]
        )
        await session.flush()
        return decision

    return seed.run(make)


def later_meeting(seed, board, day="2032-01-20"):
    values = meetings.parse_meeting(
        title="Seduta di gennaio", day=day, hour="15:00", place="Palazzo Malvezzi", online_url=""
    )
    meeting = seed.run(lambda s: meetings.create_meeting(s, board.table, values, actor_id=None))
    item = seed.run(
        lambda s: agenda.add_item(
            s,
            board.table,
            meeting.id,
            agenda.parse_item(title="Approvazione del verbale", description="", presenter="", planned_minutes=""),
            actor_id=None,
        )
    )
    return meeting, item


# --- the outline and the start of drafting ------------------------------------------------------


def test_the_outline_has_the_title_the_attendance_and_a_heading_per_item_in_order(attended, seed):
    with use_locale("it"):
        record = seed.run(lambda s: collect(s, attended.meeting.id))
        text = m.outline(record)
    lines = text.splitlines()
    assert lines[0] == "# Seduta di dicembre"
    assert "Palazzo Malvezzi" in lines[2]
    assert f"- Confcommercio Ascom Bologna: {NAME}, Anna Bianchi" in lines
    assert "- CNA Bologna: Carla Verdi" in lines
    assert "- CGIL Bologna" in lines  # absent, listed under its own heading
    assert text.index("**Enti assenti**") > text.index("**Enti presenti**")
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## 1. Saldi invernali", "## 2. Distretti del commercio", "## 3. Varie ed eventuali"]
    assert {p.organisation: p.delegates for p in record.present} == {
        "CNA Bologna": ("Carla Verdi",),
        "Confcommercio Ascom Bologna": (NAME, "Anna Bianchi"),
    }
    assert record.absent == ("CGIL Bologna",)


def test_the_secretary_starts_drafting_and_the_document_is_seeded_once_from_the_outline(attended, seed, people):
    minutes = start(seed, attended, people["secretary"])
    assert minutes.status is MinutesStatus.draft
    document = seed.run(lambda s: documents.find(s, DocumentKind.minutes, minutes.id))
    assert document.id == minutes.document_id
    assert rows(seed, document.id) == 1
    with use_locale("it"):
        expected = m.outline(seed.run(lambda s: collect(s, attended.meeting.id)))
    assert text_of(seed, document.id) == expected
    event = attended.events("minutes.started")[-1]
    assert event.actor_id == attended.secretary.id
    assert event.payload["minutes_id"] == minutes.id
    assert event.payload["meeting_id"] == attended.meeting.id

    # Starting again is refused, whoever asks: the document is never seeded a second time.
    with pytest.raises(Duplicate, match="già in scrittura"):
        start(seed, attended, people["chair"])
    # Re-inserting an item's heading is an ordinary edit, stored as one more update.
    append_text(seed, document.id, "## 1. Saldi invernali\n")
    assert rows(seed, document.id) == 2
    assert seed.run(lambda s: s.scalar(select(func.count()).select_from(Minutes))) == 1
    assert seed.run(lambda s: s.scalar(select(func.count()).select_from(Document))) == 1
    assert kinds(attended) == ["minutes.started"]


@pytest.mark.parametrize("role", ["member", "observer"])
def test_only_chair_and_secretary_start_drafting(board, seed, people, role):
    with pytest.raises(Forbidden):
        start(seed, board, people[role])
    assert seed.run(lambda s: m.minutes_of_meeting(s, board.meeting.id)) is None
    assert kinds(board) == []


def test_another_tables_meeting_has_no_minutes_here(board, seed, people):
    with pytest.raises(NotFound):
        seed.run(lambda s: m.start_drafting(s, board.table, board.other_meeting.id, actor=people["chair"]))


# --- the document: who reads it, who writes it --------------------------------------------------


def access(seed, document_id, role, *, is_admin=False):
    async def ask(session):
        document = await session.get(Document, document_id, populate_existing=True)
        return await m.document_access(session, document, role=role, is_admin=is_admin)

    return seed.run(ask)


def test_chair_and_secretary_write_the_draft_members_and_observers_read_it_the_public_nothing(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    doc = minutes.document_id
    assert access(seed, doc, Role.chair) is DocumentAccess.edit
    assert access(seed, doc, Role.secretary) is DocumentAccess.edit
    assert access(seed, doc, Role.member) is DocumentAccess.read
    assert access(seed, doc, Role.observer) is DocumentAccess.read
    assert access(seed, doc, None, is_admin=True) is DocumentAccess.read
    assert access(seed, doc, None) is DocumentAccess.none

    send(seed, board, minutes.id, people["secretary"])
    for role in Role:
        assert access(seed, doc, role) is DocumentAccess.read
    assert access(seed, doc, None) is DocumentAccess.none

    reopen(seed, board, minutes.id, people["chair"])
    assert access(seed, doc, Role.secretary) is DocumentAccess.edit


def test_a_proposals_document_is_none_of_the_minutes_business(board, seed, people):
    board.proposal()
    body = seed.run(lambda s: documents.find(s, DocumentKind.proposal_body, board.proposal().id))
    assert access(seed, body.id, Role.chair) is DocumentAccess.none


def test_edits_are_recorded_once_per_person_and_editing_session(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    now = m.utcnow()

    async def changed(session, at, editors):
        document = await session.get(Document, minutes.document_id)
        await m.document_changed(session, document, "testo", frozenset(editors), now=at)

    seed.run(lambda s: changed(s, now, {board.secretary.id, board.chair.id}))
    seed.run(lambda s: changed(s, now + timedelta(minutes=1), {board.secretary.id}))
    assert len(board.events("minutes.edited")) == 2
    seed.run(lambda s: changed(s, now + timedelta(minutes=30), {board.secretary.id}))
    edited = board.events("minutes.edited")
    assert [e.actor_id for e in edited] == [*sorted([board.secretary.id, board.chair.id]), board.secretary.id]


# --- the lifecycle ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["member", "observer"])
def test_members_and_observers_do_not_send_the_minutes(board, seed, people, role):
    minutes = start(seed, board, people["secretary"])
    with pytest.raises(Forbidden):
        send(seed, board, minutes.id, people[role])
    assert current(seed, minutes.id).status is MinutesStatus.draft
    append_text(seed, minutes.document_id, "Ancora scrivibile.\n")


def test_sending_freezes_the_document_and_a_write_to_it_is_refused(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    append_text(seed, minutes.document_id, "Il presidente apre la seduta.\n")
    sent = send(seed, board, minutes.id, people["secretary"])
    assert sent.document_id == minutes.document_id
    assert sent.minutes.status is MinutesStatus.sent
    assert current(seed, minutes.id).sent_at is not None
    before = text_of(seed, minutes.document_id)
    stored = rows(seed, minutes.document_id)
    with pytest.raises(DocumentFrozen):
        append_text(seed, minutes.document_id, "Aggiunta tardiva.\n")
    with pytest.raises(DocumentFrozen):
        seed.run(lambda s: documents.apply_text(s, minutes.document_id, base=before, new=before + "x\n", user_id=None))
    assert text_of(seed, minutes.document_id) == before
    assert rows(seed, minutes.document_id) == stored
    event = board.events("minutes.sent")[-1]
    assert event.payload["status"] == "sent"
    assert event.payload["before"] == "draft"


def test_sending_twice_is_one_change_and_a_stale_version_is_refused(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    version = current(seed, minutes.id).version
    send(seed, board, minutes.id, people["secretary"])
    # The same button pressed again: nothing more happens.
    seed.run(lambda s: m.send_for_approval(s, board.table, minutes.id, version=version, actor=people["chair"]))
    assert len(board.events("minutes.sent")) == 1
    # Back to draft from a page loaded before the sending: stale.
    with pytest.raises(Stale):
        seed.run(lambda s: m.back_to_draft(s, board.table, minutes.id, version=version, actor=people["chair"]))
    assert current(seed, minutes.id).status is MinutesStatus.sent


def test_back_to_draft_reopens_the_same_document_and_keeps_the_remarks(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    send(seed, board, minutes.id, people["secretary"])
    remark = seed.run(
        lambda s: add_remark(
            s,
            board.table,
            minutes.id,
            item_id=board.items[0].id,
            parent_id=None,
            body="Manca il mio intervento.",
            actor=people["member"],
        )
    )
    with pytest.raises(Forbidden):
        reopen(seed, board, minutes.id, people["member"])
    reopened = reopen(seed, board, minutes.id, people["chair"])
    assert reopened.document_id == minutes.document_id
    assert reopened.minutes.status is MinutesStatus.draft
    append_text(seed, minutes.document_id, "Intervento del membro.\n")
    assert text_of(seed, minutes.document_id).endswith("Intervento del membro.\n")
    assert seed.run(lambda s: documents.find(s, DocumentKind.minutes, minutes.id)).id == minutes.document_id
    assert [thread[0].id for thread in seed.run(lambda s: remarks_of(s, minutes.id))] == [remark.id]
    assert kinds(board)[-2:] == ["minutes.remark", "minutes.reopened"]
    # Sent again: frozen again.
    send(seed, board, minutes.id, people["secretary"])
    with pytest.raises(DocumentFrozen):
        append_text(seed, minutes.document_id, "No.\n")


def test_a_draft_cannot_be_approved_nor_reopened(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    with pytest.raises(Invalid) as refused:
        approve(seed, board, minutes.id, people["chair"])
    assert "status" in refused.value.errors
    assert current(seed, minutes.id).status is MinutesStatus.draft
    assert current(seed, minutes.id).approved_at is None


@pytest.mark.parametrize("role", ["secretary", "member", "observer"])
def test_only_the_chair_approves_on_their_own(board, seed, people, role):
    minutes = start(seed, board, people["secretary"])
    send(seed, board, minutes.id, people["secretary"])
    with pytest.raises(Forbidden, match="Solo la presidenza può approvare il verbale"):
        approve(seed, board, minutes.id, people[role])
    assert current(seed, minutes.id).status is MinutesStatus.sent


def test_the_chairs_approval_locks_the_meetings_decisions(attended, seed, people):
    board = attended
    decision = record_decision(seed, board, board.items[0])
    minutes = start(seed, board, people["secretary"])
    send(seed, board, minutes.id, people["secretary"])
    approved = approve(seed, board, minutes.id, people["chair"])
    assert approved.status is MinutesStatus.approved
    assert approved.approved_by == board.chair.id
    assert approved.approved_at_item_id is None
    assert board.current(Decision, decision.id).locked_at is not None
    assert "decision.locked" in [e.kind for e in board.events()]
    assert board.events("minutes.approved")[-1].payload["status"] == "approved"
    # Approved minutes go back to draft only through an erratum, after publishing.
    with pytest.raises(Invalid):
        reopen(seed, board, minutes.id, people["chair"])


def test_approval_recorded_at_an_item_of_a_later_meeting(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    send(seed, board, minutes.id, people["secretary"])
    _earlier, earlier_item = later_meeting(seed, board, day="2031-06-01")
    later, later_item = later_meeting(seed, board)
    with pytest.raises(Invalid) as refused:
        approve(seed, board, minutes.id, people["secretary"], at_item_id=earlier_item.id)
    assert "item" in refused.value.errors
    with pytest.raises(Invalid):
        approve(seed, board, minutes.id, people["secretary"], at_item_id=board.items[2].id)  # its own meeting
    with pytest.raises(NotFound):
        approve(seed, board, minutes.id, people["secretary"], at_item_id=board.other_item.id)
    with pytest.raises(Forbidden):
        approve(seed, board, minutes.id, people["member"], at_item_id=later_item.id)
    assert current(seed, minutes.id).status is MinutesStatus.sent

    approved = approve(seed, board, minutes.id, people["secretary"], at_item_id=later_item.id)
    assert approved.status is MinutesStatus.approved
    assert approved.approved_at_item_id == later_item.id
    event = board.events("minutes.approved")[-1]
    assert event.payload["item_id"] == later_item.id
    assert event.payload["at_meeting_id"] == later.id


# --- redaction, publishing, errata --------------------------------------------------------------


def draft_with_a_name(seed, board, people):
    minutes = start(seed, board, people["secretary"])
    append_text(seed, minutes.document_id, f"Interviene {NAME} sui saldi. Il signor {NAME} chiede un rinvio.\n")
    return minutes


def test_names_in_finds_the_tables_people_as_the_text_writes_them(attended, seed, people):
    text = "Interviene MARIO ROSSI; poi la dott.ssa Carla Verdi e Member. Nessun Marione Rossini."
    found = seed.run(lambda s: names_in(text, s, attended.table))
    assert found == ["MARIO ROSSI", "Carla Verdi", "Member"]
    assert find_names("Rossi Mario", [NAME]) == []
    assert redact("Mario Rossi e Rossi", ["Rossi", NAME]) == f"{OMISSIS} e {OMISSIS}"


def test_only_the_chair_marks_passages_and_only_passages_of_the_text(attended, seed, people):
    board = attended
    minutes = draft_with_a_name(seed, board, people)
    for role in ("secretary", "member", "observer"):
        with pytest.raises(Forbidden):
            seed.run(lambda s, r=role: m.set_redactions(s, board.table, minutes.id, [NAME], actor=people[r]))
    with pytest.raises(Invalid) as refused:
        seed.run(lambda s: m.set_redactions(s, board.table, minutes.id, [NAME, "Giulia Neri"], actor=people["chair"]))
    assert "Giulia Neri" in refused.value.errors["redactions"]
    assert current(seed, minutes.id).redactions == []
    assert kinds(board) == ["minutes.started"]

    marked = seed.run(
        lambda s: m.set_redactions(s, board.table, minutes.id, [f" {NAME} ", NAME], actor=people["chair"])
    )
    assert marked.redactions == [NAME]
    seed.run(lambda s: m.set_redactions(s, board.table, minutes.id, [NAME], actor=people["chair"]))
    assert len(board.events("minutes.redacted")) == 1
    assert board.events("minutes.redacted")[0].payload["count"] == 1


def pdf_text(data):
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_a_published_version_keeps_the_name_in_the_full_copy_only(attended, seed, people):
    board = attended
    record_decision(seed, board, board.items[0], text=f"Si accoglie la richiesta di {NAME}.")
    minutes = draft_with_a_name(seed, board, people)
    seed.run(lambda s: m.set_redactions(s, board.table, minutes.id, [NAME], actor=people["chair"]))
    send(seed, board, minutes.id, people["secretary"])
    with pytest.raises(Invalid):  # not approved yet
        seed.run(lambda s: m.build_version(s, minutes.id, people["chair"]))
    approve(seed, board, minutes.id, people["chair"])
    for role in ("secretary", "member"):
        with pytest.raises(Forbidden):
            seed.run(lambda s, r=role: m.build_version(s, minutes.id, people[r]))

    built = seed.run(lambda s: m.build_version(s, minutes.id, people["chair"]))
    assert built.state is PublicationState.publishing
    assert built.number == 1
    assert built.supersedes_id is None
    assert current(seed, minutes.id).status is MinutesStatus.approved  # until the file is in the archive
    with pytest.raises(Invalid, match="già in pubblicazione"):
        seed.run(lambda s: m.build_version(s, minutes.id, people["chair"]))
    version = seed.run(lambda s: m.mark_published(s, built.id, actor_id=board.chair.id, chain_hash="c" * 64))
    assert version.state is PublicationState.published
    assert version.published_at is not None
    assert current(seed, minutes.id).status is MinutesStatus.published
    # Marking it again (a repair finding it done) changes nothing.
    seed.run(lambda s: m.mark_published(s, built.id, actor_id=None))
    assert len(board.events("minutes.published")) == 1

    # The full copy: the text as written, with every hash of what is stored.
    assert NAME in version.full_markdown
    assert NAME in version.full_html
    assert NAME in pdf_text(version.full_pdf)
    assert version.full_sha256 == {
        "markdown": hashlib.sha256(version.full_markdown.encode()).hexdigest(),
        "html": hashlib.sha256(version.full_html.encode()).hexdigest(),
        "pdf": hashlib.sha256(version.full_pdf).hexdigest(),
    }
    # The public copy: the archive file, its HTML and PDF, without the name anywhere.
    file = version.public_markdown.encode()
    assert version.public_sha256["markdown"] == hashlib.sha256(file).hexdigest()
    assert version.public_sha256["pdf"] == hashlib.sha256(version.public_pdf).hexdigest()
    assert version.public_sha256["html"] == hashlib.sha256(version.public_html.encode()).hexdigest()
    for public in (version.public_markdown, version.public_html, pdf_text(version.public_pdf)):
        assert "Rossi" not in public
    assert OMISSIS in version.public_html
    assert OMISSIS in version.public_markdown
    assert version.full_sha256["markdown"] not in version.public_markdown
    front, body = minutes_archive.split_file(file)
    assert front == version.front_matter
    assert front["body_sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert front["version"] == 1
    assert front["supersedes"] is None
    assert front["decisions"][0]["text"] == f"Si accoglie la richiesta di {OMISSIS}."
    present = {p["organisation"]: p["delegates"] for p in front["attendance"]["present"]}
    assert present["Confcommercio Ascom Bologna"] == [OMISSIS, "Anna Bianchi"]
    assert version.redactions == [NAME]
    assert version.file_name == "2031-12-09-seduta-di-dicembre.md"
    with use_locale("it"):
        favourable = position_label(PositionKind.favourable)
    assert favourable in pdf_text(version.public_pdf)  # the records, in Italian
    assert "Si accoglie la richiesta" in pdf_text(version.public_pdf)
    assert kinds(board)[-2:] == ["minutes.publishing", "minutes.published"]
    # Published: nothing more to redact, no more remarks.
    with pytest.raises(Invalid):
        seed.run(lambda s: m.set_redactions(s, board.table, minutes.id, [], actor=people["chair"]))
    with pytest.raises(Invalid):
        seed.run(
            lambda s: add_remark(
                s, board.table, minutes.id, item_id=None, parent_id=None, body="Tardi.", actor=people["member"]
            )
        )


def test_an_erratum_is_a_new_document_from_the_full_text_published_as_the_next_version(attended, seed, people):
    board = attended
    minutes = draft_with_a_name(seed, board, people)
    seed.run(lambda s: m.set_redactions(s, board.table, minutes.id, [NAME], actor=people["chair"]))
    send(seed, board, minutes.id, people["secretary"])
    approve(seed, board, minutes.id, people["chair"])
    first = publish(seed, minutes.id, people["chair"])

    for role in ("member", "observer"):
        with pytest.raises(Forbidden):
            seed.run(lambda s, r=role: m.start_erratum(s, board.table, first.id, actor=people[r]))
    with pytest.raises(NotFound):
        seed.run(lambda s: m.start_erratum(s, board.other, first.id, actor=people["chair"]))
    erratum = seed.run(lambda s: m.start_erratum(s, board.table, first.id, actor=people["secretary"]))
    assert erratum.kind is DocumentKind.minutes_erratum
    assert erratum.record_id == first.id
    assert rows(seed, erratum.id) == 1
    assert text_of(seed, erratum.id) == first.full_markdown  # the full text, the name included
    reopened = current(seed, minutes.id)
    assert reopened.status is MinutesStatus.draft
    assert reopened.document_id == erratum.id
    assert reopened.approved_at is None
    assert reopened.redactions == [NAME]
    assert access(seed, erratum.id, Role.secretary) is DocumentAccess.edit
    assert access(seed, minutes.document_id, Role.secretary) is DocumentAccess.read  # the old draft stays frozen
    with pytest.raises(Duplicate):
        seed.run(lambda s: m.start_erratum(s, board.table, first.id, actor=people["chair"]))
    event = board.events("minutes.erratum")[-1]
    assert event.payload["version_id"] == first.id
    assert event.payload["document_id"] == erratum.id

    edit(seed, erratum.id, lambda t: t.insert(0, "Errata corrige: la seduta si è chiusa alle 18.\n\n"))
    send(seed, board, minutes.id, people["secretary"])
    with pytest.raises(DocumentFrozen):
        append_text(seed, erratum.id, "No.\n")
    approve(seed, board, minutes.id, people["chair"])
    second = publish(seed, minutes.id, people["chair"])
    assert second.number == 2
    assert second.supersedes_id == first.id
    assert second.document_id == erratum.id
    assert second.file_name == "2031-12-09-seduta-di-dicembre-v2.md"
    assert second.front_matter["supersedes"] == first.file_name
    assert second.front_matter["version"] == 2
    assert "Errata corrige" in second.full_markdown
    assert "Rossi" not in second.public_markdown
    # The old version stays as it was, readable, and says which one corrects it.
    old = seed.run(lambda s: m.get_version(s, board.table.id, first.id))
    assert old.public_markdown == first.public_markdown
    assert old.state is PublicationState.published
    assert seed.run(lambda s: m.superseded_by(s, first.id)).id == second.id
    assert seed.run(lambda s: m.superseded_by(s, second.id)) is None
    assert [v.id for v in seed.run(lambda s: m.versions_of(s, minutes.id))] == [first.id, second.id]
    assert seed.run(lambda s: m.latest_version(s, minutes.id)).id == second.id
    assert [v.id for v in seed.run(lambda s: m.published_of_table(s, board.table.id))] == [second.id, first.id]
    # A superseded version is not corrected again; the one in force is.
    with pytest.raises(Invalid):
        seed.run(lambda s: m.start_erratum(s, board.table, first.id, actor=people["chair"]))
    third = seed.run(lambda s: m.start_erratum(s, board.table, second.id, actor=people["chair"]))
    assert third.record_id == second.id
    assert seed.run(lambda s: s.scalar(select(func.count()).select_from(MinutesVersion))) == 2


def test_an_erratum_needs_a_published_version(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    send(seed, board, minutes.id, people["secretary"])
    approve(seed, board, minutes.id, people["chair"])
    built = seed.run(lambda s: m.build_version(s, minutes.id, people["chair"]))
    with pytest.raises(Invalid):
        seed.run(lambda s: m.start_erratum(s, board.table, built.id, actor=people["chair"]))
    with pytest.raises(NotFound):
        seed.run(lambda s: m.start_erratum(s, board.table, built.id + 100, actor=people["chair"]))


# --- remarks and action items -------------------------------------------------------------------


def remark(seed, board, minutes_id, actor, body="Osservazione.", item_id=None, parent_id=None, client_key=None):
    return seed.run(
        lambda s: add_remark(
            s,
            board.table,
            minutes_id,
            item_id=item_id,
            parent_id=parent_id,
            body=body,
            actor=actor,
            client_key=client_key,
        )
    )


def test_members_remark_on_an_items_section_and_reply_one_level(board, seed, people):
    minutes = start(seed, board, people["secretary"])
    with pytest.raises(Forbidden):
        remark(seed, board, minutes.id, people["observer"])
    with pytest.raises(Invalid):
        remark(seed, board, minutes.id, people["member"], body="   ")
    with pytest.raises(NotFound):
        remark(seed, board, minutes.id, people["member"], item_id=board.other_item.id)
    with pytest.raises(NotFound):
        seed.run(
            lambda s: add_remark(
                s, board.other, minutes.id, item_id=None, parent_id=None, body="x", actor=people["member"]
            )
        )
    assert seed.run(lambda s: s.scalar(select(func.count()).select_from(MinutesRemark))) == 0

    first = remark(seed, board, minutes.id, people["member"], item_id=board.items[1].id, client_key="k1")
    again = remark(seed, board, minutes.id, people["member"], item_id=board.items[1].id, client_key="k1")
    assert again.id == first.id
    assert first.organisation_id == board.cgil.id
    assert first.body_html.startswith("<p>")
    reply = remark(seed, board, minutes.id, people["chair"], body="Corretto.", parent_id=first.id)
    nested = remark(seed, board, minutes.id, people["member"], body="Grazie.", parent_id=reply.id)
    assert reply.parent_id == first.id
    assert nested.parent_id == first.id
    assert nested.item_id == board.items[1].id  # a reply joins its thread's section
    whole = remark(seed, board, minutes.id, people["secretary"], body="Sul verbale intero.")
    grouped = seed.run(lambda s: remarks_by_item(s, minutes.id))
    assert [t[0].id for t in grouped[board.items[1].id]] == [first.id]
    assert [r.id for r in grouped[board.items[1].id][0][1]] == [reply.id, nested.id]
    assert [t[0].id for t in grouped[None]] == [whole.id]
    assert len(board.events("minutes.remark")) == 4
    assert board.events("minutes.remark")[0].payload["item_id"] == board.items[1].id


def test_action_items_recorded_from_the_minutes_have_their_item_as_origin(board, seed, people):
    values = actions.parse_action(title="Calendario dei saldi", description="", owner=str(board.member.id), due_on="")
    for role in ("member", "observer"):
        with pytest.raises(Forbidden):
            seed.run(
                lambda s, r=role: m.record_action(
                    s, board.table, board.meeting.id, board.items[0].id, values, actor=people[r]
                )
            )
    with pytest.raises(NotFound):
        seed.run(
            lambda s: m.record_action(
                s, board.table, board.meeting.id, board.other_item.id, values, actor=people["secretary"]
            )
        )
    recorded = seed.run(
        lambda s: m.record_action(
            s, board.table, board.meeting.id, board.items[0].id, values, actor=people["secretary"], client_key="a1"
        )
    )
    assert recorded.origin_item_id == board.items[0].id
    with use_locale("it"):
        record = seed.run(lambda s: collect(s, board.meeting.id))
    assert [a.title for a in record.items[0].actions] == ["Calendario dei saldi"]
    assert record.items[0].actions[0].owner == "Member (CGIL Bologna)"

    minutes = start(seed, board, people["secretary"])
    send(seed, board, minutes.id, people["secretary"])
    approve(seed, board, minutes.id, people["chair"])
    with pytest.raises(Invalid):
        seed.run(
            lambda s: m.record_action(
                s, board.table, board.meeting.id, board.items[1].id, values, actor=people["secretary"]
            )
        )
    assert seed.run(lambda s: s.scalar(select(func.count()).select_from(ActionItem))) == 1


def test_the_record_says_each_decision_with_every_position(attended, seed):
    board = attended
    record_decision(seed, board, board.items[1], kind=DecisionKind.agreed_with_reservations)
    with use_locale("it"):
        record = seed.run(lambda s: collect(s, board.meeting.id))
    assert record.items[0].decision is None
    decision = record.items[1].decision
    assert decision.kind == "agreed_reserved"
    assert decision.text_html.startswith("<p>")
    assert [(p.organisation, p.kind, p.delegate) for p in decision.positions] == [
        ("CNA Bologna", "reservation", "Carla Verdi"),
        ("Confcommercio Ascom Bologna", "favourable", NAME),
    ]
    assert decision.positions[0].reservation == "Solo per il centro storico."
    assert record.meeting_slug == "seduta-di-dicembre"
    assert record.table_slug == board.table.slug


# --- many at once -------------------------------------------------------------------------------


async def test_twenty_starts_at_once_make_one_minutes_seeded_once(board, seed, database, people):
    table, meeting_id = board.table, board.meeting.id

    async def press(actor):
        try:
            async with database.transaction() as session:
                await m.start_drafting(session, table, meeting_id, actor=actor)
            return "started"
        except Duplicate:
            return "refused"

    outcomes = await asyncio.gather(*(press(people["secretary" if i % 2 else "chair"]) for i in range(20)))
    assert sorted(outcomes) == ["refused"] * 19 + ["started"]
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(Minutes)) == 1
        assert await session.scalar(select(func.count()).select_from(Document)) == 1
        assert await session.scalar(select(func.count()).select_from(DocumentUpdate)) == 1
    assert len(board.events("minutes.started")) == 1


async def test_sending_and_storing_an_edit_at_once_leave_nothing_after_the_frozen_text(board, seed, database, people):
    minutes = start(seed, board, people["secretary"])
    doc = seed.run(lambda s: documents.load(s, minutes.document_id))
    edits = []
    for n in range(10):
        before = doc.get_state()
        doc.get(documents.TEXT, type=pycrdt.Text).insert(0, f"riga {n}\n")
        edits.append(doc.get_update(before))
    version = current(seed, minutes.id).version

    async def store(update):
        try:
            async with database.transaction() as session:
                await documents.append(session, minutes.document_id, update, None)
            return "stored"
        except DocumentFrozen:
            return "refused"

    async def freeze():
        async with database.transaction() as session:
            await m.send_for_approval(session, board.table, minutes.id, version=version, actor=people["secretary"])
        async with database.read() as session:
            return await documents.text_of(session, minutes.document_id)

    *stored, frozen_text = await asyncio.gather(*(store(u) for u in edits), freeze())
    async with database.read() as session:
        assert await documents.text_of(session, minutes.document_id) == frozen_text
    assert "stored" in stored or "refused" in stored


def test_a_name_only_in_the_records_can_be_left_out_of_the_public_copy(attended, seed, people):
    board = attended
    record_decision(seed, board, board.items[0], text="Si incarica Giulia Neri del calendario.")
    minutes = start(seed, board, people["secretary"])
    assert "Giulia Neri" not in text_of(seed, minutes.document_id)
    seed.run(lambda s: m.set_redactions(s, board.table, minutes.id, ["Giulia Neri"], actor=people["chair"]))
    send(seed, board, minutes.id, people["secretary"])
    approve(seed, board, minutes.id, people["chair"])
    version = publish(seed, minutes.id, people["chair"])
    assert version.redactions == ["Giulia Neri"]
    assert "Giulia Neri" in pdf_text(version.full_pdf)
    for public in (version.public_markdown, pdf_text(version.public_pdf)):
        assert "Giulia Neri" not in public
    assert version.front_matter["decisions"][0]["text"] == f"Si incarica {OMISSIS} del calendario."


# --- the live room: the freeze closes the sockets ---------------------------------------------------


@dataclasses.dataclass(eq=False)
class Participant:
    """A socket of the live room, in memory (the handler API's participant)."""

    user_id: int
    name: str
    may_edit: bool
    colour: int = 0
    wants_ack: bool = False
    received: list[bytes] = dataclasses.field(default_factory=list)
    closed_with: int | None = None

    async def send(self, message: bytes) -> None:
        self.received.append(message)

    def close(self, code: int) -> None:
        self.closed_with = code


async def test_the_frozen_draft_closes_the_writers_socket_and_stores_nothing_more(board, seed, database, people):
    minutes = start(seed, board, people["secretary"])
    document_id = minutes.document_id
    rooms = Rooms(database)
    try:
        room = await rooms.room(document_id)
        writer = Participant(board.secretary.id, "Secretary", may_edit=True)
        reader = Participant(board.member.id, "Member", may_edit=False)
        await room.join(writer)
        await room.join(reader)
        async with database.read() as session:
            replica = await documents.load(session, document_id)
        shared = replica.get(documents.TEXT, type=pycrdt.Text)

        async def type_(words):
            before = replica.get_state()
            shared.insert(len(str(shared).encode()), words)
            await room.receive(writer, sync_message(UPDATE, replica.get_update(before)))

        await type_("Il presidente apre la seduta.\n")
        assert room.stored == 1
        async with database.transaction() as session:
            sent = await m.send_for_approval(
                session, board.table, minutes.id, version=minutes.version, actor=people["secretary"]
            )
        # Typed after the freeze, before the caller closed the sockets: refused by the store, and
        # the room closes its sockets with 4409 by itself.
        await type_("Aggiunta dopo l'invio.\n")
        await room.flushed()
        assert writer.closed_with == FROZEN
        assert room.stored == 1
        async with database.read() as session:
            frozen_text = await documents.text_of(session, document_id)
        assert "Aggiunta" not in frozen_text
        assert "apre la seduta" in frozen_text
        # What the caller does once committed closes whatever is still open, everywhere.
        await rooms.close_document(sent.document_id, FROZEN)
        assert reader.closed_with == FROZEN

        # Back to draft: the same document, which a new socket writes again.
        async with database.transaction() as session:
            reopened = await m.back_to_draft(
                session, board.table, minutes.id, version=sent.minutes.version, actor=people["chair"]
            )
        assert reopened.document_id == document_id
        await rooms.close_document(document_id, RESTART)
        again = Participant(board.chair.id, "Chair", may_edit=True)
        room = await rooms.room(document_id)
        await room.join(again)
        assert not room.frozen
        async with database.read() as session:
            replica = await documents.load(session, document_id)
        shared = replica.get(documents.TEXT, type=pycrdt.Text)
        before = replica.get_state()
        shared.insert(0, "Riaperto. ")
        await room.receive(again, sync_message(UPDATE, replica.get_update(before)))
        await room.flushed()
        assert again.closed_with is None
        async with database.read() as session:
            assert (await documents.text_of(session, document_id)).startswith("Riaperto. ")
    finally:
        await rooms.close()


def test_copies_rendered_before_the_lock_are_stored_as_they_are_when_nothing_changed(attended, seed, people):
    board = attended
    minutes = draft_with_a_name(seed, board, people)
    send(seed, board, minutes.id, people["chair"])
    approve(seed, board, minutes.id, people["chair"])
    prepared = seed.run(lambda s: m.prepare_version(s, minutes.id, people["chair"]))
    assert kinds(board)[-1] == "minutes.approved"  # preparing changes nothing
    built = seed.run(lambda s: m.build_version(s, minutes.id, people["chair"], prepared=prepared))
    assert built.full_pdf is prepared.values["full_pdf"]
    assert built.public_pdf is prepared.values["public_pdf"]
    assert built.public_sha256 == prepared.values["public_sha256"]


def test_copies_rendered_before_a_change_are_rendered_again(attended, seed, people):
    board = attended
    minutes = draft_with_a_name(seed, board, people)
    send(seed, board, minutes.id, people["chair"])
    approve(seed, board, minutes.id, people["chair"])
    prepared = seed.run(lambda s: m.prepare_version(s, minutes.id, people["chair"]))
    assert NAME in prepared.values["public_markdown"]
    seed.run(lambda s: m.set_redactions(s, board.table, minutes.id, [NAME], actor=people["chair"]))
    built = seed.run(lambda s: m.build_version(s, minutes.id, people["chair"], prepared=prepared))
    assert built.redactions == [NAME]
    assert NAME not in built.public_markdown
    assert NAME not in pdf_text(built.public_pdf)
    assert NAME in built.full_markdown


def test_only_the_chair_prepares_approved_minutes(attended, seed, people):
    board = attended
    minutes = draft_with_a_name(seed, board, people)
    with pytest.raises(Invalid):
        seed.run(lambda s: m.prepare_version(s, minutes.id, people["chair"]))
    send(seed, board, minutes.id, people["chair"])
    approve(seed, board, minutes.id, people["chair"])
    with pytest.raises(Forbidden):
        seed.run(lambda s: m.prepare_version(s, minutes.id, people["secretary"]))
