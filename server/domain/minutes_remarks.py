"""Remarks on the minutes: members write them while the minutes are a draft or sent for approval,
anchored to an agenda item's section or to the whole text, and reply to them (one level of
replies, like the comments on proposals); everyone with a role on the table reads them. Observers
read only. Remarks stay when the minutes go back to draft."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Membership, MinutesRemark, MinutesStatus, Role, Table
from server.domain import audit, texts
from server.domain.actions import Actor
from server.domain.agenda import get_item
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.keys import already_made
from server.domain.meetings import get_meeting, lock_table
from server.domain.minutes import MinutesEvent, get_minutes, payload
from server.i18n import _

REMARK_LIMIT = 10_000
# The minutes take remarks while they are being written and while they wait for approval.
OPEN_TO_REMARKS = (MinutesStatus.draft, MinutesStatus.sent)


def _check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise Invalid({"body": _("Write the remark.")})
    if len(body) > REMARK_LIMIT:
        raise Invalid({"body": _("A remark can be at most {n} characters long.").format(n=REMARK_LIMIT)})
    return body


async def add_remark(
    session: AsyncSession,
    table: Table,
    minutes_id: int,
    *,
    item_id: int | None,
    parent_id: int | None,
    body: str,
    actor: Actor,
    client_key: str | None = None,
) -> MinutesRemark:
    """A member's remark on agenda item `item_id`'s section (None: on the whole minutes), or a reply
    to remark `parent_id` (it joins that thread and its section). The same form twice adds it once."""
    if actor.role in (None, Role.observer):
        raise Forbidden(_("Observers read the remarks on the minutes; they do not write them."))
    body = _check_body(body)
    await lock_table(session, table.id)
    minutes = await get_minutes(session, table.id, minutes_id)
    if minutes.status not in OPEN_TO_REMARKS:
        raise Invalid({"body": _("These minutes are approved: they no longer take remarks.")})
    meeting = await get_meeting(session, table.id, minutes.meeting_id)
    if parent_id is not None:
        parent = await session.scalar(
            select(MinutesRemark).where(MinutesRemark.id == parent_id, MinutesRemark.minutes_id == minutes.id)
        )
        if parent is None:
            raise NotFound(_("This remark does not exist on these minutes."))
        parent_id = parent.parent_id or parent.id  # one level: a reply to a reply joins the thread
        item_id = parent.item_id
    elif item_id is not None:
        item_id = (await get_item(session, meeting, item_id)).id
    existing = await already_made(session, MinutesRemark, MinutesRemark.minutes_id == minutes.id, client_key)
    if existing is not None:
        return existing
    organisation_id = await session.scalar(
        select(Membership.organisation_id).where(Membership.table_id == table.id, Membership.user_id == actor.user_id)
    )
    remark = MinutesRemark(
        minutes_id=minutes.id,
        item_id=item_id,
        parent_id=parent_id,
        author_id=actor.user_id,
        organisation_id=organisation_id,
        client_key=client_key,
    )
    await texts.write(session, remark, body=body)
    session.add(remark)
    await session.flush()
    await audit.record(
        session,
        MinutesEvent.remark,
        actor_id=actor.user_id,
        table_id=table.id,
        remark_id=remark.id,
        item_id=item_id,
        **payload(minutes, meeting),
    )
    return remark


async def remarks_of(session: AsyncSession, minutes_id: int) -> list[tuple[MinutesRemark, list[MinutesRemark]]]:
    """The threads, oldest first: each remark with its replies (its `item_id` says its section)."""
    every = list(
        (
            await session.scalars(
                select(MinutesRemark)
                .options(joinedload(MinutesRemark.author))
                .where(MinutesRemark.minutes_id == minutes_id)
                .order_by(MinutesRemark.created_at, MinutesRemark.id)
            )
        ).all()
    )
    replies: dict[int, list[MinutesRemark]] = {}
    for remark in every:
        if remark.parent_id is not None:
            replies.setdefault(remark.parent_id, []).append(remark)
    return [(r, replies.get(r.id, [])) for r in every if r.parent_id is None]


async def remarks_by_item(
    session: AsyncSession, minutes_id: int
) -> dict[int | None, list[tuple[MinutesRemark, list[MinutesRemark]]]]:
    """The threads grouped by section: agenda item id, or None for the whole minutes."""
    grouped: dict[int | None, list[tuple[MinutesRemark, list[MinutesRemark]]]] = {}
    for thread in await remarks_of(session, minutes_id):
        grouped.setdefault(thread[0].item_id, []).append(thread)
    return grouped
