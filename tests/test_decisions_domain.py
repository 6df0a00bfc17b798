"""Decisions and positions in the domain, on a real database: recording a decision and changing it, the
roll call, each organisation's position (by its delegate during the roll call, by the secretary outside
it), every refusal with nothing changed, the lock of approved minutes, the lists, and the proposal's
outcome recorded as its item's decision in the same act."""

import asyncio

import pytest
from sqlalchemy import func, select

from server.db.models import (
    Decision,
    DecisionKind,
    Meeting,
    Position,
    PositionKind,
    Proposal,
    ProposalStatus,
    Role,
    RollCall,
)
from server.domain import agenda, audit, decisions, meeting_life, meetings, proposals
from server.domain.actions import Actor
from server.domain.errors import BadQuery, Forbidden, Invalid, NotFound, Stale
from server.i18n import use_locale


@pytest.fixture
def seed(db_seed):
    """The records of these tests go straight into the database, through the domain: no app runs."""
    return db_seed


def run(board, change):
    return board.seed.run(change)


def chair(board):
    return Actor(board.chair.id, Role.chair)


def secretary(board):
    return Actor(board.secretary.id, Role.secretary)


def member(board):
    return Actor(board.member.id, Role.member)


def record(
    board, index=0, *, kind="agreed", text="Il tavolo approva il calendario.", proposal_id=None, who=None, version=None
):
    return run(
        board,
        lambda s: decisions.record_decision(
            s,
            board.table,
            board.items[index].id,
            kind=kind,
            text=text,
            proposal_id=proposal_id,
            actor=who or chair(board),
            version=version,
        ),
    )


def present(board, names, meeting=None):
    """Record the attendance: `names` maps each organisation present to its delegates' names."""
    meeting = meeting or board.meeting
    marks = {o.id: (True, delegates) for o, delegates in names.items()}
    version = board.current(Meeting, meeting.id).attendance_version
    run(
        board,
        lambda s: meetings.record_attendance(
            s, board.table, meeting.id, marks, version=version, actor_id=board.secretary.id
        ),
    )


def open_meeting(board):
    run(board, lambda s: meeting_life.open_meeting(s, board.table, board.meeting.id, actor_id=board.chair.id))


def close_meeting(board):
    run(board, lambda s: meeting_life.close_meeting(s, board.table, board.meeting.id, actor_id=board.chair.id))


def open_roll_call(board, decision, who=None):
    return run(board, lambda s: decisions.open_roll_call(s, board.table, decision.id, actor=who or chair(board)))


def close_roll_call(board, decision, who=None):
    return run(board, lambda s: decisions.close_roll_call(s, board.table, decision.id, actor=who or chair(board)))


def take(board, decision, organisation, kind, *, who=None, reservation="", delegate=""):
    return run(
        board,
        lambda s: decisions.record_position(
            s,
            board.table,
            decision.id,
            organisation_id=organisation.id,
            kind=kind,
            reservation=reservation,
            delegate=delegate,
            actor=who or member(board),
        ),
    )


def positions(board, decision):
    return run(board, lambda s: decisions.positions_of(s, [decision.id]))[decision.id]


def rows(board, model):
    return run(board, lambda s: s.scalar(select(func.count()).select_from(model)))


def in_roll_call(board):
    """The meeting in progress with CGIL (the member's organisation, with their name) and CNA present,
    a decision on the first item, its roll call open."""
    present(board, {board.cgil: "Member, Anna Bianchi", board.cna: "Secretary"})
    open_meeting(board)
    decision = record(board)
    open_roll_call(board, decision)
    return decision


# --- labels -------------------------------------------------------------------------------------


def test_kinds_and_positions_have_their_words_in_italian_and_english():
    assert tuple(DecisionKind) == decisions.DECISION_KINDS
    assert tuple(PositionKind) == decisions.POSITION_KINDS
    with use_locale("it"):
        assert [decisions.decision_kind_label(k) for k in DecisionKind] == [
            "Approvato",
            "Approvato con riserve",
            "Non approvato",
            "Rinviato",
            "Solo informativa",
        ]
        assert [decisions.position_label(k.value) for k in PositionKind] == [
            "Favorevole",
            "Contrario",
            "Astenuto",
            "Favorevole con riserva",
        ]
    with use_locale("en"):
        assert decisions.decision_kind_label("agreed_reserved") == "Agreed with reservations"
        assert decisions.position_label(PositionKind.reservation) == "In favour with a reservation"


# --- recording a decision -------------------------------------------------------------------------


def test_the_chair_records_an_items_decision_with_its_text_rendered(board, seed):
    decision = record(board, text="Il tavolo approva il **calendario** dei saldi.")
    assert decision.kind is DecisionKind.agreed
    assert decision.meeting_id == board.meeting.id
    assert decision.item_id == board.items[0].id
    assert decision.roll_call is RollCall.none
    assert "<strong>calendario</strong>" in decision.text_html
    [event] = board.events("decision.recorded")
    assert event.actor_id == board.chair.id
    assert event.payload == {
        "decision_id": decision.id,
        "item_id": board.items[0].id,
        "meeting_id": board.meeting.id,
        "meeting_title": "Seduta di dicembre",
        "title": "Saldi invernali",
        "decision_kind": "agreed",
    }
    found = run(board, lambda s: decisions.decision_of_item(s, board.items[0].id))
    assert found is not None
    assert found.id == decision.id
    assert run(board, lambda s: decisions.decision_of_item(s, board.items[1].id)) is None


def test_the_secretary_records_one_too_with_a_proposal_of_the_table(board, seed):
    proposal = board.proposal()
    decision = record(
        board, 1, kind="postponed", text="Rinviato alla prossima seduta.", who=secretary(board), proposal_id=proposal.id
    )
    assert (decision.kind, decision.proposal_id, decision.created_by) == (
        DecisionKind.postponed,
        proposal.id,
        board.secretary.id,
    )


@pytest.mark.parametrize("role", [Role.member, Role.observer])
def test_members_and_observers_do_not_record_decisions(board, seed, role):
    who = Actor(board.member.id if role is Role.member else board.observer.id, role)
    with pytest.raises(Forbidden):
        record(board, who=who)
    assert rows(board, Decision) == 0
    assert board.events("decision.recorded") == []


def test_bad_values_are_refused_beside_their_field_and_nothing_is_stored(board, seed):
    cases = {
        "kind": lambda s: decisions.record_decision(
            s, board.table, board.items[0].id, kind="unanimous", text="Testo", proposal_id=None, actor=chair(board)
        ),
        "text": lambda s: decisions.record_decision(
            s, board.table, board.items[0].id, kind="agreed", text="   ", proposal_id=None, actor=chair(board)
        ),
        "item": lambda s: decisions.record_decision(
            s, board.table, board.other_item.id, kind="agreed", text="Testo", proposal_id=None, actor=chair(board)
        ),
        "proposal": lambda s: decisions.record_decision(
            s, board.table, board.items[0].id, kind="agreed", text="Testo", proposal_id=999_999, actor=chair(board)
        ),
    }
    for field, change in cases.items():
        with pytest.raises(Invalid) as refused:
            run(board, change)
        assert list(refused.value.errors) == [field]
    with pytest.raises(Invalid) as too_long:
        record(board, text="x" * (decisions.TEXT_LIMIT + 1))
    assert "text" in too_long.value.errors
    assert rows(board, Decision) == 0
    assert board.events("decision.recorded") == []


def test_a_proposal_of_another_table_is_refused(board, seed):
    proposal = board.proposal()  # of the board's table; the decision is on the other table's item
    with pytest.raises(Invalid) as refused:
        run(
            board,
            lambda s: decisions.record_decision(
                s,
                board.other,
                board.other_item.id,
                kind="agreed",
                text="Testo",
                proposal_id=proposal.id,
                actor=chair(board),
            ),
        )
    assert list(refused.value.errors) == ["proposal"]
    assert rows(board, Decision) == 0


def test_a_removed_item_takes_no_decision(board, seed):
    run(board, lambda s: agenda.remove_item(s, board.table, board.meeting.id, board.items[2].id, actor_id=None))
    with pytest.raises(Invalid) as refused:
        record(board, 2)
    assert list(refused.value.errors) == ["item"]


def test_an_item_with_a_decision_stays_on_the_agenda(board, seed):
    record(board, 1)
    with pytest.raises(Invalid) as refused:
        run(board, lambda s: agenda.remove_item(s, board.table, board.meeting.id, board.items[1].id, actor_id=None))
    assert list(refused.value.errors) == ["item"]
    assert rows(board, Decision) == 1
    assert board.current(type(board.items[1]), board.items[1].id).removed_at is None
    assert board.events("agenda.item_removed") == []


def test_changing_a_decision_keeps_what_changed_in_its_event(board, seed):
    decision = record(board)
    proposal = board.proposal()
    changed = record(
        board,
        kind="agreed_reserved",
        text="Approvato con la riserva della CGIL.",
        proposal_id=proposal.id,
        version=decision.version,
    )
    assert (changed.kind, changed.text, changed.proposal_id) == (
        DecisionKind.agreed_with_reservations,
        "Approvato con la riserva della CGIL.",
        proposal.id,
    )
    assert changed.version == decision.version + 1
    [event] = board.events("decision.changed")
    assert event.payload["before"] == {
        "kind": "agreed",
        "text": "Il tavolo approva il calendario.",
        "proposal_id": None,
    }
    assert event.payload["after"] == {
        "kind": "agreed_reserved",
        "text": "Approvato con la riserva della CGIL.",
        "proposal_id": proposal.id,
    }
    assert event.payload["decision_kind"] == "agreed_reserved"
    # The same values again: no change, whatever the version.
    again = record(
        board, kind="agreed_reserved", text="Approvato con la riserva della CGIL.", proposal_id=proposal.id, version=1
    )
    assert again.version == changed.version
    assert len(board.events("decision.changed")) == 1


def test_a_change_on_a_stale_version_or_a_second_first_recording_is_refused(board, seed):
    decision = record(board)
    record(board, text="Prima modifica.", version=decision.version)
    with pytest.raises(Stale):
        record(board, text="Modifica su una versione vecchia.", version=decision.version)
    with pytest.raises(Stale):  # recorded by someone else meanwhile
        record(board, text="Un'altra decisione.")
    assert record(board, text="Prima modifica.").text == "Prima modifica."  # the same values: a double submit
    assert board.current(Decision, decision.id).text == "Prima modifica."
    assert len(board.events("decision.changed")) == 1
    assert len(board.events("decision.recorded")) == 1


def test_a_decision_stays_editable_after_the_meeting_closes(board, seed):
    open_meeting(board)
    decision = record(board)
    close_meeting(board)
    changed = record(board, kind="not_agreed", text="Non approvato.", version=decision.version)
    assert changed.kind is DecisionKind.not_agreed


def test_a_decision_of_another_table_is_not_found(board, seed):
    other = run(
        board,
        lambda s: decisions.record_decision(
            s, board.other, board.other_item.id, kind="agreed", text="Altrove.", proposal_id=None, actor=chair(board)
        ),
    )
    with pytest.raises(NotFound):
        run(board, lambda s: decisions.get_decision(s, board.table.id, other.id))
    with pytest.raises(NotFound):
        open_roll_call(board, other)
    with pytest.raises(NotFound):
        take(board, other, board.cgil, "favourable")
    assert run(board, lambda s: decisions.get_decision(s, board.other.id, other.id)).id == other.id


# --- the roll call --------------------------------------------------------------------------------------


def test_the_chair_opens_and_closes_the_roll_call_each_once_without_staling_the_form(board, seed):
    open_meeting(board)
    decision = record(board)
    opened = open_roll_call(board, decision)
    assert opened.roll_call is RollCall.open
    assert opened.roll_call_opened_at is not None
    open_roll_call(board, decision)  # a double click: nothing more
    closed = close_roll_call(board, decision)
    assert closed.roll_call is RollCall.closed
    assert closed.roll_call_closed_at is not None
    close_roll_call(board, decision)
    assert board.current(Decision, decision.id).version == decision.version, "the decision's form stays current"
    states = [e.payload["state"] for e in board.events("decision.roll_call")]
    assert states == ["open", "closed"]
    assert board.events("decision.roll_call")[0].payload["decision_id"] == decision.id


def test_roll_call_refusals_say_why_and_change_nothing(board, seed):
    decision = record(board)
    with pytest.raises(Forbidden):
        open_roll_call(board, decision, who=secretary(board))
    with pytest.raises(Invalid) as not_in_progress:
        open_roll_call(board, decision)
    assert list(not_in_progress.value.errors) == ["roll_call"]
    open_meeting(board)
    with pytest.raises(Invalid) as never_opened:
        close_roll_call(board, decision)
    assert list(never_opened.value.errors) == ["roll_call"]
    other = record(board, 1, kind="information", text="Il tavolo prende atto.")
    open_roll_call(board, decision)
    with pytest.raises(Invalid) as another_open:
        open_roll_call(board, other)
    assert another_open.value.errors["roll_call"] == "L'appello su «Saldi invernali» è ancora aperto: chiudilo prima."
    with pytest.raises(Forbidden):
        close_roll_call(board, decision, who=member(board))
    close_roll_call(board, decision)
    with pytest.raises(Invalid) as reopened:
        open_roll_call(board, decision)
    assert list(reopened.value.errors) == ["roll_call"]
    assert board.current(Decision, decision.id).roll_call is RollCall.closed
    assert board.current(Decision, other.id).roll_call is RollCall.none
    assert len(board.events("decision.roll_call")) == 2
    open_roll_call(board, other)  # once the first is closed, the next opens
    assert board.current(Decision, other.id).roll_call is RollCall.open


def test_closing_the_meetings_open_roll_calls(board, seed):
    decision = in_roll_call(board)
    closed = run(
        board, lambda s: decisions.close_open_roll_calls(s, board.table, board.meeting.id, actor_id=board.chair.id)
    )
    assert closed == 1
    assert board.current(Decision, decision.id).roll_call is RollCall.closed
    again = run(board, lambda s: decisions.close_open_roll_calls(s, board.table, board.meeting.id, actor_id=None))
    assert again == 0
    assert [e.payload["state"] for e in board.events("decision.roll_call")] == ["open", "closed"]


# --- positions during the roll call ---------------------------------------------------------------------


def test_a_delegate_records_their_organisations_position_and_changes_it_with_history(board, seed):
    decision = in_roll_call(board)
    first = take(board, decision, board.cgil, "favourable")
    assert (first.kind, first.delegate, first.by_secretary, first.recorded_by, first.changes) == (
        PositionKind.favourable,
        "Member",
        False,
        board.member.id,
        1,
    )
    take(board, decision, board.cgil, PositionKind.favourable)  # the same again: nothing
    changed = take(board, decision, board.cgil, "reservation", reservation="  Purché si rispettino gli orari. ")
    assert (changed.id, changed.kind, changed.reservation, changed.changes) == (
        first.id,
        PositionKind.reservation,
        "Purché si rispettino gli orari.",
        2,
    )
    back = take(board, decision, board.cgil, "against", reservation="ignored")
    assert (back.kind, back.reservation) == (PositionKind.against, "")
    assert rows(board, Position) == 1
    events = board.events("decision.position")
    assert [(e.payload["position"], e.payload["before"]) for e in events] == [
        ("favourable", None),
        ("reservation", "favourable"),
        ("against", "reservation"),
    ]
    assert events[1].payload["reservation"] == "Purché si rispettino gli orari."
    assert events[0].payload["organisation"] == "CGIL Bologna"
    assert events[0].payload["organisation_id"] == board.cgil.id
    assert events[0].payload["delegate"] == "Member"
    assert events[0].payload["by_secretary"] is False
    assert events[0].payload["decision_id"] == decision.id
    assert events[0].payload["meeting_id"] == board.meeting.id
    history = run(board, lambda s: audit.history_of(s, board.table.id, "decision", decision.id))
    assert [e.kind for e in history][:3] == ["decision.position"] * 3


def test_a_delegate_checked_in_from_their_device_may_record(board, seed):
    present(board, {board.cna: "Secretary"})
    open_meeting(board)
    run(board, lambda s: meeting_life.set_check_in(s, board.table, board.meeting.id, True, actor_id=None))
    run(
        board,
        lambda s: meeting_life.check_in(
            s, board.table, board.meeting.id, user_id=board.member.id, name="Member", organisation_id=board.cgil.id
        ),
    )
    decision = record(board)
    open_roll_call(board, decision)
    assert take(board, decision, board.cgil, "abstains").kind is PositionKind.abstains


def test_a_delegates_name_matches_ignoring_case_and_spacing(board, seed):
    present(board, {board.cgil: "Anna Bianchi,  member "})
    open_meeting(board)
    decision = record(board)
    open_roll_call(board, decision)
    assert take(board, decision, board.cgil, "favourable").delegate == "Member"


def test_the_reservation_needs_its_text(board, seed):
    decision = in_roll_call(board)
    for reservation in ("", "   "):
        with pytest.raises(Invalid) as refused:
            take(board, decision, board.cgil, "reservation", reservation=reservation)
        assert list(refused.value.errors) == ["reservation"]
    with pytest.raises(Invalid) as too_long:
        take(board, decision, board.cgil, "reservation", reservation="x" * 2_001)
    assert list(too_long.value.errors) == ["reservation"]
    with pytest.raises(Invalid) as unknown:
        take(board, decision, board.cgil, "maybe")
    assert list(unknown.value.errors) == ["kind"]
    assert positions(board, decision) == []
    assert board.events("decision.position") == []


def test_delegate_refusals_say_why_and_store_nothing(board, seed):
    decision = in_roll_call(board)
    # Another organisation's position (the member sits for CGIL).
    with pytest.raises(Forbidden):
        take(board, decision, board.cna, "favourable")
    # An observer, who represents no organisation.
    with pytest.raises(Forbidden):
        take(board, decision, board.cgil, "favourable", who=Actor(board.observer.id, Role.observer))
    assert positions(board, decision) == []
    assert board.events("decision.position") == []


def test_an_organisation_not_present_has_no_position(board, seed):
    present(board, {board.cna: "Secretary"})
    open_meeting(board)
    decision = record(board)
    open_roll_call(board, decision)
    with pytest.raises(Invalid) as refused:
        take(board, decision, board.cgil, "favourable")
    assert list(refused.value.errors) == ["organisation"]
    assert refused.value.errors["organisation"].startswith("CGIL Bologna non risulta presente")
    close_roll_call(board, decision)
    with pytest.raises(Invalid) as by_secretary:
        take(board, decision, board.cgil, "favourable", who=secretary(board), delegate="Mario Rossi")
    assert list(by_secretary.value.errors) == ["organisation"]
    with pytest.raises(Invalid):
        take(
            board,
            decision,
            type("Nowhere", (), {"id": 999_999})(),
            "favourable",
            who=secretary(board),
            delegate="Mario Rossi",
        )
    assert positions(board, decision) == []


def test_a_delegate_not_named_in_the_attendance_is_asked_to_check_in(board, seed):
    present(board, {board.cgil: "Anna Bianchi"})
    open_meeting(board)
    decision = record(board)
    open_roll_call(board, decision)
    with pytest.raises(Invalid) as refused:
        take(board, decision, board.cgil, "favourable")
    assert list(refused.value.errors) == ["delegate"]
    assert "registra la tua presenza" in refused.value.errors["delegate"]
    assert positions(board, decision) == []


def test_a_delegate_records_only_while_the_roll_call_is_open(board, seed):
    present(board, {board.cgil: "Member"})
    open_meeting(board)
    decision = record(board)
    with pytest.raises(Invalid) as not_yet:
        take(board, decision, board.cgil, "favourable")
    assert list(not_yet.value.errors) == ["roll_call"]
    open_roll_call(board, decision)
    take(board, decision, board.cgil, "favourable")
    close_roll_call(board, decision)
    with pytest.raises(Invalid) as over:
        take(board, decision, board.cgil, "against")
    assert list(over.value.errors) == ["roll_call"]
    assert "non è ancora aperto" in not_yet.value.errors["roll_call"]
    assert "Chiedi alla segreteria" in over.value.errors["roll_call"]
    assert [p.kind for p in positions(board, decision)] == [PositionKind.favourable]


def test_closing_the_meeting_closes_its_open_roll_call_with_its_event(board, seed):
    decision = in_roll_call(board)
    close_meeting(board)
    assert board.current(Decision, decision.id).roll_call is RollCall.closed
    assert [e.payload["state"] for e in board.events("decision.roll_call")] == ["open", "closed"]
    with pytest.raises(Invalid) as refused:
        take(board, decision, board.cgil, "favourable")
    assert list(refused.value.errors) == ["roll_call"]
    by_secretary = take(board, decision, board.cgil, "favourable", who=secretary(board), delegate="Member")
    assert by_secretary.by_secretary is True


# --- positions recorded by the secretary ------------------------------------------------------------


def test_the_secretary_records_positions_outside_the_roll_call_naming_the_delegate(board, seed):
    present(board, {board.cgil: "Member", board.cna: "Secretary", board.ascom: "Chair"})
    decision = record(board)  # before the meeting even opens: no roll call
    cna = take(board, decision, board.cna, "against", who=secretary(board), delegate="  Andrea   Poggi ")
    assert (cna.delegate, cna.by_secretary, cna.recorded_by) == ("Andrea Poggi", True, board.secretary.id)
    ascom = take(board, decision, board.ascom, "abstains", who=chair(board), delegate="Luca Cavina")
    assert ascom.by_secretary is True
    with pytest.raises(Invalid) as nameless:
        take(board, decision, board.cgil, "favourable", who=secretary(board), delegate="  ")
    assert list(nameless.value.errors) == ["delegate"]
    with pytest.raises(Invalid) as long_name:
        take(board, decision, board.cgil, "favourable", who=secretary(board), delegate="x" * 201)
    assert list(long_name.value.errors) == ["delegate"]
    assert [(p.organisation.name, p.kind) for p in positions(board, decision)] == [
        ("CNA Bologna", PositionKind.against),
        ("Confcommercio Ascom Bologna", PositionKind.abstains),
    ]
    event = board.events("decision.position")[0]
    assert (event.payload["by_secretary"], event.payload["delegate"]) == (True, "Andrea Poggi")


def test_during_the_roll_call_the_secretary_leaves_other_organisations_to_their_delegates(board, seed):
    decision = in_roll_call(board)
    with pytest.raises(Invalid) as refused:
        take(board, decision, board.cgil, "favourable", who=secretary(board), delegate="Member")
    assert list(refused.value.errors) == ["roll_call"]
    # Their own organisation's they record as its delegate (CNA, whose delegate the secretary is).
    own = take(board, decision, board.cna, "favourable", who=secretary(board))
    assert (own.delegate, own.by_secretary) == ("Secretary", False)
    close_roll_call(board, decision)
    afterwards = take(
        board,
        decision,
        board.cgil,
        "reservation",
        who=secretary(board),
        delegate="Member",
        reservation="Con la clausola sociale.",
    )
    assert afterwards.by_secretary is True
    assert [e.payload["before"] for e in board.events("decision.position")] == [None, None]


def test_positions_stay_editable_after_the_meeting_until_locked(board, seed):
    decision = in_roll_call(board)
    take(board, decision, board.cgil, "favourable")
    close_meeting(board)
    changed = take(board, decision, board.cgil, "against", who=secretary(board), delegate="Member")
    assert changed.kind is PositionKind.against
    assert changed.changes == 2
    assert [e.payload["before"] for e in board.events("decision.position")] == [None, "favourable"]


# --- locking ------------------------------------------------------------------------------------------


def test_approved_minutes_lock_the_meetings_decisions_once(board, seed):
    decision = in_roll_call(board)
    take(board, decision, board.cgil, "favourable")
    other = record(board, 1, kind="information", text="Informativa.")
    locked = run(board, lambda s: decisions.lock_decisions(s, board.meeting.id, actor_id=board.chair.id))
    assert locked == 2
    assert run(board, lambda s: decisions.lock_decisions(s, board.meeting.id, actor_id=board.chair.id)) == 0
    [event] = board.events("decision.locked")
    assert event.payload == {"meeting_id": board.meeting.id, "meeting_title": "Seduta di dicembre", "count": 2}
    stored = board.current(Decision, decision.id)
    assert stored.locked_at is not None
    assert stored.roll_call is RollCall.closed, "a roll call left open closes with the lock"
    assert board.current(Decision, other.id).locked_at is not None
    before = len(board.events())
    refusals = [
        lambda: record(board, text="Corretto.", version=stored.version),
        lambda: record(board, text="Il tavolo approva il calendario."),
        lambda: take(board, decision, board.cgil, "against", who=secretary(board), delegate="Member"),
        lambda: take(board, decision, board.cgil, "favourable", who=secretary(board), delegate="Member"),
        lambda: close_roll_call(board, decision),
        lambda: open_roll_call(board, other),
    ]
    for refused_change in refusals:
        with pytest.raises(Invalid) as refused:
            refused_change()
        assert list(refused.value.errors) == ["decision"]
        assert "il verbale è approvato" in refused.value.errors["decision"]
    assert len(board.events()) == before
    assert [p.kind for p in positions(board, decision)] == [PositionKind.favourable]


def test_locking_a_meeting_without_decisions_records_nothing(board, seed):
    assert run(board, lambda s: decisions.lock_decisions(s, board.meeting.id, actor_id=None)) == 0
    assert board.events("decision.locked") == []
    with pytest.raises(NotFound):
        run(board, lambda s: decisions.lock_decisions(s, 999_999, actor_id=None))


# --- fifty at once ----------------------------------------------------------------------------------------


async def test_fifty_identical_positions_at_once_leave_one_row_and_one_event(board, seed, database):
    decision = in_roll_call(board)
    table, who, organisation_id = board.table, member(board), board.cgil.id

    async def submit():
        async with database.transaction() as session:
            await decisions.record_position(
                session, table, decision.id, organisation_id=organisation_id, kind="favourable", actor=who
            )

    await asyncio.gather(*(submit() for _ in range(50)))
    async with database.read() as session:
        found = (await session.scalars(select(Position).where(Position.decision_id == decision.id))).all()
    assert len(found) == 1
    assert found[0].changes == 1
    assert len(board.events("decision.position")) == 1


async def test_fifty_identical_positions_by_the_secretary_at_once_leave_one_row_and_one_event(board, seed, database):
    present(board, {board.cgil: "Member"})
    decision = record(board)
    table, who, organisation_id = board.table, secretary(board), board.cgil.id

    async def submit():
        async with database.transaction() as session:
            await decisions.record_position(
                session,
                table,
                decision.id,
                organisation_id=organisation_id,
                kind="reservation",
                reservation="Con la clausola sociale.",
                delegate="Marco Zanotti",
                actor=who,
            )

    await asyncio.gather(*(submit() for _ in range(50)))
    async with database.read() as session:
        count = await session.scalar(select(func.count()).select_from(Position))
    assert count == 1
    assert len(board.events("decision.position")) == 1


# --- lists ------------------------------------------------------------------------------------------------


def second_meeting(board):
    """A later meeting of the table, with one item, CGIL and CNA present."""
    later = run(
        board,
        lambda s: meetings.create_meeting(
            s,
            board.table,
            meetings.parse_meeting(
                title="Seduta di gennaio", day="2032-01-13", hour="15:00", place="Palazzo Malvezzi", online_url=""
            ),
            actor_id=board.chair.id,
        ),
    )
    item = run(
        board,
        lambda s: agenda.add_item(
            s,
            board.table,
            later.id,
            agenda.parse_item(title="Distretti", description="", presenter="", planned_minutes=""),
            actor_id=board.chair.id,
        ),
    )
    present(board, {board.cgil: "Member", board.cna: "Secretary"}, meeting=later)
    return later, item


def test_the_lists_of_decisions_and_their_filters(board, seed):
    present(board, {board.cgil: "Member", board.cna: "Secretary", board.ascom: "Chair"})
    first = record(board, 1, kind="agreed", text="Distretti: approvato.")
    second = record(board, 0, kind="agreed_reserved", text="Saldi: approvato con riserve.")
    take(board, first, board.cna, "favourable", who=secretary(board), delegate="Secretary")
    take(board, first, board.cgil, "against", who=secretary(board), delegate="Member")
    take(board, second, board.cgil, "reservation", who=secretary(board), delegate="Member", reservation="Orari.")
    take(board, second, board.ascom, "favourable", who=secretary(board), delegate="Chair")
    later, item = second_meeting(board)
    third = run(
        board,
        lambda s: decisions.record_decision(
            s, board.table, item.id, kind="postponed", text="Rinviato.", proposal_id=None, actor=chair(board)
        ),
    )
    take(board, third, board.cgil, "favourable", who=secretary(board), delegate="Member")

    in_meeting = run(board, lambda s: decisions.meeting_decisions(s, board.meeting.id))
    assert [(i.title, d.id, [p.organisation.name for p in ps]) for i, d, ps in in_meeting] == [
        ("Saldi invernali", second.id, ["CGIL Bologna", "Confcommercio Ascom Bologna"]),
        ("Distretti del commercio", first.id, ["CGIL Bologna", "CNA Bologna"]),
    ]

    def listed(**filters):
        found = run(board, lambda s: decisions.table_decisions(s, board.table.id, **filters))
        return [d.id for _m, _i, d, _ps in found]

    assert listed() == [third.id, second.id, first.id], "the newest meeting first, then agenda order"
    assert listed(meeting_id=board.meeting.id) == [second.id, first.id]
    assert listed(organisation_id=board.ascom.id) == [second.id]
    assert listed(position="favourable") == [third.id, second.id, first.id]
    assert listed(position=PositionKind.against) == [first.id]
    assert listed(organisation_id=board.cgil.id, position="favourable") == [third.id]
    assert listed(organisation_id=board.cgil.id, position="reservation", meeting_id=later.id) == []
    assert listed(position="") == listed()
    with pytest.raises(BadQuery):
        listed(position="maybe")
    assert run(board, lambda s: decisions.table_decisions(s, board.other.id)) == []

    counts = decisions.tally(positions(board, first))
    assert counts == {
        PositionKind.favourable: 1,
        PositionKind.against: 1,
        PositionKind.abstains: 0,
        PositionKind.reservation: 0,
    }
    assert list(counts) == list(PositionKind)
    assert run(board, lambda s: decisions.positions_of(s, [])) == {}
    assert run(board, lambda s: decisions.positions_of(s, [third.id, 999_999]))[999_999] == []


def test_the_organisations_present_with_their_delegates(board, seed):
    present(board, {board.cna: "Andrea Poggi", board.cgil: "Marco Zanotti, Anna Bianchi"})
    found = run(board, lambda s: decisions.present_organisations(s, board.meeting.id))
    assert [(o.name, names) for o, names in found] == [
        ("CGIL Bologna", "Marco Zanotti, Anna Bianchi"),
        ("CNA Bologna", "Andrea Poggi"),
    ]


# --- a proposal's outcome records its item's decision ----------------------------------------------------


def discussed(board, *indexes):
    """The board's proposal under discussion, linked to these items of the meeting, in this order."""
    proposal = board.proposal()
    for index in indexes:
        run(
            board,
            lambda s, i=index: proposals.link_item(s, board.table, proposal.id, board.items[i].id, actor=chair(board)),
        )
    return run(
        board,
        lambda s: proposals.set_status(
            s, board.table, proposal.id, ProposalStatus.under_discussion, version=proposal.version, actor=chair(board)
        ),
    )


def conclude(board, proposal, status, outcome="Approvata all'unanimità.", item_id=None):
    return run(
        board,
        lambda s: proposals.set_status(
            s,
            board.table,
            proposal.id,
            status,
            version=proposal.version,
            actor=chair(board),
            outcome=outcome,
            item_id=item_id,
        ),
    )


def test_approving_a_proposal_at_an_item_records_the_items_decision_in_the_same_act(board, seed):
    proposal = discussed(board, 0, 1)
    conclude(board, proposal, ProposalStatus.approved, item_id=board.items[0].id)
    decision = run(board, lambda s: decisions.decision_of_item(s, board.items[0].id))
    assert (decision.kind, decision.text, decision.proposal_id) == (
        DecisionKind.agreed,
        "Approvata all'unanimità.",
        proposal.id,
    )
    assert run(board, lambda s: decisions.decision_of_item(s, board.items[1].id)) is None
    kinds = [e.kind for e in board.events()][-2:]
    assert kinds == ["proposal.status", "decision.recorded"]


def test_rejecting_it_without_an_item_records_the_most_recently_linked_items(board, seed):
    proposal = discussed(board, 2, 0)
    conclude(board, proposal, ProposalStatus.rejected, outcome="Non accolta.")
    decision = run(board, lambda s: decisions.decision_of_item(s, board.items[0].id))
    assert (decision.kind, decision.text) == (DecisionKind.not_agreed, "Non accolta.")
    assert run(board, lambda s: decisions.decision_of_item(s, board.items[2].id)) is None


def test_a_proposal_never_linked_to_an_item_records_no_decision(board, seed):
    proposal = discussed(board)
    concluded = conclude(board, proposal, ProposalStatus.approved)
    assert concluded.status is ProposalStatus.approved
    assert rows(board, Decision) == 0


def test_an_item_where_the_proposal_was_not_discussed_is_refused_and_nothing_changes(board, seed):
    proposal = discussed(board, 0)
    with pytest.raises(Invalid) as refused:
        conclude(board, proposal, ProposalStatus.approved, item_id=board.items[1].id)
    assert list(refused.value.errors) == ["item"]
    assert board.current(Proposal, proposal.id).status is ProposalStatus.under_discussion
    assert rows(board, Decision) == 0
    assert board.events("proposal.status")[-1].payload["status"] == "under_discussion"


def test_an_items_decision_is_updated_by_the_outcome_keeping_agreed_with_reservations(board, seed):
    proposal = discussed(board, 0)
    existing = record(board, kind="agreed_reserved", text="Bozza della decisione.")
    conclude(board, proposal, ProposalStatus.approved, outcome="Approvata con la riserva della CGIL.")
    decision = board.current(Decision, existing.id)
    assert (decision.kind, decision.text, decision.proposal_id) == (
        DecisionKind.agreed_with_reservations,
        "Approvata con la riserva della CGIL.",
        proposal.id,
    )
    assert len(board.events("decision.changed")) == 1


def test_a_locked_decision_refuses_the_outcome_and_the_proposal_stays_as_it_was(board, seed):
    proposal = discussed(board, 0)
    existing = record(board, kind="not_agreed", text="Non approvato.")
    run(board, lambda s: decisions.lock_decisions(s, board.meeting.id, actor_id=None))
    with pytest.raises(Invalid) as refused:
        conclude(board, proposal, ProposalStatus.approved)
    assert list(refused.value.errors) == ["decision"]
    assert board.current(Proposal, proposal.id).status is ProposalStatus.under_discussion
    assert board.current(Decision, existing.id).kind is DecisionKind.not_agreed


# --- the demo -------------------------------------------------------------------------------------------


async def test_the_demo_has_decisions_with_positions_on_past_meetings_and_a_roll_call_today(database):
    from server.demo import load_demo

    # The areas it stands on, in their order (the whole demo is tested in tests/test_demo.py).
    seeders = ["server.demo.meetings", "server.demo.proposals", "server.demo.actions", "server.demo.decisions"]
    await load_demo(database, "una-password-demo-lunga", seeders=seeders)
    async with database.read() as session:
        found = (
            await session.execute(select(Decision, Meeting).join(Meeting, Meeting.id == Decision.meeting_id))
        ).all()
        tables = {meeting.table_id for _decision, meeting in found}
        assert len(tables) == 4, "every demo table has decisions"
        every = (await session.scalars(select(Position))).all()
        assert any(p.kind is PositionKind.reservation and p.reservation for p in every)
        assert any(p.by_secretary and p.delegate for p in every)
        assert any(not p.by_secretary for p in every), "some were recorded by the delegates during a roll call"
        assert any(d.roll_call is RollCall.closed for d, _m in found)
        assert any(d.proposal_id is not None for d, _m in found)
        assert all(d.roll_call is not RollCall.open for d, _m in found)
