"""`/.well-known/jwks.json`: the public keys that seal the protocols' signatures, for anyone.

The JWK set (RFC 7517, keys per RFC 8037, each `kid` its RFC 7638 thumbprint) lists the key file's
key and every key the server sealed with, retired ones included, so that a signature sealed before
a rotation stays verifiable (server/domain/protocol_keys.py). No account needed.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.db.session import Database
from server.domain import protocol_keys
from server.domain.protocol_keys import KeyFileError, ServerKey

log = logging.getLogger(__name__)


def _current(request: Request) -> ServerKey | None:
    try:
        return protocol_keys.current_key(request.app.state.settings.signing_key_file)
    except KeyFileError:
        log.warning("no signing key: /.well-known/jwks.json lists only the keys the database knows")
        return None


async def jwks(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    async with database.read() as session:
        found = await protocol_keys.jwks(session, _current(request))
    return JSONResponse(
        found,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


ROUTES: list[Any] = [Route("/.well-known/jwks.json", jwks, methods=["GET"], name="jwks")]
