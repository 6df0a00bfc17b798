"""Reading forms and answering them: the fragment for htmx, a redirect for a plain form."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.i18n import _


def text(form: FormData, name: str, limit: int = 100_000) -> str:
    """A text field (missing = empty), cut at `limit` characters so a huge post costs nothing."""
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def number(form: FormData, name: str) -> int:
    """A required whole number (ids, versions, positions); anything else is a bad request."""
    try:
        return int(text(form, name, 20))
    except ValueError:
        raise HTTPException(400, _("The request could not be understood.")) from None


def new_client_key() -> str:
    """A key for a creation form: submitting the same form twice creates one record."""
    return secrets.token_urlsafe(16)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, context, status_code=status
    )


def redirect(url: str) -> Response:
    """After a successful plain form: see the result at `url` (POST/redirect/GET)."""
    return RedirectResponse(url, status_code=303)
