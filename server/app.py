"""The application factory: `create_app(settings)` builds everything; nothing happens at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from server.config import Settings
from server.db.session import Database
from server.domain import minutes_publishing, protocol_seal
from server.domain.accounts import purge_expired
from server.domain.action_lists import today
from server.domain.protocol_force import expire_due
from server.live.brokers import make_broker
from server.live.direct import RawSendMiddleware
from server.live.documents import Rooms
from server.live.hub import Hub
from server.markdown import MarkdownRenderer
from server.views.areas import CATALOG
from server.views.cache import PageCache
from server.web import documents, live
from server.web.assets import StaticAssets
from server.web.errors import HANDLERS, refuse
from server.web.security import CrossSiteMiddleware, CSRFMiddleware, SecurityHeadersMiddleware, security_headers
from server.web.sessions import SessionMiddleware
from server.web.templating import make_templates

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
PURGE_INTERVAL_SECONDS = 3600
SHUTDOWN_GRACE_SECONDS = 10
# A table socket only ever receives keepalives: anything bigger than this is not one (1009).
TABLE_SOCKET_MESSAGE_LIMIT = 1024

log = logging.getLogger(__name__)


def routes(assets: StaticAssets | None = None) -> list[BaseRoute]:
    """Every area's routes (each names its web modules in server/views/areas.py), the socket, and
    the browser's files (`assets`, read from static/dist by `create_app`; none without)."""
    declared = [route for name in CATALOG.route_modules() for route in importlib.import_module(name).ROUTES]
    return [
        *declared,
        *live.ROUTES,
        *documents.ROUTES,
        Mount("/static", app=assets or StaticAssets.empty(), name="static"),
    ]


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the Tavoli application for `settings` (default: read from the environment)."""
    settings = settings or Settings.from_env()
    assets = StaticAssets.load(STATIC_DIR / "dist")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Markdown texts are rendered when written, short ones on the loop, long ones in a worker
        # process killed at a time limit (server/markdown.py); pages and pushes show the stored HTML.
        markdown = MarkdownRenderer()
        app.state.markdown = markdown
        database = Database(settings.database_url, echo=settings.db_echo, markdown=markdown)
        app.state.database = database
        # A publication of the minutes cut short (a process killed midway) is finished or rolled back;
        # a minutes folder that cannot be written, or a database not reachable yet (/healthz says so), is
        # logged, and the next publication tries again.
        try:
            await minutes_publishing.repair(database, settings.minutes_dir)
        except (OSError, DBAPIError):
            log.exception("the minutes archive in %s could not be repaired", settings.minutes_dir)
        hub = Hub(
            database,
            app.state.templates.env,
            make_broker(settings.broker_url),
            message_limit=min(settings.ws_max_bytes, TABLE_SOCKET_MESSAGE_LIMIT),
        )
        await hub.start()
        app.state.hub = hub
        # The collaborative documents' rooms: their notes travel on the hub's broker.
        rooms = Rooms(database, max_bytes=settings.doc_max_bytes, broker=hub.broker, instance=hub.instance)
        hub.documents = rooms
        app.state.documents = rooms
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # scans, which otherwise add milliseconds to the pushes that happen to trigger one.
        gc.collect()
        gc.freeze()
        stopping = asyncio.Event()
        purger = asyncio.create_task(_purge_periodically(database, settings, stopping))
        try:
            yield
        finally:
            # Let a purge in flight finish rather than cancel it: a database call cancelled midway
            # would answer from its driver thread after the loop has closed.
            stopping.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(purger, SHUTDOWN_GRACE_SECONDS)
            await rooms.close()  # before the hub: their last writes finish, and their notes go out
            await hub.stop()
            await database.dispose()
            await markdown.close()

    app = Starlette(
        routes=routes(assets),
        middleware=[
            Middleware(RawSendMiddleware),
            Middleware(SecurityHeadersMiddleware, settings=settings),
            # Another site's request is refused before the session middleware reads the database.
            Middleware(CrossSiteMiddleware, settings=settings, refuse=refuse),
            Middleware(SessionMiddleware, settings=settings),
            Middleware(CSRFMiddleware, settings=settings, refuse=refuse),
        ],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    # The institution's seal (TAVOLI_SEAL_P12): None without one; a SealError, saying why, stops start-up.
    app.state.seal = protocol_seal.seal_from_settings(settings)
    app.state.templates = make_templates()
    # Templates build links from route names. The paths are relative to the site (no scheme or
    # host), so that the hub, rendering a fragment for every open page, needs no request.
    app.state.templates.env.globals["url_for"] = _path_builder(app.router.routes)
    # The hashed name of a built file (static/build.mjs): asset('app.js') -> /static/dist/app-….js.
    app.state.templates.env.globals["asset"] = assets.url
    app.state.page_cache = PageCache(app.state.templates.env)
    app.state.security_headers = security_headers(settings)
    return app


def _path_builder(routes: list[BaseRoute]) -> Callable[..., str]:
    """`url_for(name, **params)` for templates: the route found by name (tests/test_links.py keeps
    names unique), not by trying every route in turn as the router does, which a page does often."""
    by_name = {route.name: route for route in routes if isinstance(route, Route | WebSocketRoute | Mount)}

    def url_for(name: str, /, **params: Any) -> str:
        return str(by_name[name].url_path_for(name, **params))

    return url_for


async def _purge_periodically(database: Database, settings: Settings, stopping: asyncio.Event) -> None:
    """Delete expired sessions and old login attempts, and expire the protocols due, hourly, until
    `stopping` is set.

    Several instances may all do it.
    """
    keep = timedelta(days=1, minutes=settings.login_window_minutes)
    while not stopping.is_set():
        try:
            async with database.transaction() as session:
                await purge_expired(session, keep_attempts=keep)
        except Exception:  # a database hiccup must not kill the task; the next round retries
            log.exception("could not purge expired sessions")
        try:  # protocols whose validity ended (each expires once, whichever instance sees it first)
            async with database.transaction() as session:
                await expire_due(session, today())
        except Exception:
            log.exception("could not expire the protocols due")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), PURGE_INTERVAL_SECONDS)
