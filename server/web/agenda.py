"""A meeting's agenda: adding, editing, removing and moving its items, and marking their status.

Like the meeting page it lives on, every action works as a plain form (answered with a redirect,
or the meeting page with the error) and, with htmx, answers with the agenda fragment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.db.models import AgendaItem, AgendaStatus, Role
from server.db.session import Database
from server.domain import agenda, meetings
from server.domain.errors import Invalid
from server.i18n import _
from server.views.audience import Screen
from server.views.meetings import AGENDA, status_label
from server.views.regions import people_of
from server.web.access import TableAccess, TableRoute
from server.web.editing import Refused, attempt, save_edit
from server.web.forms import is_htmx, new_client_key, number, redirect, render, text
from server.web.meetings import MEETING, meeting_id_of, meeting_url, render_meeting_page


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _item_id(request: Request) -> int:
    return int(request.path_params["item_id"])


def _typed_item(form: FormData) -> dict[str, str]:
    return {
        "title": text(form, "title", 600),
        "description": text(form, "description", 40_000),
        "presenter": text(form, "presenter", 20),
        "planned_minutes": text(form, "planned_minutes", 20),
        "client_key": text(form, "client_key", 40),
    }


def _parse_item(typed: dict[str, Any]) -> agenda.ItemValues:
    return agenda.parse_item(
        title=typed["title"],
        description=typed["description"],
        presenter=typed["presenter"],
        planned_minutes=typed["planned_minutes"],
    )


async def _agenda_answer(
    request: Request,
    access: TableAccess,
    meeting_id: int,
    *,
    status: int = 200,
    message: str | None = None,
    announce: str | None = None,
    add_form: dict[str, Any] | None = None,
) -> Response:
    """After an agenda action: the agenda fragment (htmx) or the meeting page / a redirect (plain form)."""
    if not is_htmx(request):
        if status >= 400:
            return await render_meeting_page(
                request,
                access,
                meeting_id,
                status=status,
                agenda_message=message,
                add_form=add_form or {"client_key": new_client_key()},
            )
        return redirect(meeting_url(access, meeting_id) + "#agenda")
    async with _db(request).read() as session:
        data = await AGENDA.load(session, access.table, Screen("meeting", meeting_id))
        people = await people_of(session, access.table.id) if add_form is not None else []
    context = {
        **data,
        "audience": access.audience,
        "agenda_message": message,
        "announce": announce,
        "add_form": add_form,
        "add_open": add_form is not None,
        "people": people,
    }
    return render(request, "meetings/_agenda_response.html", context, status)


async def _refused(
    request: Request, access: TableAccess, meeting_id: int, refused: Refused, not_done: str | None = None
) -> Response:
    """The agenda as it is now, and beside it (in the notice no push replaces) what was not done and why."""
    message = f"{not_done} {refused.message}" if not_done else refused.message
    return await _agenda_answer(request, access, meeting_id, status=refused.status, message=message)


async def _title_of(request: Request, access: TableAccess, meeting_id: int) -> str:
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, meeting_id)
        return (await agenda.get_item(session, meeting, _item_id(request))).title


def _as_it_is_now() -> str:
    return _("This is the agenda as it is now: check it and try again.")


async def add_item(request: Request, access: TableAccess) -> Response:
    meeting_id = meeting_id_of(request)
    typed = _typed_item(await request.form())
    try:
        values = _parse_item(typed)
        async with _db(request).transaction() as session:
            item = await agenda.add_item(
                session,
                access.table,
                meeting_id,
                values,
                actor_id=access.viewer.user_id,
                client_key=typed["client_key"] or None,
            )
    except Invalid as exc:
        # A refusal that is no field's (a closed meeting) is said in the agenda's notice.
        return await _agenda_answer(
            request,
            access,
            meeting_id,
            status=422,
            message=exc.errors.get("meeting"),
            add_form={**typed, "errors": exc.errors},
        )
    return await _agenda_answer(
        request,
        access,
        meeting_id,
        add_form={"client_key": new_client_key()},
        announce=_("Item «{title}» added to the agenda.").format(title=item.title),
    )


def _item_form(request: Request, access: TableAccess, context: dict[str, Any], status: int = 200) -> Response:
    return render(
        request,
        "meetings/item_form.html",
        {"table": access.table, "audience": access.audience, "current": None, **context},
        status,
    )


async def edit_item(request: Request, access: TableAccess) -> Response:
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, meeting_id_of(request))
        item = await agenda.get_item(session, meeting, _item_id(request))
        people = await people_of(session, access.table.id)
    form = {
        "title": item.title,
        "description": item.description,
        "presenter": str(item.presenter_id or ""),
        "planned_minutes": str(item.planned_minutes or ""),
        "version": item.version,
    }
    return _item_form(request, access, {"meeting": meeting, "item": item, "people": people, "form": form})


async def update_item(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed: dict[str, Any] = {**_typed_item(form), "version": number(form, "version")}
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, meeting_id_of(request))
        item = await agenda.get_item(session, meeting, _item_id(request))
        people = await people_of(session, access.table.id)

    async def change(session: AsyncSession, values: agenda.ItemValues, version: int) -> AgendaItem:
        return await agenda.update_item(
            session, access.table, meeting.id, item.id, values, version=version, actor_id=access.viewer.user_id
        )

    def form_page(form: dict[str, Any], current: AgendaItem | None, status: int) -> Response:
        context = {"meeting": meeting, "item": item, "people": people, "form": form, "current": current}
        return _item_form(request, access, context, status)

    return await save_edit(
        request,
        typed,
        parse=_parse_item,
        change=change,
        record=AgendaItem,
        form_page=form_page,
        done=lambda item: redirect(meeting_url(access, meeting.id) + f"#item-{item.id}"),
    )


async def confirm_remove_item(request: Request, access: TableAccess) -> Response:
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, meeting_id_of(request))
        item = await agenda.get_item(session, meeting, _item_id(request))
    return render(
        request,
        "meetings/item_remove.html",
        {"table": access.table, "meeting": meeting, "item": item, "audience": access.audience},
    )


async def remove_item(request: Request, access: TableAccess) -> Response:
    meeting_id = meeting_id_of(request)
    async with _db(request).transaction() as session:
        await agenda.remove_item(session, access.table, meeting_id, _item_id(request), actor_id=access.viewer.user_id)
    return await _agenda_answer(request, access, meeting_id, announce=_("Item removed from the agenda."))


async def move_item(request: Request, access: TableAccess) -> Response:
    meeting_id = meeting_id_of(request)
    form = await request.form()
    to_position, version = number(form, "position"), number(form, "version")

    async def move(session: AsyncSession) -> AgendaItem:
        return await agenda.move_item(
            session,
            access.table,
            meeting_id,
            _item_id(request),
            to_position=to_position,
            version=version,
            actor_id=access.viewer.user_id,
        )

    return await _one_button(
        request,
        access,
        meeting_id,
        move,
        lambda item: _("Item «{title}» moved to position {position}.").format(title=item.title, position=to_position),
        lambda title: _("«{title}» was not moved.").format(title=title),
    )


async def set_status(request: Request, access: TableAccess) -> Response:
    meeting_id = meeting_id_of(request)
    form = await request.form()
    try:
        status = AgendaStatus(text(form, "status", 20))
    except ValueError:
        return await _agenda_answer(request, access, meeting_id, status=422, message=_("Choose a valid status."))
    version = number(form, "version")

    async def mark(session: AsyncSession) -> AgendaItem:
        return await agenda.set_status(
            session,
            access.table,
            meeting_id,
            _item_id(request),
            status,
            version=version,
            actor_id=access.viewer.user_id,
        )

    return await _one_button(
        request,
        access,
        meeting_id,
        mark,
        lambda item: _("«{title}»: {status}.").format(title=item.title, status=status_label(status)),
        lambda title: _("«{title}» was not marked as «{status}».").format(title=title, status=status_label(status)),
    )


async def _one_button(
    request: Request,
    access: TableAccess,
    meeting_id: int,
    change: Callable[[AsyncSession], Awaitable[AgendaItem]],
    said: Callable[[AgendaItem], str],
    not_done: Callable[[str], str],
) -> Response:
    """A one-button change of an item (move it, set its status): the agenda with what happened
    announced, or with the refusal beside it, naming the item that was left as it is."""
    item = await attempt(request, change, as_it_is_now=_as_it_is_now())
    if isinstance(item, Refused):
        return await _refused(request, access, meeting_id, item, not_done(await _title_of(request, access, meeting_id)))
    return await _agenda_answer(request, access, meeting_id, announce=said(item))


_ITEM = MEETING + "/punti/{item_id:int}"
ROUTES = [
    TableRoute(MEETING + "/punti", add_item, role=Role.secretary, methods=["POST"], name="add_agenda_item"),
    TableRoute(_ITEM, update_item, role=Role.secretary, methods=["POST"], name="agenda_item"),
    TableRoute(_ITEM + "/modifica", edit_item, role=Role.secretary, name="edit_agenda_item"),
    TableRoute(_ITEM + "/rimuovi", confirm_remove_item, role=Role.secretary, name="remove_agenda_item"),
    TableRoute(_ITEM + "/rimuovi", remove_item, role=Role.secretary, methods=["POST"], name="remove_item_post"),
    TableRoute(_ITEM + "/sposta", move_item, role=Role.secretary, methods=["POST"], name="move_agenda_item"),
    TableRoute(_ITEM + "/stato", set_status, role=Role.secretary, methods=["POST"], name="agenda_item_status"),
]
