"""Security headers on every response, and the checks on every state-changing request.

Two middlewares refuse what does not come from our own pages, one each side of the session
middleware (server/app.py): `CrossSiteMiddleware` first, so that a request from another site (or
a socket from another Origin) is refused before anything is read from the database, then
`CSRFMiddleware`, which needs the session's token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

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


def same_site(headers: Headers, settings: Settings) -> bool:
    """Whether a state-changing request comes from our own pages (Origin, else Sec-Fetch-Site)."""
    origin = headers.get("origin")
    if origin is not None and origin != "null":
        return origin.lower() == settings.origin
    return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


class CrossSiteMiddleware:
    """Refuses, before the session is looked up, what another site sends: a state-changing
    request (403) and a websocket from another Origin (its handshake refused: HTTP 403)."""

    def __init__(self, app: ASGIApp, *, settings: Settings, refuse: Refuse) -> None:
        self.app = app
        self.settings = settings
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and Headers(scope=scope).get("origin", "").lower() != self.settings.origin:
            await WebSocket(scope, receive, send).close(1008)  # before accept(): HTTP 403
            return
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS and not self._same_site(scope):
            await self.refuse(scope, receive, send, 403, "cross-site")
            return
        if scope["type"] in ("http", "websocket") and (
            "\x00" in scope.get("path", "") or _NUL_ESCAPE.search(scope.get("query_string", b""))
        ):
            # No text we keep or look up may hold NUL: PostgreSQL refuses it in any text value.
            if scope["type"] == "http":
                await self.refuse(scope, receive, send, 400, "nul")
            else:
                await WebSocket(scope, receive, send).close(1008)
            return
        await self.app(scope, receive, send)

    def _same_site(self, scope: Scope) -> bool:
        return same_site(Headers(scope=scope), self.settings)


class CSRFMiddleware:
    """Refuses (403) a state-changing request without the token of its session.

    The token travels in the `X-CSRF-Token` header (htmx, from `hx-headers` on `<body>`) or in the
    `csrf_token` form field (plain forms). The body is read here, bounded by the size limit (413),
    and replayed to the endpoint; a form the parser cannot read, or one carrying a file outside the
    upload routes (`UPLOAD_PATHS`, bounded by TAVOLI_UPLOAD_MAX_BYTES instead), is a 400. The
    session middleware has already put the expected token in the
    request state, and `CrossSiteMiddleware` has refused other sites (checked again here, for an
    app assembled without it).
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
        upload = is_upload(scope.get("path", ""))
        limit = (
            max(self.settings.upload_max_bytes, self.settings.max_body_bytes)
            if upload
            else self.settings.max_body_bytes
        )
        body = await _read_body(receive, limit)
        if body is None:
            await self.refuse(scope, receive, send, 413, "too-large")
            return
        replay = _replay(body, receive)
        # A file's bytes may hold NUL; the upload's text fields are cleaned by its endpoint.
        if not upload and _carries_nul(request.headers.get("content-type", ""), body):
            await self.refuse(scope, replay, send, 400, "nul")
            return
        token = request.headers.get("x-csrf-token")
        # A multipart body is read here even with the token in the header: only the upload routes
        # take a file (and close their forms), and a file part that reached another endpoint would
        # be left open (Starlette's endpoints do not close their forms).
        if not token or request.headers.get("content-type", "").startswith("multipart/"):
            try:
                sent, files = await _read_form(scope, _replay(body, receive))
            except (HTTPException, MultiPartException):  # no boundary, a part without a name, too many fields
                await self.refuse(scope, replay, send, 400, "malformed")
                return
            if files and not upload:
                await self.refuse(scope, replay, send, 400, "malformed")
                return
            token = token or sent
        expected = scope.get("state", {}).get("csrf_token", "")
        if not token or not _equal(token, expected):
            await self.refuse(scope, replay, send, 403, "csrf")
            return
        await self.app(scope, replay, send)

    def _same_site(self, request: Request) -> bool:
        return same_site(request.headers, self.settings)


# The routes that take a file (a protocol's PDF annex): their body may reach TAVOLI_UPLOAD_MAX_BYTES
# instead of TAVOLI_MAX_BODY_BYTES (still counted while it arrives), and may carry files.
UPLOAD_PATHS = (
    re.compile(r"^/tavoli/[^/]+/protocolli/[0-9]+/allegati$"),
    re.compile(r"^/tavoli/[^/]+/protocolli/[0-9]+/firma-digitale$"),  # a party's firma digitale
)


def is_upload(path: str) -> bool:
    return any(pattern.match(path) for pattern in UPLOAD_PATHS)


# NUL, escaped in an address or a urlencoded form (a literal "%00" typed by someone is sent "%2500").
_NUL_ESCAPE = re.compile(rb"%00")


def _carries_nul(content_type: str, body: bytes) -> bool:
    """Whether a form's fields hold a NUL character, which no text field may (PostgreSQL refuses it)."""
    if b"\x00" in body:
        return True
    return content_type.startswith("application/x-www-form-urlencoded") and _NUL_ESCAPE.search(body) is not None


def _equal(sent: str, expected: str) -> bool:
    """Constant-time comparison of tokens as bytes: `compare_digest` refuses a `str` that is not
    ASCII with a TypeError, and a token someone typed may be anything."""
    return hmac.compare_digest(sent.encode(errors="replace"), expected.encode(errors="replace"))


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


async def _read_form(scope: Scope, receive: Receive) -> tuple[str | None, bool]:
    """The form's `csrf_token` field, and whether the form carries a file (closed here)."""
    content_type = Request(scope).headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None, False
    form = await Request(scope, receive).form()
    try:
        token = form.get("csrf_token")
        files = any(not isinstance(value, str) for _name, value in form.multi_items())
        return (token if isinstance(token, str) else None), files
    finally:
        await form.close()
