"""Translations (English msgids, Italian first) and dates in the service's time zone.

The current locale lives in a context variable: the locale middleware sets it for each request,
the live hub for each rendering, the command line once. Catalogs are compiled from the `.po`
files in memory on first use, so a stale `.mo` file can never hide a translation.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from server.config import LOCALES

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
TIMEZONE = ZoneInfo("Europe/Rome")

_locale: ContextVar[str] = ContextVar("tavoli_locale", default="it")


def current_locale() -> str:
    return _locale.get()


def set_locale(locale: str) -> None:
    """Make `locale` the current one for the rest of this context (a request, a command)."""
    _locale.set(locale if locale in LOCALES else "it")


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _locale.set(locale if locale in LOCALES else "it")
    try:
        yield
    finally:
        _locale.reset(token)


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of `locale`; English is the msgid language and needs none."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == "en" or not po_path.exists():
        return _gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def gettext(message: str) -> str:
    return translations(_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_locale.get()).ngettext(singular, plural, n)


_ = gettext


def locale_name(locale: str) -> str:
    """The language's own name, capitalised: "Italiano", "English"."""
    return (Locale.parse(locale).get_display_name(locale) or locale).capitalize()


# The conventions of each interface language for dates: English as written in Europe
# ("Monday, 30 November 2026"), not in the United States.
FORMATS = {"it": "it_IT", "en": "en_GB"}


def _formats() -> str:
    return FORMATS.get(_locale.get(), _locale.get())


def format_datetime(value: datetime, style: str = "long") -> str:
    """'martedì 9 dicembre 2026, ore 15:00' (long) or '09/12/26, 15:00' (short), in Europe/Rome."""
    local = value.astimezone(TIMEZONE)
    if style == "long":
        day = _format_date(local, "full", locale=_formats())
        return gettext("{day}, at {time}").format(day=day, time=local.strftime("%H:%M"))
    return _format_datetime(local, "short", tzinfo=TIMEZONE, locale=_formats())


def format_day(value: date | datetime, style: str = "long") -> str:
    """'9 dicembre 2026' (long) or 'martedì 9 dicembre 2026' (full)."""
    if isinstance(value, datetime):
        value = value.astimezone(TIMEZONE).date()
    return _format_date(value, style, locale=_formats())
