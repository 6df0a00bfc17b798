"""A table's action items: the list with its filters, one item's page, recording and updating them.

Like the agenda, every action works as a plain form (answered with a redirect, or the page with
the error) and, from the table's home under htmx, answers with the fragment that changed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.db.models import ActionItem, Role
from server.db.session import Database
from server.domain import actions, proposals
from server.domain.errors import Invalid
from server.domain.tables import tables_for
from server.i18n import _
from server.views.actions import ACTION_LIST_PAGE, ACTION_PAGE, ACTIONS, action_status_label
from server.views.areas import CATALOG, list_screen
from server.views.audience import Screen
from server.views.regions import TABLE_HOME, people_of
from server.web.access import TableAccess, TableRoute
from server.web.editing import Refused, attempt, save_edit
from server.web.errors import LoginRequired
from server.web.forms import is_htmx, new_client_key, number, optional_id, query_id, redirect, render, text
from server.web.live import live_query
from server.web.sessions import Viewer


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _action_id(request: Request) -> int:
    return int(request.path_params["action_id"])


def _url(access: TableAccess, action_id: int | None = None) -> str:
    base = f"/tavoli/{access.table.slug}/azioni"
    return base if action_id is None else f"{base}/{action_id}"


def _actor(access: TableAccess) -> actions.Actor:
    assert access.viewer.user_id is not None
    return actions.Actor(access.viewer.user_id, access.role)


# --- the list -------------------------------------------------------------------------------------


async def list_page(request: Request, access: TableAccess) -> Response:
    """The table's action items, filtered from the address (an unknown filter or order is a 400)."""
    page = list_screen("actions", request.query_params.multi_items())
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, ACTION_LIST_PAGE, page, access.audience)
    return render(request, "actions/list.html", {**data, "audience": access.audience, "live_query": live_query(page)})


# --- one action item ------------------------------------------------------------------------------


async def _action_context(request: Request, access: TableAccess, action_id: int) -> dict[str, Any]:
    """The page's data: its live regions' (as the hub pushes them) and what is this viewer's own."""
    page = Screen("action", action_id)
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, ACTION_PAGE, page, access.audience)
    may_write = access.role is not None and access.role is not Role.observer
    owns = data["action"].owner_id == access.viewer.user_id
    return {
        **data,
        "audience": access.audience,
        "live_query": live_query(page),
        "may_note": may_write and (access.audience.runs_meetings or owns),
        "note_form": {"client_key": new_client_key()},
        "message": None,
    }


async def action_page(request: Request, access: TableAccess) -> Response:
    return render(request, "actions/action.html", await _action_context(request, access, _action_id(request)))


def _typed(form: FormData) -> dict[str, str]:
    return {
        "title": text(form, "title", 600),
        "description": text(form, "description", 40_000),
        "owner": text(form, "owner", 20),
        "due_on": text(form, "due_on", 40),
        "client_key": text(form, "client_key", 40),
        "origin": text(form, "origin", 20),
        "proposal": text(form, "proposal", 20),
    }


def _parse(typed: dict[str, str]) -> actions.ActionValues:
    return actions.parse_action(
        title=typed["title"], description=typed["description"], owner=typed["owner"], due_on=typed["due_on"]
    )


async def _form(
    request: Request,
    access: TableAccess,
    form: dict[str, Any],
    *,
    action: ActionItem | None = None,
    current: ActionItem | None = None,
    status: int = 200,
) -> Response:
    async with _db(request).read() as session:
        people = await people_of(session, access.table.id)
    context = {
        "table": access.table,
        "audience": access.audience,
        "people": people,
        "form": form,
        "action": action,
        "current": current,
    }
    return render(request, "actions/form.html", context, status)


async def new_action(request: Request, access: TableAccess) -> Response:
    origin, proposal = query_id(request, "punto"), query_id(request, "proposta")
    form = {
        "title": "",
        "description": "",
        "owner": "",
        "due_on": "",
        "origin": str(origin or ""),
        "proposal": str(proposal or ""),
        "client_key": new_client_key(),
    }
    return await _form(request, access, form)


async def create_action(request: Request, access: TableAccess) -> Response:
    typed = _typed(await request.form())
    origin_id, proposal_id = optional_id(typed["origin"]), optional_id(typed["proposal"])  # hidden: 400
    try:
        values = _parse(typed)
        async with _db(request).transaction() as session:
            if proposal_id is not None:  # carrying out an approved proposal
                action = await proposals.action_from(
                    session,
                    access.table,
                    proposal_id,
                    values,
                    actor=_actor(access),
                    client_key=typed["client_key"] or None,
                )
            else:
                action = await actions.create_action(
                    session,
                    access.table,
                    values,
                    actor_id=access.viewer.user_id,
                    origin_item_id=origin_id,
                    client_key=typed["client_key"] or None,
                )
    except Invalid as exc:
        return await _form(request, access, {**typed, "errors": exc.errors}, status=422)
    return redirect(_url(access, action.id))


async def edit_action(request: Request, access: TableAccess) -> Response:
    async with _db(request).read() as session:
        action = await actions.get_action(session, access.table.id, _action_id(request))
    form = {
        "title": action.title,
        "description": action.description,
        "owner": str(action.owner_id or ""),
        "due_on": action.due_on.isoformat() if action.due_on else "",
        "version": action.version,
    }
    return await _form(request, access, form, action=action)


async def update_action(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed: dict[str, Any] = {**_typed(form), "version": number(form, "version")}
    async with _db(request).read() as session:
        action = await actions.get_action(session, access.table.id, _action_id(request))

    async def change(session: AsyncSession, values: actions.ActionValues, version: int) -> ActionItem:
        return await actions.update_action(
            session, access.table, action.id, values, version=version, actor_id=access.viewer.user_id
        )

    async def form_page(form: dict[str, Any], current: ActionItem | None, status: int) -> Response:
        return await _form(request, access, form, action=action, current=current, status=status)

    return await save_edit(
        request,
        typed,
        parse=_parse,
        change=change,
        record=ActionItem,
        form_page=form_page,
        done=lambda _saved: redirect(_url(access, action.id)),
    )


async def set_status(request: Request, access: TableAccess) -> Response:
    action_id = _action_id(request)
    form = await request.form()
    status, version = text(form, "status", 20), number(form, "version")

    async def change(session: AsyncSession) -> ActionItem:
        return await actions.set_status(session, access.table, action_id, status, version=version, actor=_actor(access))

    action = await attempt(
        request, change, as_it_is_now=_("This is the action item as it is now: check it and try again.")
    )
    message, code, announce = None, 200, None
    if isinstance(action, Refused):
        message, code = action.message, action.status
    else:
        announce = _("«{title}»: {status}.").format(title=action.title, status=action_status_label(action.status))
    if is_htmx(request):
        async with _db(request).read() as session:
            data = await ACTIONS.load(session, access.table, TABLE_HOME)
        context = {**data, "audience": access.audience, "actions_message": message, "announce": announce}
        return render(request, "actions/_open_response.html", context, code)
    if code != 200:
        context = await _action_context(request, access, action_id)
        return render(request, "actions/action.html", {**context, "message": message}, code)
    return redirect(_url(access, action_id))


async def add_note(request: Request, access: TableAccess) -> Response:
    action_id = _action_id(request)
    form = await request.form()
    body = text(form, "body", 20_000)
    key = text(form, "client_key", 40)
    try:
        async with _db(request).transaction() as session:
            await actions.add_note(session, access.table, action_id, body, actor=_actor(access), client_key=key or None)
    except Invalid as exc:
        context = await _action_context(request, access, action_id)
        note_form = {"body": body, "client_key": key, "errors": exc.errors}
        return render(request, "actions/action.html", {**context, "note_form": note_form}, 422)
    return redirect(_url(access, action_id) + "#notes")


# --- my action items ------------------------------------------------------------------------------


async def my_actions_page(request: Request) -> Response:
    viewer: Viewer = request.state.viewer
    if viewer.user_id is None:
        raise LoginRequired()
    async with _db(request).read() as session:
        tables = await tables_for(session, viewer.user_id)
        mine = await actions.my_actions(session, viewer.user_id)
    by_table: dict[int, list[ActionItem]] = {}
    for table, action in mine:
        by_table.setdefault(table.id, []).append(action)
    context = {"tables": [table for table, _role in tables.mine], "mine": by_table, "today": actions.today()}
    return render(request, "actions/mine.html", context)


_ACTION = "/tavoli/{slug}/azioni/{action_id:int}"
ROUTES = [
    Route("/azioni", my_actions_page, methods=["GET"], name="my_actions"),
    TableRoute("/tavoli/{slug}/azioni", list_page, role=Role.observer, name="actions"),
    TableRoute("/tavoli/{slug}/azioni", create_action, role=Role.secretary, methods=["POST"], name="create_action"),
    TableRoute("/tavoli/{slug}/azioni/nuova", new_action, role=Role.secretary, name="new_action"),
    TableRoute(_ACTION, action_page, role=Role.observer, name="action"),
    TableRoute(_ACTION, update_action, role=Role.secretary, methods=["POST"], name="update_action"),
    TableRoute(_ACTION + "/modifica", edit_action, role=Role.secretary, name="edit_action"),
    TableRoute(_ACTION + "/stato", set_status, role=Role.member, methods=["POST"], name="set_action_status"),
    TableRoute(_ACTION + "/note", add_note, role=Role.member, methods=["POST"], name="add_action_note"),
]
