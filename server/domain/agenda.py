"""The agenda (ordine del giorno) of a meeting: its items, their order and their status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import AgendaItem, AgendaStatus, Decision, Meeting, Membership, Table
from server.db.types import utcnow
from server.domain import audit, inputs, texts
from server.domain.edits import is_change
from server.domain.errors import Invalid, NotFound
from server.domain.keys import already_made
from server.domain.meetings import check_title, get_meeting, lock_table, refuse_if_closed
from server.domain.transitions import change_status
from server.i18n import _

DESCRIPTION_LIMIT = 20_000
MAX_PLANNED_MINUTES = 600


class AgendaEvent(StrEnum):
    """What the audit record says about the agenda of a meeting (the values are stored)."""

    item_added = "agenda.item_added"
    item_updated = "agenda.item_updated"
    item_removed = "agenda.item_removed"
    item_moved = "agenda.item_moved"
    item_status = "agenda.item_status"


@dataclass(frozen=True)
class ItemValues:
    """An agenda item's fields, checked."""

    title: str
    description: str
    presenter_id: int | None
    planned_minutes: int | None


def parse_item(*, title: str, description: str, presenter: str, planned_minutes: str) -> ItemValues:
    """Check what a person typed for an agenda item; every problem is reported beside its field."""
    errors: dict[str, str] = {}
    try:
        title = check_title(title)
    except Invalid as exc:
        errors.update(exc.errors)
    if len(description) > DESCRIPTION_LIMIT:
        errors["description"] = _("The description can be at most {n} characters long.").format(n=DESCRIPTION_LIMIT)
    presenter_id = inputs.record_id(presenter.strip())
    if presenter.strip() and presenter_id is None:
        errors["presenter"] = _("Choose the presenter among the members of the table.")
    minutes = inputs.whole_number(planned_minutes.strip(), low=1, high=MAX_PLANNED_MINUTES)
    if planned_minutes.strip() and minutes is None:
        errors["planned_minutes"] = _("Enter the planned minutes as a whole number from 1 to {n}.").format(
            n=MAX_PLANNED_MINUTES
        )
    if errors:
        raise Invalid(errors)
    return ItemValues(title, description.strip(), presenter_id, minutes)


async def agenda_of(session: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    """The meeting's items in order, with their presenters."""
    return list(
        (
            await session.scalars(
                select(AgendaItem)
                .options(joinedload(AgendaItem.presenter))
                .where(AgendaItem.meeting_id == meeting_id, AgendaItem.removed_at.is_(None))
                .order_by(AgendaItem.position)
            )
        ).all()
    )


async def get_item(session: AsyncSession, meeting: Meeting, item_id: int) -> AgendaItem:
    """Item `item_id` of this meeting; an item of another meeting, or a removed one, is not found."""
    item = await session.scalar(
        select(AgendaItem).where(
            AgendaItem.id == item_id, AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None)
        )
    )
    if item is None:
        raise NotFound(_("This agenda item does not exist in this meeting."))
    return item


async def item_of_table(session: AsyncSession, table: Table, item_id: int) -> AgendaItem:
    """Agenda item `item_id` of any meeting of this table (not removed); another table's is not found."""
    item = await session.scalar(
        select(AgendaItem)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(AgendaItem.id == item_id, Meeting.table_id == table.id, AgendaItem.removed_at.is_(None))
    )
    if item is None:
        raise NotFound(_("This agenda item does not exist on this table."))
    return item


async def _check_presenter(session: AsyncSession, table: Table, presenter_id: int | None) -> None:
    if presenter_id is None:
        return
    member = await session.scalar(
        select(Membership.id).where(Membership.table_id == table.id, Membership.user_id == presenter_id)
    )
    if member is None:
        raise Invalid({"presenter": _("The presenter must be a member of the table.")})


async def stop_discussion(session: AsyncSession, item: AgendaItem, now: datetime) -> None:
    """Stop an item's discussion clock, and its current speaker with it."""
    from server.domain import speakers  # the list of speakers lives on the item; this is the one link

    await speakers.end_speech(session, item.id, now)  # first: its query would flush the item's change
    if item.discussion_started_at is not None:
        item.discussed_seconds += max(0, int((now - item.discussion_started_at).total_seconds()))
        item.discussion_started_at = None


def discussion_seconds(item: AgendaItem, now: datetime) -> int:
    """How long an item has been discussed, over every spell, up to `now`."""
    running = (now - item.discussion_started_at).total_seconds() if item.discussion_started_at else 0
    return item.discussed_seconds + max(0, int(running))


def _stale_message() -> str:
    return _("Someone else changed this agenda item in the meantime.")


def _item_payload(meeting: Meeting, item: AgendaItem) -> dict[str, object]:
    return {"meeting_id": meeting.id, "item_id": item.id, "title": item.title, "meeting_title": meeting.title}


async def add_item(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    values: ItemValues,
    *,
    actor_id: int | None,
    client_key: str | None = None,
) -> AgendaItem:
    """Add an item at the end of the agenda. The same form submitted twice adds it once."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    await _check_presenter(session, table, values.presenter_id)
    existing = await already_made(session, AgendaItem, AgendaItem.meeting_id == meeting.id, client_key)
    if existing is not None:
        return existing
    last = await session.scalar(
        select(func.max(AgendaItem.position)).where(
            AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None)
        )
    )
    item = AgendaItem(
        meeting_id=meeting.id,
        position=(last or 0) + 1,
        title=values.title,
        presenter_id=values.presenter_id,
        planned_minutes=values.planned_minutes,
        client_key=client_key,
    )
    await texts.write(session, item, description=values.description)
    session.add(item)
    await session.flush()
    await audit.record(
        session, AgendaEvent.item_added, actor_id=actor_id, table_id=table.id, **_item_payload(meeting, item)
    )
    return item


async def update_item(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    item_id: int,
    values: ItemValues,
    *,
    version: int,
    actor_id: int | None,
) -> AgendaItem:
    """Change an item's fields; the same change twice is a no-op, a stale one is refused."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    item = await get_item(session, meeting, item_id)
    await _check_presenter(session, table, values.presenter_id)
    current = (item.title, item.description, item.presenter_id, item.planned_minutes)
    wanted = (values.title, values.description, values.presenter_id, values.planned_minutes)
    if not is_change(session, item, current, wanted, version=version, message=_stale_message()):
        return item
    item.title = values.title
    await texts.write(session, item, description=values.description)
    item.presenter_id, item.planned_minutes = values.presenter_id, values.planned_minutes
    await session.flush()
    await audit.record(
        session, AgendaEvent.item_updated, actor_id=actor_id, table_id=table.id, **_item_payload(meeting, item)
    )
    return item


async def remove_item(
    session: AsyncSession, table: Table, meeting_id: int, item_id: int, *, actor_id: int | None
) -> None:
    """Take an item off the agenda (kept for the history); removing it twice is a no-op."""
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    item = await session.scalar(select(AgendaItem).where(AgendaItem.id == item_id, AgendaItem.meeting_id == meeting.id))
    if item is None:
        raise NotFound(_("This agenda item does not exist in this meeting."))
    if item.removed_at is not None:
        return
    if await session.scalar(select(exists().where(Decision.item_id == item.id))):
        raise Invalid({"item": _("The table recorded a decision on this item: it stays on the agenda.")})
    removed_position = item.position
    item.removed_at = utcnow()
    item.position = 0
    for later in await agenda_of(session, meeting.id):
        if later.position > removed_position:
            later.position -= 1
    await session.flush()
    await audit.record(
        session, AgendaEvent.item_removed, actor_id=actor_id, table_id=table.id, **_item_payload(meeting, item)
    )


async def move_item(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    item_id: int,
    *,
    to_position: int,
    version: int,
    actor_id: int | None,
) -> AgendaItem:
    """Put an item at `to_position` (1 = first), shifting the others.

    The buttons ask for an absolute position, so a repeated click finds the item already there
    and changes nothing.
    """
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    item = await get_item(session, meeting, item_id)
    items = await agenda_of(session, meeting.id)
    if not 1 <= to_position <= len(items):
        raise Invalid({"position": _("The item cannot move beyond the start or the end of the agenda.")})
    if not is_change(session, item, (item.position,), (to_position,), version=version, message=_stale_message()):
        return item
    order = [i for i in items if i.id != item.id]
    order.insert(to_position - 1, item)
    for position, each in enumerate(order, start=1):
        if each.position != position:
            each.position = position
    await session.flush()
    await audit.record(
        session,
        AgendaEvent.item_moved,
        actor_id=actor_id,
        table_id=table.id,
        position=to_position,
        **_item_payload(meeting, item),
    )
    return item


async def set_status(
    session: AsyncSession,
    table: Table,
    meeting_id: int,
    item_id: int,
    status: AgendaStatus,
    *,
    version: int,
    actor_id: int | None,
) -> AgendaItem:
    """Mark an item pending, current, done or deferred.

    At most one item is current: marking one current returns the previous current item to pending.
    """
    await lock_table(session, table.id)
    meeting = await get_meeting(session, table.id, meeting_id)
    refuse_if_closed(meeting)
    item = await get_item(session, meeting, item_id)

    async def one_current(before: AgendaStatus) -> None:
        now = utcnow()
        if before is AgendaStatus.current:
            await stop_discussion(session, item, now)
        if status is not AgendaStatus.current:
            return
        previous = await session.scalar(
            select(AgendaItem).where(
                AgendaItem.meeting_id == meeting.id,
                AgendaItem.status == AgendaStatus.current,
                AgendaItem.removed_at.is_(None),
            )
        )
        if previous is not None:
            await stop_discussion(session, previous, now)
            previous.status = AgendaStatus.pending
            await session.flush()  # before the new current one, for the one-current index
        item.discussion_started_at = now

    await change_status(
        session,
        item,
        status,
        version=version,
        stale_message=_stale_message(),
        event=AgendaEvent.item_status,
        actor_id=actor_id,
        table_id=table.id,
        payload=_item_payload(meeting, item),
        prepare=one_current,
    )
    return item
