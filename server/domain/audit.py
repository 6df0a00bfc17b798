"""The audit record: every change appends an Event in the transaction that makes it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Event, Table


async def record(
    session: AsyncSession,
    kind: StrEnum,
    *,
    actor_id: int | None,
    table_id: int | None = None,
    **payload: Any,
) -> Event:
    """Append the event of a change; table events take the table's next sequence number.

    `kind` is a member of the area's event enum (TableEvent, ActionEvent…): its value is stored.

    Incrementing the table's counter locks its row until the transaction ends, so the sequence
    numbers of one table follow the order in which its changes commit.
    """
    seq = None
    if table_id is not None:
        with session.no_autoflush:  # the change and its event are flushed together, below
            seq = await _next_seq(session, table_id)
    event = Event(table_id=table_id, seq=seq, kind=str(kind), actor_id=actor_id, payload=payload)
    session.add(event)
    await session.flush()
    session.info.setdefault("events", []).append(event)
    return event


async def announce(session: AsyncSession, kind: StrEnum, *, table_id: int, **payload: Any) -> None:
    """Tell the table's open pages about a change that leaves no row in the history.

    For changes too frequent to be history (a text re-rendered while people type): like every
    change of a table it takes the table's next sequence number (a page cached at the previous one
    is then out of date, and the hubs' notes keep their order), and the note reaches the hub through
    the transaction's commit hook as recorded events do; but the Event is never added to the
    session, so nothing is stored and nothing is announced to screen readers. The area declares
    such kinds in `Area.unrecorded`, so that regions listing every event do not follow them.
    """
    seq = await _next_seq(session, table_id)
    note = Event(table_id=table_id, seq=seq, kind=str(kind), actor_id=None, payload=payload)
    session.info.setdefault("events", []).append(note)


async def _next_seq(session: AsyncSession, table_id: int) -> int:
    """The table's next sequence number; the counter's row stays locked until the transaction ends."""
    return (
        await session.execute(
            update(Table)
            .where(Table.id == table_id)
            .values(event_seq=Table.event_seq + 1)
            .returning(Table.event_seq)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()


async def history(
    session: AsyncSession, table_id: int, *, limit: int = 50, before_seq: int | None = None
) -> list[Event]:
    """The table's events, newest first, with their actors; `before_seq` pages back in time."""
    query = (
        select(Event)
        .options(joinedload(Event.actor))
        .where(Event.table_id == table_id)
        .order_by(Event.seq.desc())
        .limit(limit)
    )
    if before_seq is not None:
        query = query.where(Event.seq < before_seq)
    return list((await session.scalars(query)).all())


async def history_of(session: AsyncSession, table_id: int, record: str, record_id: int) -> list[Event]:
    """The events of one record of a table ("action" 7: the events action.* whose action_id is 7), newest first."""
    events = await session.scalars(
        select(Event)
        .options(joinedload(Event.actor))
        .where(
            Event.table_id == table_id,
            Event.kind.startswith(f"{record}.", autoescape=True),
            Event.payload[f"{record}_id"].as_integer() == record_id,
        )
        .order_by(Event.seq.desc())
    )
    return list(events.all())
