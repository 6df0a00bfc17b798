"""A table's proposals: the list, one proposal's page (text, versions, endorsements, comments), the forms.

Every action is a plain form answered with a redirect, or with the page and the error beside the
field; the domain decides who may do what (co-authors, the chair, members with an organisation).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from server.db.models import Organisation, Proposal, ProposalStatus, Role
from server.db.session import Database
from server.domain import documents, inputs, proposal_bodies, proposal_documents, proposals
from server.domain.actions import Actor
from server.domain.errors import Forbidden, Invalid
from server.domain.tables import members_of
from server.i18n import _
from server.live.documents import FROZEN
from server.views.areas import CATALOG
from server.views.audience import Screen
from server.views.proposals import PROPOSAL_LIST_PAGE, PROPOSAL_PAGE
from server.web.access import TableAccess, TableEndpoint, TableRoute
from server.web.editing import Refused, attempt, save_edit
from server.web.forms import new_client_key, number, optional_id, redirect, render, text
from server.web.live import live_query


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def _proposal_id(request: Request) -> int:
    return int(request.path_params["proposal_id"])


def _url(access: TableAccess, proposal_id: int | None = None) -> str:
    base = f"/tavoli/{access.table.slug}/proposte"
    return base if proposal_id is None else f"{base}/{proposal_id}"


def _actor(access: TableAccess) -> Actor:
    assert access.viewer.user_id is not None
    return Actor(access.viewer.user_id, access.role)


async def _table_organisations(request: Request, access: TableAccess) -> list[Organisation]:
    """The organisations represented on the table: who may co-author a proposal."""
    async with _db(request).read() as session:
        seats = await members_of(session, access.table.id)
    return [seat.organisation for seat in seats if seat.organisation is not None]


# --- the list -------------------------------------------------------------------------------------


async def list_page(request: Request, access: TableAccess) -> Response:
    page = Screen("proposals")
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, PROPOSAL_LIST_PAGE, page, access.audience)
    return render(request, "proposals/list.html", {**data, "audience": access.audience, "live_query": live_query(page)})


# --- creating and editing -------------------------------------------------------------------------


def _typed(form: FormData) -> dict[str, Any]:
    return {
        "title": text(form, "title", 600),
        "summary": text(form, "summary", 4_000),
        "body": text(form, "body", 400_000),
        "authors": [str(a) for a in form.getlist("authors")][:50],
        "client_key": text(form, "client_key", 40),
        # The text of the body the form was loaded with: the save applies what changed from it.
        "base": text(form, "base", 400_000),
    }


def _parse(typed: dict[str, Any]) -> proposals.ProposalText:
    return proposals.parse_text(title=typed["title"], summary=typed["summary"], body=typed["body"])


async def _form(
    request: Request,
    access: TableAccess,
    form: dict[str, Any],
    *,
    proposal: Proposal | None = None,
    current: Proposal | None = None,
    status: int = 200,
) -> Response:
    context = {
        "table": access.table,
        "audience": access.audience,
        "form": form,
        "proposal": proposal,
        "current": current,
        "organisations": await _table_organisations(request, access),
    }
    return render(request, "proposals/form.html", context, status)


async def new_proposal(request: Request, access: TableAccess) -> Response:
    own = access.membership.organisation_id if access.membership else None
    organisations = await _table_organisations(request, access)
    mine = [o.slug for o in organisations if o.id == own]
    form = {"title": "", "summary": "", "body": "", "authors": mine, "client_key": new_client_key()}
    return await _form(request, access, form)


async def create_proposal(request: Request, access: TableAccess) -> Response:
    typed = _typed(await request.form())
    try:
        errors = {} if typed["authors"] else {"authors": _("Choose at least one co-authoring organisation.")}
        try:
            text_values = _parse(typed)
        except Invalid as exc:
            raise Invalid({**exc.errors, **errors}) from None
        if errors:
            raise Invalid(errors)
        async with _db(request).transaction() as session:
            proposal = await proposals.create_proposal(
                session,
                access.table,
                text_values,
                typed["authors"],
                actor=_actor(access),
                client_key=typed["client_key"] or None,
            )
    except Invalid as exc:
        return await _form(request, access, {**typed, "errors": exc.errors}, status=422)
    return redirect(_url(access, proposal.id))


async def _own_proposal(request: Request, access: TableAccess) -> Proposal:
    """The proposal, if the viewer sits here for one of its co-authoring organisations (else 403)."""
    async with _db(request).read() as session:
        proposal = await proposals.get_proposal(session, access.table.id, _proposal_id(request))
        if not await proposals.is_author(session, access.table, proposal, _actor(access)):
            raise Forbidden(_("Only members of a co-authoring organisation can edit this proposal."))
    return proposal


async def edit_proposal(request: Request, access: TableAccess) -> Response:
    proposal = await _own_proposal(request, access)
    async with _db(request).read() as session:
        body = await proposal_bodies.current_body(session, proposal)
    form = {
        "title": proposal.title,
        "summary": proposal.summary,
        "body": body,
        "base": body,
        "version": proposal.version,
    }
    return await _form(request, access, form, proposal=proposal)


async def update_proposal(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed: dict[str, Any] = {**_typed(form), "version": number(form, "version")}
    proposal = await _own_proposal(request, access)
    save_version = form.get("save_version") == "on"

    saved: list[proposals.Saved] = []  # what the save stored, for `done` to relay

    async def change(session: AsyncSession, text_values: proposals.ProposalText, version: int) -> Proposal:
        outcome = await proposals.save_draft(
            session,
            access.table,
            proposal.id,
            text_values,
            version=version,
            base=typed["base"],
            actor=_actor(access),
            save_version=save_version,
            limit=request.app.state.settings.doc_max_bytes,
        )
        saved.append(outcome)
        return outcome.proposal

    async def form_page(form: dict[str, Any], current: Proposal | None, status: int) -> Response:
        if current is not None:  # saving again is based on the text as it is now, shown beside
            form = {**form, "base": current.body}
        return await _form(request, access, form, proposal=proposal, current=current, status=status)

    async def done(_proposal: Proposal) -> Response:
        update_id = saved[-1].update_id
        if update_id is not None:  # the editors' rooms take the change like any other update
            await request.app.state.documents.publish(saved[-1].document_id, update_id)
        return redirect(_url(access, proposal.id))

    return await save_edit(
        request,
        typed,
        parse=_parse,
        change=change,
        record=Proposal,
        form_page=form_page,
        done=done,
    )


async def keep_version(request: Request, access: TableAccess) -> Response:
    """ "Keep this version": the text as it is now becomes the next numbered version, unless the
    last one already holds it (then the page says so)."""
    try:
        async with _db(request).transaction() as session:
            kept = await proposal_bodies.keep_version(
                session, access.table, _proposal_id(request), actor=_actor(access)
            )
    except Invalid as exc:
        return await _page_with(request, access, 422, message=" ".join(exc.errors.values()))
    if kept.version is None and kept.last is not None:
        message = _("Nothing changed since version {number}: no new version was kept.").format(number=kept.last.number)
        return await _page_with(request, access, 200, message=message)
    return redirect(_url(access, _proposal_id(request)) + "#versions")


# --- the proposal's page --------------------------------------------------------------------------


async def _context(request: Request, access: TableAccess, proposal_id: int) -> dict[str, Any]:
    """The page's data: its live regions' (as the hub pushes them) and what is this viewer's own."""
    page = Screen("proposal", proposal_id)
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, PROPOSAL_PAGE, page, access.audience)
    membership = access.membership
    return {
        **data,
        "audience": access.audience,
        "live_query": live_query(page),
        "own_organisation": membership.organisation_id if membership and membership.role is not Role.observer else None,
        "may_comment": access.role is not None and access.role is not Role.observer,
        "comment_form": {"client_key": new_client_key()},
        "message": None,
        "diff": None,
    }


async def _diff(request: Request, versions: list[Any]) -> dict[str, Any] | None:
    """The comparison asked for in the query string (?da=1&a=2), between two numbered versions."""
    first, second = request.query_params.get("da"), request.query_params.get("a")
    if first is None and second is None:
        return None
    numbers = {str(v.number): v for v in versions}
    if first not in numbers or second not in numbers:
        raise HTTPException(400, _("Choose two versions of this proposal to compare."))
    old, new = numbers[first], numbers[second]
    # The comparison's work is bounded, but reading two long Markdown texts still takes a while: off the loop.
    changes = await run_in_threadpool(proposals.compare_versions, old, new)
    return {"old": old, "new": new, "changes": changes}


async def _editor_document(request: Request, access: TableAccess, proposal: Proposal) -> dict[str, Any] | None:
    """The document this viewer writes the body in, beside its preview, with its text as it is now
    (for the form that stands in for the editor without JavaScript): the draft's, for the members
    of its co-authoring organisations (None for everyone else, who read the rendered body).

    A proposal made before documents existed gets its document here, the first time one of its
    co-authors opens it (seeded once from its body; two co-authors opening it at once make one).
    """
    user_id = access.viewer.user_id
    if user_id is None or proposal.status is not ProposalStatus.draft:
        return None
    async with _db(request).read() as session:
        if not await proposals.is_author(session, access.table, proposal, _actor(access)):
            return None
        document = await documents.find(session, proposal_bodies.KIND, proposal.id)
    if document is None:
        async with _db(request).transaction() as session:
            document = await proposal_bodies.document_of(session, proposal)
    async with _db(request).read() as session:
        audience = access.audience
        allowed = await proposal_documents.access(
            session, document, role=audience.role, organisation_id=audience.organisation_id, is_admin=audience.is_admin
        )
        if allowed is not documents.DocumentAccess.edit:
            return None
        return {"id": document.id, "text": await documents.text_of(session, document.id)}


async def _page(request: Request, access: TableAccess, status: int, context: dict[str, Any], **extra: Any) -> Response:
    editor = await _editor_document(request, access, context["proposal"])
    return render(request, "proposals/proposal.html", {**context, "editor": editor, **extra}, status)


async def _page_with(request: Request, access: TableAccess, status: int, **extra: Any) -> Response:
    return await _page(request, access, status, await _context(request, access, _proposal_id(request)), **extra)


async def proposal_page(request: Request, access: TableAccess) -> Response:
    context = await _context(request, access, _proposal_id(request))
    return await _page(request, access, 200, context, diff=await _diff(request, context["versions"]))


async def set_status(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    status = text(form, "status", 30)
    outcome = text(form, "outcome", 40_000)
    version = number(form, "version")
    # The agenda item where it was decided: its decision is recorded with the outcome (issue 15).
    item_id = optional_id(text(form, "item", 20))

    async def change(session: AsyncSession) -> Proposal:
        return await proposals.set_status(
            session,
            access.table,
            _proposal_id(request),
            status,
            version=version,
            actor=_actor(access),
            outcome=outcome,
            item_id=item_id,
        )

    moved = await attempt(request, change, as_it_is_now=_("This is the proposal as it is now: check it and try again."))
    if not isinstance(moved, Refused) and moved.status is not ProposalStatus.draft:
        await _close_document(request, moved)
    if isinstance(moved, Refused):
        # The outcome typed comes back beside a refusal (422), not with the proposal as it is now (409).
        typed = {"outcome_typed": outcome} if moved.status == 422 else {}
        return await _page_with(request, access, moved.status, message=moved.message, **typed)
    return redirect(_url(access, _proposal_id(request)))


async def _close_document(request: Request, proposal: Proposal) -> None:
    """A proposal out of its draft has a frozen text: its document's sockets close, on every instance."""
    async with _db(request).read() as session:
        document = await documents.find(session, proposal_bodies.KIND, proposal.id)
    if document is not None and document.frozen_at is not None:
        await request.app.state.documents.close_document(document.id, FROZEN)


async def endorse(request: Request, access: TableAccess) -> Response:
    try:
        async with _db(request).transaction() as session:
            await proposals.endorse(session, access.table, _proposal_id(request), actor=_actor(access))
    except Invalid as exc:
        return await _page_with(request, access, 422, message=" ".join(exc.errors.values()))
    return redirect(_url(access, _proposal_id(request)) + "#endorsements")


async def withdraw_endorsement(request: Request, access: TableAccess) -> Response:
    async with _db(request).transaction() as session:
        await proposals.withdraw_endorsement(session, access.table, _proposal_id(request), actor=_actor(access))
    return redirect(_url(access, _proposal_id(request)) + "#endorsements")


async def add_comment(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    body, key = text(form, "comment", 20_000), text(form, "client_key", 40)
    parent_id = optional_id(text(form, "parent", 20))  # a hidden field: 400 when it is not an id
    try:
        async with _db(request).transaction() as session:
            comment = await proposals.add_comment(
                session,
                access.table,
                _proposal_id(request),
                body,
                actor=_actor(access),
                parent_id=parent_id,
                client_key=key or None,
            )
    except Invalid as exc:
        form_state = {"comment": body, "client_key": key, "errors": exc.errors}
        return await _page_with(request, access, 422, comment_form=form_state)
    return redirect(_url(access, _proposal_id(request)) + f"#comment-{comment.id}")


async def edit_comment(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    comment_id = int(request.path_params["comment_id"])
    try:
        async with _db(request).transaction() as session:
            await proposals.edit_comment(
                session,
                access.table,
                _proposal_id(request),
                comment_id,
                text(form, "comment", 20_000),
                actor=_actor(access),
            )
    except Invalid as exc:
        return await _page_with(request, access, 422, message=" ".join(exc.errors.values()))
    return redirect(_url(access, _proposal_id(request)) + f"#comment-{comment_id}")


async def hide_comment(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    comment_id = int(request.path_params["comment_id"])
    try:
        async with _db(request).transaction() as session:
            reason = text(form, "reason", 600)
            await proposals.hide_comment(
                session, access.table, _proposal_id(request), comment_id, reason, actor=_actor(access)
            )
    except Invalid as exc:
        return await _page_with(request, access, 422, message=" ".join(exc.errors.values()))
    return redirect(_url(access, _proposal_id(request)) + f"#comment-{comment_id}")


async def link_item(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    item_id = inputs.record_id(text(form, "item", 20))
    if item_id is None:
        return await _page_with(request, access, 422, message=_("Choose the agenda item."))
    async with _db(request).transaction() as session:
        await proposals.link_item(session, access.table, _proposal_id(request), item_id, actor=_actor(access))
    return redirect(_url(access, _proposal_id(request)) + "#links")


def _seen(endpoint: TableEndpoint) -> TableEndpoint:
    """A proposal still private to its co-authors (a draft) is not there for anyone else: 404."""

    @functools.wraps(endpoint)
    async def guarded(request: Request, access: TableAccess) -> Response:
        async with _db(request).read() as session:
            readable = await CATALOG.may_read(
                session, access.table.id, "proposal", _proposal_id(request), access.audience
            )
        if not readable:
            raise HTTPException(404)
        return await endpoint(request, access)

    return guarded


_PROPOSAL = "/tavoli/{slug}/proposte/{proposal_id:int}"
_COMMENT = _PROPOSAL + "/commenti/{comment_id:int}"
ROUTES = [
    TableRoute("/tavoli/{slug}/proposte", list_page, role=Role.observer, name="proposals"),
    TableRoute("/tavoli/{slug}/proposte", create_proposal, role=Role.member, methods=["POST"], name="create_proposal"),
    TableRoute("/tavoli/{slug}/proposte/nuova", new_proposal, role=Role.member, name="new_proposal"),
    TableRoute(_PROPOSAL, _seen(proposal_page), role=Role.observer, name="proposal"),
    TableRoute(_PROPOSAL, _seen(update_proposal), role=Role.member, methods=["POST"], name="update_proposal"),
    TableRoute(_PROPOSAL + "/modifica", _seen(edit_proposal), role=Role.member, name="edit_proposal"),
    TableRoute(
        _PROPOSAL + "/versioni", _seen(keep_version), role=Role.member, methods=["POST"], name="keep_proposal_version"
    ),
    TableRoute(_PROPOSAL + "/stato", _seen(set_status), role=Role.member, methods=["POST"], name="set_proposal_status"),
    TableRoute(_PROPOSAL + "/sostegno", _seen(endorse), role=Role.member, methods=["POST"]),
    TableRoute(_PROPOSAL + "/sostegno/ritira", _seen(withdraw_endorsement), role=Role.member, methods=["POST"]),
    TableRoute(
        _PROPOSAL + "/commenti", _seen(add_comment), role=Role.member, methods=["POST"], name="add_proposal_comment"
    ),
    TableRoute(_COMMENT, _seen(edit_comment), role=Role.member, methods=["POST"], name="edit_proposal_comment"),
    TableRoute(
        _COMMENT + "/nascondi", _seen(hide_comment), role=Role.chair, methods=["POST"], name="hide_proposal_comment"
    ),
    TableRoute(
        _PROPOSAL + "/punti", _seen(link_item), role=Role.secretary, methods=["POST"], name="link_proposal_item"
    ),
]
