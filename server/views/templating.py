"""The Jinja environment: autoescaped, translated through the current locale, strict about typos."""

from __future__ import annotations

from pathlib import Path

import jinja2

from server import i18n
from server.config import LOCALES
from server.domain.plain_text import plain
from server.markdown import stored
from server.views import labels
from server.views.areas import CATALOG

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code: a restart reads them again
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["datetime"] = i18n.format_datetime
    env.filters["day"] = i18n.format_day
    env.filters["markdown"] = stored  # shows the HTML stored when the text was written
    # A short text shown in a line (a card's purpose, a summary): its words, never its Markdown marks.
    env.filters["plain"] = plain
    env.globals["locales"] = LOCALES
    env.globals["locale_name"] = i18n.locale_name
    env.globals["current_locale"] = i18n.current_locale
    env.globals.update(
        role_label=labels.role_label,
        actor_name=labels.actor_name,
        role_options=labels.role_options,
        organisation_options=labels.organisation_options,
        people_options=labels.people_options,
        describe_event=CATALOG.describe,
        home_main=CATALOG.home_main,
        home_side=CATALOG.home_side,
    )
    env.globals.update(CATALOG.template_globals())
    return env
