"""Meetings and attendance: the rules, through the domain functions on a real database."""

from datetime import UTC, datetime

import pytest

from server.db.models import Meeting
from server.domain import meetings
from server.domain.errors import Invalid, NotFound, Stale


@pytest.fixture
def seed(db_seed):
    """The records of these tests go straight into the database, through the domain: no app runs."""
    return db_seed


VALID = {
    "title": "Seduta di gennaio",
    "day": "2032-01-15",
    "hour": "09:30",
    "place": "Palazzo Malvezzi",
    "online_url": "",
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"day": "15/01/2032"}, "day"),
        ({"day": "2032-02-30"}, "day"),
        ({"day": ""}, "day"),
        ({"hour": "25:00"}, "hour"),
        ({"hour": ""}, "hour"),
        ({"online_url": "javascript:alert(1)"}, "online_url"),
        ({"online_url": "meet.example.org"}, "online_url"),
        ({"place": "", "online_url": ""}, "place"),
        ({"place": "x" * 201}, "place"),
    ],
)
def test_bad_meeting_input_is_reported_beside_its_field(changes, field):
    with pytest.raises(Invalid) as info:
        meetings.parse_meeting(**{**VALID, **changes})
    assert field in info.value.errors


def test_times_are_read_in_europe_rome():
    values = meetings.parse_meeting(**{**VALID, "day": "2032-07-01", "hour": "15:00"})
    assert values.starts_at.astimezone(UTC) == datetime(2032, 7, 1, 13, 0, tzinfo=UTC)


def test_an_online_meeting_needs_no_place():
    values = meetings.parse_meeting(**{**VALID, "place": "", "online_url": "https://meet.example.org/tavolo"})
    assert values.online_url == "https://meet.example.org/tavolo"


def test_convening_records_an_event_with_the_next_sequence_number(board, seed):
    before = board.events()[-1].seq
    created = seed.run(
        lambda s: meetings.create_meeting(s, board.table, meetings.parse_meeting(**VALID), actor_id=board.chair.id)
    )
    event = board.events()[-1]
    assert (event.kind, event.seq, event.actor_id) == ("meeting.created", before + 1, board.chair.id)
    assert event.payload["meeting_id"] == created.id


def test_the_same_form_twice_convenes_one_meeting(board, seed):
    def create(s):
        return meetings.create_meeting(
            s, board.table, meetings.parse_meeting(**VALID), actor_id=board.chair.id, client_key="form-1"
        )

    first, second = seed.run(create), seed.run(create)
    assert first.id == second.id
    assert len(board.events("meeting.created")) == 2  # the board's own meeting and this one


def test_editing_a_meeting_checks_the_version(board, seed):
    values = meetings.parse_meeting(**{**VALID, "title": "Seduta straordinaria"})
    seed.run(
        lambda s: meetings.update_meeting(s, board.table, board.meeting.id, values, version=1, actor_id=board.chair.id)
    )
    assert board.current(Meeting, board.meeting.id).title == "Seduta straordinaria"
    # The very same change again (a double click, now on a stale version) is a harmless no-op.
    seed.run(
        lambda s: meetings.update_meeting(s, board.table, board.meeting.id, values, version=1, actor_id=board.chair.id)
    )
    assert len(board.events("meeting.updated")) == 1
    # A different change on the stale version is refused, with the current state attached.
    other = meetings.parse_meeting(**{**VALID, "title": "Seduta ordinaria"})
    with pytest.raises(Stale) as info:
        seed.run(
            lambda s: meetings.update_meeting(
                s, board.table, board.meeting.id, other, version=1, actor_id=board.secretary.id
            )
        )
    assert info.value.current.title == "Seduta straordinaria"
    assert board.current(Meeting, board.meeting.id).title == "Seduta straordinaria"


def test_a_meeting_of_another_table_is_not_found(board, seed):
    with pytest.raises(NotFound):
        seed.run(lambda s: meetings.get_meeting(s, board.table.id, board.other_meeting.id))
    with pytest.raises(NotFound):
        seed.run(
            lambda s: meetings.update_meeting(
                s, board.table, board.other_meeting.id, meetings.parse_meeting(**VALID), version=1, actor_id=None
            )
        )


def test_meetings_split_into_upcoming_and_past(board, seed):
    seed.run(
        lambda s: meetings.create_meeting(
            s, board.table, meetings.parse_meeting(**{**VALID, "day": "2020-03-01"}), actor_id=None
        )
    )
    listing = seed.run(lambda s: meetings.meetings_of(s, board.table.id))
    assert [m.title for m in listing.upcoming] == ["Seduta di dicembre"]
    assert [m.starts_at.year for m in listing.past] == [2020]


def test_attendance_counts_the_table_organisations(board, seed):
    marks = {board.ascom.id: (True, "Mario Rossi"), board.cgil.id: (True, "Anna Bianchi, Luca Verdi")}
    sheet = seed.run(
        lambda s: meetings.record_attendance(
            s, board.table, board.meeting.id, marks, version=0, actor_id=board.secretary.id
        )
    )
    assert (sheet.present_count, len(sheet.rows)) == (2, 3)
    rows = {row.organisation.name: row for row in sheet.rows}
    assert rows["CGIL Bologna"].delegates == "Anna Bianchi, Luca Verdi"
    assert not rows["CNA Bologna"].present
    event = board.events("attendance.recorded")[-1]
    assert (event.payload["present"], event.payload["expected"]) == (2, 3)


def test_attendance_repeat_is_a_no_op_and_a_stale_sheet_is_refused(board, seed):
    marks = {board.ascom.id: (True, "Mario Rossi")}

    def record(version, m=marks):
        return seed.run(
            lambda s: meetings.record_attendance(
                s, board.table, board.meeting.id, m, version=version, actor_id=board.secretary.id
            )
        )

    record(0)
    record(0)  # the same sheet, sent again
    assert len(board.events("attendance.recorded")) == 1
    with pytest.raises(Stale):
        record(0, {board.cgil.id: (True, "")})
    assert record(1, {board.cgil.id: (True, "")}).present_count == 1


def test_attendance_of_an_organisation_foreign_to_the_table_is_refused(board, seed):
    stranger = seed.org("Legacoop Bologna")
    with pytest.raises(Invalid):
        seed.run(
            lambda s: meetings.record_attendance(
                s, board.table, board.meeting.id, {stranger.id: (True, "")}, version=0, actor_id=None
            )
        )
    assert board.events("attendance.recorded") == []
