"""The numbered versions of a proposal's text (every submission, every explicit save), and the
word-level comparison of any two of them."""

from __future__ import annotations

import difflib
import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import Proposal, ProposalVersion
from server.domain.actions import Actor


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


_WORDS = re.compile(r"\S+|\s+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """The changes from `old` to `new`, word by word: ("same" | "removed" | "added", text) pieces."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("same", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            pieces.append(("removed", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            pieces.append(("added", "".join(b[j1:j2])))
    return pieces
