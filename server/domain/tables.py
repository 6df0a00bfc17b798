"""Organisations, tables and who sits at them with which role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from slugify import slugify
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Membership, Organisation, Role, Table, User
from server.domain import audit, texts
from server.domain.accounts import AccountEvent
from server.domain.edits import is_change
from server.domain.errors import Duplicate, Invalid, NotFound
from server.i18n import _

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class TableEvent(StrEnum):
    """What the audit record says about a table and the people at it (the values are stored)."""

    created = "table.created"
    updated = "table.updated"
    member_added = "member.added"
    member_changed = "member.changed"
    member_removed = "member.removed"


def _check_name(name: str, limit: int = 200) -> str:
    name = name.strip()
    if not name or len(name) > limit:
        raise Invalid({"name": _("Enter a name of at most {n} characters.").format(n=limit)})
    return name


def _check_slug(slug: str) -> str:
    if not _SLUG.match(slug) or len(slug) > 80:
        raise Invalid({"slug": _("A short name uses lowercase letters, digits and hyphens only.")})
    return slug


async def create_organisation(
    session: AsyncSession, name: str, *, slug: str | None = None, actor_id: int | None = None
) -> Organisation:
    name = _check_name(name)
    slug = _check_slug(slug or slugify(name))
    taken = await session.scalar(
        select(Organisation.id).where(or_(func.lower(Organisation.name) == name.lower(), Organisation.slug == slug))
    )
    if taken is not None:
        raise Duplicate(_("The organisation {name} already exists.").format(name=name))
    organisation = Organisation(name=name, slug=slug)
    session.add(organisation)
    await session.flush()
    await audit.record(
        session, AccountEvent.organisation_created, actor_id=actor_id, organisation_id=organisation.id, name=name
    )
    return organisation


async def find_organisation(session: AsyncSession, ref: str) -> Organisation:
    """The organisation whose short name or name (in any case) is `ref`."""
    organisation = await session.scalar(
        select(Organisation).where(
            or_(Organisation.slug == ref.strip(), func.lower(Organisation.name) == ref.strip().lower())
        )
    )
    if organisation is None:
        raise NotFound(_("There is no organisation called {ref}.").format(ref=ref))
    return organisation


async def create_table(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    purpose: str = "",
    established: str = "",
    is_public: bool = False,
    actor_id: int | None = None,
) -> Table:
    name = _check_name(name)
    slug = _check_slug(slug)
    if await session.scalar(select(Table.id).where(or_(Table.slug == slug, Table.name == name))):
        raise Duplicate(_("A table with the short name {slug} or that name already exists.").format(slug=slug))
    table = Table(slug=slug, name=name, established=established.strip(), is_public=is_public)
    await texts.write(session, table, purpose=purpose.strip())
    session.add(table)
    await session.flush()
    await audit.record(session, TableEvent.created, actor_id=actor_id, table_id=table.id, name=name)
    return table


async def get_table(session: AsyncSession, slug: str) -> Table:
    table = await session.scalar(select(Table).where(Table.slug == slug))
    if table is None:
        raise NotFound(_("There is no table called {slug}.").format(slug=slug))
    return table


async def get_user(session: AsyncSession, email: str) -> User:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(_("There is no account with the email {email}.").format(email=email))
    return user


async def membership(session: AsyncSession, table_id: int, user_id: int) -> Membership | None:
    return await session.scalar(
        select(Membership).where(Membership.table_id == table_id, Membership.user_id == user_id)
    )


async def add_member(
    session: AsyncSession,
    table: Table,
    user: User,
    role: Role,
    *,
    organisation: Organisation | None = None,
    actor_id: int | None = None,
) -> Membership:
    """Give `user` a role on `table`, representing `organisation` there (the same twice is a no-op)."""
    existing = await membership(session, table.id, user.id)
    if existing is not None and (existing.role, existing.organisation_id) == (
        role,
        organisation.id if organisation else None,
    ):
        return existing
    if existing is not None:
        raise Duplicate(_("{name} already has a role on {table}.").format(name=user.name, table=table.name))
    member = Membership(
        table_id=table.id, user_id=user.id, role=role, organisation_id=organisation.id if organisation else None
    )
    session.add(member)
    await session.flush()
    await audit.record(
        session,
        TableEvent.member_added,
        actor_id=actor_id,
        table_id=table.id,
        user_id=user.id,
        name=user.name,
        role=role.value,
        organisation_id=organisation.id if organisation else None,
    )
    return member


@dataclass
class AccountSummary:
    """An account with its roles, for `tavoli user list`."""

    email: str
    name: str
    is_admin: bool
    is_active: bool
    organisation: str | None
    roles: list[dict[str, str | None]] = field(default_factory=list)


async def list_accounts(session: AsyncSession) -> list[AccountSummary]:
    users = (await session.scalars(select(User).options(joinedload(User.organisation)).order_by(User.email))).all()
    summaries = {
        u.id: AccountSummary(u.email, u.name, u.is_admin, u.is_active, u.organisation.name if u.organisation else None)
        for u in users
    }
    memberships = (
        await session.scalars(
            select(Membership)
            .options(joinedload(Membership.table), joinedload(Membership.organisation))
            .join(Table)
            .order_by(Table.slug)
        )
    ).all()
    for m in memberships:
        summaries[m.user_id].roles.append(
            {
                "table": m.table.slug,
                "role": m.role.value,
                "organisation": m.organisation.name if m.organisation else None,
            }
        )
    return list(summaries.values())


@dataclass
class TableListing:
    """The tables a person sits at (with their role) and the others they may look at."""

    mine: list[tuple[Table, Role]]
    others: list[Table]


async def tables_for(session: AsyncSession, user_id: int | None, *, is_admin: bool = False) -> TableListing:
    """For the home page: one's own tables, then the public ones (every table, for administrators)."""
    mine: list[tuple[Table, Role]] = []
    if user_id is not None:
        rows = await session.execute(
            select(Table, Membership.role)
            .join(Membership, Membership.table_id == Table.id)
            .where(Membership.user_id == user_id)
            .order_by(Table.name)
        )
        mine = [(table, role) for table, role in rows]
    own_ids = {table.id for table, _role in mine}
    visible = select(Table).order_by(Table.name)
    if not is_admin:
        visible = visible.where(Table.is_public)
    others = [t for t in (await session.scalars(visible)).all() if t.id not in own_ids]
    return TableListing(mine, others)


async def get_membership(session: AsyncSession, table: Table, membership_id: int) -> Membership:
    member = await session.scalar(
        select(Membership)
        .options(joinedload(Membership.user))
        .where(Membership.id == membership_id, Membership.table_id == table.id)
    )
    if member is None:
        raise NotFound(_("This person has no role on this table."))
    return member


async def change_member(
    session: AsyncSession,
    table: Table,
    membership_id: int,
    role: Role,
    organisation: Organisation | None,
    *,
    version: int,
    actor_id: int | None,
) -> Membership:
    """Change a person's role or organisation on the table (the same change twice is a no-op)."""
    member = await get_membership(session, table, membership_id)
    organisation_id = organisation.id if organisation else None
    current, wanted = (member.role, member.organisation_id), (role, organisation_id)
    if not is_change(
        session, member, current, wanted, version=version, message=_("Someone else changed this role in the meantime.")
    ):
        return member
    member.role, member.organisation_id = role, organisation_id
    await session.flush()
    await audit.record(
        session,
        TableEvent.member_changed,
        actor_id=actor_id,
        table_id=table.id,
        user_id=member.user_id,
        name=member.user.name,
        role=role.value,
        organisation_id=organisation_id,
    )
    return member


async def remove_member(session: AsyncSession, table: Table, membership_id: int, *, actor_id: int | None) -> None:
    """Take a person's role on the table away."""
    member = await get_membership(session, table, membership_id)
    await session.delete(member)
    await session.flush()
    await audit.record(
        session,
        TableEvent.member_removed,
        actor_id=actor_id,
        table_id=table.id,
        user_id=member.user_id,
        name=member.user.name,
        role=member.role.value,
    )


PURPOSE_LIMIT = 5_000


async def update_table(
    session: AsyncSession,
    table: Table,
    *,
    purpose: str,
    established: str,
    is_public: bool,
    version: int,
    actor_id: int | None,
) -> Table:
    """Change the table's description and whether it is public (the same change twice is a no-op)."""
    purpose, established = purpose.strip(), established.strip()
    errors = {}
    if len(purpose) > PURPOSE_LIMIT:
        errors["purpose"] = _("The description can be at most {n} characters long.").format(n=PURPOSE_LIMIT)
    if len(established) > 200:
        errors["established"] = _("This field can be at most {n} characters long.").format(n=200)
    if errors:
        raise Invalid(errors)
    table = await session.get_one(Table, table.id, with_for_update=True)
    current = (table.purpose, table.established, table.is_public)
    if not is_change(
        session,
        table,
        current,
        (purpose, established, is_public),
        version=version,
        message=_("Someone else changed this table in the meantime."),
    ):
        return table
    table.established, table.is_public = established, is_public
    await texts.write(session, table, purpose=purpose)
    await session.flush()
    await audit.record(session, TableEvent.updated, actor_id=actor_id, table_id=table.id, is_public=is_public)
    return table


@dataclass(frozen=True)
class OrganisationSeats:
    """An organisation and the people who represent it on a table."""

    organisation: Organisation | None
    members: list[Membership]


async def members_of(session: AsyncSession, table_id: int) -> list[OrganisationSeats]:
    """The table's people grouped by the organisation they represent, chairs and secretaries first."""
    memberships = (
        await session.scalars(
            select(Membership)
            .options(joinedload(Membership.user), joinedload(Membership.organisation))
            .where(Membership.table_id == table_id)
        )
    ).all()
    groups: dict[int | None, list[Membership]] = {}
    for m in memberships:
        groups.setdefault(m.organisation_id, []).append(m)
    seats = [
        OrganisationSeats(members[0].organisation, sorted(members, key=lambda m: (-m.role.rank, m.user.name.lower())))
        for members in groups.values()
    ]
    return sorted(seats, key=lambda s: (s.organisation is None, s.organisation.name.lower() if s.organisation else ""))


async def organisations(session: AsyncSession) -> list[Organisation]:
    return list((await session.scalars(select(Organisation).order_by(Organisation.name))).all())
