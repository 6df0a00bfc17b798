"""Personal data in the minutes (GDPR minimisation): the names of people that appear in the text, and
the public copy with the passages the chair marked replaced by "[omissis]".

Members read the full copy; the public pages, the feeds and the archive get only the public copy,
in which every marked passage is replaced wherever it appears: in the text, and in what the
records add to it (decisions and reservations, delegates, action items). The functions here are
pure or read-only; marking passages is `server.domain.minutes.set_redactions`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Attendance, Meeting, Membership, Table, User
from server.domain.minutes_record import (
    MinutesRecord,
    PresentOrganisation,
    RecordedAction,
    RecordedDecision,
    RecordedItem,
    RecordedPosition,
    delegates_of,
)

OMISSIS = "[omissis]"
PASSAGE_LIMIT = 500  # characters of one marked passage
PASSAGES_LIMIT = 200  # passages marked on one set of minutes


def redact(text: str, passages: Iterable[str]) -> str:
    """`text` with every occurrence of every passage replaced by "[omissis]".

    One pass, the longest passage first at each place: a passage inside another ("Rossi" in
    "Mario Rossi") leaves no part of the longer one behind, and "[omissis]" itself is never
    searched again.
    """
    wanted = sorted({p for p in passages if p}, key=len, reverse=True)
    if not wanted:
        return text
    pattern = re.compile("|".join(re.escape(p) for p in wanted))
    return pattern.sub(OMISSIS, text)


def record_texts(record: MinutesRecord) -> list[str]:
    """What people typed into the records that the public copy shows beside the text: the meeting's
    title and place, delegates, decisions and reservations, action items and their owners."""
    found = [record.meeting_title, record.place]
    for present in record.present:
        found.extend(present.delegates)
    for item in record.items:
        found.append(item.title)
        if item.decision is not None:
            found.append(item.decision.text)
            for position in item.decision.positions:
                found.extend((position.reservation, position.delegate))
        for action in item.actions:
            found.extend((action.title, action.owner))
    return [value for value in found if value]


def present_in(passages: Iterable[str], text: str, record: MinutesRecord) -> list[str]:
    """The passages that appear (as typed, case and spaces included) in the text or in the records."""
    where = [text, *record_texts(record)]
    return [passage for passage in passages if any(passage in value for value in where)]


async def people_of(session: AsyncSession, table: Table) -> list[str]:
    """The names of the table's people: its members' accounts, and the delegates named in the
    attendance of any of its meetings."""
    members = await session.scalars(
        select(User.name).join(Membership, Membership.user_id == User.id).where(Membership.table_id == table.id)
    )
    typed = await session.scalars(
        select(Attendance.delegates)
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .where(Meeting.table_id == table.id, Attendance.delegates != "")
    )
    names = {name.strip() for name in members.all() if name.strip()}
    for delegates in typed.all():
        names.update(delegates_of(delegates))
    return sorted(names)


def find_names(text: str, names: Iterable[str]) -> list[str]:
    """The names that appear in `text` as whole words, whatever their case, each as the text writes
    it (so that it can be marked as a passage), in the order of their first appearance."""
    found: dict[str, int] = {}
    for name in names:
        words = name.split()
        if not words:
            continue
        pattern = re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)
        for match in pattern.finditer(text):
            found.setdefault(match.group(0), match.start())
    return sorted(found, key=lambda written: (found[written], -len(written)))


async def names_in(text: str, session: AsyncSession, table: Table) -> list[str]:
    """The people of the table (members' names, delegates named in attendances) that appear in
    `text`, as the text writes them, in order of appearance: what the chair considers redacting."""
    return find_names(text, await people_of(session, table))


def clean_passages(passages: Iterable[str]) -> list[str]:
    """The passages to mark as the chair sent them, without the spaces around them, blanks and repeats."""
    cleaned: list[str] = []
    for passage in passages:
        passage = passage.strip()
        if passage and passage not in cleaned:
            cleaned.append(passage)
    return cleaned


Render = Callable[[str], Awaitable[str]]


async def redact_record(record: MinutesRecord, passages: Sequence[str], render: Render) -> MinutesRecord:
    """The record as the public copy says it: every passage replaced in what people typed into the
    records (the meeting's title and place, delegates, decisions, reservations, action items). A
    decision whose text changed is rendered again with `render` (the one Markdown pipeline)."""
    if not passages:
        return record

    def r(value: str) -> str:
        return redact(value, passages)

    items = []
    for item in record.items:
        decision = item.decision
        if decision is not None:
            text = r(decision.text)
            decision = RecordedDecision(
                id=decision.id,
                kind=decision.kind,
                label=decision.label,
                text=text,
                text_html=decision.text_html if text == decision.text else await render(text),
                positions=tuple(
                    RecordedPosition(p.organisation, p.kind, p.label, r(p.reservation), r(p.delegate))
                    for p in decision.positions
                ),
            )
        items.append(
            RecordedItem(
                id=item.id,
                number=item.number,
                title=r(item.title),
                status=item.status,
                decision=decision,
                actions=tuple(RecordedAction(a.id, r(a.title), r(a.owner), a.due_on, a.status) for a in item.actions),
            )
        )
    title = r(record.meeting_title)
    return replace(
        record,
        meeting_title=title,
        meeting_slug=record.meeting_slug if title == record.meeting_title else slugify(title, max_length=80),
        place=r(record.place),
        present=tuple(
            PresentOrganisation(p.organisation, tuple(r(name) for name in p.delegates)) for p in record.present
        ),
        items=tuple(items),
    )
