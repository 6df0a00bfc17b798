"""Action items (azioni / impegni): what members commit to between meetings, and how it goes.

Chair and secretary create, assign, edit and cancel them; the owner moves their status along and
writes progress notes; everyone on the table reads them. The lists are in
server.domain.action_lists; their names are importable from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import (
    ActionItem,
    ActionNote,
    ActionStatus,
    Meeting,
    Membership,
    Role,
    Table,
)
from server.domain import audit, inputs, texts, transitions
from server.domain.action_lists import (
    ACTIVE,
    SORTS,
    STATUS_FILTERS,
    Filters,
    actions_of,
    filters_from,
    is_overdue,
    my_actions,
    open_actions,
    organisations_with_actions,
    today,
)
from server.domain.agenda import DESCRIPTION_LIMIT, item_of_table
from server.domain.edits import is_change
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.keys import already_made
from server.domain.meetings import check_title, lock_table
from server.i18n import _

__all__ = [
    "ACTIVE",
    "MANAGERS",
    "SORTS",
    "STATUS_FILTERS",
    "TRANSITIONS",
    "ActionEvent",
    "ActionValues",
    "Actor",
    "Filters",
    "actions_of",
    "add_note",
    "create_action",
    "filters_from",
    "get_action",
    "is_overdue",
    "my_actions",
    "notes_of",
    "open_actions",
    "organisations_with_actions",
    "parse_action",
    "parse_status",
    "propose_review",
    "set_status",
    "today",
    "update_action",
]

NOTE_LIMIT = 5_000
MANAGERS = (Role.chair, Role.secretary)

# Which status may follow which. Done can be reopened (work found unfinished); cancelled is final.
TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    ActionStatus.open: frozenset({ActionStatus.in_progress, ActionStatus.done, ActionStatus.cancelled}),
    ActionStatus.in_progress: frozenset({ActionStatus.open, ActionStatus.done, ActionStatus.cancelled}),
    ActionStatus.done: frozenset({ActionStatus.in_progress}),
    ActionStatus.cancelled: frozenset(),
}


class ActionEvent(StrEnum):
    """What the audit record says about action items (the values are stored)."""

    created = "action.created"
    updated = "action.updated"
    note_added = "action.note_added"
    status = "action.status"


@dataclass(frozen=True)
class ActionValues:
    """An action item's fields, checked."""

    title: str
    description: str
    owner_id: int | None
    due_on: date | None


@dataclass(frozen=True)
class Actor:
    """Who asks for a change, and their role on the table (the owner's rights depend on the person)."""

    user_id: int
    role: Role | None

    @property
    def manages(self) -> bool:
        return self.role in MANAGERS


def parse_action(*, title: str, description: str, owner: str, due_on: str) -> ActionValues:
    """Check what a person typed for an action item; every problem is reported beside its field."""
    errors: dict[str, str] = {}
    try:
        title = check_title(title)
    except Invalid as exc:
        errors.update(exc.errors)
    if len(description) > DESCRIPTION_LIMIT:
        errors["description"] = _("The description can be at most {n} characters long.").format(n=DESCRIPTION_LIMIT)
    owner_id = inputs.record_id(owner.strip())
    if owner.strip() and owner_id is None:
        errors["owner"] = _("Choose the owner among the members of the table.")
    due = inputs.day(due_on.strip())
    if due_on.strip() and due is None:
        errors["due_on"] = _("Enter the due date as a date, for example 2026-12-31.")
    if errors:
        raise Invalid(errors)
    return ActionValues(title, description.strip(), owner_id, due)


def parse_status(value: str) -> ActionStatus:
    return transitions.parse_status(ActionStatus, value)


async def _owner_seat(session: AsyncSession, table: Table, owner_id: int | None) -> Membership | None:
    """The owner's membership of the table (for the organisation they act for); None for no owner."""
    if owner_id is None:
        return None
    seat = await session.scalar(
        select(Membership).where(Membership.table_id == table.id, Membership.user_id == owner_id)
    )
    if seat is None or seat.role is Role.observer:
        raise Invalid({"owner": _("The owner must be a member of the table.")})
    return seat


async def get_action(session: AsyncSession, table_id: int, action_id: int, *, related: bool = True) -> ActionItem:
    """Action item `action_id` of this table, with its owner and origin; another table's is not found.

    `related=False` loads the row alone, for a change that needs none of them (a status change).
    """
    query = select(ActionItem).where(ActionItem.id == action_id, ActionItem.table_id == table_id)
    if related:
        query = query.options(
            joinedload(ActionItem.owner),
            joinedload(ActionItem.organisation),
            joinedload(ActionItem.origin_item),
            joinedload(ActionItem.origin_proposal),
        )
    action = await session.scalar(query)
    if action is None:
        raise NotFound(_("This action item does not exist on this table."))
    return action


def _stale_message() -> str:
    return _("Someone else changed this action item in the meantime.")


def _payload(action: ActionItem) -> dict[str, object]:
    return {"action_id": action.id, "title": action.title, "owner_id": action.owner_id}


async def create_action(
    session: AsyncSession,
    table: Table,
    values: ActionValues,
    *,
    actor_id: int | None,
    origin_item_id: int | None = None,
    client_key: str | None = None,
) -> ActionItem:
    """Record a new action item; the same form submitted twice records it once."""
    await lock_table(session, table.id)
    seat = await _owner_seat(session, table, values.owner_id)
    origin = await item_of_table(session, table, origin_item_id) if origin_item_id is not None else None
    existing = await already_made(session, ActionItem, ActionItem.table_id == table.id, client_key)
    if existing is not None:
        return existing
    action = ActionItem(
        table_id=table.id,
        title=values.title,
        owner_id=values.owner_id,
        organisation_id=seat.organisation_id if seat else None,
        due_on=values.due_on,
        origin_item_id=origin.id if origin else None,
        client_key=client_key,
        created_by=actor_id,
    )
    await texts.write(session, action, description=values.description)
    session.add(action)
    await session.flush()
    extra = {"meeting_id": origin.meeting_id, "item_id": origin.id} if origin else {}
    await audit.record(session, ActionEvent.created, actor_id=actor_id, table_id=table.id, **_payload(action), **extra)
    return action


async def update_action(
    session: AsyncSession,
    table: Table,
    action_id: int,
    values: ActionValues,
    *,
    version: int,
    actor_id: int | None,
) -> ActionItem:
    """Change title, description, owner or due date; the same change twice is a no-op, a stale one 409."""
    await lock_table(session, table.id)
    action = await get_action(session, table.id, action_id)
    seat = await _owner_seat(session, table, values.owner_id)
    current = (action.title, action.description, action.owner_id, action.due_on)
    wanted = (values.title, values.description, values.owner_id, values.due_on)
    if not is_change(session, action, current, wanted, version=version, message=_stale_message()):
        return action
    if action.status is ActionStatus.cancelled:
        raise Invalid({"status": _("A cancelled action item cannot be changed.")})
    action.title, action.due_on = values.title, values.due_on
    await texts.write(session, action, description=values.description)
    if action.owner_id != values.owner_id:
        action.owner_id = values.owner_id
        action.organisation_id = seat.organisation_id if seat else None
    await session.flush()
    await audit.record(session, ActionEvent.updated, actor_id=actor_id, table_id=table.id, **_payload(action))
    return action


async def set_status(
    session: AsyncSession, table: Table, action_id: int, status: ActionStatus | str, *, version: int, actor: Actor
) -> ActionItem:
    """Move an action item to `status`.

    The owner moves it between open, in progress and done; chair and secretary may do that too,
    and only they cancel. Asking for the status it already has is a no-op (a double click, or
    fifty people pressing the same button at once): one change, one event.
    """
    await lock_table(session, table.id)
    action = await get_action(session, table.id, action_id, related=False)
    is_owner = action.owner_id == actor.user_id
    if not (actor.manages or is_owner):
        raise Forbidden(_("Only the owner, the chair or the secretary can change this action item."))
    status = transitions.parse_status(ActionStatus, status)
    if status is ActionStatus.cancelled and not actor.manages:
        raise Forbidden(_("Only the chair or the secretary can cancel an action item."))
    await transitions.change_status(
        session,
        action,
        status,
        version=version,
        stale_message=_stale_message(),
        moves=TRANSITIONS,
        refused=_("An action item cannot go from this status to that one."),
        event=ActionEvent.status,
        actor_id=actor.user_id,
        table_id=table.id,
        payload=_payload(action),
    )
    return action


async def add_note(
    session: AsyncSession,
    table: Table,
    action_id: int,
    body: str,
    *,
    actor: Actor,
    client_key: str | None = None,
) -> ActionNote:
    """A progress note by the owner (or the chair or the secretary); the same form twice adds it once."""
    await lock_table(session, table.id)
    action = await get_action(session, table.id, action_id)
    if not (actor.manages or action.owner_id == actor.user_id):
        raise Forbidden(_("Only the owner, the chair or the secretary can add notes to this action item."))
    body = body.strip()
    if not body:
        raise Invalid({"body": _("Write the note.")})
    if len(body) > NOTE_LIMIT:
        raise Invalid({"body": _("A note can be at most {n} characters long.").format(n=NOTE_LIMIT)})
    existing = await already_made(session, ActionNote, ActionNote.action_id == action.id, client_key)
    if existing is not None:
        return existing
    note = ActionNote(action_id=action.id, author_id=actor.user_id, client_key=client_key)
    await texts.write(session, note, body=body)
    session.add(note)
    await session.flush()
    await audit.record(
        session, ActionEvent.note_added, actor_id=actor.user_id, table_id=table.id, note_id=note.id, **_payload(action)
    )
    return note


async def notes_of(session: AsyncSession, action_id: int) -> list[ActionNote]:
    return list(
        (
            await session.scalars(
                select(ActionNote)
                .options(joinedload(ActionNote.author))
                .where(ActionNote.action_id == action_id)
                .order_by(ActionNote.created_at, ActionNote.id)
            )
        ).all()
    )


async def propose_review(session: AsyncSession, table: Table, meeting: Meeting, *, actor_id: int | None) -> None:
    """Put a review of the open action items on a new meeting's agenda, listing them."""
    from server.domain import agenda  # the agenda knows nothing of actions; this is the one link

    pending = await open_actions(session, table.id)
    if not pending:
        return
    lines = []
    for action in pending:
        owner = action.owner.name if action.owner else _("no owner")
        if action.due_on:
            owner += ", " + _("due {date}").format(date=action.due_on.strftime("%d/%m/%Y"))
        lines.append(f"- {action.title} ({owner})")
    values = agenda.ItemValues(
        title=_("Review of the open action items"),
        description="\n".join(lines),
        presenter_id=None,
        planned_minutes=None,
    )
    await agenda.add_item(session, table, meeting.id, values, actor_id=actor_id, client_key=f"review-{meeting.id}")
