"""Action items in the domain: every rule, every refusal, and the event each change writes."""

from datetime import date, timedelta

import pytest

from server.db.models import ActionItem, ActionStatus, AgendaItem, Role
from server.domain import actions, agenda, meetings
from server.domain.errors import Forbidden, Invalid, NotFound, Stale


@pytest.fixture
def seed(db_seed):
    """The records of these tests go straight into the database, through the domain: no app runs."""
    return db_seed


def values(title="Mappatura dei negozi sfitti", owner=None, due="2031-12-31", description=""):
    return actions.parse_action(title=title, description=description, owner=str(owner or ""), due_on=due)


def create(board, seed, **kwargs):
    origin = kwargs.pop("origin", None)
    key = kwargs.pop("client_key", None)
    return seed.run(
        lambda s: actions.create_action(
            s, board.table, values(**kwargs), actor_id=board.secretary.id, origin_item_id=origin, client_key=key
        )
    )


def actor(board, user, role):
    return actions.Actor(user.id, role)


def set_status(board, seed, action, status, who, role, version=None):
    return seed.run(
        lambda s: actions.set_status(
            s,
            board.table,
            action.id,
            status,
            version=action.version if version is None else version,
            actor=actor(board, who, role),
        )
    )


# --- input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"due_on": "31/12/2031"}, "due_on"),
        ({"due_on": "2031-02-30"}, "due_on"),
        ({"owner": "qualcuno"}, "owner"),
        ({"description": "x" * 20_001}, "description"),
    ],
)
def test_bad_input_is_reported_beside_its_field(fields, field):
    typed = {"title": "Azione", "description": "", "owner": "", "due_on": "", **fields}
    with pytest.raises(Invalid) as caught:
        actions.parse_action(**typed)
    assert field in caught.value.errors


def test_an_owner_must_be_a_member_of_the_table_and_not_an_observer(board, seed):
    for person in (board.outsider, board.observer):
        with pytest.raises(Invalid) as caught:
            create(board, seed, owner=person.id)
        assert "owner" in caught.value.errors
    assert board.events("action.created") == []


# --- creating -----------------------------------------------------------------------------------------


def test_an_action_item_takes_the_organisation_its_owner_represents_on_the_table(board, seed):
    action = create(board, seed, owner=board.member.id)
    assert action.organisation_id == board.cgil.id
    assert action.status is ActionStatus.open
    (event,) = board.events("action.created")
    assert event.payload["action_id"] == action.id
    assert event.actor_id == board.secretary.id


def test_the_same_form_twice_records_one_action_item(board, seed):
    first = create(board, seed, client_key="chiave-1")
    second = create(board, seed, client_key="chiave-1")
    assert first.id == second.id
    assert len(board.events("action.created")) == 1


def test_an_action_decided_on_an_agenda_item_links_to_it_but_not_to_another_tables(board, seed):
    action = create(board, seed, origin=board.items[1].id)
    assert action.origin_item_id == board.items[1].id
    assert board.events("action.created")[0].payload["meeting_id"] == board.meeting.id
    with pytest.raises(NotFound):
        create(board, seed, origin=board.other_item.id)


def test_an_action_item_of_another_table_is_not_found(board, seed):
    action = create(board, seed)
    with pytest.raises(NotFound):
        seed.run(lambda s: actions.get_action(s, board.other.id, action.id))


# --- editing -----------------------------------------------------------------------------------------


def test_editing_checks_the_version_and_ignores_an_identical_repeat(board, seed):
    action = create(board, seed)
    changed = values(title="Mappatura dei locali sfitti", owner=board.member.id)
    seed.run(lambda s: actions.update_action(s, board.table, action.id, changed, version=1, actor_id=board.chair.id))
    # The very same change again, from a form still on version 1: nothing happens.
    seed.run(lambda s: actions.update_action(s, board.table, action.id, changed, version=1, actor_id=board.chair.id))
    assert len(board.events("action.updated")) == 1
    other = values(title="Censimento dei locali", owner=board.member.id)
    with pytest.raises(Stale) as caught:
        seed.run(lambda s: actions.update_action(s, board.table, action.id, other, version=1, actor_id=board.chair.id))
    assert caught.value.current.title == "Mappatura dei locali sfitti"
    assert board.current(ActionItem, action.id).title == "Mappatura dei locali sfitti"


# --- status ------------------------------------------------------------------------------------------


def test_the_owner_moves_the_status_along_and_each_move_is_an_event(board, seed):
    action = create(board, seed, owner=board.member.id)
    action = set_status(board, seed, action, ActionStatus.in_progress, board.member, Role.member)
    action = set_status(board, seed, action, ActionStatus.done, board.member, Role.member)
    assert board.current(ActionItem, action.id).status is ActionStatus.done
    assert [e.payload["status"] for e in board.events("action.status")] == ["in_progress", "done"]
    assert board.events("action.status")[1].payload["before"] == "in_progress"


def test_someone_else_cannot_change_the_status_and_only_managers_cancel(board, seed):
    action = create(board, seed, owner=board.member.id)
    stranger = board.seed.person(board.table, Role.member, "altro@example.org", board.cna)
    with pytest.raises(Forbidden):
        set_status(board, seed, action, ActionStatus.done, stranger, Role.member)
    with pytest.raises(Forbidden):
        set_status(board, seed, action, ActionStatus.cancelled, board.member, Role.member)
    set_status(board, seed, action, ActionStatus.cancelled, board.secretary, Role.secretary)
    assert board.current(ActionItem, action.id).status is ActionStatus.cancelled


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([ActionStatus.cancelled], ActionStatus.open),
        ([ActionStatus.cancelled], ActionStatus.done),
        ([ActionStatus.done], ActionStatus.open),
        ([ActionStatus.done], ActionStatus.cancelled),
    ],
)
def test_an_illegal_transition_is_refused_and_changes_nothing(board, seed, path, illegal):
    action = create(board, seed, owner=board.member.id)
    for status in path:
        action = set_status(board, seed, action, status, board.chair, Role.chair)
    events = len(board.events())
    with pytest.raises(Invalid):
        set_status(board, seed, action, illegal, board.chair, Role.chair)
    assert board.current(ActionItem, action.id).status is path[-1]
    assert len(board.events()) == events


def test_a_repeated_status_is_a_no_op_and_a_stale_different_one_is_refused(board, seed):
    action = create(board, seed, owner=board.member.id)
    set_status(board, seed, action, ActionStatus.in_progress, board.member, Role.member, version=1)
    set_status(board, seed, action, ActionStatus.in_progress, board.member, Role.member, version=1)
    assert len(board.events("action.status")) == 1
    with pytest.raises(Stale):
        set_status(board, seed, action, ActionStatus.done, board.member, Role.member, version=1)


# --- notes ---------------------------------------------------------------------------------------------


def test_the_owner_adds_notes_once_per_form_and_others_cannot(board, seed):
    action = create(board, seed, owner=board.member.id)

    def note(who, role, body="Contattati i primi venti negozi.", key="n1"):
        return seed.run(
            lambda s: actions.add_note(s, board.table, action.id, body, actor=actor(board, who, role), client_key=key)
        )

    first, again = note(board.member, Role.member), note(board.member, Role.member)
    assert first.id == again.id
    assert len(board.events("action.note_added")) == 1
    with pytest.raises(Forbidden):
        note(board.observer, Role.observer, key="n2")
    with pytest.raises(Invalid):
        note(board.member, Role.member, body="   ", key="n3")
    with pytest.raises(Invalid):
        note(board.member, Role.member, body="x" * 5_001, key="n4")
    assert [n.body for n in seed.run(lambda s: actions.notes_of(s, action.id))] == ["Contattati i primi venti negozi."]


# --- lists ---------------------------------------------------------------------------------------------


def test_lists_filter_and_sort_and_overdue_counts_only_open_work(board, seed):
    past = (date.today() - timedelta(days=10)).isoformat()
    late = create(board, seed, title="In ritardo", owner=board.member.id, due=past)
    create(board, seed, title="Senza data", due="")
    later = create(board, seed, title="Più avanti", owner=board.chair.id, due="2040-01-01")
    done = create(board, seed, title="Fatta", owner=board.member.id, due=past)
    set_status(board, seed, done, ActionStatus.done, board.member, Role.member)

    def titles(**filters):
        found = seed.run(lambda s: actions.actions_of(s, board.table.id, actions.Filters(**filters)))
        return [a.title for a in found]

    assert titles() == ["In ritardo", "Fatta", "Più avanti", "Senza data"]
    assert titles(sort="-due") == ["Più avanti", "In ritardo", "Fatta", "Senza data"]
    assert titles(overdue=True) == ["In ritardo"]
    assert titles(owner_id=board.member.id) == ["In ritardo", "Fatta"]
    assert titles(organisation_id=board.ascom.id) == ["Più avanti"]
    assert titles(status=ActionStatus.done) == ["Fatta"]
    assert actions.is_overdue(late)
    assert not actions.is_overdue(later)
    mine = seed.run(lambda s: actions.my_actions(s, board.member.id))
    assert [a.title for _t, a in mine] == ["In ritardo", "Fatta"]
    used = seed.run(lambda s: actions.organisations_with_actions(s, board.table.id))
    assert used == {board.cgil.id, board.ascom.id}  # the item without an owner is for no organisation


def test_the_history_of_an_action_item_holds_its_own_events_newest_first(board, seed):
    from server.domain import audit

    first = create(board, seed, title="Prima")
    second = create(board, seed, title="Seconda", owner=board.member.id)
    set_status(board, seed, second, ActionStatus.in_progress, board.member, Role.member)

    def kinds(action):
        return [e.kind for e in seed.run(lambda s: audit.history_of(s, board.table.id, "action", action.id))]

    assert kinds(second) == ["action.status", "action.created"]
    assert kinds(first) == ["action.created"]


def test_the_next_meeting_proposes_a_review_of_the_open_action_items(board, seed):
    create(board, seed, title="Mappatura dei negozi sfitti", owner=board.member.id)
    create(board, seed, title="Calendario dei saldi")

    def convene(s):
        typed = meetings.parse_meeting(
            title="Seduta di gennaio", day="2032-01-13", hour="15:00", place="Palazzo Malvezzi", online_url=""
        )
        return meetings.create_meeting(s, board.table, typed, actor_id=board.chair.id)

    async def convene_with_review(s):
        meeting = await convene(s)
        await actions.propose_review(s, board.table, meeting, actor_id=board.chair.id)
        await actions.propose_review(s, board.table, meeting, actor_id=board.chair.id)  # once only
        return meeting

    meeting = seed.run(convene_with_review)
    items = seed.run(lambda s: agenda.agenda_of(s, meeting.id))
    assert len(items) == 1
    (review,) = items
    assert isinstance(review, AgendaItem)
    assert "Mappatura dei negozi sfitti" in review.description
    assert "Calendario dei saldi" in review.description
