"""Who is on a table's pages now, by name and organisation (the live hub knows their ids)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Membership, Table, User


async def presence_people(session: AsyncSession, table: Table, user_ids: set[int]) -> list[tuple[str, str | None]]:
    """The people on the table now, by name, with the organisation they represent there (or their own)."""
    if not user_ids:
        return []
    users = (
        await session.scalars(select(User).options(joinedload(User.organisation)).where(User.id.in_(user_ids)))
    ).all()
    rows = (
        await session.execute(
            select(Membership.user_id, Membership)
            .options(joinedload(Membership.organisation))
            .where(Membership.table_id == table.id, Membership.user_id.in_(user_ids))
        )
    ).all()
    represents = {user_id: m.organisation for user_id, m in rows}
    people = []
    for user in users:
        organisation = represents.get(user.id) or user.organisation
        people.append((user.name, organisation.name if organisation else None))
    return sorted(people, key=lambda p: p[0].lower())
