"""The meeting room: the meeting's life (open, close), check-in, its speaking time, room links and
the room screen with its own socket.

Every action works as a plain form (answered with a redirect, or the meeting page with the
refusal) and, with htmx, answers with the regions it changed, out of band, and the refusal in an
alert beside them that no push replaces (`room_answer`).

The room screen `/tavoli/<slug>/sedute/<id>/sala` opens with a role on the table, or with a room
link: its secret travels in the address's fragment, which reaches no server log and no Referer;
the page's own script posts it, once, to `…/sala/accesso`, which answers with a cookie scoped to
that screen's path (read-only, that meeting only, until the end of the meeting's day). With that cookie the
screen and its socket `…/sala/ws` open, and nothing else does: every other route checks the login
session, which a room link has none of.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from server import i18n
from server.config import Settings
from server.db.models import Role, Table
from server.db.session import Database
from server.db.types import utcnow
from server.domain import inputs, meeting_life, meetings, room_links
from server.domain.speaker_lists import parse_speaking_time
from server.i18n import _
from server.live.connection import POLICY, SESSION_ENDED, TOO_MANY, Connection
from server.live.direct import DirectWriter
from server.live.hub import Hub
from server.views.areas import CATALOG
from server.views.audience import Audience, Screen
from server.views.meetings import ROOM_SCREEN
from server.views.regions import Region
from server.web.access import TableAccess, TableRoute, authorize
from server.web.editing import Refused, attempt
from server.web.errors import LoginRequired
from server.web.forms import is_htmx, redirect, render, text
from server.web.live import live_query
from server.web.meetings import MEETING, meeting_id_of, meeting_url, render_meeting_page

ROOM = MEETING + "/sala"


def _db(request: Request | WebSocket) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


# --- answering the room's actions ---------------------------------------------------------------

ALERTS = {"details": "details-alert", "speakers": "speakers-alert", "quorum": "quorum-alert"}


async def room_answer(
    request: Request,
    access: TableAccess,
    meeting_id: int,
    *,
    regions: Sequence[Region],
    alert: str,
    refused: Refused | None = None,
    announce: str | None = None,
) -> Response:
    """After a meeting-room action: the changed regions and the alert (htmx), or the meeting
    page with the refusal / a redirect to the region (a plain form)."""
    message = refused.message if refused else None
    status = refused.status if refused else 200
    if not is_htmx(request):
        if refused is not None:
            return await render_meeting_page(
                request, access, meeting_id, status=status, **{f"{alert}_message": message}
            )
        return redirect(meeting_url(access, meeting_id) + f"#{regions[0].id if regions else 'main'}")
    async with _db(request).read() as session:
        data = await CATALOG.load(session, access.table, regions, Screen("meeting", meeting_id), access.audience)
    context = {
        **data,
        "audience": access.audience,
        "response_regions": [region.template for region in regions],
        "alert_id": ALERTS[alert],
        "message": message,
        "announce": announce,
    }
    return render(request, "meetings/_room_response.html", context, status)


async def room_action(
    request: Request,
    access: TableAccess,
    change: Callable[[Any], Awaitable[Any]],
    *,
    regions: Sequence[Region],
    alert: str,
    said: Callable[[Any], str],
) -> Response:
    """Run a one-button change of the meeting room and answer it (refusals included)."""
    meeting_id = meeting_id_of(request)
    done = await attempt(request, change, as_it_is_now=_("This is the meeting as it is now: check it and try again."))
    if isinstance(done, Refused):
        return await room_answer(request, access, meeting_id, regions=regions, alert=alert, refused=done)
    return await room_answer(request, access, meeting_id, regions=regions, alert=alert, announce=said(done))


def switch(form: FormData) -> bool:
    """An "open" field: "on" opens, "off" closes; anything else is a hand-made request (400)."""
    value = text(form, "open", 5)
    if value not in ("on", "off"):
        raise HTTPException(400, _("The request could not be understood."))
    return value == "on"


def regions_named(*ids: str) -> tuple[Region, ...]:
    return tuple(CATALOG.regions[name] for name in ids)


# --- the meeting's life, check-in, speaking time -------------------------------------------------


async def open_meeting(request: Request, access: TableAccess) -> Response:
    async def change(session: Any) -> Any:
        return await meeting_life.open_meeting(
            session, access.table, meeting_id_of(request), actor_id=access.viewer.user_id
        )

    return await room_action(
        request,
        access,
        change,
        regions=regions_named("meeting-details", "meeting-time", "speakers", "quorum"),
        alert="details",
        said=lambda meeting: _("The meeting «{title}» is open.").format(title=meeting.title),
    )


async def close_meeting(request: Request, access: TableAccess) -> Response:
    async def change(session: Any) -> Any:
        return await meeting_life.close_meeting(
            session, access.table, meeting_id_of(request), actor_id=access.viewer.user_id
        )

    return await room_action(
        request,
        access,
        change,
        regions=regions_named("meeting-details", "meeting-time", "speakers", "quorum", "agenda", "attendance"),
        alert="details",
        said=lambda meeting: _("The meeting «{title}» is closed.").format(title=meeting.title),
    )


async def toggle_check_in(request: Request, access: TableAccess) -> Response:
    is_open = switch(await request.form())

    async def change(session: Any) -> Any:
        return await meeting_life.set_check_in(
            session, access.table, meeting_id_of(request), is_open, actor_id=access.viewer.user_id
        )

    return await room_action(
        request,
        access,
        change,
        regions=regions_named("meeting-details", "quorum"),
        alert="details",
        said=lambda _meeting: _("Check-in is open.") if is_open else _("Check-in is closed."),
    )


async def check_in(request: Request, access: TableAccess) -> Response:
    organisation_id = access.membership.organisation_id if access.membership else None
    user_id = access.viewer.user_id
    assert user_id is not None  # a member's route: someone logged in

    async def change(session: Any) -> Any:
        return await meeting_life.check_in(
            session,
            access.table,
            meeting_id_of(request),
            user_id=user_id,
            name=access.viewer.name,
            organisation_id=organisation_id,
        )

    return await room_action(
        request,
        access,
        change,
        regions=regions_named("quorum", "attendance", "meeting-details"),
        alert="quorum",
        said=lambda _entry: _("You are checked in for your organisation."),
    )


async def set_speaking_time(request: Request, access: TableAccess) -> Response:
    typed = text(await request.form(), "speaking_time", 20)

    async def change(session: Any) -> Any:
        seconds = parse_speaking_time(typed)
        return await meeting_life.set_speaking_time(
            session, access.table, meeting_id_of(request), seconds, actor_id=access.viewer.user_id
        )

    return await room_action(
        request,
        access,
        change,
        regions=regions_named("meeting-details", "speakers"),
        alert="details",
        said=lambda _meeting: _("Default speaking time saved."),
    )


# --- room links ---------------------------------------------------------------------------------


async def create_room_link(request: Request, access: TableAccess) -> Response:
    """Make a room link and show it this once, on the meeting page (never pushed, never stored)."""
    meeting_id = meeting_id_of(request)
    async with _db(request).transaction() as session:
        settings: Settings = request.app.state.settings
        made = await room_links.create_link(
            session, access.table, meeting_id, key=settings.secret_key, actor_id=access.viewer.user_id
        )
    address = f"{settings.base_url.rstrip('/')}{meeting_url(access, meeting_id)}/sala#t={made.secret}"
    return await render_meeting_page(request, access, meeting_id, new_room_link=address)


async def revoke_room_link(request: Request, access: TableAccess) -> Response:
    meeting_id = meeting_id_of(request)
    link_id = inputs.record_id(text(await request.form(), "link", 20))
    if link_id is None:
        raise HTTPException(400, _("The request could not be understood."))
    async with _db(request).transaction() as session:
        link = await room_links.revoke_link(session, access.table, meeting_id, link_id, actor_id=access.viewer.user_id)
    hub: Hub = request.app.state.hub
    await hub.revoke(room_links.room_session(link.id))  # its screens close, on every instance
    return redirect(meeting_url(access, meeting_id) + "#room-links")


# --- the room screen ----------------------------------------------------------------------------


def room_cookie_name(settings: Settings) -> str:
    """Scoped to one screen's path, so no `__Host-` prefix (which needs Path=/); `__Secure-` on https."""
    return "__Secure-tavoli_room" if settings.https else "tavoli_room"


def room_path(slug: str, meeting_id: int) -> str:
    return f"/tavoli/{slug}/sedute/{meeting_id}/sala"


async def _room_pass(conn: Request | WebSocket) -> room_links.RoomPass | None:
    """The pass that this request's room cookie gives to the room screen it asks for, if any."""
    settings: Settings = conn.app.state.settings
    return await _pass_for(conn, conn.cookies.get(room_cookie_name(settings), ""))


async def _posted_pass(request: Request) -> room_links.RoomPass | None:
    """The pass that the secret posted by the room screen's script gives, if any."""
    secret = text(await request.form(), "secret", room_links.SECRET_LIMIT + 1)
    settings: Settings = request.app.state.settings
    return await _pass_for(request, room_links.pass_of(secret, settings.secret_key) if secret else "")


async def _pass_for(conn: Request | WebSocket, cookie: str) -> room_links.RoomPass | None:
    meeting_id = conn.path_params.get("meeting_id")
    if not cookie or not isinstance(meeting_id, int) or not inputs.is_record_id(meeting_id):
        return None
    async with _db(conn).read() as session:
        return await room_links.admit(session, cookie, slug=conn.path_params["slug"], meeting_id=meeting_id)


async def _room_page(request: Request, table_id: int, meeting_id: int, socket: str, audience: Audience) -> Response:
    async with _db(request).read() as session:
        table = await session.get_one(Table, table_id)
        data = await CATALOG.load(session, table, ROOM_SCREEN, Screen("room", meeting_id), audience)
    return render(request, "meetings/room.html", {**data, "audience": audience, "room_socket": socket})


def _door(request: Request, status: int) -> Response:
    """The same page for every address: it names no table, and says nothing of what exists."""
    exchange = request.url.path.rstrip("/") + "/accesso"
    return render(request, "meetings/room_door.html", {"exchange_url": exchange}, status)


PassOf = Callable[[Request], Awaitable[room_links.RoomPass | None]]


class RoomRoute(TableRoute):
    """A table route that a room link also opens, for its own meeting's room screen only.

    `pass_of` reads the link's pass from the request (the screen's cookie, or the secret the
    screen's script posts); with one, `with_pass` answers. Without, it is a TableRoute like any
    other (`role=Role.observer`), except that `door` answers whoever has no role here instead of
    the usual refusal: the room screen's own page must run to exchange a link's secret.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[[Request, TableAccess], Awaitable[Response]],
        *,
        pass_of: PassOf,
        with_pass: Callable[[Request, room_links.RoomPass], Awaitable[Response]],
        door: Callable[[Request, int], Response] | None = None,
        methods: Sequence[str] = ("GET",),
        name: str,
    ) -> None:
        super().__init__(path, endpoint, role=Role.observer, methods=methods, name=name)
        checked = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            body = await request.body() if scope["method"] == "POST" else b""
            room_pass = await pass_of(request)
            if room_pass is not None:
                response = await with_pass(request, room_pass)
            elif door is not None and not await _has_role(request):
                viewer = request.state.viewer
                response = door(request, 404 if viewer.authenticated else 200)
            else:
                await checked(scope, _replay(body, receive), send)
                return
            await response(scope, receive, send)

        self.app = app


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's body again, for the endpoint behind a wrapper that read it."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _has_role(request: Request) -> bool:
    try:
        await authorize(request, request.path_params["slug"], Role.observer)
    except (LoginRequired, HTTPException):
        return False
    return True


async def room_screen(request: Request, access: TableAccess) -> Response:
    """The room screen for someone with a role: it follows the table's socket (`?sala=ID`)."""
    meeting_id = meeting_id_of(request)
    async with _db(request).read() as session:
        await meetings.get_meeting(session, access.table.id, meeting_id)
    socket = request.app.url_path_for("table_socket", slug=access.table.slug) + live_query(Screen("room", meeting_id))
    return await _room_page(request, access.table.id, meeting_id, str(socket), access.audience)


async def room_screen_with_pass(request: Request, room_pass: room_links.RoomPass) -> Response:
    socket = room_path(request.path_params["slug"], room_pass.meeting_id) + "/ws"
    return await _room_page(request, room_pass.table_id, room_pass.meeting_id, socket, Audience(None))


async def refuse_exchange(request: Request, access: TableAccess) -> Response:
    """A secret that opens nothing, posted by someone with a role here (others are refused at the door)."""
    return Response(
        _("This room link is not valid: it expired at the end of its day, or the chair revoked it."),
        status_code=403,
        media_type="text/plain",
    )


async def exchange(request: Request, room_pass: room_links.RoomPass) -> Response:
    """The room link's secret, posted by the room screen's script, for its cookie (scoped to the screen)."""
    settings: Settings = request.app.state.settings
    secret = text(await request.form(), "secret", room_links.SECRET_LIMIT + 1)
    async with _db(request).transaction() as session:
        await room_links.used(session, room_pass)
    response = Response(status_code=204)
    response.set_cookie(
        room_cookie_name(settings),
        room_links.pass_of(secret, settings.secret_key),
        max_age=max(1, int((room_pass.expires_at - utcnow()).total_seconds())),
        path=room_path(request.path_params["slug"], room_pass.meeting_id),
        secure=settings.https,
        httponly=True,
        samesite="strict",
    )
    return response


# --- the room screen's socket -------------------------------------------------------------------


async def room_socket(websocket: WebSocket) -> None:
    """The socket of a room screen opened with a room link: its cookie, for its meeting, only.

    Refused like the table socket: a foreign Origin at the handshake (403); no valid pass (none,
    revoked, expired, another meeting's) accepted and closed at once with 4401; a link with
    TAVOLI_MAX_SOCKETS_PER_SESSION screens open on this instance, 4429.
    """
    settings: Settings = websocket.app.state.settings
    if websocket.headers.get("origin", "").lower() != settings.origin:
        await websocket.close(POLICY)
        return
    room_pass = await _room_pass(websocket)
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    session_id = room_links.room_session(room_pass.link_id) if room_pass else ""
    if room_pass is None:
        await websocket.close(SESSION_ENDED)
        return
    if hub.sockets_of(session_id) >= settings.max_sockets_per_session:  # a link's screens are capped too
        await websocket.close(TOO_MANY)
        return
    connection = Connection(
        websocket=websocket,
        table_id=room_pass.table_id,
        user_id=0,  # no person: the room screen is nobody's, and shows in nobody's presence
        session_id=session_id,
        audience=Audience(None),
        locale=i18n.current_locale(),
        page=Screen("room", room_pass.meeting_id),
        expires_at=room_pass.expires_at,
        direct=DirectWriter.find(websocket.scope),
    )
    await hub.open(connection)
    await hub.serve(connection)


# --- routes -------------------------------------------------------------------------------------

ROUTES = [
    TableRoute(MEETING + "/apri", open_meeting, role=Role.chair, methods=["POST"], name="open_meeting"),
    TableRoute(MEETING + "/chiudi", close_meeting, role=Role.chair, methods=["POST"], name="close_meeting"),
    TableRoute(
        MEETING + "/presenze/accettazione", toggle_check_in, role=Role.chair, methods=["POST"], name="check_in_toggle"
    ),
    TableRoute(MEETING + "/presenze/registrati", check_in, role=Role.member, methods=["POST"], name="check_in"),
    TableRoute(
        MEETING + "/tempo-interventi",
        set_speaking_time,
        role=Role.secretary,
        methods=["POST"],
        name="meeting_speaking_time",
    ),
    TableRoute(ROOM + "/collegamenti", create_room_link, role=Role.chair, methods=["POST"], name="create_room_link"),
    TableRoute(
        ROOM + "/collegamenti/revoca", revoke_room_link, role=Role.chair, methods=["POST"], name="revoke_room_link"
    ),
    RoomRoute(ROOM, room_screen, pass_of=_room_pass, with_pass=room_screen_with_pass, door=_door, name="room"),
    RoomRoute(
        ROOM + "/accesso",
        refuse_exchange,
        pass_of=_posted_pass,
        with_pass=exchange,
        methods=["POST"],
        name="room_access",
    ),
    WebSocketRoute(ROOM + "/ws", room_socket, name="room_socket"),
]
