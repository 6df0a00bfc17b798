"""A meeting's minutes page (`/tavoli/<slug>/sedute/<id>/verbale`) and what is done from it.

Before drafting starts the page shows the outline the draft will have; then the draft in the
collaborative editor (the chair and the secretary write it, everyone else reads it live), what the
records say on each agenda item, the remarks, and the buttons that move the minutes along, each
shown to the roles that may press it (the domain checks them all again). Every action is a plain
form answered with a redirect, or with the page and the reason beside it; recording an action
item answers htmx with its form, so the secretary never leaves the page.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from server.db.models import Minutes, MinutesStatus, Role
from server.db.session import Database
from server.domain import actions, documents, minutes_publishing, minutes_remarks, proposal_bodies
from server.domain import minutes as minutes_domain
from server.domain.actions import Actor
from server.domain.agenda import agenda_of
from server.domain.errors import Duplicate, Invalid, Stale
from server.domain.meetings import get_meeting
from server.i18n import _
from server.live.connection import RECONNECT
from server.live.documents import FROZEN
from server.views.areas import CATALOG
from server.views.audience import Screen
from server.views.minutes import MINUTES_PAGE, SCREEN, minutes_of
from server.views.regions import people_of
from server.web.access import TableAccess, TableRoute
from server.web.editing import Refused, attempt
from server.web.forms import is_htmx, new_client_key, number, optional_id, redirect, render, text
from server.web.live import live_query, present_on

T = TypeVar("T")


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _meeting_id(request: Request) -> int:
    return int(request.path_params["meeting_id"])


def _actor(access: TableAccess) -> Actor:
    assert access.viewer.user_id is not None
    return Actor(access.viewer.user_id, access.role)


def _url(request: Request, access: TableAccess, anchor: str = "") -> str:
    return str(request.app.url_path_for("minutes", slug=access.table.slug, meeting_id=_meeting_id(request))) + anchor


# --- the page -------------------------------------------------------------------------------------


async def _editor(request: Request, access: TableAccess, minutes: Minutes | None) -> dict[str, Any] | None:
    """The draft's document for this viewer: written by the chair and the secretary while it is a
    draft, read live by everyone else with a role (None before drafting and once published)."""
    if minutes is None or minutes.document_id is None or minutes.status is MinutesStatus.published:
        return None
    audience = access.audience
    async with _db(request).read() as session:
        document = await documents.get(session, minutes.document_id)
        if document is None:
            return None
        allowed = await minutes_domain.document_access(
            session, document, role=audience.role, organisation_id=audience.organisation_id, is_admin=audience.is_admin
        )
        if allowed is documents.DocumentAccess.none:
            return None
        current = await documents.text_of(session, document.id)
    writes = allowed is documents.DocumentAccess.edit
    shown = Markup("")
    if not writes:  # the readers' text without JavaScript, through the one Markdown pipeline (it sanitises)
        html = await _db(request).markdown.render(current)
        shown = Markup('<div class="markdown" hx-disable>{}</div>').format(Markup(html))  # noqa: S704
    return {"id": document.id, "writes": writes, "text": current, "html": shown}


async def _context(request: Request, access: TableAccess) -> dict[str, Any]:
    page = Screen(SCREEN, _meeting_id(request))
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, MINUTES_PAGE, page, access.audience)
        data["present"] = await present_on(request, session, access.table)
        people = await people_of(session, access.table.id)
        items = await agenda_of(session, _meeting_id(request))
    minutes: Minutes | None = data["minutes"]
    role = access.role
    is_open = minutes is not None and minutes.status is not MinutesStatus.published
    return {
        **data,
        "audience": access.audience,
        "live_query": live_query(page),
        "people": people,
        "agenda_options": [(str(item.id), f"{n}. {item.title}") for n, item in enumerate(items, start=1)],
        "remark_options": [("", _("The minutes as a whole"))]
        + [(str(item.id), f"{n}. {item.title}") for n, item in enumerate(items, start=1)],
        "may_remark": is_open and role is not None and role is not Role.observer,
        "may_record_action": bool(items)
        and access.audience.runs_meetings
        and (minutes is None or minutes.status in (MinutesStatus.draft, MinutesStatus.sent)),
        "action_form": {"client_key": new_client_key()},
        "remark_form": {"client_key": new_client_key()},
        "message": None,
    }


async def _page(request: Request, access: TableAccess, status: int = 200, **extra: Any) -> Response:
    context = await _context(request, access)
    editor = await _editor(request, access, context["minutes"])
    return render(request, "minutes/minutes.html", {**context, "editor": editor, **extra}, status)


async def minutes_page(request: Request, access: TableAccess) -> Response:
    return await _page(request, access)


async def _answer(request: Request, access: TableAccess, outcome: Any, anchor: str = "") -> Response:
    """A one-button change: the page with why it was refused, or back to the page."""
    if isinstance(outcome, Refused):
        return await _page(request, access, outcome.status, message=outcome.message)
    return redirect(_url(request, access, anchor))


async def _minutes_id(request: Request, access: TableAccess) -> int:
    async with _db(request).read() as session:
        minutes = await minutes_of(session, _meeting_id(request))
    if minutes is None or minutes.table_id != access.table.id:
        raise HTTPException(404)
    return minutes.id


def _as_it_is_now() -> str:
    return _("This is the state of the minutes now: check it and try again.")


async def _try(request: Request, change: Callable[[AsyncSession], Awaitable[T]]) -> T | Refused:
    """`attempt`, which also says why when the record already exists (409)."""
    return await attempt(request, change, as_it_is_now=_as_it_is_now(), also={Duplicate: 409})


# --- the lifecycle --------------------------------------------------------------------------------


async def start(request: Request, access: TableAccess) -> Response:
    async def change(session: AsyncSession) -> Minutes:
        return await minutes_domain.start_drafting(session, access.table, _meeting_id(request), actor=_actor(access))

    return await _answer(request, access, await _try(request, change))


async def send(request: Request, access: TableAccess) -> Response:
    version = number(await request.form(), "version")
    minutes_id = await _minutes_id(request, access)

    async def change(session: AsyncSession) -> minutes_domain.Sent:
        return await minutes_domain.send_for_approval(
            session, access.table, minutes_id, version=version, actor=_actor(access)
        )

    outcome = await _try(request, change)
    if not isinstance(outcome, Refused) and outcome.document_id is not None:
        # The text is frozen: its sockets close everywhere (the editors' islands say so).
        await request.app.state.documents.close_document(outcome.document_id, FROZEN)
    return await _answer(request, access, outcome)


async def reopen(request: Request, access: TableAccess) -> Response:
    version = number(await request.form(), "version")
    minutes_id = await _minutes_id(request, access)

    async def change(session: AsyncSession) -> minutes_domain.Sent:
        return await minutes_domain.back_to_draft(
            session, access.table, minutes_id, version=version, actor=_actor(access)
        )

    outcome = await _try(request, change)
    if not isinstance(outcome, Refused) and outcome.document_id is not None:
        # Open sockets reconnect and ask for their access again: the writers write again.
        await request.app.state.documents.close_document(outcome.document_id, RECONNECT)
    return await _answer(request, access, outcome)


async def approve(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    version = number(form, "version")
    at_item_id = optional_id(text(form, "item", 20))
    minutes_id = await _minutes_id(request, access)

    async def change(session: AsyncSession) -> Minutes:
        return await minutes_domain.approve(
            session, access.table, minutes_id, version=version, actor=_actor(access), at_item_id=at_item_id
        )

    return await _answer(request, access, await _try(request, change))


def _passages(form: FormData) -> list[str]:
    ticked = [str(value)[:600] for value in form.getlist("passage")][:200]
    typed = [line.strip() for line in text(form, "passages", 100_000).splitlines() if line.strip()]
    return list(dict.fromkeys(ticked + typed))


async def redact(request: Request, access: TableAccess) -> Response:
    passages = _passages(await request.form())
    minutes_id = await _minutes_id(request, access)

    async def change(session: AsyncSession) -> Minutes:
        return await minutes_domain.set_redactions(session, access.table, minutes_id, passages, actor=_actor(access))

    return await _answer(request, access, await _try(request, change), "#minutes-redaction")


async def publish(request: Request, access: TableAccess) -> Response:
    minutes_id = await _minutes_id(request, access)
    try:
        version = await minutes_publishing.publish_minutes(
            _db(request),
            table_id=access.table.id,
            minutes_id=minutes_id,
            actor=_actor(access),
            directory=request.app.state.settings.minutes_dir,
        )
    except Invalid as exc:
        return await _page(request, access, 422, message=" ".join(exc.errors.values()))
    except Stale as exc:
        return await _page(request, access, 409, message=f"{exc} {_as_it_is_now()}")
    return redirect(str(request.app.url_path_for("minutes_version", slug=access.table.slug, version_id=version.id)))


async def start_erratum(request: Request, access: TableAccess) -> Response:
    version_id = int(request.path_params["version_id"])

    async def change(session: AsyncSession) -> Any:
        await minutes_domain.start_erratum(session, access.table, version_id, actor=_actor(access))
        found = await minutes_domain.get_version(session, access.table.id, version_id)
        minutes = await minutes_domain.get_minutes(session, access.table.id, found.minutes_id)
        return minutes.meeting_id

    outcome = await _try(request, change)
    if isinstance(outcome, Refused):
        raise HTTPException(outcome.status, outcome.message)
    return redirect(str(request.app.url_path_for("minutes", slug=access.table.slug, meeting_id=outcome)))


# --- the text without JavaScript ------------------------------------------------------------------


async def save_text(request: Request, access: TableAccess) -> Response:
    """The editor's stand-in without JavaScript: the difference from the text the form was loaded
    with is applied to the draft (409 with the text as it is now when someone changed it meanwhile)."""
    form = await request.form()
    base, typed = text(form, "base", 4_000_000), text(form, "minutes_text", 4_000_000)
    minutes_id = await _minutes_id(request, access)
    audience = access.audience
    try:
        async with _db(request).transaction() as session:
            minutes = await minutes_domain.get_minutes(session, access.table.id, minutes_id)
            document = await documents.get(session, minutes.document_id) if minutes.document_id else None
            allowed = (
                await minutes_domain.document_access(
                    session, document, role=audience.role, organisation_id=None, is_admin=audience.is_admin
                )
                if document is not None
                else documents.DocumentAccess.none
            )
            if document is None or allowed is not documents.DocumentAccess.edit:
                raise Invalid({"text": _("The text of these minutes cannot be changed now.")})
            update = await documents.apply_text(
                session,
                document.id,
                base=base,
                new=typed,
                user_id=access.viewer.user_id,
                limit=request.app.state.settings.doc_max_bytes,
            )
            row_id = await proposal_bodies.latest_update_id(session, document.id) if update is not None else None
            if update is not None:
                assert access.viewer.user_id is not None
                stored = await documents.text_of(session, document.id)
                await minutes_domain.document_changed(session, document, stored, frozenset({access.viewer.user_id}))
    except (Invalid, documents.DocumentTooLarge, documents.DocumentFrozen) as exc:
        message = " ".join(exc.errors.values()) if isinstance(exc, Invalid) else str(exc)
        return await _page(request, access, 422, message=message)
    except Stale:
        return await _page(request, access, 409, message=_("Someone else changed this text in the meantime."))
    if row_id is not None:
        await request.app.state.documents.publish(document.id, row_id)
    return redirect(_url(request, access, "#minutes-draft"))


# --- remarks and action items ---------------------------------------------------------------------


async def add_remark(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    body, key = text(form, "body", 20_000), text(form, "client_key", 40)
    item_id = optional_id(text(form, "item", 20))
    parent_id = optional_id(text(form, "parent", 20))
    minutes_id = await _minutes_id(request, access)
    try:
        async with _db(request).transaction() as session:
            remark = await minutes_remarks.add_remark(
                session,
                access.table,
                minutes_id,
                item_id=item_id,
                parent_id=parent_id,
                body=body,
                actor=_actor(access),
                client_key=key or None,
            )
    except Invalid as exc:
        typed = {"body": body, "item": str(item_id or ""), "client_key": key, "errors": exc.errors}
        return await _page(request, access, 422, remark_form=typed, message=" ".join(exc.errors.values()))
    return redirect(_url(request, access, f"#remark-{remark.id}"))


async def record_action(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed = {
        "item": text(form, "item", 20),
        "title": text(form, "title", 600),
        "owner": text(form, "owner", 20),
        "due_on": text(form, "due_on", 40),
        "client_key": text(form, "client_key", 40),
    }
    try:
        item_id = optional_id(typed["item"])
        values = actions.parse_action(
            title=typed["title"], description="", owner=typed["owner"], due_on=typed["due_on"]
        )
        if item_id is None:
            raise Invalid({"item": _("Choose the agenda item.")})
        async with _db(request).transaction() as session:
            action = await minutes_domain.record_action(
                session,
                access.table,
                _meeting_id(request),
                item_id,
                values,
                actor=_actor(access),
                client_key=typed["client_key"] or None,
            )
    except Invalid as exc:
        return await _action_form(request, access, {**typed, "errors": exc.errors}, 422)
    if is_htmx(request):
        return await _action_form(
            request, access, {"client_key": new_client_key(), "item": typed["item"], "recorded": action.title}
        )
    return redirect(_url(request, access, f"#minutes-item-{item_id}"))


async def _action_form(request: Request, access: TableAccess, form: dict[str, Any], status: int = 200) -> Response:
    if not is_htmx(request):
        return await _page(request, access, status, action_form=form)
    async with _db(request).read() as session:
        people = await people_of(session, access.table.id)
        items = await agenda_of(session, _meeting_id(request))
        meeting = await get_meeting(session, access.table.id, _meeting_id(request))
    context = {
        "table": access.table,
        "meeting": meeting,
        "audience": access.audience,
        "people": people,
        "agenda_options": [(str(item.id), f"{n}. {item.title}") for n, item in enumerate(items, start=1)],
        "action_form": form,
    }
    return render(request, "minutes/_new_action.html", context, status)


def _on_table(endpoint: Any) -> Any:
    """The meeting in the address must be one of this table's (404 otherwise, before anything)."""

    @functools.wraps(endpoint)
    async def checked(request: Request, access: TableAccess) -> Response:
        async with _db(request).read() as session:
            await get_meeting(session, access.table.id, _meeting_id(request))
        return await endpoint(request, access)  # type: ignore[no-any-return]

    return checked


_MINUTES = "/tavoli/{slug}/sedute/{meeting_id:int}/verbale"
ROUTES = [
    TableRoute(_MINUTES, _on_table(minutes_page), role=Role.observer, name="minutes"),
    TableRoute(_MINUTES + "/avvia", _on_table(start), role=Role.secretary, methods=["POST"], name="start_minutes"),
    TableRoute(_MINUTES + "/invia", _on_table(send), role=Role.secretary, methods=["POST"], name="send_minutes"),
    TableRoute(_MINUTES + "/riapri", _on_table(reopen), role=Role.secretary, methods=["POST"], name="reopen_minutes"),
    TableRoute(
        _MINUTES + "/approva", _on_table(approve), role=Role.secretary, methods=["POST"], name="approve_minutes"
    ),
    TableRoute(_MINUTES + "/omissis", _on_table(redact), role=Role.chair, methods=["POST"], name="redact_minutes"),
    TableRoute(_MINUTES + "/pubblica", _on_table(publish), role=Role.chair, methods=["POST"], name="publish_minutes"),
    TableRoute(
        _MINUTES + "/testo", _on_table(save_text), role=Role.secretary, methods=["POST"], name="save_minutes_text"
    ),
    TableRoute(
        _MINUTES + "/osservazioni", _on_table(add_remark), role=Role.member, methods=["POST"], name="add_minutes_remark"
    ),
    TableRoute(
        _MINUTES + "/azioni",
        _on_table(record_action),
        role=Role.secretary,
        methods=["POST"],
        name="record_minutes_action",
    ),
    TableRoute(
        "/tavoli/{slug}/verbali/{version_id:int}/errata",
        start_erratum,
        role=Role.secretary,
        methods=["POST"],
        name="start_erratum",
    ),
]
