"""The collaborative documents' socket: `/ws/docs/{document_id}` (docs/architecture.md,
"Collaborative documents").

It speaks y-protocols (server/live/documents.py holds the rooms). Access is decided before
`accept()`, as for the table socket (server/web/live.py): a foreign Origin is refused at the
handshake (HTTP 403); a same-origin upgrade that cannot be served is accepted and closed at once,
having sent nothing, with **4401** (no valid session), **4403** (no role on the document's
table), **4404** (no such document, an id that cannot be one, or a document this person may not
read: a draft of another organisation is not there for them) or **4429** (the session has
TAVOLI_MAX_SOCKETS_PER_SESSION document sockets open on this instance). y-websocket stops
reconnecting after 4400-4499.

Whether the person may edit or only read comes from the area that owns the document's kind
(`DocumentBinding.access`); `?ack=1` asks for our message 100 (what the server stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from server.config import Settings
from server.db.models import Membership, Table
from server.db.session import Database
from server.domain import documents, inputs
from server.domain.accounts import session_expiry, session_key
from server.domain.documents import DocumentAccess
from server.live.connection import POLICY
from server.live.direct import DirectWriter
from server.live.documents import COLOURS, DocumentSocket, Rooms
from server.live.yprotocol import NO_ACCESS, NOT_FOUND, SESSION_ENDED, TOO_MANY
from server.views.areas import CATALOG
from server.web.access import follower
from server.web.sessions import Viewer


@dataclass(frozen=True)
class _Admission:
    document_id: int
    table_id: int
    colour: int
    may_edit: bool
    expires_at: datetime


async def _admit(websocket: WebSocket, viewer: Viewer, token: str | None) -> _Admission | int:
    """What this person may do with the document, or the close code that refuses the socket."""
    if viewer.user_id is None or token is None:
        return SESSION_ENDED
    document_id = inputs.record_id(websocket.path_params["document_id"])
    database: Database = websocket.app.state.database
    async with database.read() as session:
        expires_at = await session_expiry(session, token)
        if expires_at is None:
            return SESSION_ENDED
        if document_id is None:  # not an id (server/domain/inputs.py): no document has it
            return NOT_FOUND
        document = await documents.get(session, document_id)
        if document is None:
            return NOT_FOUND
        table = await session.get_one(Table, document.table_id)
        membership = await session.scalar(
            select(Membership).where(Membership.table_id == table.id, Membership.user_id == viewer.user_id)
        )
        audience = follower(table, membership, viewer)
        if audience is None:
            return NO_ACCESS
        organisation_id = audience.organisation_id
        binding = CATALOG.documents.get(document.kind)
        if binding is None:
            return NOT_FOUND
        access = await binding.access(session, document, audience, viewer.user_id)
        if access is DocumentAccess.none:
            return NOT_FOUND
    return _Admission(
        document_id=document.id,
        table_id=document.table_id,
        # The organisation's colour in the editors' palette (remote cursors, the list of who is here).
        colour=(organisation_id or 0) % COLOURS,
        may_edit=access is DocumentAccess.edit and document.frozen_at is None,
        expires_at=expires_at,
    )


async def document_socket(websocket: WebSocket) -> None:
    settings: Settings = websocket.app.state.settings
    if websocket.headers.get("origin", "").lower() != settings.origin:
        await websocket.close(POLICY)  # before accept(): the handshake is refused with HTTP 403
        return
    state = websocket.scope.get("state", {})
    viewer: Viewer = state["viewer"]
    token: str | None = state.get("session_token")
    rooms: Rooms = websocket.app.state.documents
    session_id = session_key(token) if token is not None else ""
    at_cap = bool(session_id) and rooms.sockets_of(session_id) >= settings.max_sockets_per_session
    admission = TOO_MANY if at_cap else await _admit(websocket, viewer, token)
    await websocket.accept()
    if isinstance(admission, int):
        await websocket.close(admission)
        return
    assert viewer.user_id is not None
    socket = DocumentSocket(
        websocket=websocket,
        document_id=admission.document_id,
        table_id=admission.table_id,
        user_id=viewer.user_id,
        session_id=session_id,
        name=viewer.name,
        colour=admission.colour,
        may_edit=admission.may_edit,
        wants_ack=websocket.query_params.get("ack") == "1",
        expires_at=admission.expires_at,
        direct=DirectWriter.find(websocket.scope),
    )
    await rooms.serve(socket)


ROUTES = [WebSocketRoute("/ws/docs/{document_id}", document_socket, name="document_socket")]
