"""Accounts: passwords, logins slowed down against guessing, and server-side sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import LoginAttempt, Organisation, User, UserSession
from server.db.types import utcnow
from server.domain import audit
from server.domain.errors import Duplicate, Invalid
from server.i18n import _

MIN_PASSWORD_LENGTH = 12
# Per account: this many failures are free, then each one doubles the wait, up to the cap.
FREE_FAILURES = 5
FIRST_DELAY_SECONDS = 15
MAX_DELAY_SECONDS = 900
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountEvent(StrEnum):
    """What the audit record says about accounts and organisations (the values are stored)."""

    user_created = "user.created"
    organisation_created = "organisation.created"


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with RFC 9106's low-memory profile


@cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown emails, so both answers take the same time."""
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            {"password": _("The password must be at least {n} characters long.").format(n=MIN_PASSWORD_LENGTH)}
        )


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    password: str | None = None,
    password_hash: str | None = None,
    is_admin: bool = False,
    organisation: Organisation | None = None,
    actor_id: int | None = None,
) -> User:
    """Create an account; give either a password (checked and hashed) or an existing hash."""
    email = normalise_email(email)
    errors = {}
    if not _EMAIL.match(email) or len(email) > 254:
        errors["email"] = _("Enter a valid email address.")
    if not name.strip() or len(name) > 200:
        errors["name"] = _("Enter a name of at most 200 characters.")
    if errors:
        raise Invalid(errors)
    if password is not None:
        check_password(password)
        password_hash = hash_password(password)
    if password_hash is None:
        raise ValueError("create_user needs a password or a password hash")
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Duplicate(_("An account with the email {email} already exists.").format(email=email))
    user = User(
        email=email,
        name=name.strip(),
        password_hash=password_hash,
        is_admin=is_admin,
        organisation_id=organisation.id if organisation else None,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session, AccountEvent.user_created, actor_id=actor_id, user_id=user.id, email=email, is_admin=is_admin
    )
    return user


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login: the user, or why not (and for how long, when slowed down)."""

    user: User | None
    retry_after: int = 0

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0


async def authenticate(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    address: str,
    max_failures_per_address: int,
    window: timedelta,
    now: datetime | None = None,
) -> LoginResult:
    """Check a login and record the attempt; unknown emails cost the same time as wrong passwords.

    Guessing is slowed per account (a growing wait after a few failures) and limited per network
    address (generously, because a whole office may share one). The counters are rows in the
    database, so that several instances agree.
    """
    now = now or utcnow()
    email = normalise_email(email)[:254]
    wait = max(
        await _account_wait(session, email, now),
        await _address_wait(session, address, now, max_failures_per_address, window),
    )
    if wait > 0:
        return LoginResult(None, retry_after=wait)
    user = await session.scalar(select(User).where(User.email == email))
    valid = _verify(user.password_hash if user else _dummy_hash(), password)
    ok = bool(user and valid and user.is_active)
    session.add(LoginAttempt(email=email, address=address, succeeded=ok, at=now))
    await session.flush()
    return LoginResult(user if ok else None)


async def _account_wait(session: AsyncSession, email: str, now: datetime) -> int:
    last_success = await session.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.email == email, LoginAttempt.succeeded)
    )
    since = max(last_success or now - timedelta(days=1), now - timedelta(days=1))
    failures, last_failure = (
        await session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(
                LoginAttempt.email == email, ~LoginAttempt.succeeded, LoginAttempt.at > since
            )
        )
    ).one()
    if failures < FREE_FAILURES or last_failure is None:
        return 0
    delay = min(FIRST_DELAY_SECONDS * 2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS)
    return _seconds_until(last_failure + timedelta(seconds=delay), now)


async def _address_wait(session: AsyncSession, address: str, now: datetime, limit: int, window: timedelta) -> int:
    failures, oldest = (
        await session.execute(
            select(func.count(), func.min(LoginAttempt.at)).where(
                LoginAttempt.address == address, ~LoginAttempt.succeeded, LoginAttempt.at > now - window
            )
        )
    ).one()
    if failures < limit or oldest is None:
        return 0
    return _seconds_until(oldest + window, now)


def _seconds_until(moment: datetime, now: datetime) -> int:
    remaining = (moment - now).total_seconds()
    return int(remaining) + 1 if remaining > 0 else 0


def session_key(token: str) -> str:
    """The id of a session's row: the SHA-256 of its token (also how the hub names a session)."""
    return _session_id(token)


async def session_expiry(session: AsyncSession, token: str) -> datetime | None:
    return await session.scalar(select(UserSession.expires_at).where(UserSession.id == _session_id(token)))


def _session_id(token: str) -> str:
    """Only the token's hash is stored: a copy of the database does not hand out live sessions."""
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    session: AsyncSession,
    user: User,
    *,
    lifetime: timedelta,
    replaces: str | None = None,
    now: datetime | None = None,
) -> str:
    """Open a session for `user` and return its token; the session it replaces is deleted (rotation)."""
    now = now or utcnow()
    if replaces:
        await end_session(session, replaces)
    await session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(UserSession(id=_session_id(token), user_id=user.id, created_at=now, expires_at=now + lifetime))
    await session.flush()
    return token


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(UserSession).where(UserSession.id == _session_id(token)))


async def end_user_sessions(session: AsyncSession, user_id: int) -> None:
    """Log a person out everywhere (a disabled account, a changed password)."""
    await session.execute(delete(UserSession).where(UserSession.user_id == user_id))


# Built once: every request asks it, and building the statement cost more than running it.
_SESSION_USER = (
    select(User)
    .options(joinedload(User.organisation))
    .join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.id == bindparam("session_id"), UserSession.expires_at > bindparam("now"), User.is_active)
)


async def session_user(session: AsyncSession, token: str, *, now: datetime | None = None) -> User | None:
    """The active user of a live session token, or None (unknown, expired, or disabled account)."""
    return await session.scalar(_SESSION_USER, {"session_id": _session_id(token), "now": now or utcnow()})


async def purge_expired(session: AsyncSession, *, keep_attempts: timedelta, now: datetime | None = None) -> None:
    """Delete expired sessions and login attempts older than the longest window that reads them."""
    now = now or utcnow()
    await session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    await session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - keep_attempts))
