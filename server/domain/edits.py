"""Editing a record that several people share: every form carries the version it was
loaded at. Sending the same change twice is a no-op; a change made on an older version is refused
(409, `Stale`, with the current record attached so that the page can show it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from server.domain.errors import stale


class HasVersion(Protocol):
    """A record with a version (the models with `Versioned`)."""

    @property
    def version(self) -> int: ...


def check_version(session: AsyncSession, record: HasVersion, version: int, message: str) -> None:
    """Refuse a change to `record` based on another version than its current one."""
    if record.version != version:
        raise stale(session, message, record)


def is_change(
    session: AsyncSession,
    record: HasVersion,
    current: Sequence[object],
    wanted: Sequence[object],
    *,
    version: int,
    message: str,
) -> bool:
    """Whether `record` is to change from `current` to `wanted` (its fields, in the same order).

    False when it already holds `wanted` (whatever the version: a double submit, or two people
    making the same change); True when it is to change; Stale when the change was made on an older
    version than the record's.
    """
    if tuple(current) == tuple(wanted):
        return False
    check_version(session, record, version, message)
    return True
