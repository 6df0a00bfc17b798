"""Table routes: every route under `/tavoli/{slug}` declares the role it needs and is checked here.

A `TableRoute` calls `authorize` before its endpoint, so no table page can forget the check, and
`tests/test_routes.py` walks the routing table to prove that every table route is one.

The record ids in a table route's path (`{meeting_id:int}`) are read here too, for every route
at once: at most ten digits match (Starlette's own `int` convertor takes any number of them and
hands them all to `int()`), and an id outside what the database's INTEGER columns hold is a 404
before anything is read.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.convertors import IntegerConvertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.db.models import Membership, Role, Table
from server.db.session import Database
from server.domain.access import Decision, decide
from server.domain.inputs import MAX_ID, is_record_id
from server.views.audience import Audience
from server.web.errors import LoginRequired
from server.web.sessions import Viewer


@dataclass(frozen=True)
class TableAccess:
    """What the check established: the table, and the viewer's role and membership on it."""

    table: Table
    viewer: Viewer
    membership: Membership | None

    @property
    def role(self) -> Role | None:
        return self.membership.role if self.membership else None

    @property
    def audience(self) -> Audience:
        organisation_id = self.membership.organisation_id if self.membership else None
        return Audience(self.role, self.viewer.is_admin, organisation_id)


# The table and the viewer's membership in one statement, built once (every table request asks it);
# an anonymous viewer's user_id is NULL, which no membership matches.
_TABLE_AND_MEMBERSHIP = (
    select(Table, Membership)
    .outerjoin(Membership, and_(Membership.table_id == Table.id, Membership.user_id == bindparam("user_id")))
    .where(Table.slug == bindparam("slug"))
)


async def table_and_membership(
    session: AsyncSession, slug: str, user_id: int | None
) -> tuple[Table | None, Membership | None]:
    """Table `slug` and the person's membership of it (None, None for an unknown table)."""
    found = (await session.execute(_TABLE_AND_MEMBERSHIP, {"slug": slug, "user_id": user_id})).first()
    return (found[0], found[1]) if found is not None else (None, None)


def follower(table: Table, membership: Membership | None, viewer: Viewer) -> Audience | None:
    """The audience in which a signed-in person follows `table` live (a table socket, a document's
    socket), or None when they may not: no role on a table that is not public."""
    role = membership.role if membership else None
    decision = decide(
        required=Role.observer, role=role, is_public=table.is_public, authenticated=True, is_admin=viewer.is_admin
    )
    if decision is not Decision.allow:
        return None
    return Audience(role, viewer.is_admin, membership.organisation_id if membership else None)


async def authorize(request: Request, slug: str, required: Role | None, *, admin: bool = False) -> TableAccess:
    """Let the viewer through to table `slug` with `required` role, or raise 303 / 403 / 404.

    `admin=True` further restricts the route to administrators (who see every table).
    """
    viewer: Viewer = request.state.viewer
    database: Database = request.app.state.database
    async with database.read() as session:
        table, member = await table_and_membership(session, slug, viewer.user_id)
    if table is None:
        if not viewer.authenticated:
            raise LoginRequired()
        raise HTTPException(404)
    decision = decide(
        required=required,
        role=member.role if member else None,
        is_public=table.is_public,
        authenticated=viewer.authenticated,
        is_admin=viewer.is_admin,
    )
    if decision is Decision.login:
        raise LoginRequired()
    if decision is Decision.not_found:
        raise HTTPException(404)
    if decision is Decision.forbidden or (admin and not viewer.is_admin):
        raise HTTPException(403)
    return TableAccess(table, viewer, member)


TableEndpoint = Callable[[Request, TableAccess], Awaitable[Response]]


class RecordIdConvertor(IntegerConvertor):
    """A record id in a path: no more digits than the largest id has (its range is checked apart)."""

    regex = f"[0-9]{{1,{len(str(MAX_ID))}}}"


RECORD_ID = RecordIdConvertor()


class TableRoute(Route):
    """A route under `/tavoli/{slug}` whose endpoint runs only after `authorize` let the viewer in.

    `role=None` opens the route to anyone who may see the table's public face (public tables);
    `admin=True` keeps it for administrators.
    """

    def __init__(
        self,
        path: str,
        endpoint: TableEndpoint,
        *,
        role: Role | None,
        admin: bool = False,
        methods: Sequence[str] = ("GET",),
        name: str | None = None,
    ) -> None:
        if "{slug}" not in path:
            raise ValueError(f"a table route needs {{slug}} in its path: {path}")
        self.required_role = role
        self.admin_only = admin

        async def checked(request: Request) -> Response:
            ids = (value for value in request.path_params.values() if isinstance(value, int))
            if not all(is_record_id(value) for value in ids):
                raise HTTPException(404)  # no record has this id: nothing to read
            access = await authorize(request, request.path_params["slug"], role, admin=admin)
            return await endpoint(request, access)

        super().__init__(path, checked, methods=list(methods), name=name or endpoint.__name__)
        self._bound_record_ids()

    def _bound_record_ids(self) -> None:
        """Match the path's `int` parameters as record ids (RecordIdConvertor) instead."""
        pattern = self.path_regex.pattern
        for param, convertor in self.param_convertors.items():
            if isinstance(convertor, IntegerConvertor) and convertor is not RECORD_ID:
                pattern = pattern.replace(f"(?P<{param}>{convertor.regex})", f"(?P<{param}>{RECORD_ID.regex})")
                self.param_convertors[param] = RECORD_ID
        self.path_regex = re.compile(pattern)
