"""Security headers on every response, and the CSRF check on every state-changing request."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# No inline script or style anywhere: htmx is configured not to inject its indicator style
# (see templates/base.html) and fonts come from our own stylesheet. Bootstrap Italia's stylesheet
# embeds one icon font as a data: URL, which Chromium loads; a font cannot run code.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if settings.https:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


class SecurityHeadersMiddleware:
    """Adds the security headers, and `Cache-Control: no-store` to everything but static files."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(secret_key: str, purpose: str, value: str) -> str:
    """The CSRF token bound to a session (or an anonymous visitor's cookie) and the secret key."""
    return hmac.new(secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


Refuse = Callable[[Scope, Receive, Send, int, str], Awaitable[None]]


class CSRFMiddleware:
    """Refuses (403) a state-changing request without the token of its session or from another site.

    The token travels in the `X-CSRF-Token` header (htmx, from `hx-headers` on `<body>`) or in the
    `csrf_token` form field (plain forms). The body is read here, bounded by the size limit, and
    replayed to the endpoint. The session middleware has already put the expected token in the
    request state.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings, refuse: Refuse) -> None:
        self.app = app
        self.settings = settings
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not self._same_site(request):
            await self.refuse(scope, receive, send, 403, "cross-site")
            return
        body = await _read_body(receive, self.settings.max_body_bytes)
        if body is None:
            await self.refuse(scope, receive, send, 413, "too-large")
            return
        replay = _replay(body, receive)
        token = request.headers.get("x-csrf-token") or await _form_token(scope, _replay(body, receive))
        expected = scope.get("state", {}).get("csrf_token", "")
        if not token or not hmac.compare_digest(token, expected):
            await self.refuse(scope, replay, send, 403, "csrf")
            return
        await self.app(scope, replay, send)

    def _same_site(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is not None and origin != "null":
            return origin.lower() == self.settings.origin
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form_token(scope: Scope, receive: Receive) -> str | None:
    content_type = Request(scope).headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    form = await Request(scope, receive).form()
    try:
        token = form.get("csrf_token")
        return token if isinstance(token, str) else None
    finally:
        await form.close()
