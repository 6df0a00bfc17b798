"""A table's home page, its history, and what administrators change there (members, description)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from server import i18n
from server.db.models import Role
from server.db.session import Database
from server.domain import audit, quorum, tables
from server.domain.actions import today
from server.domain.errors import Duplicate, Invalid, NotFound, Stale
from server.domain.meetings import meetings_of
from server.i18n import _
from server.views.areas import CATALOG
from server.views.cache import PageCache
from server.views.minutes import published_of
from server.views.privacy import hide_private_events
from server.views.regions import TABLE_HOME
from server.views.tables import MEMBERS
from server.web.access import TableAccess, TableRoute
from server.web.forms import is_htmx, number, query_id, redirect, render, text
from server.web.live import present_on
from server.web.public import public_protocols

HISTORY_PAGE_SIZE = 50
T = TypeVar("T")


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


async def table_home(request: Request, access: TableAccess) -> Response:
    """The table's home; a person without a role on a public table sees only its public face."""
    audience = access.audience
    if not audience.reads_table:
        async with _db(request).read() as session:
            data = {"table": access.table, "meetings": await meetings_of(session, access.table.id)}
            data["published_minutes"] = await published_of(session, access.table.id, limit=20)
            data["public_protocols"] = await public_protocols(session, table_id=access.table.id, limit=20)
        return render(
            request, "tables/table.html", {**data, "audience": audience, "member_form": {}, "settings_form": {}}
        )
    # The fragments come from the page cache while the table has not changed (see PageCache).
    cache: PageCache = request.app.state.page_cache
    locale, day = i18n.current_locale(), today()
    home = CATALOG.regions_of(TABLE_HOME)
    keys = {region: cache.key(region, access.table, audience, locale, day) for region in home}
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, cache.missing(keys), TABLE_HOME, access.audience)
        data["present"] = await present_on(request, session, access.table)
    context = {**data, "table": access.table, "audience": audience, "member_form": {}, "settings_form": {}}
    token = request.state.csrf_token
    rendered = {f.id: cache.rendered(key, f.template, context, token) for f, key in keys.items()}
    return render(request, "tables/table.html", {**context, "rendered": rendered})


async def _table_page_with(request: Request, access: TableAccess, status: int, **forms: dict[str, Any]) -> Response:
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, CATALOG.regions_of(TABLE_HOME), TABLE_HOME, access.audience)
        data["present"] = await present_on(request, session, access.table)
    context = {**data, "audience": access.audience, "member_form": {}, "settings_form": {}, **forms}
    return render(request, "tables/table.html", context, status)


async def _members_answer(request: Request, access: TableAccess, form: dict[str, Any], status: int = 200) -> Response:
    """The members' fragment for htmx, the whole page (or a redirect) without JavaScript."""
    if is_htmx(request):
        async with _db(request).read() as session:
            data = await MEMBERS.load(session, access.table, TABLE_HOME)
        return render(request, MEMBERS.template, {**data, "audience": access.audience, "member_form": form}, status)
    if status >= 400:
        return await _table_page_with(request, access, status, member_form=form)
    return redirect(f"/tavoli/{access.table.slug}#members")


async def _found(lookup: Awaitable[T], field: str, errors: dict[str, str]) -> T | None:
    """The record a lookup finds, or None with the reason noted beside `field`."""
    try:
        return await lookup
    except NotFound as exc:
        errors[field] = str(exc)
        return None


async def add_member(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed = {
        "email": text(form, "email", 254),
        "role": text(form, "role", 20),
        "organisation": text(form, "organisation", 20),
    }
    try:
        role = Role(typed["role"])
    except ValueError:
        return await _members_answer(request, access, {**typed, "errors": {"role": _("Choose a role.")}}, 422)
    errors: dict[str, str] = {}
    async with _db(request).transaction() as session:
        user = await _found(tables.get_user(session, typed["email"]), "email", errors)
        organisation = None
        if typed["organisation"]:
            organisation = await _found(
                tables.find_organisation(session, typed["organisation"]), "organisation", errors
            )
        if user is not None and not errors:
            try:
                await tables.add_member(
                    session, access.table, user, role, organisation=organisation, actor_id=access.viewer.user_id
                )
            except Duplicate as exc:
                errors["email"] = str(exc)
    if errors:
        return await _members_answer(request, access, {**typed, "errors": errors}, 422)
    return await _members_answer(request, access, {})


async def change_member(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    membership_id = int(request.path_params["membership_id"])
    try:
        role = Role(text(form, "role", 20))
    except ValueError:
        return await _members_answer(request, access, {"errors": {"role": _("Choose a role.")}}, 422)
    organisation_ref = text(form, "organisation", 20)
    try:
        async with _db(request).transaction() as session:
            organisation = await tables.find_organisation(session, organisation_ref) if organisation_ref else None
            await tables.change_member(
                session,
                access.table,
                membership_id,
                role,
                organisation,
                version=number(form, "version"),
                actor_id=access.viewer.user_id,
            )
    except Stale as exc:
        return await _members_answer(request, access, {"errors": {"members": str(exc)}}, 409)
    return await _members_answer(request, access, {})


async def confirm_remove_member(request: Request, access: TableAccess) -> Response:
    async with _db(request).read() as session:
        member = await tables.get_membership(session, access.table, int(request.path_params["membership_id"]))
    return render(
        request, "tables/remove_member.html", {"table": access.table, "member": member, "audience": access.audience}
    )


async def remove_member(request: Request, access: TableAccess) -> Response:
    async with _db(request).transaction() as session:
        await tables.remove_member(
            session, access.table, int(request.path_params["membership_id"]), actor_id=access.viewer.user_id
        )
    return await _members_answer(request, access, {})


async def update_settings(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    typed = {
        "purpose": text(form, "purpose"),
        "established": text(form, "established", 500),
        "is_public": form.get("is_public") == "on",
        "quorum": text(form, "quorum", 20),
    }
    try:
        rule = quorum.parse_quorum(str(typed["quorum"]))  # the meetings' quorum (server/domain/quorum.py)
        async with _db(request).transaction() as session:
            await tables.update_table(
                session,
                access.table,
                purpose=str(typed["purpose"]),
                established=str(typed["established"]),
                is_public=bool(typed["is_public"]),
                version=number(form, "version"),
                actor_id=access.viewer.user_id,
            )
            await quorum.set_quorum(session, access.table, rule, actor_id=access.viewer.user_id)
    except Invalid as exc:
        return await _table_page_with(request, access, 422, settings_form={**typed, "errors": exc.errors})
    except Stale as exc:
        return await _table_page_with(request, access, 409, settings_form={**typed, "errors": {}, "stale": str(exc)})
    return redirect(f"/tavoli/{access.table.slug}")


async def history_page(request: Request, access: TableAccess) -> Response:
    before_seq = query_id(request, "prima")  # a sequence number, read like an id (400 if it is not one)
    async with _db(request).read() as session:
        events = await audit.history(session, access.table.id, limit=HISTORY_PAGE_SIZE, before_seq=before_seq)
        private = await CATALOG.private(session, access.table.id)
    older = events[-1].seq if len(events) == HISTORY_PAGE_SIZE else None
    shown = hide_private_events(events, access.audience, private)  # another organisation's drafts
    return render(
        request,
        "tables/history.html",
        {"table": access.table, "events": shown, "older": older, "audience": access.audience},
    )


ROUTES = [
    TableRoute("/tavoli/{slug}", table_home, role=None, name="table_home"),
    TableRoute("/tavoli/{slug}/cronologia", history_page, role=Role.observer, name="table_history"),
    TableRoute(
        "/tavoli/{slug}/impostazioni",
        update_settings,
        role=None,
        admin=True,
        methods=["POST"],
        name="table_settings",
    ),
    TableRoute("/tavoli/{slug}/componenti", add_member, role=None, admin=True, methods=["POST"], name="table_members"),
    TableRoute(
        "/tavoli/{slug}/componenti/{membership_id:int}",
        change_member,
        role=None,
        admin=True,
        methods=["POST"],
        name="table_member",
    ),
    TableRoute(
        "/tavoli/{slug}/componenti/{membership_id:int}/rimuovi",
        confirm_remove_member,
        role=None,
        admin=True,
        name="remove_member",
    ),
    TableRoute(
        "/tavoli/{slug}/componenti/{membership_id:int}/rimuovi",
        remove_member,
        role=None,
        admin=True,
        methods=["POST"],
        name="remove_member_post",
    ),
]
