"""What a meeting's minutes say from the records, not typed twice: the meeting, who attended, what
the table decided on each item with each organisation's position, and the action items recorded
from each item. The archive's front matter (server/domain/minutes_archive.py), the printed PDF
(server/domain/minutes_pdf.py) and the minutes pages read the same `MinutesRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


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
