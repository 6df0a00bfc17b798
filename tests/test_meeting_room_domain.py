"""The meeting room's rules on a real database: a meeting's life, what a closed meeting refuses, what
it carries over, the lists of speakers, the clocks, check-in, the quorum and room links."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server.db.models import AgendaItem, AgendaStatus, Meeting, MeetingStatus, Speaker, SpeakerStatus
from server.db.types import utcnow
from server.domain import agenda, meeting_life, meetings, quorum, room_links, speaker_lists, speakers
from server.domain.errors import Forbidden, Invalid, NotFound


@pytest.fixture
def seed(db_seed):
    """The records of these tests go straight into the database, through the domain: no app runs."""
    return db_seed


def run(board, change):
    return board.seed.run(change)


def open_meeting(board, meeting=None):
    meeting = meeting or board.meeting
    return run(board, lambda s: meeting_life.open_meeting(s, board.table, meeting.id, actor_id=board.chair.id))


def close_meeting(board, meeting=None):
    meeting = meeting or board.meeting
    return run(board, lambda s: meeting_life.close_meeting(s, board.table, meeting.id, actor_id=board.chair.id))


def fresh(board, item):
    return board.current(AgendaItem, item.id)


def discuss(board, index):
    item = fresh(board, board.items[index])
    return run(
        board,
        lambda s: agenda.set_status(
            s,
            board.table,
            board.meeting.id,
            item.id,
            AgendaStatus.current,
            version=item.version,
            actor_id=board.chair.id,
        ),
    )


def mark(board, index, status):
    item = fresh(board, board.items[index])
    return run(
        board,
        lambda s: agenda.set_status(
            s, board.table, board.meeting.id, item.id, status, version=item.version, actor_id=board.chair.id
        ),
    )


def present(board, *organisations):
    marks = {o.id: (True, "") for o in organisations}
    version = board.current(Meeting, board.meeting.id).attendance_version
    run(
        board,
        lambda s: meetings.record_attendance(
            s, board.table, board.meeting.id, marks, version=version, actor_id=board.secretary.id
        ),
    )


def ask(board, user, organisation, index=0, point_of_order=False):
    return run(
        board,
        lambda s: speakers.ask(
            s,
            board.table,
            board.meeting.id,
            board.items[index].id,
            user_id=user.id,
            name=user.name,
            organisation_id=organisation.id if organisation else None,
            point_of_order=point_of_order,
        ),
    )


def listing(board, index=0):
    async def read(session):
        meeting = await meetings.get_meeting(session, board.table.id, board.meeting.id)
        item = await session.get(AgendaItem, board.items[index].id)
        return await speaker_lists.list_of(session, meeting, item)

    return run(board, read)


# --- a meeting's life ----------------------------------------------------------------------------


def test_a_meeting_is_convened_then_opened_then_closed_each_once(board, seed):
    assert board.current(Meeting, board.meeting.id).status is MeetingStatus.convened
    with pytest.raises(Invalid, match="non è stata aperta"):
        close_meeting(board)
    open_meeting(board)
    open_meeting(board)  # a second click: nothing more
    meeting = board.current(Meeting, board.meeting.id)
    assert meeting.status is MeetingStatus.in_progress
    assert meeting.opened_at is not None
    assert meeting.version == 1, "opening leaves the details' form current"
    close_meeting(board)
    close_meeting(board)
    assert board.current(Meeting, board.meeting.id).status is MeetingStatus.closed
    with pytest.raises(Invalid, match="non si può riaprire"):
        open_meeting(board)
    assert len(board.events("meeting.opened")) == 1
    assert len(board.events("meeting.closed")) == 1


def closed_board(board):
    present(board, board.cgil)
    open_meeting(board)
    discuss(board, 0)
    close_meeting(board)
    return board


CLOSED_CHANGES = {
    "add an item": lambda b: (
        lambda s: agenda.add_item(
            s,
            b.table,
            b.meeting.id,
            agenda.parse_item(title="Nuovo", description="", presenter="", planned_minutes=""),
            actor_id=b.chair.id,
        )
    ),
    "edit an item": lambda b: (
        lambda s: agenda.update_item(
            s,
            b.table,
            b.meeting.id,
            b.items[1].id,
            agenda.parse_item(title="Cambiato", description="", presenter="", planned_minutes=""),
            version=1,
            actor_id=b.chair.id,
        )
    ),
    "remove an item": lambda b: lambda s: agenda.remove_item(s, b.table, b.meeting.id, b.items[1].id, actor_id=None),
    "move an item": lambda b: (
        lambda s: agenda.move_item(s, b.table, b.meeting.id, b.items[1].id, to_position=1, version=1, actor_id=None)
    ),
    "mark an item": lambda b: (
        lambda s: agenda.set_status(
            s, b.table, b.meeting.id, b.items[1].id, AgendaStatus.done, version=1, actor_id=None
        )
    ),
    "record the attendance": lambda b: (
        lambda s: meetings.record_attendance(s, b.table, b.meeting.id, {}, version=1, actor_id=None)
    ),
    "ask to speak": lambda b: (
        lambda s: speakers.ask(
            s, b.table, b.meeting.id, b.items[0].id, user_id=b.member.id, name="M", organisation_id=b.cgil.id
        )
    ),
    "add a speaker": lambda b: (
        lambda s: speakers.add(s, b.table, b.meeting.id, b.items[0].id, b.cgil.id, actor_id=b.chair.id)
    ),
    "close the list": lambda b: (
        lambda s: speakers.set_open(s, b.table, b.meeting.id, b.items[0].id, False, actor_id=None)
    ),
    "set the speaking time": lambda b: (
        lambda s: meeting_life.set_speaking_time(s, b.table, b.meeting.id, 120, actor_id=None)
    ),
    "open check-in": lambda b: lambda s: meeting_life.set_check_in(s, b.table, b.meeting.id, True, actor_id=None),
}


@pytest.mark.parametrize("change", sorted(CLOSED_CHANGES))
def test_a_closed_meeting_refuses_every_change_and_says_why(board, seed, change):
    closed_board(board)
    before = len(board.events())
    with pytest.raises(Invalid) as refused:
        run(board, CLOSED_CHANGES[change](board))
    assert "Questa seduta è chiusa" in " ".join(refused.value.errors.values())
    assert len(board.events()) == before


def test_checking_in_to_a_closed_meeting_is_refused(board, seed):
    closed_board(board)
    with pytest.raises(Invalid, match="non è più possibile registrare la presenza"):
        run(
            board,
            lambda s: meeting_life.check_in(
                s, board.table, board.meeting.id, user_id=board.member.id, name="M", organisation_id=board.cgil.id
            ),
        )


def later_meeting(board, day="2032-01-20"):
    values = meetings.parse_meeting(title="Seduta di gennaio", day=day, hour="15:00", place="Sala", online_url="")
    return run(board, lambda s: meetings.create_meeting(s, board.table, values, actor_id=board.chair.id))


def titles_of(board, meeting):
    return [i.title for i in run(board, lambda s: agenda.agenda_of(s, meeting.id))]


def test_closing_carries_deferred_and_undiscussed_items_to_the_next_meeting_once(board, seed):
    following = later_meeting(board)
    open_meeting(board)
    discuss(board, 0)
    mark(board, 0, AgendaStatus.done)
    mark(board, 1, AgendaStatus.deferred)
    close_meeting(board)
    assert titles_of(board, following) == ["Distretti del commercio", "Varie ed eventuali"]
    carried = run(board, lambda s: agenda.agenda_of(s, following.id))[0]
    assert carried.description.startswith("Riportato dalla seduta «Seduta di dicembre»")
    # A meeting convened afterwards finds them carried already.
    again = later_meeting(board, "2032-02-20")
    assert run(board, lambda s: meeting_life.propose_carried(s, board.table, again, actor_id=None)) == 0


def test_a_meeting_convened_after_the_close_receives_what_was_left(board, seed):
    open_meeting(board)
    mark(board, 2, AgendaStatus.done)
    close_meeting(board)
    following = later_meeting(board)
    added = run(board, lambda s: meeting_life.propose_carried(s, board.table, following, actor_id=None))
    assert added == 2
    assert titles_of(board, following) == ["Saldi invernali", "Distretti del commercio"]
    assert run(board, lambda s: meeting_life.propose_carried(s, board.table, following, actor_id=None)) == 0


# --- the discussion's clock --------------------------------------------------------------------


def test_an_item_clock_counts_every_spell_under_discussion(board, seed):
    discuss(board, 0)

    async def back(session, seconds):
        await session.execute(
            update(AgendaItem)
            .where(AgendaItem.id == board.items[0].id)
            .values(discussion_started_at=utcnow() - timedelta(seconds=seconds))
        )

    run(board, lambda s: back(s, 100))
    discuss(board, 1)  # the first returns to pending: its clock stops
    first = fresh(board, board.items[0])
    assert 100 <= first.discussed_seconds <= 105
    assert first.discussion_started_at is None
    discuss(board, 0)
    run(board, lambda s: back(s, 20))
    mark(board, 0, AgendaStatus.done)
    assert 120 <= fresh(board, board.items[0]).discussed_seconds <= 130


def test_the_meeting_time_says_when_an_item_runs_over_its_planned_minutes(board, seed):
    open_meeting(board)
    discuss(board, 0)  # 15 minutes planned

    async def clocks(session, seconds):
        await session.execute(
            update(AgendaItem)
            .where(AgendaItem.id == board.items[0].id)
            .values(discussion_started_at=utcnow() - timedelta(seconds=seconds))
        )
        await session.execute(
            update(Meeting).where(Meeting.id == board.meeting.id).values(opened_at=utcnow() - timedelta(hours=1))
        )
        meeting = await session.get(Meeting, board.meeting.id, populate_existing=True)
        return await meeting_life.time_of(session, meeting)

    time = run(board, lambda s: clocks(s, 16 * 60))
    assert time.item_planned == 15 * 60
    assert time.item_over
    assert time.planned == 45 * 60
    assert time.meeting_over
    assert 3600 <= time.meeting_seconds <= 3610
    assert not run(board, lambda s: clocks(s, 60)).item_over


# --- lists of speakers --------------------------------------------------------------------------


def test_a_member_asks_to_speak_for_their_organisation_once(board, seed):
    first = ask(board, board.member, board.cgil)
    second = ask(board, board.member, board.cgil)
    assert first.id == second.id
    assert [s.organisation.name for s in listing(board).waiting] == ["CGIL Bologna"]
    assert len(board.events("speaker.requested")) == 1


def test_fifty_identical_requests_in_one_transaction_each_make_one(board, seed):
    """The unique index has the last word: a twin inserted behind the check is found, not doubled."""

    async def twins(session):
        meeting = await meetings.get_meeting(session, board.table.id, board.meeting.id)
        item = await session.get(AgendaItem, board.items[0].id)
        made = [
            await speakers._enqueue(session, meeting, item, board.cgil.id, user_id=None, name="", point_of_order=False)
            for _ in range(50)
        ]
        return {speaker.id for speaker, _new in made}

    assert len(run(board, twins)) == 1


def test_a_member_without_an_organisation_cannot_ask(board, seed):
    with pytest.raises(Invalid, match="Non rappresenti alcuna organizzazione"):
        ask(board, board.observer, None)


def test_a_point_of_order_jumps_the_queue_and_stays_marked(board, seed):
    ask(board, board.member, board.cgil)
    ask(board, board.chair, board.ascom)
    order = ask(board, board.secretary, board.cna, point_of_order=True)
    waiting = listing(board).waiting
    assert waiting[0].organisation.name == "CNA Bologna"
    assert waiting[0].id == order.id
    assert waiting[0].point_of_order
    # A point of order is a request of its own kind: the same organisation may also wait its turn.
    ask(board, board.secretary, board.cna)
    assert len(listing(board).waiting) == 4


def test_a_closed_list_takes_no_request_from_members_but_the_chair_still_adds(board, seed):
    present(board, board.cgil)
    run(board, lambda s: speakers.set_open(s, board.table, board.meeting.id, board.items[0].id, False, actor_id=None))
    assert fresh(board, board.items[0]).version == 1, "closing the list leaves the agenda's buttons current"
    with pytest.raises(Invalid, match="è chiuso: non si accettano nuove richieste"):
        ask(board, board.member, board.cgil)
    item_id = board.items[0].id
    run(board, lambda s: speakers.add(s, board.table, board.meeting.id, item_id, board.cgil.id, actor_id=None))
    assert len(listing(board).waiting) == 1


def test_the_chair_adds_only_organisations_present(board, seed):
    with pytest.raises(Invalid, match="presente alla seduta"):
        run(
            board,
            lambda s: speakers.add(s, board.table, board.meeting.id, board.items[0].id, board.cna.id, actor_id=None),
        )


def test_only_the_organisation_that_asked_withdraws(board, seed):
    request = ask(board, board.member, board.cgil)
    with pytest.raises(Forbidden):
        run(
            board,
            lambda s: speakers.withdraw(
                s, board.table, board.meeting.id, request.id, user_id=board.chair.id, organisation_id=board.ascom.id
            ),
        )

    def withdraw(s):
        return speakers.withdraw(
            s, board.table, board.meeting.id, request.id, user_id=board.member.id, organisation_id=board.cgil.id
        )

    run(board, withdraw)
    run(board, withdraw)
    assert listing(board).waiting == []
    assert len(board.events("speaker.withdrawn")) == 1


def test_a_request_of_another_meeting_is_not_found(board, seed):
    request = ask(board, board.member, board.cgil)
    with pytest.raises(NotFound):
        run(board, lambda s: speakers.remove(s, board.other, board.other_meeting.id, request.id, actor_id=None))


def start(board, speaker):
    return run(board, lambda s: speakers.start(s, board.table, board.meeting.id, speaker.id, actor_id=board.chair.id))


def test_the_floor_is_given_only_in_an_open_meeting_on_the_item_under_discussion(board, seed):
    request = ask(board, board.member, board.cgil)
    with pytest.raises(Invalid, match="Apri la seduta"):
        start(board, request)
    open_meeting(board)
    with pytest.raises(Invalid, match="Apri la discussione di «Saldi invernali»"):
        start(board, request)
    discuss(board, 0)
    start(board, request)
    start(board, request)  # a second click: nothing more
    assert listing(board).speaking.id == request.id
    assert len(board.events("speaker.started")) == 1


def test_the_next_speaker_ends_the_previous_and_who_spoke_is_kept_with_durations(board, seed):
    open_meeting(board)
    discuss(board, 0)
    first = ask(board, board.member, board.cgil)
    second = ask(board, board.chair, board.ascom)
    start(board, first)

    async def earlier(session):
        await session.execute(
            update(Speaker).where(Speaker.id == first.id).values(started_at=utcnow() - timedelta(seconds=95))
        )

    run(board, earlier)
    start(board, second)
    spoke = listing(board).spoke
    assert [s.id for s in spoke] == [first.id]
    assert 95 <= spoke[0].seconds <= 100
    run(board, lambda s: speakers.stop(s, board.table, board.meeting.id, second.id, actor_id=None))
    run(board, lambda s: speakers.stop(s, board.table, board.meeting.id, second.id, actor_id=None))
    assert [s.id for s in listing(board).spoke] == [first.id, second.id]
    assert listing(board).speaking is None
    assert len(board.events("speaker.stopped")) == 2
    with pytest.raises(Invalid, match="già stato fatto"):
        start(board, first)


def test_closing_the_item_ends_the_speech(board, seed):
    open_meeting(board)
    discuss(board, 0)
    request = ask(board, board.member, board.cgil)
    start(board, request)
    mark(board, 0, AgendaStatus.done)

    async def status(session):
        return await session.scalar(select(Speaker.status).where(Speaker.id == request.id))

    assert run(board, status) is SpeakerStatus.spoke


def test_the_chair_reorders_and_removes_waiting_requests(board, seed):
    a = ask(board, board.member, board.cgil)
    b = ask(board, board.chair, board.ascom)
    c = ask(board, board.secretary, board.cna)
    run(board, lambda s: speakers.move(s, board.table, board.meeting.id, c.id, to_position=1, actor_id=None))
    run(board, lambda s: speakers.move(s, board.table, board.meeting.id, c.id, to_position=1, actor_id=None))
    assert [s.id for s in listing(board).waiting] == [c.id, a.id, b.id]
    assert len(board.events("speaker.moved")) == 1
    with pytest.raises(Invalid, match="oltre l'inizio o la fine"):
        run(board, lambda s: speakers.move(s, board.table, board.meeting.id, c.id, to_position=4, actor_id=None))
    run(board, lambda s: speakers.remove(s, board.table, board.meeting.id, a.id, actor_id=None))
    assert [s.id for s in listing(board).waiting] == [c.id, b.id]


def test_speaking_time_per_meeting_changed_per_item(board, seed):
    assert listing(board).speaking_seconds == 180
    run(board, lambda s: meeting_life.set_speaking_time(s, board.table, board.meeting.id, 240, actor_id=None))
    assert listing(board).speaking_seconds == 240
    run(board, lambda s: speakers.set_item_time(s, board.table, board.meeting.id, board.items[0].id, 90, actor_id=None))
    assert listing(board, 0).speaking_seconds == 90
    assert listing(board, 1).speaking_seconds == 240
    assert board.current(Meeting, board.meeting.id).version == 1


@pytest.mark.parametrize(("typed", "seconds"), [("3", 180), ("2:30", 150), ("0:15", 15), ("60", 3600)])
def test_speaking_times_are_read_as_minutes(typed, seconds):
    assert speaker_lists.parse_speaking_time(typed) == seconds


@pytest.mark.parametrize("typed", ["", "0", "0:10", "61", "2:75", "2:5", "tre", "٣", "1.5", "-3"])
def test_bad_speaking_times_are_refused(typed):
    with pytest.raises(Invalid):
        speaker_lists.parse_speaking_time(typed)


# --- check-in and quorum ------------------------------------------------------------------------


def check_in(board, user, organisation):
    return run(
        board,
        lambda s: meeting_life.check_in(
            s, board.table, board.meeting.id, user_id=user.id, name=user.name, organisation_id=organisation.id
        ),
    )


def test_delegates_check_in_while_it_is_open_and_the_secretary_confirms(board, seed):
    with pytest.raises(Invalid, match="non è aperta"):
        check_in(board, board.member, board.cgil)
    run(board, lambda s: meeting_life.set_check_in(s, board.table, board.meeting.id, True, actor_id=None))
    check_in(board, board.member, board.cgil)
    check_in(board, board.member, board.cgil)
    assert len(board.events("attendance.checked_in")) == 1

    async def sheet(s):
        return await meetings.attendance_of(s, await s.get(Meeting, board.meeting.id))

    rows = {row.organisation.name: row for row in run(board, sheet).rows}
    assert rows["CGIL Bologna"].present
    assert rows["CGIL Bologna"].checked_in
    assert not rows["CGIL Bologna"].confirmed
    assert rows["CGIL Bologna"].delegates == "Member"
    # The secretary saves the same sheet: that confirms the check-in.
    version = board.current(Meeting, board.meeting.id).attendance_version
    marks = {board.cgil.id: (True, "Member")}
    run(
        board,
        lambda s: meetings.record_attendance(s, board.table, board.meeting.id, marks, version=version, actor_id=None),
    )
    rows = {row.organisation.name: row for row in run(board, sheet).rows}
    assert rows["CGIL Bologna"].confirmed


@pytest.mark.parametrize(
    ("typed", "rule"),
    [("", quorum.QuorumRule()), ("3", quorum.QuorumRule(number=3)), (" 50 % ", quorum.QuorumRule(percent=50))],
)
def test_a_quorum_is_a_number_or_a_share(typed, rule):
    assert quorum.parse_quorum(typed) == rule


@pytest.mark.parametrize("typed", ["0", "0%", "101%", "tre", "1.5", "501", "%"])
def test_a_bad_quorum_is_refused(typed):
    with pytest.raises(Invalid):
        quorum.parse_quorum(typed)


def test_present_against_required_from_the_attendance(board, seed):
    def state():
        async def read(session):
            from server.db.models import Table

            table = await session.get(Table, board.table.id, populate_existing=True)
            meeting = await session.get(Meeting, board.meeting.id)
            return await quorum.quorum_of(session, table, meeting)

        return run(board, read)

    assert state().required is None
    assert state().members == 3  # the chair's, the secretary's and the member's organisations
    run(board, lambda s: quorum.set_quorum(s, board.table, quorum.QuorumRule(percent=50), actor_id=None))
    assert (state().required, state().present, state().reached) == (2, 0, False)
    present(board, board.cgil, board.ascom)
    assert (state().present, state().reached) == (2, True)
    run(board, lambda s: quorum.set_quorum(s, board.table, quorum.QuorumRule(number=3), actor_id=None))
    assert (state().required, state().reached) == (3, False)
    assert len(board.events("table.quorum_set")) == 2


# --- room links ---------------------------------------------------------------------------------


def test_a_room_link_opens_its_meeting_only_until_revoked(board, seed):
    key = "a-key-for-these-tests"
    made = run(
        board, lambda s: room_links.create_link(s, board.table, board.meeting.id, key=key, actor_id=board.chair.id)
    )
    slug = board.table.slug

    def admit(secret=made.secret, meeting_id=board.meeting.id, table=slug, now=None):
        cookie = room_links.pass_of(secret, key) if secret else ""
        return run(board, lambda s: room_links.admit(s, cookie, slug=table, meeting_id=meeting_id, now=now))

    assert admit().meeting_id == board.meeting.id
    assert admit(meeting_id=board.other_meeting.id) is None
    assert admit(table=board.other.slug) is None
    assert admit(secret=made.secret + "x") is None
    assert admit(secret="") is None
    assert run(board, lambda s: room_links.admit(s, made.secret, slug=slug, meeting_id=board.meeting.id)) is None, (
        "the secret itself is no cookie"
    )
    assert admit(now=made.link.expires_at + timedelta(seconds=1)) is None, "it expires at the end of its day"
    assert made.secret not in str(board.events()[-1].payload)
    run(board, lambda s: room_links.revoke_link(s, board.table, board.meeting.id, made.link.id, actor_id=None))
    run(board, lambda s: room_links.revoke_link(s, board.table, board.meeting.id, made.link.id, actor_id=None))
    assert admit() is None
    assert len(board.events("meeting.room_link_revoked")) == 1


def test_a_room_link_made_before_its_meeting_lasts_until_the_end_of_the_meetings_day(board):
    """Made the day before (or a minute before midnight), a link still opens the screen on the day."""
    from datetime import UTC, datetime

    made = run(
        board, lambda s: room_links.create_link(s, board.table, board.meeting.id, key="k", actor_id=board.chair.id)
    )
    assert board.meeting.starts_at > made.link.created_at
    assert made.link.expires_at == datetime(2031, 12, 9, 23, 0, tzinfo=UTC), "midnight in Bologna after 9 December"


def test_a_room_link_lasts_until_midnight_in_italy():
    from datetime import UTC, datetime

    end = room_links.end_of_day(datetime(2032, 7, 1, 21, 30, tzinfo=UTC))  # 23:30 in Bologna
    assert end == datetime(2032, 7, 1, 22, 0, tzinfo=UTC)
