"""Decisions and positions: the chair and the secretary record an agenda item's decision, the chair
opens and closes its roll call, a delegate records their organisation's position while it is open,
the secretary records positions on the delegates' behalf before or after; the table's decisions page.

Every action on the meeting page works as a plain form (answered with a redirect, or the meeting page
with the refusal) and, with htmx, answers with the decisions' region, which its forms target, and
the refusal in the alert beside it (`#decisions-alert`, which no push replaces), as the meeting room
does (server/web/room.py). The region is the target rather than an out-of-band part because a form
someone typed in holds pushes back (static/src/live.js): the answer to it must replace it. A text
refused (422) comes back without the region (HX-Reswap: none), so that the form keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.db.models import Decision, Role
from server.db.session import Database
from server.domain import decisions, inputs
from server.domain.actions import Actor
from server.domain.agenda import item_of_table
from server.domain.errors import Forbidden, Invalid, NotFound
from server.i18n import _
from server.views.areas import CATALOG, list_screen
from server.views.audience import Screen
from server.views.decisions import DECISION_LIST_PAGE, MEETING_DECISIONS
from server.web.access import TableAccess, TableRoute
from server.web.editing import Refused, attempt
from server.web.forms import bad_request, is_htmx, number, redirect, render, text
from server.web.live import live_query
from server.web.meetings import MEETING, meeting_id_of, meeting_url, render_meeting_page
from server.web.room import switch

DECISIONS = "/tavoli/{slug}/decisioni"
DECISION = MEETING + "/decisioni/{decision_id:int}"
TEXT_LIMIT = 40_000


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _decision_id(request: Request) -> int:
    return int(request.path_params["decision_id"])


def _actor(access: TableAccess) -> Actor:
    assert access.viewer.user_id is not None  # a member's route: someone logged in
    return Actor(access.viewer.user_id, access.role)


# --- answering ------------------------------------------------------------------------------------


async def _attempt(request: Request, change: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """Run `change(session)` in a transaction: what it returns, or why it was refused (a role's
    refusal too, which the alert says like the others)."""
    as_it_is_now = _("These are the decisions as they are now: check them and try again.")
    return await attempt(request, change, as_it_is_now=as_it_is_now, also={Forbidden: 403})


async def _answer(
    request: Request,
    access: TableAccess,
    meeting_id: int,
    *,
    refused: Refused | None = None,
    announce: str | None = None,
    keep: bool = False,
    typed: dict[str, Any] | None = None,
) -> Response:
    """The decisions' region and the alert (htmx), or the meeting page with the refusal / a redirect.

    `keep`: the answer to a form someone filled in; refused as invalid (422), the region is not sent
    again (htmx), so that the form stays as it was. `typed`: what was typed in the form that records a
    decision, which the meeting page shows again beside its errors (a plain form).
    """
    if not is_htmx(request):
        if refused is not None:
            extra: dict[str, Any] = {"decisions_message": refused.message}
            if typed is not None and refused.status == 422:
                extra["decision_typed"] = {**typed, "errors": refused.errors}
            return await render_meeting_page(request, access, meeting_id, status=refused.status, **extra)
        return redirect(meeting_url(access, meeting_id) + "#meeting-decisions")
    keep_form = refused is not None and refused.status == 422 and keep
    data: dict[str, Any] = {}
    if not keep_form:
        async with _db(request).read() as session:
            page = Screen("meeting", meeting_id)
            data = await CATALOG.load(session, access.table, (MEETING_DECISIONS,), page, access.audience)
    context = {
        **data,
        "audience": access.audience,
        "show_region": not keep_form,
        "message": refused.message if refused else None,
        "announce": announce,
    }
    response = render(request, "decisions/_response.html", context, refused.status if refused else 200)
    if keep_form:
        response.headers["HX-Reswap"] = "none"  # the form stays as typed; the alert says why
    return response


async def _act(
    request: Request,
    access: TableAccess,
    change: Callable[[AsyncSession], Awaitable[Any]],
    said: Callable[[Any], str],
    keep: bool = False,
    typed: dict[str, Any] | None = None,
) -> Response:
    meeting_id = meeting_id_of(request)
    done = await _attempt(request, change)
    if isinstance(done, Refused):
        return await _answer(request, access, meeting_id, refused=done, keep=keep, typed=typed)
    return await _answer(request, access, meeting_id, announce=said(done))


async def _decision_here(session: AsyncSession, access: TableAccess, request: Request) -> Decision:
    """The decision in the address, which must be of the meeting in the address (else not found)."""
    decision = await decisions.get_decision(session, access.table.id, _decision_id(request))
    if decision.meeting_id != meeting_id_of(request):
        raise NotFound(_("This decision does not exist on this table."))
    return decision


def _typed_decision(form: FormData) -> dict[str, str]:
    return {
        "item": text(form, "item", 20),
        "kind": text(form, "kind", 30),
        "text": text(form, "text", TEXT_LIMIT + 1),
        "proposal": text(form, "proposal", 20),
    }


def _proposal_id(typed: dict[str, str]) -> int | None:
    if not typed["proposal"]:
        return None
    found = inputs.record_id(typed["proposal"])
    if found is None:  # a select's value: only a hand-made request sends another
        raise bad_request()
    return found


# --- decisions ------------------------------------------------------------------------------------


async def record_decision(request: Request, access: TableAccess) -> Response:
    typed = _typed_decision(await request.form())
    item_id = inputs.record_id(typed["item"])
    proposal_id = _proposal_id(typed)

    async def change(session: AsyncSession) -> Decision:
        if item_id is None:
            raise Invalid({"item": _("Choose an item on the agenda of one of this table's meetings.")})
        return await decisions.record_decision(
            session,
            access.table,
            item_id,
            kind=typed["kind"],
            text=typed["text"],
            proposal_id=proposal_id,
            actor=_actor(access),
        )

    return await _act(request, access, change, lambda _decision: _("Decision recorded."), keep=True, typed=typed)


async def update_decision(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed = _typed_decision(form)
    version = number(form, "version")
    proposal_id = _proposal_id(typed)

    async def change(session: AsyncSession) -> Decision:
        decision = await _decision_here(session, access, request)
        return await decisions.record_decision(
            session,
            access.table,
            decision.item_id,
            kind=typed["kind"],
            text=typed["text"],
            proposal_id=proposal_id,
            actor=_actor(access),
            version=version,
        )

    return await _act(request, access, change, lambda _decision: _("Decision saved."), keep=True)


async def roll_call(request: Request, access: TableAccess) -> Response:
    opening = switch(await request.form())

    async def change(session: AsyncSession) -> Decision:
        decision = await _decision_here(session, access, request)
        move = decisions.open_roll_call if opening else decisions.close_roll_call
        return await move(session, access.table, decision.id, actor=_actor(access))

    return await _act(
        request,
        access,
        change,
        lambda _decision: _("The roll call is open.") if opening else _("The roll call is closed."),
    )


def _one_kind(form: FormData) -> str:
    """The position chosen: one radio button of a group sends one value; several differing ones come
    only from a hand-made request (400)."""
    chosen = {value[:30] if isinstance(value, str) else "" for value in form.getlist("kind")}
    if len(chosen) > 1:
        raise bad_request()
    return chosen.pop() if chosen else ""


def _position_said(position: Any) -> str:
    label = decisions.position_label(position.kind)
    return _("Position of {organisation} recorded: {position}.").format(
        organisation=position.organisation.name, position=label
    )


async def _record_position(
    request: Request, access: TableAccess, *, organisation_id: int | None, form: FormData, delegate: str
) -> Response:
    kind, reservation = _one_kind(form), text(form, "reservation", 4_000)

    async def change(session: AsyncSession) -> Any:
        decision = await _decision_here(session, access, request)
        if organisation_id is None:
            raise Invalid({"organisation": _("Choose an organisation present at the meeting.")})
        position = await decisions.record_position(
            session,
            access.table,
            decision.id,
            organisation_id=organisation_id,
            kind=kind,
            reservation=reservation,
            delegate=delegate,
            actor=_actor(access),
        )
        await session.refresh(position, ["organisation"])
        return position

    return await _act(request, access, change, _position_said, keep=True)


async def record_my_position(request: Request, access: TableAccess) -> Response:
    """A delegate, during the roll call, for the organisation of their seat (never one they name)."""
    membership = access.membership
    organisation_id = membership.organisation_id if membership else None
    if organisation_id is None:
        raise Forbidden(_("Only the delegates of an organisation present can record its position."))
    form = await request.form()
    return await _record_position(request, access, organisation_id=organisation_id, form=form, delegate="")


async def record_position(request: Request, access: TableAccess) -> Response:
    """The chair or the secretary, before or after the roll call, naming the delegate."""
    form = await request.form()
    organisation = text(form, "organisation", 20)
    organisation_id = inputs.record_id(organisation) if organisation else None
    if organisation and organisation_id is None:
        raise bad_request()
    delegate = text(form, "delegate", 201)
    return await _record_position(request, access, organisation_id=organisation_id, form=form, delegate=delegate)


# --- the decisions page ---------------------------------------------------------------------------


async def list_page(request: Request, access: TableAccess) -> Response:
    """The table's decisions, filtered from the address (a filter outside its allowlist is a 400)."""
    page = list_screen("decisions", request.query_params.multi_items())
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, DECISION_LIST_PAGE, page, access.audience)
    return render(request, "decisions/list.html", {**data, "audience": access.audience, "live_query": live_query(page)})


async def item_decision(request: Request, access: TableAccess) -> Response:
    """The decision taken on an agenda item (the action items' link back to it), on the decisions page;
    with none recorded yet, the item's meeting, where its decisions are recorded."""
    item_id = int(request.path_params["item_id"])
    async with _db(request).read() as session:
        item = await item_of_table(session, access.table, item_id)
        decision = await decisions.decision_of_item(session, item.id)
    if decision is None:
        return redirect(meeting_url(access, item.meeting_id) + "#meeting-decisions")
    return redirect(f"/tavoli/{access.table.slug}/decisioni?seduta={decision.meeting_id}#decision-{decision.id}")


def _post(path: str, endpoint: Any, role: Role, name: str) -> TableRoute:
    return TableRoute(path, endpoint, role=role, methods=["POST"], name=name)


ROUTES = [
    TableRoute(DECISIONS, list_page, role=Role.observer, name="decisions"),
    TableRoute(DECISIONS + "/punti/{item_id:int}", item_decision, role=Role.observer, name="item_decision"),
    _post(MEETING + "/decisioni", record_decision, Role.secretary, "record_decision"),
    _post(DECISION, update_decision, Role.secretary, "update_decision"),
    _post(DECISION + "/appello", roll_call, Role.chair, "decision_roll_call"),
    _post(DECISION + "/posizione", record_my_position, Role.member, "record_my_position"),
    _post(DECISION + "/posizioni", record_position, Role.secretary, "record_position"),
]
