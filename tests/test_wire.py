"""The notes the hubs exchange: every kind survives the trip, and what is not one is refused."""

from __future__ import annotations

import json

import pytest

from server.live import wire
from server.live.brokers import NOTIFY_LIMIT


@pytest.mark.parametrize(
    "note",
    [
        wire.Changed(3, 41, "agenda.item_moved", {"meeting": 7}, None, 12),
        wire.Changed(3, 42, "member.removed", {}, user_id=9, actor_id=None),
        wire.Changed(5, 1, "action.status", {"action": 2, "proposal": 8}),
        wire.Present("a1b2c3", {3: [1, 4, 9], 5: [2]}),
        wire.Present("a1b2c3", {}, full=True),
        wire.Revoke("session-id"),
        wire.Revoke("session-id", code=1012),
    ],
    ids=lambda note: type(note).__name__,
)
def test_every_note_comes_back_as_it_went(note):
    encoded = wire.encode(note)
    assert isinstance(encoded, bytes)
    assert wire.decode(encoded) == note


def test_table_ids_stay_numbers_through_json_s_string_keys():
    note = wire.decode(wire.encode(wire.Present("i", {12: [3]})))
    assert isinstance(note, wire.Present)
    assert list(note.tables) == [12]


def test_a_note_names_ids_and_no_content():
    encoded = wire.encode(wire.Changed(3, 41, "proposal.comment_added", {"proposal": 8}, None, 12))
    assert set(json.loads(encoded)) == {"t", "table", "seq", "kind", "records", "user", "actor"}


def test_a_full_presence_of_a_busy_instance_fits_in_a_notify():
    tables = {table_id: list(range(1, 40)) for table_id in range(1, 20)}
    assert len(wire.encode(wire.Present("0123456789ab", tables, full=True))) < NOTIFY_LIMIT


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"{}",
        b'{"t": "gossip"}',
        b'{"t": "changed", "table": 3}',
        b'{"t": "changed", "table": 3, "seq": 1, "kind": "x", "records": {"meeting": "tre"}}',
        b'{"t": "present", "i": "a"}',
        b'{"t": "present", "i": "a", "tables": {"tre": [1]}}',
        b'{"t": "present", "i": "a", "tables": {"3": ["uno"]}}',
        b'{"t": "revoke"}',
        b'{"t": "revoke", "session": "s", "code": "chiudi"}',
    ],
)
def test_malformed_input_is_refused(message):
    with pytest.raises((ValueError, KeyError, TypeError)):
        wire.decode(message)
