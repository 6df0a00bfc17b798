"""A table's meetings: convening and editing them, their agenda and their attendance.

Every action works as a plain form (answered with a redirect, or the page with the error) and,
with htmx, answers with the fragment that changed, rendered from the same template.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.db.models import AgendaStatus, Meeting, Role
from server.db.session import Database
from server.domain import actions, agenda, meetings
from server.domain.errors import Invalid, Stale
from server.i18n import TIMEZONE, _
from server.views.audience import Screen
from server.views.regions import AGENDA, ATTENDANCE, MEETING_PAGE, load, people_of
from server.web.access import TableAccess, TableRoute
from server.web.forms import is_htmx, new_client_key, number, redirect, render, text
from server.web.live import present_on


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _meeting_id(request: Request) -> int:
    return int(request.path_params["meeting_id"])


def _meeting_url(access: TableAccess, meeting_id: int) -> str:
    return f"/tavoli/{access.table.slug}/sedute/{meeting_id}"


# --- the meeting page ---------------------------------------------------------------------------


async def _meeting_page(
    request: Request, access: TableAccess, meeting_id: int, *, status: int = 200, **extra: Any
) -> Response:
    async with _db(request).read() as session:
        data = await load(session, access.table, MEETING_PAGE, Screen("meeting", meeting_id))
        people = await people_of(session, access.table.id)
        data["present"] = await present_on(request, session, access.table)
    context = {
        "audience": access.audience,
        "people": people,
        "add_form": {"client_key": new_client_key()},
        "agenda_message": None,
        "attendance_message": None,
        **data,
        **extra,
    }
    return render(request, "meetings/meeting.html", context, status)


async def meeting_page(request: Request, access: TableAccess) -> Response:
    return await _meeting_page(request, access, _meeting_id(request))


# --- convening and editing ----------------------------------------------------------------------


def _typed_meeting(form: FormData) -> dict[str, str]:
    return {name: text(form, name, 600) for name in ("title", "day", "hour", "place", "online_url", "client_key")}


def _meeting_form_values(meeting: Meeting) -> dict[str, str]:
    local = meeting.starts_at.astimezone(TIMEZONE)
    return {
        "title": meeting.title,
        "day": local.date().isoformat(),
        "hour": local.strftime("%H:%M"),
        "place": meeting.place,
        "online_url": meeting.online_url,
    }


def _parse_meeting(typed: dict[str, str]) -> meetings.MeetingValues:
    return meetings.parse_meeting(
        title=typed["title"], day=typed["day"], hour=typed["hour"], place=typed["place"], online_url=typed["online_url"]
    )


def _meeting_form(
    request: Request,
    access: TableAccess,
    form: dict[str, Any],
    *,
    meeting: Meeting | None = None,
    current: Meeting | None = None,
    status: int = 200,
) -> Response:
    context = {
        "table": access.table,
        "audience": access.audience,
        "form": form,
        "meeting": meeting,
        "current": _meeting_form_values(current) if current else None,
    }
    return render(request, "meetings/form.html", context, status)


async def new_meeting(request: Request, access: TableAccess) -> Response:
    form = {"title": "", "day": "", "hour": "15:00", "place": "", "online_url": "", "client_key": new_client_key()}
    return _meeting_form(request, access, form)


async def create_meeting(request: Request, access: TableAccess) -> Response:
    typed = _typed_meeting(await request.form())
    try:
        values = _parse_meeting(typed)
    except Invalid as exc:
        return _meeting_form(request, access, {**typed, "errors": exc.errors}, status=422)
    async with _db(request).transaction() as session:
        meeting = await meetings.create_meeting(
            session, access.table, values, actor_id=access.viewer.user_id, client_key=typed["client_key"] or None
        )
        await actions.propose_review(session, access.table, meeting, actor_id=access.viewer.user_id)
    return redirect(_meeting_url(access, meeting.id))


async def edit_meeting(request: Request, access: TableAccess) -> Response:
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, _meeting_id(request))
    form = {**_meeting_form_values(meeting), "version": meeting.version}
    return _meeting_form(request, access, form, meeting=meeting)


async def update_meeting(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed: dict[str, Any] = _typed_meeting(form)
    version = number(form, "version")
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, _meeting_id(request))
    try:
        values = _parse_meeting(typed)
        async with _db(request).transaction() as session:
            await meetings.update_meeting(
                session, access.table, meeting.id, values, version=version, actor_id=access.viewer.user_id
            )
    except Invalid as exc:
        return _meeting_form(
            request, access, {**typed, "version": version, "errors": exc.errors}, meeting=meeting, status=422
        )
    except Stale as exc:
        current = exc.current
        assert isinstance(current, Meeting)
        # The person's text stays in the form; the current version is shown beside it, and saving
        # again (now on the current version) is a deliberate choice.
        return _meeting_form(
            request,
            access,
            {**typed, "version": current.version, "stale": str(exc)},
            meeting=meeting,
            current=current,
            status=409,
        )
    return redirect(_meeting_url(access, meeting.id))


# --- the agenda ---------------------------------------------------------------------------------


def _typed_item(form: FormData) -> dict[str, str]:
    return {
        "title": text(form, "title", 600),
        "description": text(form, "description", 40_000),
        "presenter": text(form, "presenter", 20),
        "planned_minutes": text(form, "planned_minutes", 20),
        "client_key": text(form, "client_key", 40),
    }


def _parse_item(typed: dict[str, str]) -> agenda.ItemValues:
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
            return await _meeting_page(
                request,
                access,
                meeting_id,
                status=status,
                agenda_message=message,
                add_form=add_form or {"client_key": new_client_key()},
            )
        return redirect(_meeting_url(access, meeting_id) + "#agenda")
    async with _db(request).read() as session:
        data = await AGENDA.load(session, access.table, Screen("meeting", meeting_id))
        people = await people_of(session, access.table.id) if add_form is not None else []
    context = {
        **data,
        "audience": access.audience,
        "agenda_message": message,
        "announce": announce,
        "add_form": add_form,
        "people": people,
    }
    return render(request, "meetings/_agenda_response.html", context, status)


async def add_item(request: Request, access: TableAccess) -> Response:
    meeting_id = _meeting_id(request)
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
        return await _agenda_answer(request, access, meeting_id, status=422, add_form={**typed, "errors": exc.errors})
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
        meeting = await meetings.get_meeting(session, access.table.id, _meeting_id(request))
        item = await agenda.get_item(session, meeting, int(request.path_params["item_id"]))
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
        meeting = await meetings.get_meeting(session, access.table.id, _meeting_id(request))
        item = await agenda.get_item(session, meeting, int(request.path_params["item_id"]))
        people = await people_of(session, access.table.id)
    context = {"meeting": meeting, "item": item, "people": people}
    try:
        values = _parse_item(typed)
        async with _db(request).transaction() as session:
            await agenda.update_item(
                session,
                access.table,
                meeting.id,
                item.id,
                values,
                version=typed["version"],
                actor_id=access.viewer.user_id,
            )
    except Invalid as exc:
        return _item_form(request, access, {**context, "form": {**typed, "errors": exc.errors}}, 422)
    except Stale as exc:
        current = exc.current
        assert current is not None
        return _item_form(
            request,
            access,
            {
                **context,
                "current": current,
                "form": {**typed, "version": getattr(current, "version", 0), "stale": str(exc)},
            },
            409,
        )
    return redirect(_meeting_url(access, meeting.id) + f"#item-{item.id}")


async def confirm_remove_item(request: Request, access: TableAccess) -> Response:
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, _meeting_id(request))
        item = await agenda.get_item(session, meeting, int(request.path_params["item_id"]))
    return render(
        request,
        "meetings/item_remove.html",
        {"table": access.table, "meeting": meeting, "item": item, "audience": access.audience},
    )


async def remove_item(request: Request, access: TableAccess) -> Response:
    meeting_id = _meeting_id(request)
    async with _db(request).transaction() as session:
        await agenda.remove_item(
            session, access.table, meeting_id, int(request.path_params["item_id"]), actor_id=access.viewer.user_id
        )
    return await _agenda_answer(request, access, meeting_id, announce=_("Item removed from the agenda."))


async def move_item(request: Request, access: TableAccess) -> Response:
    meeting_id = _meeting_id(request)
    form = await request.form()
    to_position = number(form, "position")
    try:
        async with _db(request).transaction() as session:
            item = await agenda.move_item(
                session,
                access.table,
                meeting_id,
                int(request.path_params["item_id"]),
                to_position=to_position,
                version=number(form, "version"),
                actor_id=access.viewer.user_id,
            )
    except Invalid as exc:
        return await _agenda_answer(request, access, meeting_id, status=422, message=exc.errors["position"])
    except Stale as exc:
        return await _agenda_answer(request, access, meeting_id, status=409, message=_stale_agenda(exc))
    return await _agenda_answer(
        request,
        access,
        meeting_id,
        announce=_("Item «{title}» moved to position {position}.").format(title=item.title, position=to_position),
    )


def _stale_agenda(exc: Stale) -> str:
    return str(exc) + " " + _("This is the agenda as it is now: check it and try again.")


async def set_status(request: Request, access: TableAccess) -> Response:
    meeting_id = _meeting_id(request)
    form = await request.form()
    try:
        status = AgendaStatus(text(form, "status", 20))
    except ValueError:
        return await _agenda_answer(request, access, meeting_id, status=422, message=_("Choose a valid status."))
    try:
        async with _db(request).transaction() as session:
            item = await agenda.set_status(
                session,
                access.table,
                meeting_id,
                int(request.path_params["item_id"]),
                status,
                version=number(form, "version"),
                actor_id=access.viewer.user_id,
            )
    except Stale as exc:
        return await _agenda_answer(request, access, meeting_id, status=409, message=_stale_agenda(exc))
    from server.views.labels import status_label

    return await _agenda_answer(
        request,
        access,
        meeting_id,
        announce=_("«{title}»: {status}.").format(title=item.title, status=status_label(status)),
    )


# --- attendance ---------------------------------------------------------------------------------


async def record_attendance(request: Request, access: TableAccess) -> Response:
    meeting_id = _meeting_id(request)
    form = await request.form()
    marks: dict[int, tuple[bool, str]] = {}
    for organisation_id in form.getlist("organisation"):
        if not str(organisation_id).isdigit():
            return await _attendance_answer(request, access, meeting_id, 400, _("The request could not be understood."))
        oid = int(str(organisation_id))
        marks[oid] = (form.get(f"present-{oid}") == "on", text(form, f"delegates-{oid}", 600))
    try:
        async with _db(request).transaction() as session:
            await meetings.record_attendance(
                session,
                access.table,
                meeting_id,
                marks,
                version=number(form, "version"),
                actor_id=access.viewer.user_id,
            )
    except Invalid as exc:
        return await _attendance_answer(request, access, meeting_id, 422, " ".join(exc.errors.values()))
    except Stale as exc:
        return await _attendance_answer(
            request, access, meeting_id, 409, str(exc) + " " + _("This is the attendance as it is now.")
        )
    return await _attendance_answer(request, access, meeting_id, 200, None, _("Attendance saved."))


async def _attendance_answer(
    request: Request,
    access: TableAccess,
    meeting_id: int,
    status: int,
    message: str | None,
    announce: str | None = None,
) -> Response:
    if not is_htmx(request):
        if status >= 400:
            return await _meeting_page(request, access, meeting_id, status=status, attendance_message=message)
        return redirect(_meeting_url(access, meeting_id) + "#attendance")
    async with _db(request).read() as session:
        data = await ATTENDANCE.load(session, access.table, Screen("meeting", meeting_id))
    context = {**data, "audience": access.audience, "attendance_message": message, "announce": announce}
    return render(request, "meetings/_attendance_response.html", context, status)


_MEETING = "/tavoli/{slug}/sedute/{meeting_id:int}"
_ITEM = _MEETING + "/punti/{item_id:int}"
ROUTES = [
    TableRoute("/tavoli/{slug}/sedute/nuova", new_meeting, role=Role.secretary),
    TableRoute("/tavoli/{slug}/sedute", create_meeting, role=Role.secretary, methods=["POST"]),
    TableRoute(_MEETING, meeting_page, role=Role.observer),
    TableRoute(_MEETING, update_meeting, role=Role.secretary, methods=["POST"], name="update_meeting"),
    TableRoute(_MEETING + "/modifica", edit_meeting, role=Role.secretary),
    TableRoute(_MEETING + "/punti", add_item, role=Role.secretary, methods=["POST"]),
    TableRoute(_ITEM, update_item, role=Role.secretary, methods=["POST"]),
    TableRoute(_ITEM + "/modifica", edit_item, role=Role.secretary),
    TableRoute(_ITEM + "/rimuovi", confirm_remove_item, role=Role.secretary),
    TableRoute(_ITEM + "/rimuovi", remove_item, role=Role.secretary, methods=["POST"], name="remove_item_post"),
    TableRoute(_ITEM + "/sposta", move_item, role=Role.secretary, methods=["POST"]),
    TableRoute(_ITEM + "/stato", set_status, role=Role.secretary, methods=["POST"]),
    TableRoute(_MEETING + "/presenze", record_attendance, role=Role.secretary, methods=["POST"]),
]
