"""Reading the lib0 encoding that Yjs updates, state vectors and y-protocols messages use.

Every number is a variable-length unsigned integer (7 bits a byte, the high bit saying "more"),
every payload is prefixed with its length. The domain reads state vectors and the delete sets of
updates with it; the document sockets read their messages with it (server/live/yprotocol.py).
Bytes that cannot be read this way raise `Malformed`.
"""

from __future__ import annotations


class Malformed(ValueError):
    """Bytes that cannot be decoded (a document socket closes 1007)."""


def read_var_uint(data: bytes, position: int) -> tuple[int, int]:
    """The number at `position`, and the position after it."""
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise Malformed("truncated or oversized number")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        shift += 7
        position += 1
        if byte < 0x80:
            return value, position


def read_var_bytes(data: bytes, position: int) -> tuple[bytes, int]:
    """The length-prefixed payload at `position`, and the position after it."""
    length, position = read_var_uint(data, position)
    if position + length > len(data):
        raise Malformed("truncated payload")
    return data[position : position + length], position + length


def read_vector(encoded: bytes) -> dict[int, int]:
    """A Yjs state vector as {client id: clock}."""
    count, position = read_var_uint(encoded, 0)
    vector: dict[int, int] = {}
    for _ in range(count):
        client, position = read_var_uint(encoded, position)
        clock, position = read_var_uint(encoded, position)
        vector[client] = clock
    return vector
