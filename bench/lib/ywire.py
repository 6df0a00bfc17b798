"""What bench/collab needs of the wire, read cheaply: websocket frames and Yjs v1 update headers.

The load generator reads no frame while the editors type: it keeps each read as it came, with its
time. These functions cut the bytes into frames and find, in each sync message, which edits it
carries (the client id and the clock range of each struct group) without building a document.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from websockets.speedups import apply_mask

OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x2, 0x8, 0x9, 0xA
MESSAGE_SYNC, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 0, 1, 2


def var_uint(number: int) -> bytes:
    out = bytearray()
    while number > 127:
        out.append(0x80 | (number & 0x7F))
        number >>= 7
    out.append(number)
    return bytes(out)


def read_var_uint(data: bytes | memoryview, at: int) -> tuple[int, int]:
    number = shift = 0
    while True:
        byte = data[at]
        at += 1
        number |= (byte & 0x7F) << shift
        if byte < 0x80:
            return number, at
        shift += 7


def sync_message(substep: int, payload: bytes) -> bytes:
    return var_uint(MESSAGE_SYNC) + var_uint(substep) + var_uint(len(payload)) + payload


def client_frame(payload: bytes, opcode: int = OP_BINARY) -> bytes:
    """A masked client frame, built before the run (a fresh random key each, as RFC 6455 wants)."""
    key = os.urandom(4)
    length = len(payload)
    head = bytearray([0x80 | opcode])
    if length < 126:
        head.append(0x80 | length)
    elif length < 65536:
        head.append(0x80 | 126)
        head += length.to_bytes(2, "big")
    else:
        head.append(0x80 | 127)
        head += length.to_bytes(8, "big")
    return bytes(head) + key + apply_mask(payload, key)


def frame_ends(buffer: bytes | bytearray, at: int) -> Iterator[tuple[int, int, int]]:
    """(opcode, payload start, end) of each complete server frame from `at`; servers never mask."""
    size = len(buffer)
    while at + 2 <= size:
        opcode = buffer[at] & 0x0F
        length = buffer[at + 1] & 0x7F
        start = at + 2
        if length == 126:
            if start + 2 > size:
                return
            length = int.from_bytes(buffer[start : start + 2], "big")
            start += 2
        elif length == 127:
            if start + 8 > size:
                return
            length = int.from_bytes(buffer[start : start + 8], "big")
            start += 8
        end = start + length
        if end > size:
            return
        yield opcode, start, end
        at = end


def sync_payload(message: bytes | memoryview) -> tuple[int, bytes] | None:
    """The substep and the update of a sync message (None for any other message type)."""
    if len(message) < 2 or message[0] != MESSAGE_SYNC:
        return None
    substep = message[1]
    length, at = read_var_uint(message, 2)
    return substep, bytes(message[at : at + length])


def _skip_string(data: bytes, at: int) -> int:
    length, at = read_var_uint(data, at)
    return at + length


def struct_ranges(update: bytes) -> list[tuple[int, int, int]]:
    """(client, first clock, end clock) of each struct group of a v1 update.

    Only the contents bench/collab's documents hold are measured (strings, deleted, GC, skip);
    a group with another content stops the reading there (its edits are then not counted).
    """
    ranges: list[tuple[int, int, int]] = []
    groups, at = read_var_uint(update, 0)
    for _ in range(groups):
        structs, at = read_var_uint(update, at)
        client, at = read_var_uint(update, at)
        clock, at = read_var_uint(update, at)
        first = clock
        for _ in range(structs):
            info = update[at]
            at += 1
            ref = info & 0x1F
            if ref in (0, 10):  # GC, Skip
                length, at = read_var_uint(update, at)
                clock += length
                continue
            if info & 0x80:  # origin
                _, at = read_var_uint(update, at)
                _, at = read_var_uint(update, at)
            if info & 0x40:  # right origin
                _, at = read_var_uint(update, at)
                _, at = read_var_uint(update, at)
            if not info & 0xC0:  # parent
                named, at = read_var_uint(update, at)
                if named == 1:
                    at = _skip_string(update, at)
                else:
                    _, at = read_var_uint(update, at)
                    _, at = read_var_uint(update, at)
                if info & 0x20:  # parent sub
                    at = _skip_string(update, at)
            if ref == 4:  # string: its length counts UTF-16 units
                length, at = read_var_uint(update, at)
                text = update[at : at + length].decode("utf-8", "surrogatepass")
                at += length
                clock += len(text.encode("utf-16-le", "surrogatepass")) // 2
            elif ref == 1:  # deleted
                length, at = read_var_uint(update, at)
                clock += length
            else:
                ranges.append((client, first, clock))
                return ranges
        ranges.append((client, first, clock))
    return ranges


def pong(payload: bytes) -> bytes:
    return client_frame(payload, OP_PONG)
