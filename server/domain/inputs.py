"""Reading ids, whole numbers and dates from what a person or an address sent: one parser for each.

The web endpoints (path ids, query parameters, form fields), the domain's parsing of typed forms
and the table socket's query all read through these, so that every way in refuses the same
things. A parser answers None for anything it cannot take, never an exception and never a guess;
the caller decides how to refuse: a field error (422), a bad request (400), a close code.

- Numbers are ASCII digits only (`int()` would take "٣", and "²".isdigit() is true), checked for
  length before `int()` sees them, and within the range asked for.
- Ids are INTEGER columns: at most 2**31 - 1, where PostgreSQL's int4 and SQLite agree.
- Dates are ISO dates (2026-12-09) in years 1900 to 9999: a meeting in year 1 would fail when
  converted to UTC, and no meeting of a table is that far away.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo

MAX_ID = 2**31 - 1
MIN_YEAR = 1900
MAX_YEAR = 9999
_DIGITS = frozenset("0123456789")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # what <input type="date"> sends, ASCII digits
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?")  # what <input type="time"> sends


def whole_number(text: str | None, *, low: int = 1, high: int = MAX_ID) -> int | None:
    """`text` as a whole number from `low` to `high` (ASCII digits only), or None."""
    if not text or len(text) > len(str(high)) or not _DIGITS.issuperset(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def record_id(text: str | None) -> int | None:
    """A record's id (a positive INTEGER) from its text, or None."""
    return whole_number(text, low=1, high=MAX_ID)


def is_record_id(value: int) -> bool:
    """Whether a number can be a record's id (for ids that arrive as numbers, as in a path)."""
    return 1 <= value <= MAX_ID


def day(text: str | None) -> date | None:
    """An ISO date (2026-12-09) in the years MIN_YEAR to MAX_YEAR, or None."""
    if not text or not _DATE.fullmatch(text):
        return None
    try:
        found = date.fromisoformat(text)
    except ValueError:
        return None
    return found if MIN_YEAR <= found.year <= MAX_YEAR else None


def clock(text: str | None) -> time | None:
    """A time of day, HH:MM (or HH:MM:SS), or None."""
    if not text or not _TIME.fullmatch(text):
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        return None


def moment(on: date, at: time, zone: tzinfo) -> datetime | None:
    """The instant of day `on` at `at` in `zone`, or None when it cannot be stored (out of range)."""
    try:
        found = datetime.combine(on, at, tzinfo=zone)
        found.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return found
