"""A table's quorum: a number of its member organisations, or a share of them, that must be present.

The meeting page shows the organisations present (from the recorded attendance) against the
quorum required, live; the minutes record it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Attendance, Meeting, Membership, Role, Table
from server.domain import audit
from server.domain.errors import Invalid
from server.domain.meetings import MeetingEvent
from server.i18n import _

MAX_QUORUM_NUMBER = 500


@dataclass(frozen=True)
class QuorumRule:
    number: int | None = None
    percent: int | None = None

    @property
    def text(self) -> str:
        """As a person types it: "5", "50%", or "" (no quorum)."""
        if self.number is not None:
            return str(self.number)
        if self.percent is not None:
            return f"{self.percent}%"
        return ""


def parse_quorum(typed: str) -> QuorumRule:
    """A quorum as typed: a whole number of organisations ("5"), a share ("50%"), or nothing."""
    typed = typed.strip().replace(" ", "")
    if not typed:
        return QuorumRule()
    digits, percent = (typed[:-1], True) if typed.endswith("%") else (typed, False)
    if digits.isascii() and digits.isdigit() and len(digits) <= 4:
        value = int(digits)
        if percent and 1 <= value <= 100:
            return QuorumRule(percent=value)
        if not percent and 1 <= value <= MAX_QUORUM_NUMBER:
            return QuorumRule(number=value)
    message = _("Enter the quorum as a number of organisations (for example 5) or a share (for example 50%).")
    raise Invalid({"quorum": message})


def rule_of(table: Table) -> QuorumRule:
    return QuorumRule(table.quorum_number, table.quorum_percent)


async def set_quorum(session: AsyncSession, table: Table, rule: QuorumRule, *, actor_id: int | None) -> bool:
    """Set the table's quorum (a Core update: the settings form's version is the table's own)."""
    if rule_of(table) == rule:
        return False
    await session.execute(
        update(Table)
        .where(Table.id == table.id)
        .values(quorum_number=rule.number, quorum_percent=rule.percent)
        .execution_options(synchronize_session="fetch")
    )
    table.quorum_number, table.quorum_percent = rule.number, rule.percent
    await audit.record(session, MeetingEvent.quorum_set, actor_id=actor_id, table_id=table.id, quorum=rule.text or "—")
    return True


@dataclass(frozen=True)
class Quorum:
    """Present organisations against the quorum required (None: the table sets none)."""

    present: int
    members: int
    required: int | None
    rule: QuorumRule

    @property
    def reached(self) -> bool | None:
        return None if self.required is None else self.present >= self.required


async def quorum_of(session: AsyncSession, table: Table, meeting: Meeting) -> Quorum:
    """The member organisations (represented at the table by a member, secretary or chair)
    present at the meeting, against the quorum the table sets."""
    members = set(
        (
            await session.scalars(
                select(Membership.organisation_id).where(
                    Membership.table_id == table.id,
                    Membership.organisation_id.is_not(None),
                    Membership.role != Role.observer,
                )
            )
        ).all()
    )
    present = await session.scalar(
        select(func.count(Attendance.id)).where(
            Attendance.meeting_id == meeting.id,
            Attendance.present.is_(True),
            Attendance.organisation_id.in_(members),
        )
    )
    rule = rule_of(table)
    required = rule.number
    if rule.percent is not None:
        required = math.ceil(len(members) * rule.percent / 100)
    return Quorum(present or 0, len(members), required, rule)
