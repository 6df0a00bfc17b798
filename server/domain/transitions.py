"""Changing a record's status through a transition table: agenda items, action items, proposals
(and the areas still to come) move the same way.

Asking for the status a record already has is a no-op (a double click, or fifty people pressing
the same button at once: one change, one event); a change based on an older version is Stale
(409); a move that the table does not allow is Invalid on the "status" field (422). The change is
flushed with its event, whose payload says the status before and after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from enum import StrEnum
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from server.domain import audit
from server.domain.edits import check_version
from server.domain.errors import Invalid
from server.i18n import _

S = TypeVar("S", bound=StrEnum)

# Which statuses may follow each status; a status that is missing, or maps to nothing, is final.
Moves = Mapping[S, Collection[S]]


class Stateful(Protocol[S]):
    """A versioned record with a status (the models with a `status` column and `Versioned`)."""

    @property
    def version(self) -> int: ...

    status: S


def parse_status(kind: type[S], value: S | str) -> S:
    """`value` as a status of `kind` (a form sends its value); an unknown one is Invalid."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        raise Invalid({"status": _("This status does not exist.")}) from None


def may_follow(moves: Moves[S] | None, before: S, after: S) -> bool:
    """Whether `after` may follow `before`; with no table, any status may follow any other."""
    return moves is None or after in moves.get(before, ())


async def change_status(
    session: AsyncSession,
    record: Stateful[S],
    status: S,
    *,
    version: int,
    stale_message: str,
    event: StrEnum,
    actor_id: int | None,
    table_id: int,
    payload: Mapping[str, object],
    moves: Moves[S] | None = None,
    refused: str = "",
    prepare: Callable[[S], Awaitable[None]] | None = None,
) -> bool:
    """Move `record` to `status`; whether it changed (False: it already had that status).

    The checks come in this order: the same status (no-op), the version (`stale_message`), the
    move (`refused`, when `moves` does not allow it). `prepare(before)` then runs the area's own
    checks and side effects (who may make this move, what goes with it), before the record
    changes; `event` is recorded with `payload` and the statuses `status` and `before`.
    """
    before = record.status
    if before is status:
        return False
    check_version(session, record, version, stale_message)
    if not may_follow(moves, before, status):
        raise Invalid({"status": refused})
    if prepare is not None:
        await prepare(before)
    record.status = status
    await session.flush()
    await audit.record(
        session, event, actor_id=actor_id, table_id=table_id, status=status.value, before=before.value, **payload
    )
    return True
