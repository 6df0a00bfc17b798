"""`tavoli demo`: fill the database with the four tables, through the same domain functions as the app.

The shared ground (organisations, people, tables and their seats) is in `server.demo.world`; each area
brings its own content in a module with `async def seed(session, world)`, and `load_demo` calls the
seeders it is given, in order, on every table it creates.

Idempotent: organisations and accounts are created when missing, and a table that already exists
is left as it is (with everything people did on it since).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Table
from server.db.session import Database
from server.demo import world as base
from server.demo.world import ADMIN, TABLES, DemoReport, DemoWorld
from server.domain import accounts
from server.i18n import TIMEZONE
from server.views.areas import CATALOG

__all__ = ["DEFAULT_SEEDERS", "DemoReport", "DemoWorld", "Seeder", "load_demo", "resolve_seeders"]

Seeder = Callable[[AsyncSession, DemoWorld], Awaitable[None]]

# The areas' seeders, in the order of the areas (action items come from agenda items, so the
# meetings come first).
DEFAULT_SEEDERS: tuple[str, ...] = tuple(CATALOG.demo_modules())


def resolve_seeders(names: Sequence[str]) -> list[Seeder]:
    """The `seed` function of each dotted module name; a module without one is a programming error."""
    found = []
    for name in names:
        seed = getattr(importlib.import_module(name), "seed", None)
        if not callable(seed):
            raise TypeError(f"{name} has no seed(session, world) function")
        found.append(cast(Seeder, seed))
    return found


async def load_demo(
    database: Database,
    password: str,
    *,
    today: datetime | None = None,
    seeders: Sequence[str] = DEFAULT_SEEDERS,
) -> DemoReport:
    """Create what is missing of the demo, each new table in a transaction of its own; return the logins."""
    seeds = resolve_seeders(seeders)
    accounts.check_password(password)
    today = (today or datetime.now(TIMEZONE)).astimezone(TIMEZONE)
    password_hash = accounts.hash_password(password)
    report = DemoReport(admin=base.email(ADMIN[0]))
    async with database.transaction() as session:
        organisations = await base.organisations(session)
        people = await base.people(session, organisations, password_hash)
    world = DemoWorld(
        organisations=organisations, users=people, tables={}, today=today, report=report, password=password
    )
    for demo in TABLES:
        report.logins[demo.slug] = base.logins(demo)
        async with database.transaction() as session:
            if await session.scalar(select(Table.id).where(Table.slug == demo.slug)) is not None:
                report.kept_tables.append(demo.slug)
                continue
            table = await base.create_table(session, world, demo)
            building = replace(world, tables={demo.slug: table})
            for seed in seeds:
                await seed(session, building)
            report.created_tables.append(demo.slug)
    return report
