"""The agenda: order, status and the rules that keep it consistent, on a real database."""

import pytest
from sqlalchemy.exc import IntegrityError

from server.db.models import AgendaItem, AgendaStatus
from server.domain import agenda
from server.domain.errors import Invalid, NotFound, Stale


@pytest.fixture
def seed(db_seed):
    """The records of these tests go straight into the database, through the domain: no app runs."""
    return db_seed


def titles(board, seed):
    return [i.title for i in seed.run(lambda s: agenda.agenda_of(s, board.meeting.id))]


def item_values(**changes):
    return agenda.parse_item(
        **{"title": "Nuovo punto", "description": "", "presenter": "", "planned_minutes": "", **changes}
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"planned_minutes": "0"}, "planned_minutes"),
        ({"planned_minutes": "-5"}, "planned_minutes"),
        ({"planned_minutes": "venti"}, "planned_minutes"),
        ({"planned_minutes": "2.5"}, "planned_minutes"),
        ({"planned_minutes": "601"}, "planned_minutes"),
        ({"presenter": "anna"}, "presenter"),
        ({"description": "x" * 20_001}, "description"),
    ],
)
def test_bad_item_input_is_reported_beside_its_field(changes, field):
    with pytest.raises(Invalid) as info:
        item_values(**changes)
    assert field in info.value.errors


def test_items_are_added_at_the_end_in_order(board, seed):
    assert titles(board, seed) == ["Saldi invernali", "Distretti del commercio", "Varie ed eventuali"]
    assert [i.position for i in board.items] == [1, 2, 3]


def test_the_presenter_must_sit_at_the_table(board, seed):
    with pytest.raises(Invalid) as info:
        seed.run(
            lambda s: agenda.add_item(
                s, board.table, board.meeting.id, item_values(presenter=str(board.outsider.id)), actor_id=None
            )
        )
    assert "presenter" in info.value.errors
    added = seed.run(
        lambda s: agenda.add_item(
            s, board.table, board.meeting.id, item_values(presenter=str(board.member.id)), actor_id=None
        )
    )
    assert added.presenter_id == board.member.id


def test_moving_an_item_shifts_the_others(board, seed):
    last = board.items[2]
    seed.run(
        lambda s: agenda.move_item(
            s, board.table, board.meeting.id, last.id, to_position=1, version=1, actor_id=board.chair.id
        )
    )
    assert titles(board, seed) == ["Varie ed eventuali", "Saldi invernali", "Distretti del commercio"]
    event = board.events("agenda.item_moved")[-1]
    assert event.payload == {
        "meeting_id": board.meeting.id,
        "item_id": last.id,
        "title": "Varie ed eventuali",
        "meeting_title": "Seduta di dicembre",
        "position": 1,
    }


def test_repeating_a_move_changes_nothing(board, seed):
    first = board.items[0]
    for _ in range(2):  # a double click: the second request carries the old version
        seed.run(
            lambda s: agenda.move_item(
                s, board.table, board.meeting.id, first.id, to_position=2, version=1, actor_id=None
            )
        )
    assert titles(board, seed) == ["Distretti del commercio", "Saldi invernali", "Varie ed eventuali"]
    assert len(board.events("agenda.item_moved")) == 1


@pytest.mark.parametrize("position", [0, 4, -1])
def test_a_move_beyond_either_end_is_refused(board, seed, position):
    with pytest.raises(Invalid):
        seed.run(
            lambda s: agenda.move_item(
                s, board.table, board.meeting.id, board.items[1].id, to_position=position, version=1, actor_id=None
            )
        )
    assert titles(board, seed) == ["Saldi invernali", "Distretti del commercio", "Varie ed eventuali"]


def test_a_stale_move_is_refused(board, seed):
    item = board.items[0]
    seed.run(
        lambda s: agenda.move_item(s, board.table, board.meeting.id, item.id, to_position=2, version=1, actor_id=None)
    )
    with pytest.raises(Stale):
        seed.run(
            lambda s: agenda.move_item(
                s, board.table, board.meeting.id, item.id, to_position=3, version=1, actor_id=None
            )
        )


def test_only_one_item_is_current_and_the_previous_returns_to_pending(board, seed):
    first, second, _third = board.items

    def mark(item, status, version):
        return seed.run(
            lambda s: agenda.set_status(
                s, board.table, board.meeting.id, item.id, status, version=version, actor_id=board.chair.id
            )
        )

    mark(first, AgendaStatus.current, 1)
    mark(second, AgendaStatus.current, 1)
    assert board.current(AgendaItem, first.id).status is AgendaStatus.pending
    assert board.current(AgendaItem, second.id).status is AgendaStatus.current
    mark(second, AgendaStatus.done, 2)
    mark(first, AgendaStatus.current, 3)  # current, then back to pending: two versions on
    assert board.current(AgendaItem, second.id).status is AgendaStatus.done, "a done item stays done"


def test_the_database_itself_refuses_two_current_items(board, seed):
    async def two_current(session):
        for item in board.items[:2]:
            (await session.get(AgendaItem, item.id)).status = AgendaStatus.current
        await session.flush()

    with pytest.raises(IntegrityError):
        seed.run(two_current)


def test_marking_the_status_it_already_has_is_a_no_op(board, seed):
    item = board.items[0]
    for _ in range(2):
        seed.run(
            lambda s: agenda.set_status(
                s, board.table, board.meeting.id, item.id, AgendaStatus.deferred, version=1, actor_id=None
            )
        )
    assert len(board.events("agenda.item_status")) == 1


def test_removing_closes_the_gap_and_twice_is_a_no_op(board, seed):
    for _ in range(2):
        seed.run(lambda s: agenda.remove_item(s, board.table, board.meeting.id, board.items[0].id, actor_id=None))
    items = seed.run(lambda s: agenda.agenda_of(s, board.meeting.id))
    assert [(i.position, i.title) for i in items] == [(1, "Distretti del commercio"), (2, "Varie ed eventuali")]
    assert len(board.events("agenda.item_removed")) == 1
    with pytest.raises(NotFound):
        seed.run(
            lambda s: agenda.set_status(
                s, board.table, board.meeting.id, board.items[0].id, AgendaStatus.current, version=1, actor_id=None
            )
        )


def test_an_item_of_another_meeting_or_table_is_not_found(board, seed):
    for action in (
        lambda s: agenda.move_item(
            s, board.table, board.meeting.id, board.other_item.id, to_position=1, version=1, actor_id=None
        ),
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, board.other_item.id, AgendaStatus.done, version=1, actor_id=None
        ),
        lambda s: agenda.update_item(
            s, board.table, board.meeting.id, board.other_item.id, item_values(), version=1, actor_id=None
        ),
        lambda s: agenda.remove_item(s, board.table, board.meeting.id, board.other_item.id, actor_id=None),
        lambda s: agenda.add_item(s, board.table, board.other_meeting.id, item_values(), actor_id=None),
    ):
        with pytest.raises(NotFound):
            seed.run(action)
    assert board.current(AgendaItem, board.other_item.id).removed_at is None


def test_editing_an_item_checks_the_version_and_ignores_repeats(board, seed):
    item = board.items[0]
    changed = item_values(title="Saldi invernali 2032", planned_minutes="30")
    for _ in range(2):
        seed.run(
            lambda s: agenda.update_item(s, board.table, board.meeting.id, item.id, changed, version=1, actor_id=None)
        )
    assert len(board.events("agenda.item_updated")) == 1
    with pytest.raises(Stale) as info:
        seed.run(
            lambda s: agenda.update_item(
                s, board.table, board.meeting.id, item.id, item_values(), version=1, actor_id=None
            )
        )
    assert info.value.current.title == "Saldi invernali 2032"


def test_every_change_takes_the_next_sequence_number(board, seed):
    seed.run(
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, board.items[0].id, AgendaStatus.current, version=1, actor_id=None
        )
    )
    seqs = [e.seq for e in board.events()]
    assert seqs == list(range(1, len(seqs) + 1))
