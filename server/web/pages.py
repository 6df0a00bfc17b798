"""The home page, the accessibility statement and the health check."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.db.session import Database
from server.domain import protocol_access
from server.domain.tables import tables_for
from server.web.sessions import Viewer

log = logging.getLogger(__name__)


async def home(request: Request) -> Response:
    viewer: Viewer = request.state.viewer
    database: Database = request.app.state.database
    async with database.read() as session:
        listing = await tables_for(session, viewer.user_id, is_admin=viewer.is_admin)
        signing = await protocol_access.signed_by(session, viewer.user_id) if viewer.user_id is not None else []
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "home/home.html", {"listing": listing, "signing": signing}
    )


async def accessibility(request: Request) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "pages/accessibility.html", {}
    )


async def healthz(request: Request) -> Response:
    """200 when the database answers within 5 seconds, 503 otherwise (for load balancers)."""
    database: Database = request.app.state.database
    try:
        async with asyncio.timeout(5), database.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database is "unavailable"
        log.warning("health check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


ROUTES = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/accessibilita", accessibility, methods=["GET"], name="accessibility"),
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
]
