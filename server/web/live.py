"""The table socket: `/ws/tavoli/{slug}` for the table's home, and for the other screens that the
areas declare (server/views/areas.py): `?<param>=ID` for a record, `?elenco=<listing>&…filters`
for a list, `?elenco=mie` for the viewer's own action items on the table.

Access is checked before `accept()` (docs/architecture.md, "The live protocol"): a foreign
Origin is refused at the handshake (HTTP 403). A same-origin upgrade without a valid session or
without a role on the table is accepted and closed at once with 4401 / 4403 (4404 for a record of
another table or an id that cannot be one, 1008 for a list filter outside its allowlist), having
sent nothing: a browser sees a refused handshake as 1006, which htmx would retry forever. A
session that already has TAVOLI_MAX_SOCKETS_PER_SESSION table sockets open on this instance is
closed the same way with 4429: each socket costs queries and renders, and one session (a script,
a runaway tab) must not hold thousands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from server import i18n
from server.config import Settings
from server.db.models import Table
from server.db.session import Database
from server.domain import inputs
from server.domain.accounts import session_expiry, session_key
from server.domain.errors import BadQuery
from server.domain.presence import presence_people
from server.live.connection import NO_ACCESS, NOT_FOUND, POLICY, SESSION_ENDED, TOO_MANY, Connection
from server.live.direct import DirectWriter
from server.live.hub import Hub
from server.views.areas import CATALOG, list_screen
from server.views.audience import Audience, Screen
from server.web.access import follower, table_and_membership
from server.web.sessions import Viewer


def live_query(screen: Screen) -> str:
    """The socket address's query for a screen (the inverse of `_screen`): "" for the table's home."""
    return CATALOG.live_query(screen)


async def present_on(request: Request, session: AsyncSession, table: Table) -> list[tuple[str, str | None]]:
    """Who is on the table's pages now, for a page being rendered."""
    hub: Hub = request.app.state.hub
    return await presence_people(session, table, hub.presence.users(table.id))


@dataclass(frozen=True)
class _Admission:
    table_id: int
    audience: Audience
    page: Screen
    expires_at: datetime


async def _admit(websocket: WebSocket, viewer: Viewer, token: str | None) -> _Admission | int:
    """The table and page this socket may follow, or the close code that refuses it."""
    if viewer.user_id is None or token is None:
        return SESSION_ENDED
    database: Database = websocket.app.state.database
    params = websocket.query_params
    async with database.read() as session:
        expires_at = await session_expiry(session, token)
        table, membership = await table_and_membership(session, websocket.path_params["slug"], viewer.user_id)
        if expires_at is None:
            return SESSION_ENDED
        if table is None:
            return NO_ACCESS
        audience = follower(table, membership, viewer)
        if audience is None:
            return NO_ACCESS
        page = await _screen(session, table, params, viewer.user_id, audience)
        if isinstance(page, int):
            return page
    return _Admission(table.id, audience, page, expires_at)


async def _screen(
    session: AsyncSession, table: Table, params: QueryParams, user_id: int, audience: Audience
) -> Screen | int:
    """The screen named by the socket's query, or the close code that refuses it.

    A list comes first: its filters may share a name with a record's parameter (the decisions'
    `seduta` filter names a meeting, as the meeting page's `?seduta=` does).
    """
    if "elenco" in params:
        return await _listing(session, table, params, user_id)
    for kind in CATALOG.record_screens():
        if kind.param is not None and kind.param in params:
            assert kind.model is not None
            record_id = inputs.record_id(params[kind.param])
            if record_id is None:  # not an id (server/domain/inputs.py): no record has it
                return NOT_FOUND
            model = kind.model
            found = await session.scalar(select(model.id).where(model.id == record_id, model.table_id == table.id))
            if found is None or not await CATALOG.may_read(session, table.id, kind.name, record_id, audience):
                return NOT_FOUND  # a record private to other organisations is not there for this person
            return Screen(kind.name, record_id)
    return Screen()


async def _listing(session: AsyncSession, table: Table, params: QueryParams, user_id: int) -> Screen | int:
    """The list screen named by `?elenco=` with its filters, or the close code that refuses it."""
    listing = CATALOG.listing(params["elenco"])
    if listing is None:
        return NOT_FOUND
    if listing.for_person is not None:
        return listing.for_person(user_id)
    screen = list_screen(listing.name, (item for item in params.multi_items() if item[0] != "elenco"))
    if listing.check is not None:
        try:  # the filters come from an allowlist, as on the page itself
            await listing.check(session, table, screen)
        except BadQuery:
            return POLICY
    return screen


async def table_socket(websocket: WebSocket) -> None:
    settings: Settings = websocket.app.state.settings
    if websocket.headers.get("origin", "").lower() != settings.origin:
        await websocket.close(POLICY)  # before accept(): the handshake is refused with HTTP 403
        return
    state = websocket.scope.get("state", {})
    viewer: Viewer = state["viewer"]
    token: str | None = state.get("session_token")
    hub: Hub = websocket.app.state.hub
    session_id = session_key(token) if token is not None else ""
    # Counted before and after the queries: a session at its cap costs none, and none gets past it.
    admission = TOO_MANY if _at_cap(hub, settings, session_id) else await _admit(websocket, viewer, token)
    await websocket.accept()
    if not isinstance(admission, int) and _at_cap(hub, settings, session_id):
        admission = TOO_MANY
    if isinstance(admission, int):
        await websocket.close(admission)
        return
    assert viewer.user_id is not None
    connection = Connection(
        websocket=websocket,
        table_id=admission.table_id,
        user_id=viewer.user_id,
        session_id=session_id,
        audience=admission.audience,
        locale=i18n.current_locale(),
        page=admission.page,
        expires_at=admission.expires_at,
        direct=DirectWriter.find(websocket.scope),
    )
    await hub.open(connection)  # registers the connection before its first await: the cap holds
    await hub.serve(connection)


def _at_cap(hub: Hub, settings: Settings, session_id: str) -> bool:
    return bool(session_id) and hub.sockets_of(session_id) >= settings.max_sockets_per_session


ROUTES = [WebSocketRoute("/ws/tavoli/{slug}", table_socket, name="table_socket")]
