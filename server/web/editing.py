"""Changing a record from a form, under a version check: one answer for every area.

An edit form carries the `version` of the record the person loaded. `save_edit` answers it:

- the domain parses what was typed; a mistake re-renders the form with the text and the error
  beside each field (422);
- the domain change runs in one transaction; if someone else saved first (`Stale`), the form
  comes back with the person's text and, beside it, the record as it is now, the form now on the
  current version, so that saving again is a deliberate choice (409);
- otherwise the changed record goes to `done`, which answers (a redirect, usually).

A one-button change (a status, a position, the attendance) has no form to re-render: `attempt`
runs it and says why it was refused, as one message the area's answer shows (422 or 409).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from server.db.session import Database
from server.domain.errors import DomainError, Invalid, Stale


class Versioned(Protocol):
    """A record people edit: it carries the version its form was loaded at."""

    @property
    def version(self) -> int: ...


V = TypeVar("V")  # the values the domain parsed from the form
R = TypeVar("R", bound=Versioned)  # the record the form changes
T = TypeVar("T")

Answer = Response | Awaitable[Response]  # an area's renderers may be plain or async


def _db(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


async def _answer(answer: Answer) -> Response:
    return await answer if inspect.isawaitable(answer) else answer


async def save_edit(
    request: Request,
    typed: dict[str, Any],
    *,
    parse: Callable[[dict[str, Any]], V],
    change: Callable[[AsyncSession, V, int], Awaitable[R]],
    record: type[R],
    form_page: Callable[[dict[str, Any], R | None, int], Answer],
    done: Callable[[R], Answer],
) -> Response:
    """Save an edit form: 422 with the form and its errors, 409 with both versions, else `done(record)`.

    `typed` is what the person typed, as the form shows it, with the `version` they loaded (see
    `forms.number`); `parse` turns it into the domain's values (raising `Invalid`); `change(session,
    values, version)` is the domain change, which raises `Invalid` or `Stale` (carrying the current
    record, an instance of `record`); `form_page(form, current, status)` renders the form.
    """
    try:
        values = parse(typed)
        async with _db(request).transaction() as session:
            changed = await change(session, values, typed["version"])
    except Invalid as exc:
        return await _answer(form_page({**typed, "errors": exc.errors}, None, 422))
    except Stale as exc:
        current = exc.current
        assert isinstance(current, record)
        form = {**typed, "version": current.version, "stale": str(exc)}
        return await _answer(form_page(form, current, 409))
    return await _answer(done(changed))


@dataclass(frozen=True)
class Refused:
    """Why a change was not made: 422 (not from here, not valid, with the errors by field), 409
    (changed meanwhile), or the status its caller gave an error it asked `attempt` to answer."""

    status: int
    message: str
    errors: Mapping[str, str] = field(default_factory=dict)


async def attempt(
    request: Request,
    change: Callable[[AsyncSession], Awaitable[T]],
    *,
    as_it_is_now: str,
    also: Mapping[type[DomainError], int] = MappingProxyType({}),
) -> T | Refused:
    """Run `change(session)` in a transaction: what it returns, or why it was refused.

    `as_it_is_now` follows the stale message, since the answer shows the record as it is now
    (e.g. "This is the agenda as it is now: check it and try again."). `also` names the other
    refusals the caller answers itself, with their status ({Forbidden: 403}); the rest propagate.
    """
    try:
        async with _db(request).transaction() as session:
            return await change(session)
    except Invalid as exc:
        return Refused(422, " ".join(exc.errors.values()), exc.errors)
    except Stale as exc:
        return Refused(409, str(exc) + " " + as_it_is_now)
    except DomainError as exc:
        status = next((code for kind, code in also.items() if isinstance(exc, kind)), None)
        if status is None:
            raise
        return Refused(status, str(exc))
