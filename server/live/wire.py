"""The small messages the hubs of all instances exchange through the broker.

They name ids, never content: a receiving hub reads what it needs from the database, so a
message stays far below PostgreSQL's 8,000-byte NOTIFY limit and carries nothing personal.
"""

from __future__ import annotations

import base64
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


@dataclass(frozen=True)
class DocumentUpdated:
    """A collaborative document stored an update: row `update_id` of its log (relayed by
    reference, never by content: an update may be megabytes). `instance` is the one whose room
    already relayed it ("" when none did: the no-JavaScript save)."""

    document_id: int
    update_id: int
    instance: str = ""


@dataclass(frozen=True)
class DocumentAwareness:
    """Who is in a document and where their cursor is (a y-protocols awareness update), for the
    other instances' rooms; small enough to travel inline, or not sent at all."""

    document_id: int
    instance: str
    data: bytes


@dataclass(frozen=True)
class DocumentClosed:
    """Close every socket of a document, on every instance, with `code` (the text was frozen)."""

    document_id: int
    code: int


Note = Changed | Present | Revoke | DocumentUpdated | DocumentAwareness | DocumentClosed
DocumentNote = DocumentUpdated | DocumentAwareness | DocumentClosed


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
    elif isinstance(note, Revoke):
        body = {"t": "revoke", "session": note.session, "code": note.code}
    elif isinstance(note, DocumentUpdated):
        body = {"t": "doc", "doc": note.document_id, "row": note.update_id, "i": note.instance}
    elif isinstance(note, DocumentAwareness):
        data = base64.b64encode(note.data).decode()
        body = {"t": "doc-aw", "doc": note.document_id, "i": note.instance, "data": data}
    else:
        body = {"t": "doc-close", "doc": note.document_id, "code": note.code}
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
    if kind == "doc":
        return DocumentUpdated(int(body["doc"]), int(body["row"]), str(body.get("i", "")))
    if kind == "doc-aw":
        return DocumentAwareness(int(body["doc"]), str(body["i"]), base64.b64decode(body["data"]))
    if kind == "doc-close":
        return DocumentClosed(int(body["doc"]), int(body["code"]))
    raise ValueError(f"unknown live message {kind!r}")
