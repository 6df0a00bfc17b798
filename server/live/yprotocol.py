"""The y-protocols messages the document sockets speak (y-websocket's wire), and our message 100.

Message 0 is sync (substeps 0 step 1: a state vector; 1 step 2 and 2 update: a Yjs v1 update),
message 1 awareness (who is here, their cursors), message 3 a query for the awareness; message
100 is ours: "saved", the state vector of everything the server stored, sent only to sockets
opened with `?ack=1` (an unmodified y-websocket client never sees it). Every number is a
variable-length unsigned integer, every payload is prefixed with its length; a message that
cannot be read this way is `Malformed` (the socket closes 1007), one of another type
`Unsupported` (1003). The close codes of the document sockets are here too.
"""

from __future__ import annotations

from collections.abc import Iterable

import pycrdt

# Read here by the live side; written once, in the domain, which reads state vectors too.
from server.domain.yencoding import Malformed as Malformed
from server.domain.yencoding import read_var_bytes as read_var_bytes
from server.domain.yencoding import read_var_uint as read_var_uint
from server.domain.yencoding import read_vector as read_vector

# y-protocols' message types, and ours.
SYNC = 0
AWARENESS = 1
QUERY_AWARENESS = 3
SAVED = 100  # our own: the state vector the server stored, sent only to sockets opened with ?ack=1
STEP1, STEP2, UPDATE = 0, 1, 2

# Close codes (docs/architecture.md, "Collaborative documents"). y-websocket 3.1 stops reconnecting
# after 4400-4499; the island also treats 1009 as final.
UNSUPPORTED = 1003  # a message type that is not ours, or a text frame
INVALID = 1007  # a message that cannot be decoded
TOO_BIG = 1009  # a message over the document's size limit, or a document at its limit
INTERNAL = 1011  # the store failed: the client reconnects and sends its edits again
RESTART = 1012  # this instance is stopping, or the room closed as the socket joined: reconnect
TRY_AGAIN = 1013  # a client too slow to take what the room sends
SESSION_ENDED = 4401
NO_ACCESS = 4403
NOT_FOUND = 4404
FROZEN = 4409  # the document was frozen (a proposal submitted) while connected
TOO_MANY = 4429


class Unsupported(ValueError):
    """A message of a type the document socket does not take (1003)."""


def var_uint(value: int) -> bytes:
    return pycrdt.write_var_uint(value)


def var_bytes(data: bytes) -> bytes:
    return var_uint(len(data)) + data


def sync_message(step: int, payload: bytes) -> bytes:
    return bytes([SYNC, step]) + var_bytes(payload)


def saved_message(state: bytes) -> bytes:
    """Our message 100: the state vector of everything stored (`Doc.get_state()`)."""
    return var_uint(SAVED) + var_bytes(state)


def awareness_message(update: bytes) -> bytes:
    return bytes([AWARENESS]) + var_bytes(update)


def read_awareness(update: bytes) -> list[tuple[int, int, str]]:
    """The entries of an awareness update: (client id, clock, state as JSON text)."""
    count, position = read_var_uint(update, 0)
    entries = []
    for _ in range(count):
        client, position = read_var_uint(update, position)
        clock, position = read_var_uint(update, position)
        raw, position = read_var_bytes(update, position)
        try:
            entries.append((client, clock, raw.decode()))
        except UnicodeDecodeError:
            raise Malformed("an awareness state that is not UTF-8") from None
    return entries


def encode_awareness(entries: Iterable[tuple[int, int, str]]) -> bytes:
    entries = list(entries)
    parts = [var_uint(len(entries))]
    for client, clock, state in entries:
        parts += [var_uint(client), var_uint(clock), var_bytes(state.encode())]
    return b"".join(parts)
