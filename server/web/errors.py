"""Error pages in the site's layout, in plain language, with a way back.

Every error page, the 500 included, carries the viewer's name and CSRF token (it is a page of
the site): it is sent with `Cache-Control: no-store`, like every other page.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from server.domain.errors import DomainError, Duplicate, Forbidden, Invalid, NotFound, Stale
from server.i18n import _

log = logging.getLogger(__name__)


NO_STORE = {"Cache-Control": "no-store"}


class LoginRequired(Exception):
    """The page needs a logged-in person: send them to the login page, then back here."""


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Request not valid"), _("The request could not be understood.")),
        403: (_("Access denied"), _("You do not have permission to do this.")),
        404: (_("Page not found"), _("The page you asked for does not exist or is not visible to you.")),
        405: (_("Action not allowed"), _("This address does not accept this kind of request.")),
        409: (_("Changed in the meantime"), _("Someone else changed this in the meantime.")),
        413: (_("Request too large"), _("What you sent is larger than the service accepts.")),
        422: (_("Data not valid"), _("Some of the data you sent is not valid.")),
        429: (_("Too many attempts"), _("Too many attempts: wait a moment and try again.")),
        500: (
            _("Something went wrong"),
            _("An unexpected error occurred. It has been logged; please try again later."),
        ),
        503: (_("Service unavailable"), _("The service is temporarily unavailable.")),
    }


def error_page(
    request: Request, status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    title, default = _titles().get(status, _titles()[400])
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "errors/error.html",
        {"status": status, "title": title, "message": message or default},
        status_code=status,
        headers={**(headers or {}), **NO_STORE},
    )


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if exc.detail and exc.detail != _default_phrase(exc.status_code) else None
    return error_page(request, exc.status_code, message, dict(exc.headers or {}))


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


async def domain_error(request: Request, exc: Exception) -> Response:
    status = {NotFound: 404, Forbidden: 403, Duplicate: 409, Stale: 409, Invalid: 422}.get(type(exc), 400)
    return error_page(request, status, str(exc))


async def login_required(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = "/login?next=" + quote(target, safe="/")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    try:
        response = error_page(request, 500)
    except Exception:  # the layout itself may be what failed: answer in plain text
        response = Response(
            _("An unexpected error occurred."), status_code=500, media_type="text/plain", headers=NO_STORE
        )
    for name, value in request.app.state.security_headers.items():
        response.headers.setdefault(name, value)
    return response


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
    """Answer a request that the middleware refused (CSRF, cross-site, too large, unreadable form)."""
    messages = {
        "csrf": _("This form has expired or did not come from this site. Reload the page and try again."),
        "cross-site": _("Requests from other sites are not accepted."),
        "malformed": _("The form could not be read. Reload the page and try again."),
        "nul": _("The request contains a character that no text may hold (NUL). Remove it and try again."),
    }
    response = error_page(Request(scope, receive), status, messages.get(reason))
    await response(scope, receive, send)


HANDLERS = {
    HTTPException: http_exception,
    DomainError: domain_error,
    LoginRequired: login_required,
    Exception: server_error,
}
