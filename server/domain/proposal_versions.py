"""The numbered versions of a proposal's text (every submission, every explicit save), and the
comparison of any two of them (server/domain/text_diff.py does the comparing)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Proposal, ProposalVersion
from server.domain.actions import Actor
from server.domain.text_diff import WORK_LIMIT, TextDiff, Work, compare_text, word_diff

__all__ = [
    "Comparison",
    "compare_versions",
    "keep_version",
    "latest_version",
    "save_version",
    "versions_of",
    "word_diff",
]


async def save_version(session: AsyncSession, proposal: Proposal, actor: Actor, kind: str) -> ProposalVersion:
    """Keep the proposal's current text as its next numbered version ("submitted" or "saved")."""
    last = await session.scalar(
        select(func.max(ProposalVersion.number)).where(ProposalVersion.proposal_id == proposal.id)
    )
    version = ProposalVersion(
        proposal_id=proposal.id,
        number=(last or 0) + 1,
        title=proposal.title,
        summary=proposal.summary,
        body=proposal.body,
        kind=kind,
        author_id=actor.user_id,
    )
    session.add(version)
    await session.flush()
    return version


async def keep_version(session: AsyncSession, proposal: Proposal, actor: Actor, kind: str) -> ProposalVersion | None:
    """Keep the proposal's current text as a numbered version, unless it is the last one's: then the
    last one stands for it (marked "submitted" when it is submitted). The new version, or None."""
    latest = await latest_version(session, proposal.id)
    if latest is not None and (latest.title, latest.summary, latest.body) == (
        proposal.title,
        proposal.summary,
        proposal.body,
    ):
        if kind == "submitted":
            latest.kind = kind
            await session.flush()
        return None
    return await save_version(session, proposal, actor, kind)


async def latest_version(session: AsyncSession, proposal_id: int) -> ProposalVersion | None:
    return await session.scalar(
        select(ProposalVersion)
        .where(ProposalVersion.proposal_id == proposal_id)
        .order_by(ProposalVersion.number.desc())
        .limit(1)
    )


async def versions_of(session: AsyncSession, proposal_id: int) -> list[ProposalVersion]:
    return list(
        (
            await session.scalars(
                select(ProposalVersion)
                .options(joinedload(ProposalVersion.author))
                .where(ProposalVersion.proposal_id == proposal_id)
                .order_by(ProposalVersion.number)
            )
        ).all()
    )


@dataclass(frozen=True)
class Comparison:
    """Two versions compared: title, summary, body, and the work it took (`comparisons`)."""

    title: TextDiff
    summary: TextDiff
    body: TextDiff
    comparisons: int

    @property
    def same(self) -> bool:
        return self.title.same and self.summary.same and self.body.same


def compare_versions(old: ProposalVersion, new: ProposalVersion, *, limit: int = WORK_LIMIT) -> Comparison:
    """What changed from `old` to `new`; the body is Markdown, compared as its rendered text."""
    work = Work(limit)
    title = compare_text(old.title, new.title, work)
    summary = compare_text(old.summary, new.summary, work)
    body = compare_text(old.body, new.body, work, markdown=True)
    return Comparison(title, summary, body, work.comparisons)
