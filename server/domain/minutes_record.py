"""What a meeting's minutes say from the records, not typed twice: the meeting, who attended, what
the table decided on each item with each organisation's position, and the action items recorded
from each item. The archive's front matter (server/domain/minutes_archive.py), the printed PDF
(server/domain/minutes_pdf.py) and the minutes pages read the same `MinutesRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import ActionItem, Decision, Meeting, Position, Table
from server.domain.agenda import agenda_of
from server.domain.decisions import decision_kind_label, position_label
from server.domain.errors import NotFound
from server.domain.meetings import attendance_of
from server.domain.positions import delegate_names
from server.i18n import _


@dataclass(frozen=True)
class PresentOrganisation:
    organisation: str
    delegates: tuple[str, ...]


@dataclass(frozen=True)
class RecordedPosition:
    organisation: str
    kind: str  # PositionKind's value
    label: str  # its words in the current locale ("Favorevole con riserva")
    reservation: str = ""
    delegate: str = ""


@dataclass(frozen=True)
class RecordedDecision:
    id: int
    kind: str  # DecisionKind's value
    label: str  # its words in the current locale ("Approvato")
    text: str  # Markdown, as recorded
    text_html: str  # its rendering, as stored
    positions: tuple[RecordedPosition, ...] = ()


@dataclass(frozen=True)
class RecordedAction:
    id: int
    title: str
    owner: str  # person and organisation, as the action item's page says it
    due_on: date | None
    status: str  # ActionStatus's value


@dataclass(frozen=True)
class RecordedItem:
    id: int
    number: int  # its position in the agenda, from 1
    title: str
    status: str  # AgendaStatus's value
    decision: RecordedDecision | None = None
    actions: tuple[RecordedAction, ...] = ()


@dataclass(frozen=True)
class MinutesRecord:
    table_name: str
    table_slug: str
    meeting_id: int
    meeting_title: str
    meeting_slug: str
    starts_at: datetime  # aware, UTC as stored
    place: str
    online_url: str
    present: tuple[PresentOrganisation, ...]
    absent: tuple[str, ...]
    items: tuple[RecordedItem, ...] = field(default=())


# --- reading it from the records ----------------------------------------------------------------


def delegates_of(typed: str) -> tuple[str, ...]:
    """The delegates' names as the attendance sheet has them ("Anna Bianchi, Marco Neri"), split as
    the positions split them (server/domain/positions.py)."""
    return tuple(delegate_names(typed))


def _owner(action: ActionItem) -> str:
    """The owner as the action item's page says it: "Anna Bianchi (Confcommercio)"."""
    if action.owner is None:
        return ""
    if action.organisation is None:
        return action.owner.name
    return f"{action.owner.name} ({action.organisation.name})"


async def collect(session: AsyncSession, meeting_id: int) -> MinutesRecord:
    """What the records say about meeting `meeting_id` now: the meeting, who attended, each agenda
    item (in the agenda's order) with its decision and positions and the action items recorded from
    it. Labels are in the current locale. Raises NotFound for a meeting that does not exist."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(_("This meeting does not exist on this table."))
    table = await session.get(Table, meeting.table_id)
    assert table is not None  # a meeting's table is deleted with its meetings
    sheet = await attendance_of(session, meeting)
    present = tuple(
        PresentOrganisation(row.organisation.name, delegates_of(row.delegates)) for row in sheet.rows if row.present
    )
    absent = tuple(row.organisation.name for row in sheet.rows if not row.present)
    items = await agenda_of(session, meeting.id)
    ids = [item.id for item in items]
    decided = {
        decision.item_id: decision
        for decision in (await session.scalars(select(Decision).where(Decision.item_id.in_(ids)))).all()
    }
    positions: dict[int, list[Position]] = {}
    if decided:
        found = await session.scalars(
            select(Position)
            .options(joinedload(Position.organisation))
            .where(Position.decision_id.in_([d.id for d in decided.values()]))
        )
        for position in found.all():
            positions.setdefault(position.decision_id, []).append(position)
    actions: dict[int, list[ActionItem]] = {}
    if ids:
        found_actions = await session.scalars(
            select(ActionItem)
            .options(joinedload(ActionItem.owner), joinedload(ActionItem.organisation))
            .where(ActionItem.origin_item_id.in_(ids))
            .order_by(ActionItem.created_at, ActionItem.id)
        )
        for action in found_actions.all():
            assert action.origin_item_id is not None
            actions.setdefault(action.origin_item_id, []).append(action)
    recorded = []
    for number, item in enumerate(items, start=1):
        decision = decided.get(item.id)
        recorded.append(
            RecordedItem(
                id=item.id,
                number=number,
                title=item.title,
                status=item.status.value,
                decision=None if decision is None else _decision(decision, positions.get(decision.id, [])),
                actions=tuple(
                    RecordedAction(a.id, a.title, _owner(a), a.due_on, a.status.value) for a in actions.get(item.id, [])
                ),
            )
        )
    return MinutesRecord(
        table_name=table.name,
        table_slug=table.slug,
        meeting_id=meeting.id,
        meeting_title=meeting.title,
        meeting_slug=slugify(meeting.title, max_length=80) or f"seduta-{meeting.id}",
        starts_at=meeting.starts_at,
        place=meeting.place,
        online_url=meeting.online_url,
        present=present,
        absent=absent,
        items=tuple(recorded),
    )


def _decision(decision: Decision, positions: list[Position]) -> RecordedDecision:
    ordered = sorted(positions, key=lambda p: p.organisation.name)
    return RecordedDecision(
        id=decision.id,
        kind=decision.kind.value,
        label=decision_kind_label(decision.kind),
        text=decision.text,
        text_html=decision.text_html,
        positions=tuple(
            RecordedPosition(p.organisation.name, p.kind.value, position_label(p.kind), p.reservation, p.delegate)
            for p in ordered
        ),
    )
