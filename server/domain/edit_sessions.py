"""Who edited a collaborative text, kept as one "edited" event per person and editing session.

A session ends after `QUIET` without an edit by that person: while it goes on, the one thing of its
event that ever changes is its last edit (`LAST_EDIT` in the payload). Proposals' bodies, minutes and
protocols' texts record their editors this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Event
from server.domain import audit

QUIET = timedelta(minutes=10)
LAST_EDIT = "last_edit"


async def record_edit(
    session: AsyncSession,
    kind: StrEnum,
    *,
    table_id: int,
    record: tuple[str, int],
    editor_id: int,
    now: datetime,
    payload: Mapping[str, object],
) -> bool:
    """Note that `editor_id` edited the text of `record` (its payload key and id, e.g.
    ("minutes_id", 3)) at `now`: in their current session (its last edit moves), or in a new one,
    recorded as a `kind` event with `payload`. Whether a session started."""
    key, record_id = record
    last = await session.scalar(
        select(Event)
        .where(
            Event.table_id == table_id,
            Event.kind == kind.value,
            Event.actor_id == editor_id,
            Event.payload[key].as_integer() == record_id,
        )
        .order_by(Event.seq.desc())
        .limit(1)
    )
    if last is not None and _last_edit(last) > now - QUIET:
        await session.execute(
            update(Event)
            .where(Event.id == last.id)
            .values(payload={**last.payload, LAST_EDIT: now.isoformat()})
            .execution_options(synchronize_session=False)
        )
        return False
    await audit.record(session, kind, actor_id=editor_id, table_id=table_id, **payload, **{LAST_EDIT: now.isoformat()})
    return True


def _last_edit(event: Event) -> datetime:
    try:
        return datetime.fromisoformat(str(event.payload[LAST_EDIT]))
    except (KeyError, ValueError):
        return event.created_at
