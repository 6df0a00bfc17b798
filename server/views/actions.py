"""The action items area: open items on the table's home, the list, one item, one's own items."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import ActionItem, ActionStatus, Table
from server.domain import actions, audit
from server.domain.actions import ActionEvent
from server.domain.tables import organisations
from server.i18n import _
from server.views.area import Area, ScreenKind, Sentence
from server.views.audience import Screen
from server.views.regions import Region, people_of, record_of
from server.views.tables import MEMBERSHIP, TABLE_CHANGED

ACTION_CHANGED = frozenset(ActionEvent)
OWNER = "responsabile"  # the filter that names an owner, in the list's address and in "my action items"


async def _actions(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    return {"table": table, "actions": await actions.open_actions(session, table.id), "today": actions.today()}


async def _filters(session: AsyncSession, table: Table, screen: Screen) -> actions.Filters:
    """The list's filters from the screen's query, checked against the table's people (BadQuery)."""
    people = {user.id for user, _org in await people_of(session, table.id)}
    known = {o.slug: o.id for o in await organisations(session)}
    return actions.filters_from(dict(screen.query), people, known)


async def _check_filters(session: AsyncSession, table: Table, screen: Screen) -> None:
    await _filters(session, table, screen)


async def _action_list(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    people = await people_of(session, table.id)
    known = await organisations(session)
    chosen = dict(screen.query)
    filters = actions.filters_from(chosen, {user.id for user, _org in people}, {o.slug: o.id for o in known})
    used = await actions.organisations_with_actions(session, table.id)
    return {
        "table": table,
        "actions": await actions.actions_of(session, table.id, filters),
        "people": people,
        "organisations": [o for o in known if o.id in used],
        "chosen": chosen,
        "filtered": bool(chosen),
        "today": actions.today(),
    }


async def _action(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    action = await actions.get_action(session, table.id, record_of(screen, "action"))
    notes = await actions.notes_of(session, action.id)
    return {"table": table, "action": action, "notes": notes, "today": actions.today()}


async def _action_history(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    action_id = record_of(screen, "action")
    return {"table": table, "action_events": await audit.history_of(session, table.id, "action", action_id)}


async def _my_actions(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    """One person's action items on this table ("my action items"): the screen names the owner."""
    owner = dict(screen.query).get(OWNER, "")
    if screen.kind != "mine" or not owner.isdigit():
        raise ValueError(f"my action items on {screen}")
    mine = await actions.my_actions(session, int(owner), table_id=table.id)
    return {"table": table, "my_actions": [action for _table, action in mine], "today": actions.today()}


def mine_screen(user_id: int) -> Screen:
    """A person's own action items on a table (the "my action items" page has one per table)."""
    return Screen("mine", None, ((OWNER, str(user_id)),))


ACTIONS = Region("actions", "actions/_open.html", _actions, follows=ACTION_CHANGED)
ACTION_LIST = Region(
    "action-list", "actions/_list.html", _action_list, filtered=True, follows=ACTION_CHANGED | MEMBERSHIP
)
ACTION = Region("action", "actions/_action.html", _action, record="action", follows=ACTION_CHANGED)
ACTION_HISTORY = Region(
    "action-history", "actions/_history.html", _action_history, record="action", follows=ACTION_CHANGED
)
MY_ACTIONS = Region(
    "my-actions", "actions/_mine.html", _my_actions, filtered=True, follows=ACTION_CHANGED | TABLE_CHANGED
)
ACTION_LIST_PAGE = (ACTION_LIST,)
ACTION_PAGE = (ACTION, ACTION_HISTORY)


def action_status_label(status: ActionStatus | str) -> str:
    labels = {
        ActionStatus.open: _("Open"),
        ActionStatus.in_progress: _("In progress"),
        ActionStatus.done: _("Done"),
        ActionStatus.cancelled: _("Cancelled"),
    }
    return labels[ActionStatus(status)]


def action_status_options() -> list[tuple[str, str]]:
    return [(status.value, action_status_label(status)) for status in ActionStatus]


def action_moves(status: ActionStatus, *, manages: bool) -> list[tuple[str, str]]:
    """The status buttons of an action item in `status`: the owner's, plus cancelling for managers."""
    names = {
        ActionStatus.open: _("Reopen"),
        ActionStatus.in_progress: _("Start"),
        ActionStatus.done: _("Mark as done"),
        ActionStatus.cancelled: _("Cancel the action"),
    }
    order = [ActionStatus.in_progress, ActionStatus.done, ActionStatus.open, ActionStatus.cancelled]
    allowed = actions.TRANSITIONS[ActionStatus(status)]
    return [(s.value, names[s]) for s in order if s in allowed and (manages or s is not ActionStatus.cancelled)]


def _status_sentence(payload: dict[str, Any]) -> str:
    status = action_status_label(payload.get("status", "open"))
    return _("set the action item «{title}» to {status}").format(**{**payload, "status": status})


def _sentences() -> Mapping[str, Sentence]:
    return {
        ActionEvent.created: _("recorded the action item «{title}»"),
        ActionEvent.updated: _("changed the action item «{title}»"),
        ActionEvent.note_added: _("added a progress note to «{title}»"),
        ActionEvent.status: _status_sentence,
    }


AREA = Area(
    name="actions",
    events=(ActionEvent,),
    sentences=_sentences,
    screens=(
        ScreenKind("actions", ACTION_LIST_PAGE, listing="azioni", check=_check_filters),
        ScreenKind("action", ACTION_PAGE, param="azione", model=ActionItem),
        ScreenKind("mine", (MY_ACTIONS,), listing="mie", for_person=mine_screen),
    ),
    home_main=(ACTIONS,),
    template_globals={
        "action_status_label": action_status_label,
        "action_status_options": action_status_options,
        "action_moves": action_moves,
        "is_overdue": actions.is_overdue,
    },
    routes=("server.web.actions",),
    demo="server.demo.actions",
)
