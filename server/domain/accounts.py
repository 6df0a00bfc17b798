"""Accounts: passwords, logins slowed down against guessing, and server-side sessions."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import secrets
import weakref
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, bindparam, delete, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server.db.models import LoginAttempt, Organisation, User, UserSession
from server.db.types import utcnow
from server.domain import audit
from server.domain.errors import Duplicate, Invalid
from server.i18n import _

MIN_PASSWORD_LENGTH = 12
# Per account from one network address: this many failures are free, then each one doubles the wait, up to the cap.
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


# --- logging in, slowed down against guessing -------------------------------------------------------
#
# Guessing is slowed down per network address (generously: a whole office may share one) and per
# account *from one address* (a growing wait after a few failures), never per account alone: failing
# on someone's address from elsewhere must not keep them out. The counters are rows in the database,
# so that several instances agree, and an attempt is recorded (committed, as a failure until it
# succeeds) before the attempts are counted: of N attempts made at the same time, the k-th to count
# sees at least the k - 1 before it, so no more than the free failures get through unslowed.


@dataclass(frozen=True)
class LoginLimits:
    """How many failures one network address may make in `window` before it is refused."""

    failures_per_address: int
    window: timedelta


@dataclass(frozen=True)
class Attempt:
    """One login attempt: who for, from where, when; its row once recorded; its wait when slowed down."""

    email: str
    address: str
    at: datetime
    id: int | None = None
    retry_after: int = 0

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0


def network_address(host: str) -> str:
    """What attempts are counted by: an IPv4 address, the /64 network of an IPv6 one (one machine
    may hold a whole /64), or the text itself when it is no address."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


async def record_attempt(
    session: AsyncSession, email: str, *, address: str, limits: LoginLimits, now: datetime | None = None
) -> Attempt:
    """The first step of a login, in a transaction of its own: refused at once when the address, or
    the account from this address, is already slowed down; else recorded, as a failure until it
    succeeds. Commit it before `attempt_wait` counts."""
    now = now or utcnow()
    attempt = Attempt(email=normalise_email(email)[:254], address=network_address(address), at=now)
    wait = await _wait(session, attempt, limits, now)
    if wait > 0:
        return replace(attempt, retry_after=wait)
    row = LoginAttempt(email=attempt.email, address=attempt.address, succeeded=False, at=now)
    session.add(row)
    await session.flush()
    return replace(attempt, id=row.id)


async def attempt_wait(
    session: AsyncSession, attempt: Attempt, limits: LoginLimits, *, now: datetime | None = None
) -> int:
    """Once the attempt is committed: the seconds it must wait because of the failures recorded by
    the others (including those made at the same time), 0 when it may go on to the password."""
    return await _wait(session, attempt, limits, now or utcnow())


async def forget_attempt(session: AsyncSession, attempt: Attempt) -> None:
    """An attempt refused before its password was checked is no failure of the person's."""
    if attempt.id is not None:
        await session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))


async def account_of(session: AsyncSession, attempt: Attempt) -> User | None:
    return await session.scalar(select(User).where(User.email == attempt.email))


async def password_matches(user: User | None, password: str) -> bool:
    """Whether `password` opens this active account; an unknown email costs the same time (its
    password is checked against a stand-in hash). Argon2 runs in a worker thread, a few at a time,
    so that the server goes on answering meanwhile."""
    hashed = user.password_hash if user is not None else _dummy_hash()
    valid = await anyio.to_thread.run_sync(_verify, hashed, password, limiter=_verifiers())
    return bool(user is not None and valid and user.is_active)


async def attempt_succeeded(session: AsyncSession, attempt: Attempt) -> None:
    """The attempt opened the account: it is no failure, and the account's count from this address restarts."""
    if attempt.id is not None:
        await session.execute(
            update(LoginAttempt)
            .where(LoginAttempt.id == attempt.id)
            .values(succeeded=True)
            .execution_options(synchronize_session=False)
        )


VERIFYING = 2
"""Passwords checked at the same time (each Argon2 check takes 64 MiB and a core for a while)."""
_verifiers_of: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _verifiers() -> anyio.CapacityLimiter:
    """The limiter of this event loop's password checks."""
    loop = asyncio.get_running_loop()
    limiter = _verifiers_of.get(loop)
    if limiter is None:
        limiter = _verifiers_of[loop] = anyio.CapacityLimiter(VERIFYING)
    return limiter


async def _wait(session: AsyncSession, attempt: Attempt, limits: LoginLimits, now: datetime) -> int:
    """The longer of the two waits: of this account from this address, and of this address."""
    others = LoginAttempt.id != attempt.id if attempt.id is not None else true()
    return max(
        await _pair_wait(session, attempt, others, now),
        await _address_wait(session, attempt.address, others, now, limits),
    )


async def _pair_wait(session: AsyncSession, attempt: Attempt, others: ColumnElement[bool], now: datetime) -> int:
    """FREE_FAILURES failures of this account from this address (since its last success there, within
    a day) are free; then each one doubles the wait, from FIRST_DELAY_SECONDS up to MAX_DELAY_SECONDS."""
    pair = (LoginAttempt.email == attempt.email, LoginAttempt.address == attempt.address)
    last_success = await session.scalar(select(func.max(LoginAttempt.at)).where(*pair, LoginAttempt.succeeded))
    since = max(last_success or now - timedelta(days=1), now - timedelta(days=1))
    failures, last_failure = (
        await session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(
                *pair, ~LoginAttempt.succeeded, LoginAttempt.at > since, others
            )
        )
    ).one()
    if failures < FREE_FAILURES or last_failure is None:
        return 0
    delay = min(FIRST_DELAY_SECONDS * 2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS)
    return _seconds_until(last_failure + timedelta(seconds=delay), now)


async def _address_wait(
    session: AsyncSession, address: str, others: ColumnElement[bool], now: datetime, limits: LoginLimits
) -> int:
    """An address that failed `failures_per_address` times in the window waits for the oldest to leave it."""
    failures, oldest = (
        await session.execute(
            select(func.count(), func.min(LoginAttempt.at)).where(
                LoginAttempt.address == address, ~LoginAttempt.succeeded, LoginAttempt.at > now - limits.window, others
            )
        )
    ).one()
    if failures < limits.failures_per_address or oldest is None:
        return 0
    return _seconds_until(oldest + limits.window, now)


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
