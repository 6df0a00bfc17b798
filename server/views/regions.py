"""The live regions of the table pages: for each, the data it needs and the template that renders it.

One source of each piece of HTML: a page includes the fragment's template, an htmx response
renders it alone, and the live hub renders it once per view and locale when an event touches it.
A loader reads only the database (never the person asking), so its data serves every viewer;
the template decides the controls from `audience`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Membership, Table, User
from server.views.audience import Audience, Screen

Loader = Callable[[AsyncSession, Table, Screen], Awaitable[dict[str, Any]]]
# The records of a table that only some organisations may see: record kind -> id -> organisations.
Private = Mapping[str, Mapping[int, frozenset[int]]]
# A region's data narrowed to what an audience may see; None when it may see none of it.
Narrow = Callable[[dict[str, Any], Audience, Private], dict[str, Any] | None]


@dataclass(frozen=True)
class Region:
    """A live region: its element id, its template and what it needs from the database.

    `record` names the kind of record a region is about ("meeting", "action", "proposal"): it is
    loaded for the screen's record, and a change of another record of that kind leaves it alone
    (an event names its records by the `<record>_id` keys of its payload).
    A `filtered` fragment (a list) is loaded for the page's filters.
    """

    id: str
    template: str
    load: Loader
    record: str | None = None
    filtered: bool = False
    # The event kinds that change what it shows (declared by its area); `every_event`: all of them.
    follows: frozenset[str] = frozenset()
    every_event: bool = False
    # For a region whose data holds records private to some organisations: drops what an audience
    # may not see (its renderings are then made per organisation, see Audience.keyed).
    narrow: Narrow | None = None

    def scope(self, page: Screen) -> Screen:
        """What the fragment's data depends on besides the table: the page, or nothing (the home)."""
        return page if self.record or self.filtered else TABLE_HOME


TABLE_HOME = Screen()


async def people_of(session: AsyncSession, table_id: int) -> list[tuple[User, str | None]]:
    """Everyone with a role on the table and the organisation they represent (for presenter lists)."""
    rows = (
        await session.scalars(
            select(Membership)
            .options(joinedload(Membership.user), joinedload(Membership.organisation))
            .where(Membership.table_id == table_id)
        )
    ).all()
    people = [(m.user, m.organisation.name if m.organisation else None) for m in rows]
    return sorted(people, key=lambda p: p[0].name.lower())


def record_of(screen: Screen, kind: str) -> int:
    """The id of the record a screen shows, checked to be of `kind`."""
    if screen.kind != kind or screen.record_id is None:
        raise ValueError(f"a {kind} region on {screen}")
    return screen.record_id
