"""Logging in and out, and choosing the language."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import update
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.config import LOCALES, Settings
from server.db.models import User
from server.db.session import Database
from server.domain import accounts
from server.i18n import _
from server.web.sessions import Cookies, Viewer


def safe_next(value: object, default: str = "/") -> str:
    """A same-site path to go to after the form; anything else (another host, a scheme) is ignored."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return default
    return value


def _login_page(
    request: Request,
    *,
    next_url: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "auth/login.html",
        {"next_url": next_url, "email": email, "error": error},
        status_code=status,
        headers=headers,
    )


async def login_form(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    viewer: Viewer = request.state.viewer
    if viewer.authenticated:
        return RedirectResponse(next_url, status_code=303)
    return _login_page(request, next_url=next_url)


async def _authenticate(
    database: Database, email: str, password: str, *, address: str, limits: accounts.LoginLimits
) -> tuple[accounts.Attempt, User | None]:
    """The attempt (with its wait when slowed down) and the account it opens, if any.

    Each step is a transaction of its own: the attempt is recorded and committed before the
    attempts are counted, so that parallel attempts all see one another (see domain.accounts), and
    no transaction stays open while the password is checked.
    """
    async with database.transaction() as session:
        attempt = await accounts.record_attempt(session, email, address=address, limits=limits)
    if attempt.throttled:
        return attempt, None
    async with database.read() as session:
        wait = await accounts.attempt_wait(session, attempt, limits)
        user = None if wait else await accounts.account_of(session, attempt)
    if wait:
        async with database.transaction() as session:
            await accounts.forget_attempt(session, attempt)
        return replace(attempt, retry_after=wait), None
    return attempt, user if await accounts.password_matches(user, password) else None


async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    cookies = Cookies(settings)
    form = await request.form()
    email = str(form.get("email", ""))[:254]
    password = str(form.get("password", ""))[:1024]
    next_url = safe_next(form.get("next"))
    if not email.strip() or not password:
        return _login_page(
            request, next_url=next_url, email=email, status=400, error=_("Enter your email address and your password.")
        )
    limits = accounts.LoginLimits(
        failures_per_address=settings.login_failures_per_address,
        window=timedelta(minutes=settings.login_window_minutes),
    )
    address = request.client.host if request.client else "unknown"
    attempt, user = await _authenticate(database, email, password, address=address, limits=limits)
    if attempt.throttled:
        message = _("Too many failed attempts. Wait {seconds} seconds and try again.").format(
            seconds=attempt.retry_after
        )
        return _login_page(
            request,
            next_url=next_url,
            email=email,
            error=message,
            status=429,
            headers={"Retry-After": str(attempt.retry_after)},
        )
    token = None
    if user is not None:
        async with database.transaction() as session:
            await accounts.attempt_succeeded(session, attempt)
            token = await accounts.start_session(
                session, user, lifetime=timedelta(hours=settings.session_hours), replaces=request.state.session_token
            )
    if token is None:
        return _login_page(
            request,
            next_url=next_url,
            email=email,
            status=400,
            error=_("The email address or the password is not correct."),
        )
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(cookies.session, token, **cookies.attributes(cookies.session_max_age))
    return response


async def logout(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    cookies = Cookies(settings)
    token = request.state.session_token
    if token:
        async with database.transaction() as session:
            await accounts.end_session(session, token)
        # Close this session's open table pages, on every instance.
        await request.app.state.hub.revoke(accounts.session_key(token))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(cookies.session, path="/", secure=cookies.secure, httponly=True, samesite="lax")
    return response


async def choose_language(request: Request) -> Response:
    """Switch the interface language; remembered in a cookie, and on the account when logged in."""
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    cookies = Cookies(settings)
    form = await request.form()
    locale = str(form.get("locale", ""))
    next_url = safe_next(form.get("next"))
    if locale not in LOCALES:
        raise HTTPException(400, _("This language is not available."))
    viewer: Viewer = request.state.viewer
    if viewer.user_id is not None:
        async with database.transaction() as session:
            await session.execute(
                update(User)
                .where(User.id == viewer.user_id)
                .values(locale=locale)
                .execution_options(synchronize_session=False)
            )
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(cookies.locale, locale, **cookies.attributes(365 * 24 * 3600))
    return response


ROUTES = [
    Route("/login", login_form, methods=["GET"], name="login_form"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/lingua", choose_language, methods=["POST"], name="choose_language"),
]
