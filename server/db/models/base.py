"""What every model shares: the declarative base, the naming convention, enum columns, versioning."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Enum, Integer, MetaData, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, declared_attr, mapped_column

from server.db.types import UTCDateTime

# Named constraints let Alembic's batch mode (SQLite) find and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


def enum_column(kind: type[StrEnum], name: str) -> Enum:
    """A StrEnum stored as its values in a VARCHAR with a CHECK constraint (no native enum type)."""
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class Versioned:
    """Mixin: a `version` column that SQLAlchemy checks on every UPDATE (StaleDataError on a race)."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 (a declared_attr receives the class)
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class RenderedMarkdown:
    """Mixin: a model with Markdown texts, each stored with its HTML, rendered when it is written.

    `markdown_fields` names the Markdown columns; each `<field>` has a `<field>_html` beside it (see
    `html_column`), and `rendered_with` is the `server.markdown.RENDERER_VERSION` that rendered the
    row's HTML (0: not rendered yet). `server.domain.texts` writes them, pages only show them.
    """

    markdown_fields: ClassVar[tuple[str, ...]] = ()
    rendered_with: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


def html_column() -> MappedColumn[str]:
    """The rendered HTML of a Markdown text, sanitised (or its escaped plain text, when cut off)."""
    return mapped_column(Text, nullable=False, default="", server_default="")
