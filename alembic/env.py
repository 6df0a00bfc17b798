"""Alembic environment: async engine, batch mode on SQLite, the models' naming convention."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from server.config import Settings
from server.db.models import Base
from server.db.session import Database

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await database.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        # `tavoli migrate` and the tests name the database; the alembic command line (making a new
        # migration) uses the one the settings name, as the app would.
        asyncio.run(_run_async(config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url))


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
