"""Who is asking: the server-side session behind the cookie, their CSRF token and their language."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import i18n
from server.config import LOCALES, Settings
from server.db.models import User
from server.db.session import Database
from server.domain.accounts import session_user
from server.web.security import csrf_token


@dataclass(frozen=True)
class Viewer:
    """The person behind a request, as pages and the hub need them (no ORM object escapes)."""

    user_id: int | None = None
    name: str = ""
    email: str = ""
    is_admin: bool = False
    organisation: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, user.name, user.email, user.is_admin, user.organisation.name if user.organisation else None)


ANONYMOUS = Viewer()
# Static files and the health check never need to know who asks (and must not touch the database).
UNTRACKED_PATHS = ("/static/", "/healthz")


class Cookies:
    """Names and attributes of our cookies: `__Host-` and Secure when the base URL is https."""

    def __init__(self, settings: Settings) -> None:
        prefix = "__Host-" if settings.https else ""
        self.secure = settings.https
        self.session = f"{prefix}tavoli_session"
        self.anonymous = f"{prefix}tavoli_anon"
        self.locale = f"{prefix}tavoli_lang"
        self.session_max_age = settings.session_hours * 3600

    def attributes(self, max_age: int | None) -> dict[str, Any]:
        """Keyword arguments for `Response.set_cookie`."""
        return {"max_age": max_age, "path": "/", "secure": self.secure, "httponly": True, "samesite": "lax"}

    def header(self, name: str, value: str, max_age: int | None) -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[name] = value
        morsel = cookie[name]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if self.secure:
            morsel["secure"] = True
        if max_age is not None:
            morsel["max-age"] = max_age
        return morsel.OutputString()


class SessionMiddleware:
    """Loads the viewer from the session cookie, derives their CSRF token and sets their locale.

    Anonymous visitors get a random cookie that their CSRF token is bound to (the login form and
    the language switch need one). A cookie of an expired or deleted session is cleared.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.cookies = Cookies(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(UNTRACKED_PATHS):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        database: Database = scope["app"].state.database
        token = conn.cookies.get(self.cookies.session)
        user = await _session_user(database, token) if token else None
        set_cookies: list[str] = []
        if user is not None and token:
            csrf = csrf_token(self.settings.secret_key, "session", token)
        else:
            if token:
                set_cookies.append(self.cookies.header(self.cookies.session, "", 0))
                token = None
            anonymous = conn.cookies.get(self.cookies.anonymous) or ""
            if len(anonymous) < 32:
                anonymous = secrets.token_urlsafe(32)
                set_cookies.append(self.cookies.header(self.cookies.anonymous, anonymous, None))
            csrf = csrf_token(self.settings.secret_key, "anonymous", anonymous)
        locale = (user.locale if user else None) or conn.cookies.get(self.cookies.locale)
        i18n.set_locale(locale if locale in LOCALES else self.settings.default_locale)
        state = scope.setdefault("state", {})
        state["viewer"] = Viewer.of(user) if user else ANONYMOUS
        state["session_token"] = token
        state["csrf_token"] = csrf
        del user  # no ORM object lives as long as the request (a websocket may stay open for hours)
        if not set_cookies or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # The endpoint's own cookie wins (a login replacing an expired session's cookie).
                taken = {v.split("=", 1)[0] for v in headers.getlist("set-cookie")}
                for value in set_cookies:
                    if value.split("=", 1)[0] not in taken:
                        headers.append("set-cookie", value)
            await send(message)

        await self.app(scope, receive, send_with_cookies)


async def _session_user(database: Database, token: str) -> User | None:
    """The person of a session, read in a session of its own that does not outlive this call."""
    async with database.read() as session:
        return await session_user(session, token)
