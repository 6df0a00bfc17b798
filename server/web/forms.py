"""Reading forms and answering them: the fragment for htmx, a redirect for a plain form."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.domain import inputs
from server.i18n import _


def text(form: FormData, name: str, limit: int = 100_000) -> str:
    """A text field (missing = empty), cut at `limit` characters so a huge post costs nothing."""
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def bad_request() -> HTTPException:
    """A request no page of ours sends (a hidden field or an address made by hand): 400."""
    return HTTPException(400, _("The request could not be understood."))


def number(form: FormData, name: str) -> int:
    """A required whole number (0 to 2**31 - 1) from a field no one types (versions, positions):
    anything else is a bad request (server/domain/inputs.py says what a number is)."""
    value = inputs.whole_number(text(form, name, 20), low=0)
    if value is None:
        raise bad_request()
    return value


def optional_id(value: str) -> int | None:
    """An optional record id from a hidden field or the address: None when empty, 400 when not an id."""
    if not value:
        return None
    found = inputs.record_id(value)
    if found is None:
        raise bad_request()
    return found


def query_id(request: Request, name: str) -> int | None:
    """An optional record id (or sequence number) from the query string, e.g. `?prima=120`."""
    return optional_id(request.query_params.get(name, "")[:20])


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
