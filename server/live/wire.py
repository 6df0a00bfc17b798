"""The small messages the hubs of all instances exchange through the broker.

They name ids, never content: a receiving hub reads what it needs from the database, so a
message stays far below PostgreSQL's 8,000-byte NOTIFY limit and carries nothing personal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Changed:
    """A committed change on a table (from its Event)."""

    table_id: int
    seq: int
    kind: str
    records: dict[str, int] = field(default_factory=dict)  # {"meeting": 3, "action": 9}: what it is about
    user_id: int | None = None  # the person a membership change is about
    actor_id: int | None = None


@dataclass(frozen=True)
class Present:
    """Who is on which table through one instance; `full` replaces all it said before."""

    instance: str
    tables: dict[int, list[int]] = field(default_factory=dict)
    full: bool = False


@dataclass(frozen=True)
class Revoke:
    """Close the sockets of a session (logout) everywhere."""

    session: str
    code: int = 4401


Note = Changed | Present | Revoke


def encode(note: Note) -> bytes:
    if isinstance(note, Changed):
        body: dict[str, object] = {
            "t": "changed",
            "table": note.table_id,
            "seq": note.seq,
            "kind": note.kind,
            "records": note.records,
            "user": note.user_id,
            "actor": note.actor_id,
        }
    elif isinstance(note, Present):
        body = {
            "t": "present",
            "i": note.instance,
            "full": note.full,
            "tables": {str(k): v for k, v in note.tables.items()},
        }
    else:
        body = {"t": "revoke", "session": note.session, "code": note.code}
    return json.dumps(body, separators=(",", ":")).encode()


def decode(message: bytes) -> Note:
    body = json.loads(message)
    kind = body["t"]
    if kind == "changed":
        records = {str(k): int(v) for k, v in (body.get("records") or {}).items()}
        return Changed(body["table"], body["seq"], body["kind"], records, body.get("user"), body.get("actor"))
    if kind == "present":
        tables = {int(k): [int(u) for u in v] for k, v in body["tables"].items()}
        return Present(body["i"], tables, bool(body.get("full")))
    if kind == "revoke":
        return Revoke(body["session"], int(body.get("code", 4401)))
    raise ValueError(f"unknown live message {kind!r}")
