"""What domain functions raise when a change cannot be made; the web layer maps each to a status."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession


class DomainError(Exception):
    """Base class: the message is already translated for the person who asked."""


class NotFound(DomainError):
    """The record does not exist, or not where the caller looked for it (404)."""


class Forbidden(DomainError):
    """The person may not do this (403)."""


class Duplicate(DomainError):
    """The record already exists (409 on the web, an error on the command line)."""


class Invalid(DomainError):
    """Bad input: one message per field, shown beside it (422). Nothing was stored."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = dict(errors)


class BadQuery(DomainError):
    """A list's filter or order outside its allowlist (400): only a hand-made address gets here."""


class Stale(DomainError):
    """The record changed since the person loaded it (409); the current state is attached."""

    def __init__(self, message: str, current: object = None) -> None:
        super().__init__(message)
        self.current = current


def stale(session: AsyncSession, message: str, current: object) -> Stale:
    """A Stale error carrying `current` detached from the session, so that it survives the rollback."""
    session.expunge(current)
    return Stale(message, current)
