"""The page templates: the rendering layer's Jinja environment, with what every request adds."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from server.views.templating import make_environment
from server.web.sessions import ANONYMOUS


def _request_context(request: Request) -> dict[str, Any]:
    """What every page needs: who is looking, their CSRF token, and the path to come back to."""
    state = request.state
    # Tolerant: an error page may be rendered for a request that failed before the session loaded.
    return {
        "viewer": getattr(state, "viewer", ANONYMOUS),
        "csrf_token": getattr(state, "csrf_token", ""),
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(env=make_environment(), context_processors=[_request_context])
