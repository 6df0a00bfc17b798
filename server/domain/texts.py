"""Markdown texts are saved with their HTML, rendered once, when they are written.

The renderer comes with the session (`session.info`, put there by the `Database`; see
server/markdown.py for why, and for the limits on what a rendering may cost).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Base, RenderedMarkdown
from server.db.session import MARKDOWN
from server.markdown import RENDERER_VERSION, MarkdownRenderer


def renderer_of(session: AsyncSession) -> MarkdownRenderer:
    """The Markdown renderer that the session's database carries."""
    renderer = session.info.get(MARKDOWN)
    if not isinstance(renderer, MarkdownRenderer):
        raise RuntimeError("this session carries no Markdown renderer: open it from a Database")
    return renderer


async def write(session: AsyncSession, row: RenderedMarkdown, **texts: str) -> None:
    """Set Markdown texts of `row` (`field=text`), each with its rendered HTML.

    A text that has not changed is not rendered again, unless another renderer version rendered the
    row: then all its Markdown fields are, since its `rendered_with` speaks for all of them.
    """
    unknown = set(texts) - set(row.markdown_fields)
    if unknown:
        raise ValueError(f"not Markdown fields of {type(row).__name__}: {sorted(unknown)}")
    renderer = renderer_of(session)
    every = row.rendered_with != RENDERER_VERSION  # also a new row, whose other texts are empty
    for field in row.markdown_fields:
        before = getattr(row, field) or ""
        text = texts.get(field, before)
        if not every and text == before:
            continue
        setattr(row, field, text)
        setattr(row, f"{field}_html", await renderer.render(text))
    row.rendered_with = RENDERER_VERSION


def rendered_models() -> list[type[RenderedMarkdown]]:
    """Every model with Markdown texts."""
    found = [mapper.class_ for mapper in Base.registry.mappers if issubclass(mapper.class_, RenderedMarkdown)]
    return sorted(found, key=lambda model: model.__name__)


async def rerender_stale(session: AsyncSession, *, batch: int = 100) -> int:
    """Render again up to `batch` rows of each model that another renderer version rendered.

    Returns how many rows it rendered (call it again, in a new transaction, until it says 0). The
    rows are updated in place: neither their `version` nor the table's history changes, since
    nobody changed what they say.
    """
    renderer = renderer_of(session)
    done = 0
    for model in rendered_models():
        table = model.__table__  # type: ignore[attr-defined]
        texts = [table.c[field] for field in model.markdown_fields]
        stale = await session.execute(
            select(table.c.id, table.c.rendered_with, *texts)
            .where(table.c.rendered_with != RENDERER_VERSION)
            .order_by(table.c.id)
            .limit(batch)
        )
        for row in stale.all():
            html = {
                f"{field}_html": await renderer.render(row._mapping[field] or "") for field in model.markdown_fields
            }
            await session.execute(
                update(table)
                .where(table.c.id == row.id, table.c.rendered_with == row.rendered_with)
                .values(rendered_with=RENDERER_VERSION, **html)
            )
            done += 1
    return done
