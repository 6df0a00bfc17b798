"""Creation forms carry a client key, so that the same form submitted twice creates one record."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def already_made(session: AsyncSession, model: type[T], scope: ColumnElement[bool], key: str | None) -> T | None:
    """The record that the form with `key` already created within `scope` (a table, a meeting…), if any."""
    if not key:
        return None
    column: Any = model.client_key  # type: ignore[attr-defined]
    return await session.scalar(select(model).where(scope, column == key))
