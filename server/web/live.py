"""The table socket: `/ws/tavoli/{slug}` for the table's home, and for its other live pages
`?seduta=ID` (a meeting), `?azione=ID` (an action item), `?proposta=ID` (a proposal),
`?elenco=azioni&…filters` and `?elenco=proposte` (the lists), `?elenco=mie` (the viewer's own
action items on the table, a section of "my action items").

Access is checked before `accept()` (DESIGN §4.2): a foreign Origin is refused at the handshake
(HTTP 403). A same-origin upgrade without a valid session or without a role on the table is
accepted and closed at once with 4401 / 4403 (4404 for a meeting of another table), having sent
nothing: a browser sees a refused handshake as 1006, which htmx would retry forever.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from server import i18n
from server.config import Settings
from server.db.models import ActionItem, Meeting, Proposal, Role, Table
from server.db.session import Database
from server.domain.access import Decision, decide
from server.domain.accounts import session_expiry, session_key
from server.domain.errors import BadQuery
from server.domain.presence import presence_people
from server.live.connection import NO_ACCESS, NOT_FOUND, POLICY, SESSION_ENDED, Connection
from server.live.direct import DirectWriter
from server.live.hub import Hub
from server.views.audience import Audience, Screen
from server.views.regions import ACTION_LIST
from server.web.access import table_and_membership
from server.web.sessions import Viewer

# The page a socket follows, from its address: one record of the table, or a list with its filters.
RECORD_PAGES: dict[str, tuple[str, type[Meeting | ActionItem | Proposal]]] = {
    "seduta": ("meeting", Meeting),
    "azione": ("action", ActionItem),
    "proposta": ("proposal", Proposal),
}
LIST_PAGES = {"azioni": "actions", "proposte": "proposals"}
MINE = "mie"  # the owner is the person asking, never a name in the address


def live_query(page: Screen) -> str:
    """The socket address's query for a page (the inverse of `_page`): "" for the table's home."""
    if page.kind == "table":
        return ""
    if page.kind == "mine":
        return "?" + urlencode({"elenco": MINE})
    names = {kind: name for name, (kind, _model) in RECORD_PAGES.items()} | {v: k for k, v in LIST_PAGES.items()}
    if page.record_id is not None:
        return "?" + urlencode({names[page.kind]: page.record_id})
    return "?" + urlencode([("elenco", names[page.kind]), *page.query])


def list_page(kind: str, query: Iterable[tuple[str, str]]) -> Screen:
    """A list's page, its filters in a stable order (so that equal lists share their renderings)."""
    return Screen(kind, None, tuple(sorted((k, v) for k, v in query if v)))


def mine_page(user_id: int) -> Screen:
    """A person's own action items on a table (the "my action items" page has one per table)."""
    return Screen("mine", None, (("responsabile", str(user_id)),))


async def present_on(request: Request, session: AsyncSession, table: Table) -> list[tuple[str, str | None]]:
    """Who is on the table's pages now, for a page being rendered."""
    hub: Hub = request.app.state.hub
    return await presence_people(session, table, hub.presence.users(table.id))


@dataclass(frozen=True)
class _Admission:
    table_id: int
    role: Role | None
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
        role = membership.role if membership else None
        decision = decide(
            required=Role.observer, role=role, is_public=table.is_public, authenticated=True, is_admin=viewer.is_admin
        )
        if decision is not Decision.allow:
            return NO_ACCESS
        page = Screen()
        for name, (kind, model) in RECORD_PAGES.items():
            if name in params:
                record_id = int(params[name]) if params[name].isdigit() else -1
                found = await session.scalar(select(model.id).where(model.id == record_id, model.table_id == table.id))
                if found is None:
                    return NOT_FOUND
                page = Screen(kind, record_id)
        if params.get("elenco") == MINE:
            page = mine_page(viewer.user_id)
        elif "elenco" in params:
            if params["elenco"] not in LIST_PAGES:
                return NOT_FOUND
            filters = (item for item in params.multi_items() if item[0] != "elenco")
            page = list_page(LIST_PAGES[params["elenco"]], filters)
            if page.kind == "actions":
                try:  # the filters come from an allowlist, as on the page itself
                    await ACTION_LIST.load(session, table, page)
                except BadQuery:
                    return POLICY
    return _Admission(table.id, role, page, expires_at)


async def table_socket(websocket: WebSocket) -> None:
    settings: Settings = websocket.app.state.settings
    if websocket.headers.get("origin", "").lower() != settings.origin:
        await websocket.close(POLICY)  # before accept(): the handshake is refused with HTTP 403
        return
    state = websocket.scope.get("state", {})
    viewer: Viewer = state["viewer"]
    token: str | None = state.get("session_token")
    admission = await _admit(websocket, viewer, token)
    await websocket.accept()
    if isinstance(admission, int):
        await websocket.close(admission)
        return
    assert viewer.user_id is not None
    assert token is not None
    hub: Hub = websocket.app.state.hub
    connection = Connection(
        websocket=websocket,
        table_id=admission.table_id,
        user_id=viewer.user_id,
        session_id=session_key(token),
        audience=Audience(admission.role, viewer.is_admin),
        locale=i18n.current_locale(),
        page=admission.page,
        expires_at=admission.expires_at,
        direct=DirectWriter.find(websocket.scope),
    )
    await hub.open(connection)
    await hub.serve(connection)


ROUTES = [WebSocketRoute("/ws/tavoli/{slug}", table_socket, name="table_socket")]
