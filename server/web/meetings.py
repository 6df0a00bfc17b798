"""A table's meetings: convening and editing them, the meeting page, and its attendance.

The agenda, shown on the meeting page, has its own module (server/web/agenda.py). Every action
works as a plain form (answered with a redirect, or the page with the error) and, with htmx,
answers with the fragment that changed, rendered from the same template.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.db.models import Meeting, Role
from server.db.session import Database
from server.domain import actions, inputs, meeting_life, meetings
from server.domain.errors import Invalid
from server.i18n import TIMEZONE, _
from server.views.areas import CATALOG
from server.views.audience import Screen
from server.views.meetings import ATTENDANCE, MEETING_PAGE
from server.views.regions import people_of
from server.web.access import TableAccess, TableRoute
from server.web.editing import Refused, attempt, save_edit
from server.web.forms import is_htmx, new_client_key, number, redirect, render, text
from server.web.live import present_on


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def meeting_id_of(request: Request) -> int:
    return int(request.path_params["meeting_id"])


def meeting_url(access: TableAccess, meeting_id: int) -> str:
    return f"/tavoli/{access.table.slug}/sedute/{meeting_id}"


# --- the meeting page ---------------------------------------------------------------------------


async def render_meeting_page(
    request: Request, access: TableAccess, meeting_id: int, *, status: int = 200, **extra: Any
) -> Response:
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, MEETING_PAGE, Screen("meeting", meeting_id), access.audience)
        people = await people_of(session, access.table.id)
        data["present"] = await present_on(request, session, access.table)
    membership = access.membership
    context = {
        "audience": access.audience,
        "people": people,
        "add_form": {"client_key": new_client_key()},
        "agenda_message": None,
        "attendance_message": None,
        # Per-organisation controls (ask to speak, check in) show for this organisation (owner.js).
        "own_organisation": membership.organisation_id if membership and membership.role is not Role.observer else None,
        **data,
        **extra,
    }
    return render(request, "meetings/meeting.html", context, status)


async def meeting_page(request: Request, access: TableAccess) -> Response:
    return await render_meeting_page(request, access, meeting_id_of(request))


# --- convening and editing ----------------------------------------------------------------------


def _typed_meeting(form: FormData) -> dict[str, str]:
    typed = {name: text(form, name, 600) for name in ("title", "day", "hour", "place", "online_url")}
    return {**typed, "client_key": text(form, "client_key", 40)}  # the column's length


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
        # What the last closed meeting left deferred or undiscussed (server/domain/meeting_life.py).
        await meeting_life.propose_carried(session, access.table, meeting, actor_id=access.viewer.user_id)
    return redirect(meeting_url(access, meeting.id))


async def edit_meeting(request: Request, access: TableAccess) -> Response:
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, meeting_id_of(request))
    form = {**_meeting_form_values(meeting), "version": meeting.version}
    return _meeting_form(request, access, form, meeting=meeting)


async def update_meeting(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed: dict[str, Any] = {**_typed_meeting(form), "version": number(form, "version")}
    async with _db(request).read() as session:
        meeting = await meetings.get_meeting(session, access.table.id, meeting_id_of(request))

    async def change(session: AsyncSession, values: meetings.MeetingValues, version: int) -> Meeting:
        return await meetings.update_meeting(
            session, access.table, meeting.id, values, version=version, actor_id=access.viewer.user_id
        )

    def form_page(form: dict[str, Any], current: Meeting | None, status: int) -> Response:
        return _meeting_form(request, access, form, meeting=meeting, current=current, status=status)

    return await save_edit(
        request,
        typed,
        parse=_parse_meeting,
        change=change,
        record=Meeting,
        form_page=form_page,
        done=lambda _saved: redirect(meeting_url(access, meeting.id)),
    )


# --- attendance ---------------------------------------------------------------------------------


async def record_attendance(request: Request, access: TableAccess) -> Response:
    meeting_id = meeting_id_of(request)
    form = await request.form()
    marks: dict[int, tuple[bool, str]] = {}
    for organisation_id in form.getlist("organisation"):
        oid = inputs.record_id(organisation_id if isinstance(organisation_id, str) else None)
        if oid is None:  # a hidden field: only a hand-made request gets here
            return await _attendance_answer(request, access, meeting_id, 400, _("The request could not be understood."))
        marks[oid] = (form.get(f"present-{oid}") == "on", text(form, f"delegates-{oid}", 600))
    version = number(form, "version")

    async def record(session: AsyncSession) -> None:
        await meetings.record_attendance(
            session, access.table, meeting_id, marks, version=version, actor_id=access.viewer.user_id
        )

    refused = await attempt(request, record, as_it_is_now=_("This is the attendance as it is now."))
    if isinstance(refused, Refused):
        return await _attendance_answer(request, access, meeting_id, refused.status, refused.message)
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
            return await render_meeting_page(request, access, meeting_id, status=status, attendance_message=message)
        return redirect(meeting_url(access, meeting_id) + "#attendance")
    async with _db(request).read() as session:
        data = await ATTENDANCE.load(session, access.table, Screen("meeting", meeting_id))
    context = {**data, "audience": access.audience, "attendance_message": message, "announce": announce}
    return render(request, "meetings/_attendance_response.html", context, status)


MEETING = "/tavoli/{slug}/sedute/{meeting_id:int}"  # also the agenda's (server/web/agenda.py)
ROUTES = [
    TableRoute("/tavoli/{slug}/sedute/nuova", new_meeting, role=Role.secretary, name="new_meeting"),
    TableRoute("/tavoli/{slug}/sedute", create_meeting, role=Role.secretary, methods=["POST"], name="create_meeting"),
    TableRoute(MEETING, meeting_page, role=Role.observer, name="meeting"),
    TableRoute(MEETING, update_meeting, role=Role.secretary, methods=["POST"], name="update_meeting"),
    TableRoute(MEETING + "/modifica", edit_meeting, role=Role.secretary, name="edit_meeting"),
    TableRoute(
        MEETING + "/presenze",
        record_attendance,
        role=Role.secretary,
        methods=["POST"],
        name="meeting_attendance",
    ),
]
