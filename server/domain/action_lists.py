"""The lists of action items: a table's (filtered and ordered), a person's, the open ones; what is
active and what overdue. The changes are in server.domain.actions, which re-exports these names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import Select, case, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import ActionItem, ActionStatus, Membership, Table
from server.domain import inputs
from server.domain.errors import BadQuery
from server.i18n import TIMEZONE, _

ACTIVE = (ActionStatus.open, ActionStatus.in_progress)


def today() -> date:
    """Today in Bologna: what "overdue" is measured against."""
    return datetime.now(TIMEZONE).date()


def is_overdue(action: ActionItem, on: date | None = None) -> bool:
    return action.status in ACTIVE and action.due_on is not None and action.due_on < (on or today())


SelectT = TypeVar("SelectT", Select[ActionItem], Select[ActionItem, Table])

SORTS = ("due", "-due", "title", "status", "-created")
STATUS_FILTERS = ("", "attive", *(s.value for s in ActionStatus))


@dataclass(frozen=True)
class Filters:
    """A list's filters and order, each from an allowlist (the web layer checks the values)."""

    status: ActionStatus | None = None
    active_only: bool = False
    owner_id: int | None = None
    organisation_id: int | None = None
    overdue: bool = False
    sort: str = "due"


def filters_from(query: Mapping[str, str], people: set[int], organisations_by_slug: Mapping[str, int]) -> Filters:
    """A list's filters from its address (?stato=…&responsabile=…&ente=…&ordine=…&scadute=1).

    Each value comes from an allowlist: the statuses, the table's people, the known organisations
    (by slug, mapped to their id) and the orders; anything else is refused, never guessed.
    """
    status = query.get("stato", "")
    owner = query.get("responsabile", "")
    organisation = query.get("ente", "")
    sort = query.get("ordine", "due") or "due"
    overdue = query.get("scadute", "")
    owner_id = inputs.record_id(owner)
    if (
        status not in STATUS_FILTERS
        or sort not in SORTS
        or overdue not in ("", "1")
        or (owner and owner_id not in people)
        or (organisation and organisation not in organisations_by_slug)
    ):
        raise BadQuery(_("This filter or order does not exist: choose among those of the form."))
    return Filters(
        status=ActionStatus(status) if status not in ("", "attive") else None,
        active_only=status == "attive",
        owner_id=owner_id,
        organisation_id=organisations_by_slug[organisation] if organisation else None,
        overdue=overdue == "1",
        sort=sort,
    )


def _ordered(query: SelectT, sort: str) -> SelectT:
    no_date_last = case((ActionItem.due_on.is_(None), 1), else_=0)
    if sort == "-due":
        return query.order_by(no_date_last, ActionItem.due_on.desc(), ActionItem.id)
    if sort == "title":
        return query.order_by(ActionItem.title, ActionItem.id)
    if sort == "status":
        rank = case({s.value: i for i, s in enumerate(ActionStatus)}, value=ActionItem.status)
        return query.order_by(rank, no_date_last, ActionItem.due_on, ActionItem.id)
    if sort == "-created":
        return query.order_by(ActionItem.created_at.desc(), ActionItem.id.desc())
    return query.order_by(no_date_last, ActionItem.due_on, ActionItem.id)


def _listing() -> Select[ActionItem]:
    return select(ActionItem).options(joinedload(ActionItem.owner), joinedload(ActionItem.organisation))


async def actions_of(session: AsyncSession, table_id: int, filters: Filters | None = None) -> list[ActionItem]:
    """The table's action items, filtered and ordered."""
    filters = filters or Filters()
    query = _listing().where(ActionItem.table_id == table_id)
    if filters.status is not None:
        query = query.where(ActionItem.status == filters.status)
    if filters.active_only or filters.overdue:
        query = query.where(ActionItem.status.in_(ACTIVE))
    if filters.owner_id is not None:
        query = query.where(ActionItem.owner_id == filters.owner_id)
    if filters.organisation_id is not None:
        query = query.where(ActionItem.organisation_id == filters.organisation_id)
    if filters.overdue:
        query = query.where(ActionItem.due_on < today())
    return list((await session.scalars(_ordered(query, filters.sort))).all())


async def my_actions(
    session: AsyncSession, user_id: int, *, table_id: int | None = None
) -> list[tuple[Table, ActionItem]]:
    """A person's action items across the tables where they still have a role (or on one of them),
    open ones first."""
    query = (
        select(ActionItem, Table)
        .options(joinedload(ActionItem.owner), joinedload(ActionItem.organisation))
        .join(Table, Table.id == ActionItem.table_id)
        .join(Membership, (Membership.table_id == Table.id) & (Membership.user_id == user_id))
        .where(ActionItem.owner_id == user_id)
        .order_by(case((ActionItem.status.in_(ACTIVE), 0), else_=1))
    )
    if table_id is not None:
        query = query.where(ActionItem.table_id == table_id)
    rows = (await session.execute(_ordered(query, "due"))).all()
    return [(table, action) for action, table in rows]


async def open_actions(session: AsyncSession, table_id: int) -> list[ActionItem]:
    return await actions_of(session, table_id, Filters(active_only=True))


async def organisations_with_actions(session: AsyncSession, table_id: int) -> set[int]:
    """The organisations that the table's action items are for (the choices of the list's filter)."""
    found = await session.scalars(
        select(ActionItem.organisation_id)
        .where(ActionItem.table_id == table_id, ActionItem.organisation_id.is_not(None))
        .distinct()
    )
    return {organisation_id for organisation_id in found.all() if organisation_id is not None}
