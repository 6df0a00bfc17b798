"""Who is on each table: this instance's connections, the other instances' reports, and their expiry."""

from __future__ import annotations

from server.live.presence import EXPIRY, Presence

TABLE, OTHER_TABLE = 3, 5
ANNA, BRUNO, CARLA = 11, 12, 13


def test_a_person_joins_with_the_first_connection_and_leaves_with_the_last():
    here = Presence("here")
    assert here.join(TABLE, ANNA) is True
    assert here.join(TABLE, ANNA) is False, "a second tab changes nobody's presence"
    assert here.users(TABLE) == {ANNA}
    assert here.leave(TABLE, ANNA) is False, "one tab is still open"
    assert here.users(TABLE) == {ANNA}
    assert here.leave(TABLE, ANNA) is True
    assert here.users(TABLE) == set()
    assert here.local_tables() == {}, "an empty table is forgotten"


def test_leaving_without_having_joined_changes_nothing():
    here = Presence("here")
    assert here.leave(TABLE, ANNA) is False
    here.join(TABLE, ANNA)
    assert here.leave(TABLE, BRUNO) is False
    assert here.users(TABLE) == {ANNA}


def test_what_this_instance_reports_is_its_own_people_per_table():
    here = Presence("here")
    here.join(TABLE, BRUNO)
    here.join(TABLE, ANNA)
    here.join(OTHER_TABLE, CARLA)
    assert here.local(TABLE) == [ANNA, BRUNO]
    assert here.local(99) == []
    assert here.local_tables() == {TABLE: [ANNA, BRUNO], OTHER_TABLE: [CARLA]}


def test_another_instance_s_report_adds_its_people_and_says_which_tables_changed():
    here = Presence("here")
    here.join(TABLE, ANNA)
    assert here.apply("there", {TABLE: [BRUNO]}, full=False, now=0) == {TABLE}
    assert here.users(TABLE) == {ANNA, BRUNO}
    assert here.local(TABLE) == [ANNA], "the others' people are not reported as this instance's"
    assert here.apply("there", {TABLE: [BRUNO]}, full=False, now=1) == set(), "the same report changes nothing"
    assert here.apply("there", {TABLE: [ANNA]}, full=False, now=2) == {TABLE}, "Bruno left there"
    assert here.users(TABLE) == {ANNA}, "Anna is here and there: still one person"


def test_a_partial_report_replaces_only_the_tables_it_names():
    here = Presence("here")
    here.apply("there", {TABLE: [ANNA], OTHER_TABLE: [BRUNO]}, full=False, now=0)
    assert here.apply("there", {TABLE: []}, full=False, now=1) == {TABLE}
    assert here.users(TABLE) == set()
    assert here.users(OTHER_TABLE) == {BRUNO}


def test_a_full_report_replaces_everything_the_instance_said_before():
    here = Presence("here")
    here.apply("there", {TABLE: [ANNA], OTHER_TABLE: [BRUNO]}, full=False, now=0)
    assert here.apply("there", {OTHER_TABLE: [BRUNO]}, full=True, now=1) == {TABLE}
    assert here.users(TABLE) == set()
    assert here.apply("there", {}, full=True, now=2) == {OTHER_TABLE}, "an instance that stops says so"
    assert here.users(OTHER_TABLE) == set()


def test_its_own_report_coming_back_through_the_broker_is_ignored():
    here = Presence("here")
    here.join(TABLE, ANNA)
    assert here.apply("here", {TABLE: [BRUNO]}, full=True, now=0) == set()
    assert here.users(TABLE) == {ANNA}


def test_an_instance_that_stops_beating_is_forgotten_after_the_expiry():
    here = Presence("here")
    here.join(TABLE, ANNA)
    here.apply("crashed", {TABLE: [BRUNO]}, full=True, now=100)
    here.apply("alive", {OTHER_TABLE: [CARLA]}, full=True, now=100)
    assert here.expire(now=100 + EXPIRY) == set(), "not yet"
    here.apply("alive", {OTHER_TABLE: [CARLA]}, full=True, now=100 + EXPIRY)  # its heartbeat
    assert here.expire(now=100 + EXPIRY + 1) == {TABLE}
    assert here.users(TABLE) == {ANNA}, "this instance's own people never expire"
    assert here.users(OTHER_TABLE) == {CARLA}, "a beating instance is kept"


def test_expiring_someone_present_through_another_instance_too_changes_nothing_on_that_table():
    here = Presence("here")
    here.apply("crashed", {TABLE: [ANNA]}, full=True, now=0)
    here.apply("alive", {TABLE: [ANNA]}, full=True, now=EXPIRY)
    assert here.expire(now=EXPIRY + 1) == set()
    assert here.users(TABLE) == {ANNA}
