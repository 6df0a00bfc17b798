"""Positions: where each organisation present stands on a decision (one row per organisation, its current
position; every change is an event of the history, with the position it replaced).

During an open roll call each organisation's delegate records its position from their own device;
before the roll call opens and after it closes, the chair or the secretary records it on the
delegate's behalf, naming them. The rules and the choices made are in server/domain/decisions.py's
docstring; `decisions.record_position` is this module's `record_position`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import (
    AgendaItem,
    Attendance,
    Decision,
    Meeting,
    MeetingStatus,
    Membership,
    Organisation,
    Position,
    PositionKind,
    Role,
    RollCall,
    Table,
    User,
)
from server.db.types import utcnow
from server.domain import audit
from server.domain.actions import Actor
from server.domain.decisions import (
    DecisionEvent,
    context_of,
    get_decision,
    parse_position_kind,
    payload,
    refuse_if_locked,
    roll_call_open,
)
from server.domain.errors import Forbidden, Invalid
from server.domain.meetings import lock_table
from server.i18n import _

RESERVATION_LIMIT = 2_000
DELEGATE_LIMIT = 200


def delegate_names(delegates: str) -> list[str]:
    """The names written in an attendance's delegates ("Anna Bianchi, Marco Neri")."""
    return [name.strip() for name in delegates.split(",") if name.strip()]


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _check_reservation(kind: PositionKind, reservation: str) -> str:
    if kind is not PositionKind.reservation:
        return ""
    reservation = reservation.strip()
    if not reservation:
        raise Invalid({"reservation": _("Write the reservation.")})
    if len(reservation) > RESERVATION_LIMIT:
        message = _("The reservation can be at most {n} characters long.")
        raise Invalid({"reservation": message.format(n=RESERVATION_LIMIT)})
    return reservation


async def _attendance(session: AsyncSession, meeting: Meeting, organisation_id: int) -> tuple[Organisation, str]:
    """The organisation and its delegates' names, if it is recorded present (else Invalid)."""
    found = (
        await session.execute(
            select(Organisation, Attendance)
            .outerjoin(
                Attendance,
                (Attendance.organisation_id == Organisation.id) & (Attendance.meeting_id == meeting.id),
            )
            .where(Organisation.id == organisation_id)
        )
    ).first()
    if found is None:
        raise Invalid({"organisation": _("Choose an organisation present at the meeting.")})
    organisation, attendance = found
    if attendance is None or not attendance.present:
        message = _("{organisation} is not recorded as present at this meeting: it has no position to record.")
        raise Invalid({"organisation": message.format(organisation=organisation.name)})
    return organisation, attendance.delegates


async def _as_delegate(
    session: AsyncSession, table: Table, meeting: Meeting, organisation_id: int, actor: Actor
) -> tuple[Organisation, str]:
    """During an open roll call: the actor gives their own organisation's position, as its delegate."""
    seat = await session.scalar(
        select(Membership).where(Membership.table_id == table.id, Membership.user_id == actor.user_id)
    )
    if seat is None or seat.role is Role.observer or seat.organisation_id is None:
        raise Forbidden(_("Only the delegates of an organisation present can record its position."))
    if seat.organisation_id != organisation_id:
        if actor.manages:
            message = _(
                "The roll call is open: each organisation's delegate records its position. You can record "
                "positions on their behalf once it is closed."
            )
            raise Invalid({"roll_call": message})
        raise Forbidden(_("You can record the position of your own organisation only."))
    organisation, delegates = await _attendance(session, meeting, organisation_id)
    name = (await session.get_one(User, actor.user_id)).name
    if not any(_same_name(name, listed) for listed in delegate_names(delegates)):
        message = _(
            "You are not among the delegates of {organisation} recorded at this meeting: check in, or ask the "
            "secretary to add your name to the attendance."
        )
        raise Invalid({"delegate": message.format(organisation=organisation.name)})
    return organisation, name[:DELEGATE_LIMIT]


def _outside_roll_call(decision: Decision, meeting: Meeting) -> Invalid:
    """Why a delegate cannot record now: the roll call has not opened yet, or it is over."""
    if decision.roll_call is RollCall.none and meeting.status is not MeetingStatus.closed:
        message = _("The roll call on this decision has not been opened: the chair opens it during the meeting.")
    else:
        message = _(
            "The roll call on this decision is closed: positions are no longer recorded from the delegates' "
            "devices. Ask the secretary to record yours."
        )
    return Invalid({"roll_call": message})


async def _position(session: AsyncSession, decision_id: int, organisation_id: int) -> Position | None:
    return await session.scalar(
        select(Position)
        .options(joinedload(Position.organisation))
        .where(Position.decision_id == decision_id, Position.organisation_id == organisation_id)
    )


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
    """Record an organisation's position on a decision: by its delegate during the roll call, or by the
    chair or the secretary outside it, naming the delegate (`delegate`; the delegate's own name otherwise).

    The same position again (kind, reservation, delegate) changes nothing: fifty identical clicks make
    one row and one event. A change keeps the one before in its event (`before`).
    """
    await lock_table(session, table.id)
    decision = await get_decision(session, table.id, decision_id)
    meeting, item = await context_of(session, decision)
    refuse_if_locked(decision)
    position_kind = parse_position_kind(kind)
    reservation = _check_reservation(position_kind, reservation)
    if roll_call_open(decision, meeting):
        organisation, name = await _as_delegate(session, table, meeting, organisation_id, actor)
        by_secretary = False
    elif actor.manages:
        organisation, _delegates = await _attendance(session, meeting, organisation_id)
        name = " ".join(delegate.split())
        if not name:
            raise Invalid({"delegate": _("Write the name of the delegate who gave the position.")})
        if len(name) > DELEGATE_LIMIT:
            message = _("The name can be at most {n} characters long.")
            raise Invalid({"delegate": message.format(n=DELEGATE_LIMIT)})
        by_secretary = True
    else:
        seat = await session.scalar(
            select(Membership.organisation_id).where(
                Membership.table_id == table.id, Membership.user_id == actor.user_id, Membership.role != Role.observer
            )
        )
        if seat is None or seat != organisation_id:
            raise Forbidden(_("You can record the position of your own organisation only."))
        raise _outside_roll_call(decision, meeting)
    position = await _position(session, decision.id, organisation.id)
    if position is None:
        position = Position(
            decision_id=decision.id,
            organisation_id=organisation.id,
            kind=position_kind,
            reservation=reservation,
            delegate=name,
            recorded_by=actor.user_id,
            by_secretary=by_secretary,
            recorded_at=utcnow(),
            changes=1,
        )
        try:
            async with session.begin_nested():
                session.add(position)
                await session.flush()
        except IntegrityError:  # a twin of the same organisation got in first (without the table's lock)
            twin = await _position(session, decision.id, organisation.id)
            if twin is None:
                raise
            position = twin
        else:
            await session.refresh(position, ["organisation"])
            await _record(session, table, actor, meeting, item, decision, position, before=None)
            return position
    if (position.kind, position.reservation, position.delegate) == (position_kind, reservation, name):
        return position
    before = position.kind
    position.kind, position.reservation, position.delegate = position_kind, reservation, name
    position.recorded_by, position.by_secretary, position.recorded_at = actor.user_id, by_secretary, utcnow()
    position.changes += 1
    await session.flush()
    await _record(session, table, actor, meeting, item, decision, position, before=before)
    return position


async def _record(
    session: AsyncSession,
    table: Table,
    actor: Actor,
    meeting: Meeting,
    item: AgendaItem,
    decision: Decision,
    position: Position,
    *,
    before: PositionKind | None,
) -> None:
    await audit.record(
        session,
        DecisionEvent.position,
        actor_id=actor.user_id,
        table_id=table.id,
        organisation_id=position.organisation_id,
        organisation=position.organisation.name,
        position=position.kind.value,
        reservation=position.reservation,
        delegate=position.delegate,
        by_secretary=position.by_secretary,
        before=before.value if before is not None else None,
        **payload(meeting, item, decision),
    )
