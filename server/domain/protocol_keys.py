"""The server's Ed25519 keys that seal the protocols' signature statements, and their JWK set.

- The private key is one file (`TAVOLI_SIGNING_KEY_FILE`): PEM, PKCS#8, unencrypted, mode 0600.
  `tavoli keys init` creates it; `tavoli keys rotate` makes a new one and moves the old file aside.
- A key is named by its `kid`, the RFC 7638 thumbprint of its public JWK: the SHA-256 of
  `{"crv":"Ed25519","kty":"OKP","x":"<x>"}` (those members only, in that order, no spaces),
  base64url without padding; `x` is the raw 32-byte public key, base64url without padding (RFC 8037).
- Every public key the server sealed with is a `SigningKey` row: the current one (not retired) and
  the retired ones, which stay in the JWK set published at `/.well-known/jwks.json`, so that a
  signature sealed before a rotation stays verifiable. The key file's key is registered (made the
  current row) the first time it seals.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import SigningKey
from server.domain.errors import DomainError
from server.i18n import _

__all__ = [
    "KeyFileError",
    "ServerKey",
    "b64url",
    "b64url_decode",
    "create_key_file",
    "current_key",
    "ensure_key_file",
    "finish_rotation",
    "jwk",
    "jwks",
    "load_key",
    "public_keys",
    "register",
    "rotate",
    "seal_valid",
    "thumbprint",
]

KEY_FILE_MODE = 0o600


class KeyFileError(DomainError):
    """The signing key file is missing, unreadable, or not an Ed25519 private key; the message says what to do."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(public: bytes) -> str:
    """The RFC 7638 thumbprint of an Ed25519 public key (raw 32 bytes): the key's `kid`."""
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64url(public)}, sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(members.encode("ascii")).digest())


def jwk(public: bytes) -> dict[str, str]:
    """The public JWK of a key (RFC 8037), with its thumbprint as `kid`."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(public),
        "kid": thumbprint(public),
        "use": "sig",
        "alg": "EdDSA",
    }


@dataclass(frozen=True)
class ServerKey:
    """The key the server seals with: the private key, its raw public key and its kid."""

    private: Ed25519PrivateKey
    public: bytes
    kid: str
    path: Path

    @classmethod
    def of(cls, private: Ed25519PrivateKey, path: Path) -> ServerKey:
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(private=private, public=public, kid=thumbprint(public), path=path)

    def seal(self, data: bytes) -> bytes:
        """The Ed25519 signature (64 bytes) of exactly `data`."""
        return self.private.sign(data)

    @property
    def x(self) -> str:
        return b64url(self.public)


def seal_valid(public: bytes, data: bytes, seal: bytes) -> bool:
    """Whether `seal` is the Ed25519 signature of exactly `data` by the key `public` (raw 32 bytes)."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(seal, data)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- The key file --------------------------------------------------------------------------------


def _pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_new(path: Path, data: bytes) -> None:
    """Write `data` to a new file `path` readable by its owner only (refused if the file exists)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.chmod(path, KEY_FILE_MODE)  # whatever the umask


def create_key_file(path: str | os.PathLike[str]) -> ServerKey:
    """Make a new Ed25519 key in a new file `path` (mode 0600); an existing file is refused."""
    target = Path(path)
    private = Ed25519PrivateKey.generate()
    try:
        _write_new(target, _pem(private))
    except FileExistsError:
        raise KeyFileError(
            _("The signing key file {path} already exists: it was left as it is.").format(path=target)
        ) from None
    except OSError as exc:
        raise KeyFileError(
            _("The signing key file {path} could not be written: {error}").format(path=target, error=exc.strerror)
        ) from None
    return ServerKey.of(private, target)


def load_key(path: str | os.PathLike[str]) -> ServerKey:
    """The key in the file `path`; a missing or malformed file is a KeyFileError that says what to do."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(
            _("The server has no signing key: {path} does not exist. Create it with `tavoli keys init`.").format(
                path=source
            )
        ) from None
    except OSError as exc:
        raise KeyFileError(
            _("The signing key file {path} cannot be read: {error}").format(path=source, error=exc.strerror)
        ) from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        private = None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(
            _("The signing key file {path} does not hold an unencrypted Ed25519 private key (PEM, PKCS#8).").format(
                path=source
            )
        )
    return ServerKey.of(private, source)


def ensure_key_file(path: str | os.PathLike[str]) -> tuple[ServerKey, bool]:
    """The key in `path`, made first when the file is missing; and whether it was made now."""
    if Path(path).exists():
        return load_key(path), False
    try:
        return create_key_file(path), True
    except KeyFileError:
        if Path(path).exists():  # made meanwhile by another process
            return load_key(path), False
        raise


_loaded: dict[Path, tuple[tuple[int, int, int], ServerKey]] = {}


def current_key(path: str | os.PathLike[str]) -> ServerKey:
    """The key in `path`, read again only when the file changed (a rotation takes effect without a restart)."""
    source = Path(path).absolute()
    try:
        status = source.stat()
    except FileNotFoundError:
        return load_key(source)  # says what to do
    stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
    cached = _loaded.get(source)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    key = load_key(source)
    _loaded[source] = (stamp, key)
    return key


def _aside_name(path: Path, kid: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return path.with_name(f"{path.name}.retired-{stamp}-{kid[:8]}")


# --- The keys in the database ----------------------------------------------------------------------


async def register(session: AsyncSession, key: ServerKey | bytes, *, current: bool = True) -> SigningKey:
    """Record the public key (once, whoever comes first); with `current`, it becomes the one key not
    retired (every other is retired now), else it is kept as it is (a retired key stays retired)."""
    public = key.public if isinstance(key, ServerKey) else key
    kid = thumbprint(public)
    values = {"kid": kid, "public_key": public, "created_at": datetime.now(UTC)}
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(pg_insert(SigningKey).values(**values).on_conflict_do_nothing(index_elements=["kid"]))
    else:
        await session.execute(sqlite_insert(SigningKey).values(**values).on_conflict_do_nothing(index_elements=["kid"]))
    row = (
        await session.execute(select(SigningKey).where(SigningKey.kid == kid).execution_options(populate_existing=True))
    ).scalar_one()
    if current:
        now = datetime.now(UTC)
        await session.execute(
            update(SigningKey)
            .where(SigningKey.kid != kid, SigningKey.retired_at.is_(None))
            .values(retired_at=now)
            .execution_options(synchronize_session=False)
        )
        if row.retired_at is not None:
            row.retired_at = None
            await session.flush()
    return row


async def public_keys(session: AsyncSession) -> dict[str, bytes]:
    """Every public key the server sealed with, current and retired, by kid."""
    rows = (await session.execute(select(SigningKey.kid, SigningKey.public_key))).all()
    return {kid: bytes(public) for kid, public in rows}


async def jwks(session: AsyncSession, current: ServerKey | None = None) -> dict[str, Any]:
    """The JWK set: the current key first (the key file's, `current`, even before it sealed anything),
    then every other key the server sealed with, newest first."""
    rows = (
        await session.execute(select(SigningKey).order_by(SigningKey.retired_at.is_not(None), SigningKey.id.desc()))
    ).scalars()
    keys: list[dict[str, str]] = []
    if current is not None:
        keys.append(jwk(current.public))
    for row in rows:
        if current is None or row.kid != current.kid:
            keys.append(jwk(bytes(row.public_key)))
    return {"keys": keys}


async def rotate(session: AsyncSession, path: str | os.PathLike[str]) -> tuple[ServerKey, ServerKey, Path]:
    """Replace the key file with a new key: the old file is moved aside, the old public key stays in
    the set (retired), the new one becomes current. Returns (old, new, where the old file went).

    The new key is written beside the file first and the database changed; the files are swapped
    only once the caller commits (`finish`)."""
    source = Path(path)
    old = load_key(source)
    await register(session, old, current=False)
    fresh = source.with_name(f".{source.name}.new-{secrets.token_hex(4)}")
    new = create_key_file(fresh)
    await register(session, new.public, current=True)
    return old, ServerKey.of(new.private, source), fresh


def finish_rotation(path: str | os.PathLike[str], old: ServerKey, fresh: Path) -> Path:
    """After `rotate`'s transaction committed: move the old key file aside and the new one in its place."""
    source = Path(path)
    aside = _aside_name(source, old.kid)
    try:
        os.link(source, aside)  # the old key is never without a file
    except OSError:
        shutil.copy2(source, aside)
    os.replace(fresh, source)
    return aside
