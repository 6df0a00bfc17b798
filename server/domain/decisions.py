"""Decisions (decisioni): what the table decided on each agenda item, and where each organisation stands.

The chair or the secretary records an item's decision (its kind and its Markdown text, and the
proposal it concerns, if any); closing a proposal with an outcome records it too
(`record_outcome`, called by `proposals.set_status` in the same transaction). The chair opens a
roll call during the meeting: while it is open each present organisation's delegate records its
position from their own device; before it is opened and after it is closed, the chair or the
secretary records positions on the delegates' behalf, naming the delegate
(server/domain/positions.py; `record_position` is importable from here too). Decisions and positions
stay editable by the chair and the secretary after the meeting closes, until the minutes are
approved: `lock_decisions` then locks them for good (corrections go through the minutes' erratum).

DEVIATION from the contract of issue 15: the events' payload names the decision's kind
`decision_kind` (not `kind`, which is `audit.record`'s own argument, the event's kind).

The contract, with these choices made where it left them open:
- A delegate records during an open roll call only for the organisation of their seat
  (Membership.organisation_id), only if that organisation is recorded present, and only if their
  own name is among its delegates in the attendance (compared ignoring case and spacing): the name
  check-in writes, or the one the secretary typed. Otherwise the refusal says to check in or to
  ask the secretary. The position's delegate is their account's name.
- While a roll call is open, the chair and the secretary do not record for other organisations
  (each delegate does); they record for any present organisation before it opens and after it
  closes. A roll call left open on a meeting that is no longer in progress counts as closed.
- Opening a roll call already open, or closing one already closed, changes nothing (no event: a
  double click); a closed roll call does not reopen, one never opened cannot be closed, and a
  meeting has one open roll call at a time. Closing is allowed on a closed meeting (to close one
  left open); opening needs the meeting in progress.
- `record_decision` without `version` on an item that already has a decision: the same values
  are a no-op, others are Stale (someone recorded it meanwhile).
- `lock_decisions` returns how many decisions it locked now (0 when repeated; then no event), and
  closes a roll call left open. `close_open_roll_calls` closes a meeting's open roll call with its
  event, for closing the meeting (meeting_life.close_meeting does not call it yet).
- Decisions of items removed from the agenda are left out of `meeting_decisions` and `table_decisions`.
- Refusals name their field: "item", "kind", "text", "proposal", "decision" (locked), "roll_call",
  "organisation" (unknown or not present), "delegate", "reservation"; Forbidden for the wrong
  role or another organisation; NotFound for a decision of another table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import (
    AgendaItem,
    Attendance,
    Decision,
    DecisionKind,
    Meeting,
    MeetingStatus,
    Organisation,
    Position,
    PositionKind,
    Proposal,
    ProposalLink,
    Role,
    RollCall,
    Table,
)
from server.db.types import utcnow
from server.domain import audit, texts
from server.domain.actions import Actor
from server.domain.agenda import DESCRIPTION_LIMIT
from server.domain.edits import is_change
from server.domain.errors import BadQuery, Forbidden, Invalid, NotFound, stale
from server.domain.meetings import lock_table
from server.i18n import _

TEXT_LIMIT = DESCRIPTION_LIMIT
DECISION_KINDS: tuple[DecisionKind, ...] = tuple(DecisionKind)
POSITION_KINDS: tuple[PositionKind, ...] = tuple(PositionKind)


class DecisionEvent(StrEnum):
    """What the audit record says about decisions and positions (the values are stored)."""

    recorded = "decision.recorded"
    changed = "decision.changed"
    roll_call = "decision.roll_call"
    position = "decision.position"
    locked = "decision.locked"


def decision_kind_label(kind: DecisionKind | str) -> str:
    """What the table decided, in the current locale ("Approvato")."""
    labels = {
        DecisionKind.agreed: _("Agreed"),
        DecisionKind.agreed_with_reservations: _("Agreed with reservations"),
        DecisionKind.not_agreed: _("Not agreed"),
        DecisionKind.postponed: _("Postponed"),
        DecisionKind.information: _("Information only"),
    }
    return labels[DecisionKind(kind)]


def position_label(kind: PositionKind | str) -> str:
    """An organisation's position, in the current locale ("Favorevole con riserva")."""
    labels = {
        PositionKind.favourable: _("In favour"),
        PositionKind.against: _("Against"),
        PositionKind.abstains: _("Abstains"),
        PositionKind.reservation: _("In favour with a reservation"),
    }
    return labels[PositionKind(kind)]


def parse_decision_kind(value: DecisionKind | str) -> DecisionKind:
    try:
        return DecisionKind(value)
    except ValueError:
        raise Invalid({"kind": _("Choose what the table decided.")}) from None


def parse_position_kind(value: PositionKind | str) -> PositionKind:
    try:
        return PositionKind(value)
    except ValueError:
        raise Invalid({"kind": _("Choose the organisation's position.")}) from None


def locked_message() -> str:
    return _("This decision is locked: the minutes are approved; corrections go through an erratum.")


def refuse_if_locked(decision: Decision) -> None:
    if decision.locked_at is not None:
        raise Invalid({"decision": locked_message()})


def payload(meeting: Meeting, item: AgendaItem, decision: Decision) -> dict[str, object]:
    """What every event about a decision says of it."""
    return {
        "decision_id": decision.id,
        "item_id": item.id,
        "meeting_id": meeting.id,
        "meeting_title": meeting.title,
        "title": item.title,
        "decision_kind": decision.kind.value,
    }


def _stale_message() -> str:
    return _("Someone else changed the decision on this item in the meantime.")


# --- reading ------------------------------------------------------------------------------------


async def get_decision(session: AsyncSession, table_id: int, decision_id: int) -> Decision:
    """Decision `decision_id` of this table; another table's is not found."""
    decision = await session.scalar(select(Decision).where(Decision.id == decision_id, Decision.table_id == table_id))
    if decision is None:
        raise NotFound(_("This decision does not exist on this table."))
    return decision


async def decision_of_item(session: AsyncSession, item_id: int) -> Decision | None:
    return await session.scalar(select(Decision).where(Decision.item_id == item_id))


async def context_of(session: AsyncSession, decision: Decision) -> tuple[Meeting, AgendaItem]:
    """The meeting and the agenda item of a decision."""
    meeting = await session.get_one(Meeting, decision.meeting_id)
    item = await session.get_one(AgendaItem, decision.item_id)
    return meeting, item


async def positions_of(session: AsyncSession, decision_ids: Sequence[int]) -> dict[int, list[Position]]:
    """The positions recorded on each of these decisions (every id is a key), by organisation name."""
    found: dict[int, list[Position]] = {decision_id: [] for decision_id in decision_ids}
    if not found:
        return found
    rows = await session.scalars(
        select(Position)
        .join(Organisation, Organisation.id == Position.organisation_id)
        .options(joinedload(Position.organisation))
        .where(Position.decision_id.in_(found))
        .order_by(Organisation.name)
    )
    for position in rows.all():
        found[position.decision_id].append(position)
    return found


def tally(positions: Iterable[Position]) -> dict[PositionKind, int]:
    """How many organisations took each position (every kind, in order, zeros included)."""
    counts = dict.fromkeys(POSITION_KINDS, 0)
    for position in positions:
        counts[position.kind] += 1
    return counts


async def meeting_decisions(
    session: AsyncSession, meeting_id: int
) -> list[tuple[AgendaItem, Decision, list[Position]]]:
    """The meeting's decisions in agenda order, each with its item and positions (removed items left out)."""
    rows = (
        await session.execute(
            select(AgendaItem, Decision)
            .join(Decision, Decision.item_id == AgendaItem.id)
            .where(AgendaItem.meeting_id == meeting_id, AgendaItem.removed_at.is_(None))
            .order_by(AgendaItem.position, AgendaItem.id)
        )
    ).all()
    positions = await positions_of(session, [decision.id for _item, decision in rows])
    return [(item, decision, positions[decision.id]) for item, decision in rows]


def parse_position_filter(value: PositionKind | str | None) -> PositionKind | None:
    """A list's position filter ("" or None: any); another value is a hand-made address (BadQuery)."""
    if value is None or value == "":
        return None
    try:
        return PositionKind(value)
    except ValueError:
        raise BadQuery(_("This filter or order does not exist: choose among those of the form.")) from None


async def table_decisions(
    session: AsyncSession,
    table_id: int,
    *,
    meeting_id: int | None = None,
    organisation_id: int | None = None,
    position: PositionKind | str | None = None,
) -> list[tuple[Meeting, AgendaItem, Decision, list[Position]]]:
    """The table's decisions, the newest meeting first and each meeting's in agenda order.

    The filters combine: a meeting; an organisation (the decisions it took a position on); a
    position (those on which some organisation took it, or that organisation with both).
    """
    kind = parse_position_filter(position)
    query = (
        select(Meeting, AgendaItem, Decision)
        .join(AgendaItem, AgendaItem.id == Decision.item_id)
        .join(Meeting, Meeting.id == Decision.meeting_id)
        .where(Decision.table_id == table_id, AgendaItem.removed_at.is_(None))
    )
    if meeting_id is not None:
        query = query.where(Decision.meeting_id == meeting_id)
    if organisation_id is not None or kind is not None:
        taken = exists().where(Position.decision_id == Decision.id)
        if organisation_id is not None:
            taken = taken.where(Position.organisation_id == organisation_id)
        if kind is not None:
            taken = taken.where(Position.kind == kind)
        query = query.where(taken)
    rows = (
        await session.execute(query.order_by(Meeting.starts_at.desc(), Meeting.id.desc(), AgendaItem.position))
    ).all()
    positions = await positions_of(session, [decision.id for _m, _i, decision in rows])
    return [(meeting, item, decision, positions[decision.id]) for meeting, item, decision in rows]


async def present_organisations(session: AsyncSession, meeting_id: int) -> list[tuple[Organisation, str]]:
    """The organisations recorded present at the meeting, by name, with their delegates' names."""
    rows = await session.execute(
        select(Organisation, Attendance.delegates)
        .join(Attendance, Attendance.organisation_id == Organisation.id)
        .where(Attendance.meeting_id == meeting_id, Attendance.present.is_(True))
        .order_by(Organisation.name)
    )
    return [(organisation, delegates) for organisation, delegates in rows.all()]


# --- recording a decision -----------------------------------------------------------------------


def _managing(actor: Actor) -> None:
    if not actor.manages:
        raise Forbidden(_("Only the chair or the secretary can record a decision."))


def _check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid({"text": _("Write what the table decided.")})
    if len(text) > TEXT_LIMIT:
        raise Invalid({"text": _("The text can be at most {n} characters long.").format(n=TEXT_LIMIT)})
    return text


async def _item(session: AsyncSession, table: Table, item_id: int) -> tuple[AgendaItem, Meeting]:
    found = (
        await session.execute(
            select(AgendaItem, Meeting)
            .join(Meeting, Meeting.id == AgendaItem.meeting_id)
            .where(AgendaItem.id == item_id, Meeting.table_id == table.id, AgendaItem.removed_at.is_(None))
        )
    ).first()
    if found is None:
        raise Invalid({"item": _("Choose an item on the agenda of one of this table's meetings.")})
    return found[0], found[1]


async def _check_proposal(session: AsyncSession, table: Table, proposal_id: int | None) -> None:
    if proposal_id is None:
        return
    found = await session.scalar(select(Proposal.id).where(Proposal.id == proposal_id, Proposal.table_id == table.id))
    if found is None:
        raise Invalid({"proposal": _("Choose a proposal of this table.")})


async def record_decision(
    session: AsyncSession,
    table: Table,
    item_id: int,
    *,
    kind: DecisionKind | str,
    text: str,
    proposal_id: int | None,
    actor: Actor,
    version: int | None = None,
) -> Decision:
    """Record the decision on an agenda item (chair or secretary), or change it (`version` given).

    The same values again change nothing; a change based on an older version, or a new decision on
    an item that got one meanwhile, is Stale; a locked decision refuses every change.
    """
    _managing(actor)
    await lock_table(session, table.id)
    decision_kind = parse_decision_kind(kind)
    text = _check_text(text)
    item, meeting = await _item(session, table, item_id)
    await _check_proposal(session, table, proposal_id)
    decision = await decision_of_item(session, item.id)
    if decision is None:
        decision = Decision(
            table_id=table.id,
            meeting_id=meeting.id,
            item_id=item.id,
            proposal_id=proposal_id,
            kind=decision_kind,
            created_by=actor.user_id,
        )
        await texts.write(session, decision, text=text)
        session.add(decision)
        await session.flush()
        await audit.record(
            session,
            DecisionEvent.recorded,
            actor_id=actor.user_id,
            table_id=table.id,
            **payload(meeting, item, decision),
        )
        return decision
    refuse_if_locked(decision)
    current = (decision.kind, decision.text, decision.proposal_id)
    wanted = (decision_kind, text, proposal_id)
    if version is None and current != wanted:
        raise stale(session, _stale_message(), decision)
    if not is_change(session, decision, current, wanted, version=version or 0, message=_stale_message()):
        return decision
    fields = ("kind", "text", "proposal_id")
    before = {f: _plain(old) for f, old, new in zip(fields, current, wanted, strict=True) if old != new}
    after = {f: _plain(new) for f, old, new in zip(fields, current, wanted, strict=True) if old != new}
    decision.kind, decision.proposal_id = decision_kind, proposal_id
    await texts.write(session, decision, text=text)
    await session.flush()
    await audit.record(
        session,
        DecisionEvent.changed,
        actor_id=actor.user_id,
        table_id=table.id,
        before=before,
        after=after,
        **payload(meeting, item, decision),
    )
    return decision


def _plain(value: object) -> object:
    return value.value if isinstance(value, StrEnum) else value


async def record_outcome(
    session: AsyncSession,
    table: Table,
    proposal: Proposal,
    *,
    approved: bool,
    outcome: str,
    item_id: int | None,
    actor: Actor,
) -> Decision | None:
    """A proposal closed with an outcome records the decision of the agenda item where it was discussed.

    `item_id` must be one of the proposal's linked items; None takes the most recently linked one,
    and with none there is no decision. An item with a decision has it updated (kind, text, this
    proposal; an approved proposal keeps "agreed with reservations"), unless it is locked.
    """
    linked = list(
        (
            await session.scalars(
                select(ProposalLink.item_id)
                .join(AgendaItem, AgendaItem.id == ProposalLink.item_id)
                .where(ProposalLink.proposal_id == proposal.id, AgendaItem.removed_at.is_(None))
                .order_by(ProposalLink.id.desc())
            )
        ).all()
    )
    if item_id is not None and item_id not in linked:
        raise Invalid({"item": _("Choose an agenda item where this proposal was discussed.")})
    target = item_id if item_id is not None else (linked[0] if linked else None)
    if target is None:
        return None
    existing = await decision_of_item(session, target)
    kind = DecisionKind.agreed if approved else DecisionKind.not_agreed
    if approved and existing is not None and existing.kind is DecisionKind.agreed_with_reservations:
        kind = existing.kind
    return await record_decision(
        session,
        table,
        target,
        kind=kind,
        text=outcome,
        proposal_id=proposal.id,
        actor=actor,
        version=existing.version if existing is not None else None,
    )


# --- positions (server/domain/positions.py) -----------------------------------------------------


async def record_position(
    session: AsyncSession,
    table: Table,
    decision_id: int,
    *,
    organisation_id: int,
    kind: PositionKind | str,
    reservation: str = "",
    delegate: str = "",
    actor: Actor,
) -> Position:
    """Record an organisation's position on a decision: see `positions.record_position`."""
    from server.domain import positions  # positions stand on this module; this is the one link back

    return await positions.record_position(
        session,
        table,
        decision_id,
        organisation_id=organisation_id,
        kind=kind,
        reservation=reservation,
        delegate=delegate,
        actor=actor,
    )


# --- the roll call ------------------------------------------------------------------------------


def _chairing(actor: Actor) -> None:
    if actor.role is not Role.chair:
        raise Forbidden(_("Only the chair can open or close the roll call."))


async def _set_roll_call(session: AsyncSession, decision: Decision, **values: object) -> None:
    """A Core update: the roll call must not make the decision's form stale."""
    await session.execute(
        update(Decision)
        .where(Decision.id == decision.id)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )


def roll_call_open(decision: Decision, meeting: Meeting) -> bool:
    """Whether delegates record positions now: the roll call is open and the meeting in progress."""
    return decision.roll_call is RollCall.open and meeting.status is MeetingStatus.in_progress


async def open_roll_call(session: AsyncSession, table: Table, decision_id: int, *, actor: Actor) -> Decision:
    """The chair opens the roll call on a decision during the meeting (a repeat changes nothing)."""
    _chairing(actor)
    await lock_table(session, table.id)
    decision = await get_decision(session, table.id, decision_id)
    meeting, item = await context_of(session, decision)
    refuse_if_locked(decision)
    if decision.roll_call is RollCall.open:
        return decision
    if decision.roll_call is RollCall.closed:
        raise Invalid({"roll_call": _("The roll call on this decision is closed: it does not reopen.")})
    if meeting.status is not MeetingStatus.in_progress:
        raise Invalid({"roll_call": _("A roll call takes place during the meeting: the meeting is not in progress.")})
    other = (
        await session.execute(
            select(AgendaItem.title)
            .join(Decision, Decision.item_id == AgendaItem.id)
            .where(Decision.meeting_id == meeting.id, Decision.roll_call == RollCall.open)
        )
    ).first()
    if other is not None:
        message = _("The roll call on «{title}» is still open: close it first.")
        raise Invalid({"roll_call": message.format(title=other[0])})
    await _set_roll_call(session, decision, roll_call=RollCall.open, roll_call_opened_at=utcnow())
    await audit.record(
        session,
        DecisionEvent.roll_call,
        actor_id=actor.user_id,
        table_id=table.id,
        state=RollCall.open.value,
        **payload(meeting, item, decision),
    )
    return decision


async def close_roll_call(session: AsyncSession, table: Table, decision_id: int, *, actor: Actor) -> Decision:
    """The chair closes the roll call (a repeat changes nothing; one never opened cannot be closed)."""
    _chairing(actor)
    await lock_table(session, table.id)
    decision = await get_decision(session, table.id, decision_id)
    meeting, item = await context_of(session, decision)
    refuse_if_locked(decision)
    if decision.roll_call is RollCall.closed:
        return decision
    if decision.roll_call is RollCall.none:
        raise Invalid({"roll_call": _("The roll call on this decision has not been opened.")})
    await _set_roll_call(session, decision, roll_call=RollCall.closed, roll_call_closed_at=utcnow())
    await audit.record(
        session,
        DecisionEvent.roll_call,
        actor_id=actor.user_id,
        table_id=table.id,
        state=RollCall.closed.value,
        **payload(meeting, item, decision),
    )
    return decision


async def close_open_roll_calls(session: AsyncSession, table: Table, meeting_id: int, *, actor_id: int | None) -> int:
    """Close the meeting's roll call left open, with its event (for closing the meeting); how many."""
    found = (
        await session.execute(
            select(Decision, AgendaItem, Meeting)
            .join(AgendaItem, AgendaItem.id == Decision.item_id)
            .join(Meeting, Meeting.id == Decision.meeting_id)
            .where(Decision.meeting_id == meeting_id, Meeting.table_id == table.id, Decision.roll_call == RollCall.open)
        )
    ).all()
    for decision, item, meeting in found:
        await _set_roll_call(session, decision, roll_call=RollCall.closed, roll_call_closed_at=utcnow())
        await audit.record(
            session,
            DecisionEvent.roll_call,
            actor_id=actor_id,
            table_id=table.id,
            state=RollCall.closed.value,
            **payload(meeting, item, decision),
        )
    return len(found)


# --- locking ------------------------------------------------------------------------------------


async def lock_decisions(session: AsyncSession, meeting_id: int, *, actor_id: int | None) -> int:
    """Lock every decision of the meeting (its minutes are approved): one event; how many were locked now.

    A repeat locks nothing more and records nothing. A roll call left open is closed with them.
    """
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(_("This meeting does not exist on this table."))
    await lock_table(session, meeting.table_id)
    now = utcnow()
    ids = list(
        (
            await session.scalars(
                select(Decision.id).where(Decision.meeting_id == meeting.id, Decision.locked_at.is_(None))
            )
        ).all()
    )
    if not ids:
        return 0
    await session.execute(
        update(Decision)
        .where(Decision.id.in_(ids), Decision.roll_call == RollCall.open)
        .values(roll_call=RollCall.closed, roll_call_closed_at=now)
        .execution_options(synchronize_session="fetch")
    )
    await session.execute(
        update(Decision)
        .where(Decision.id.in_(ids))
        .values(locked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    await audit.record(
        session,
        DecisionEvent.locked,
        actor_id=actor_id,
        table_id=meeting.table_id,
        meeting_id=meeting.id,
        meeting_title=meeting.title,
        count=len(ids),
    )
    return len(ids)
