"""The browser's files: what `npm run build` wrote into static/dist, as its manifest lists them.

static/build.mjs names each file a page loads after a hash of its content and writes
static/dist/manifest.json: `assets` maps the names templates use (`asset('app.js')`) to those
files, `files` lists every file that may be served, whether its name is hashed, and which
compressed versions (`.br`, `.gz`) lie next to it. The manifest is read once, when the app is
built (`StaticAssets.load`, from `create_app`); nothing is read at import.

Served under /static/dist/:
- a hashed file, for a year and `immutable`: a new content is a new name, so a browser never asks
  again;
- the plain name of an asset (/static/dist/app.js) and any other file without a hash (the fonts'
  licences), for an hour: they change in place;
- its brotli or gzip version when the request's Accept-Encoding takes it (`Content-Encoding`,
  `Vary: Accept-Encoding`), the file itself otherwise;
- nothing else: a path that is not in the manifest is a 404, whatever it names on disk.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

PREFIX = "/dist/"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=3600"
# Preferred first: brotli is smaller than gzip for everything we send.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class File:
    path: Path
    media_type: str
    cache_control: str
    encodings: tuple[str, ...]  # those of ENCODINGS that lie next to the file


class StaticAssets:
    """The ASGI app of the /static mount, and `asset(name)` for the templates."""

    def __init__(self, files: dict[str, File], assets: dict[str, str], *, prefix: str, built: bool = True) -> None:
        self.files = files  # path under /dist/ -> the file served there
        self.assets = assets  # logical name -> its hashed file's path under /dist/
        self.prefix = prefix  # where the app is mounted: "/static"
        self.built = built

    @classmethod
    def load(cls, root: Path, prefix: str = "/static") -> StaticAssets:
        """Read `root`/manifest.json (static/dist). Without it (the assets are not built: `make
        setup`, or `npm ci && npm run build`), every file is a 404 and `asset()` gives plain names."""
        manifest_path = root / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            log.warning("%s is missing: the browser assets are not built (run `make setup`)", manifest_path)
            return cls.empty(prefix)
        listed: dict[str, dict[str, Any]] = manifest["files"]
        files = {name: _file(root, name, entry) for name, entry in listed.items()}
        # The plain name of an asset serves its current file, with the short cache of a name that
        # does not change with the content.
        for logical, name in manifest["assets"].items():
            files.setdefault(logical, _file(root, name, {**listed[name], "immutable": False}))
        return cls(files, dict(manifest["assets"]), prefix=prefix)

    @classmethod
    def empty(cls, prefix: str = "/static") -> StaticAssets:
        """Nothing to serve (the routes without an app: tests that only read the routing table)."""
        return cls({}, {}, prefix=prefix, built=False)

    def url(self, name: str) -> str:
        """The path of asset `name`'s hashed file, for templates: `asset('app.js')`."""
        if name in self.assets:
            return f"{self.prefix}{PREFIX}{self.assets[name]}"
        if not self.built:  # a plain name, which answers 404: pages still render
            return f"{self.prefix}{PREFIX}{name}"
        raise LookupError(f"no asset {name!r} in static/dist/manifest.json (see static/build.mjs)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        response = self.response(scope)
        await response(scope, receive, send)

    def response(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "GET, HEAD"})
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):  # Starlette's Mount keeps the full path
            path = path[len(root_path) :]
        found = self.files.get(path[len(PREFIX) :]) if path.startswith(PREFIX) else None
        if found is None:
            return PlainTextResponse("Not Found", 404, headers={"Cache-Control": "no-cache"})
        headers = Headers(scope=scope)
        encoding, suffix = _chosen(headers.get("accept-encoding", ""), found.encodings)
        served = found.path.with_name(found.path.name + suffix)
        try:
            stat = os.stat(served)
        except FileNotFoundError:  # removed by a build since the manifest was read
            return PlainTextResponse("Not Found", 404, headers={"Cache-Control": "no-cache"})
        response_headers = {"Cache-Control": found.cache_control}
        if found.encodings:
            response_headers["Vary"] = "Accept-Encoding"
        if encoding:
            response_headers["Content-Encoding"] = encoding
        response = FileResponse(served, stat_result=stat, headers=response_headers, media_type=found.media_type)
        if _not_modified(headers, response):
            return Response(status_code=304, headers=_revalidation_headers(response))
        return response


def _file(root: Path, name: str, entry: dict[str, Any]) -> File:
    path = root / name
    suffix = "".join(Path(name).suffixes[-1:])
    available = set(entry.get("encodings", ()))
    return File(
        path=path,
        media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
        cache_control=IMMUTABLE if entry.get("immutable") else SHORT,
        encodings=tuple(coding for coding, _ in ENCODINGS if coding in available),
    )


def _chosen(accept_encoding: str, available: tuple[str, ...]) -> tuple[str, str]:
    """The best of `available` that the request accepts ("br", ".br"), or ("", "") for the file."""
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if not coding:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.strip()] = weight
    for coding, suffix in ENCODINGS:
        if coding in available and weights.get(coding, weights.get("*", 0.0)) > 0:
            return coding, suffix
    return "", ""


def _not_modified(request: Headers, response: Response) -> bool:
    etag = response.headers.get("etag")
    sent = request.get("if-none-match")
    if not etag or not sent:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in sent.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def _revalidation_headers(response: Response) -> dict[str, str]:
    keep = ("cache-control", "etag", "vary", "content-encoding", "last-modified")
    return {name: value for name, value in response.headers.items() if name in keep}
