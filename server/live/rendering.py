"""What one push renders: each region once per scope, audience and locale, whatever the sockets.

A region's data is loaded once for everyone; a region that lists records private to some
organisations (a draft proposal) narrows it for each audience, and only then is its rendering
keyed by organisation (`Audience.keyed`). The announcement of what happened leaves out the events
of records the audience may not see.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jinja2
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from server import i18n
from server.db.models import Event, Table
from server.domain.errors import DomainError
from server.views.areas import CATALOG
from server.views.audience import Audience, Screen
from server.views.labels import actor_name
from server.views.privacy import hide_private_events
from server.views.regions import Private, Region

log = logging.getLogger(__name__)
Loaded = dict[tuple[str, Screen], dict[str, Any]]
PRESENCE_TEMPLATE = "tables/_presence.html"


async def load_regions(session: AsyncSession, table: Table, wanted: set[tuple[Region, Screen]]) -> Loaded:
    """Each wanted region's data, for everyone; a region with nothing to show is left out."""
    loaded: Loaded = {}
    for region, scope in wanted:
        try:
            loaded[(region.id, scope)] = await region.load(session, table, scope)
        except DomainError as exc:  # a record gone, a list filter on a person who left: nothing new
            log.info("live region %s of %s: nothing to show (%s)", region.id, scope, exc)
    return loaded


async def private_if_needed(session: AsyncSession, table_id: int, regions: Sequence[Region], events: bool) -> Private:
    """The table's private records, when a region narrows for them or events are to be announced."""
    if events or any(region.narrow is not None for region in regions):
        return await CATALOG.private(session, table_id)
    return {}


async def events_of(session: AsyncSession, table_id: int, seqs: Sequence[int]) -> list[Event]:
    if not seqs:
        return []
    found = await session.scalars(
        select(Event)
        .options(joinedload(Event.actor))
        .where(Event.table_id == table_id, Event.seq.in_(seqs))
        .order_by(Event.seq)
    )
    return list(found.all())


def render(env: jinja2.Environment, template: str, data: dict[str, Any], audience: Audience, locale: str) -> str:
    """A region as pushed: rendered for an audience and a locale, with nothing personal in it."""
    with i18n.use_locale(locale):
        return env.get_template(template).render({**data, "audience": audience, "oob": True, "csrf_token": ""})


class Renderings:
    """The renderings of one push (or one first state), each made once and counted in `counter`."""

    def __init__(self, env: jinja2.Environment, counter: Counter[str], data: Loaded, private: Private) -> None:
        self.env = env
        self.counter = counter
        self.data = data
        self.private = private
        self._memo: dict[tuple[Any, ...], str] = {}

    def region(self, region: Region, screen: Screen, audience: Audience, locale: str) -> str:
        scope = region.scope(screen)
        if (region.id, scope) not in self.data:
            return ""
        keyed = audience.keyed(region.narrow is not None)
        key = (region.id, scope, keyed, locale)
        if key not in self._memo:
            data: dict[str, Any] | None = self.data[(region.id, scope)]
            if region.narrow is not None and data is not None:
                data = region.narrow(data, keyed, self.private)
            self._memo[key] = "" if data is None else render(self.env, region.template, data, keyed, locale)
            self.counter[region.id] += data is not None
        return self._memo[key]

    def presence(self, people: list[tuple[str, str | None]], locale: str) -> str:
        key = ("presence", locale)
        if key not in self._memo:
            self._memo[key] = render(self.env, PRESENCE_TEMPLATE, {"present": people}, Audience(None), locale)
            self.counter["presence"] += 1
        return self._memo[key]

    def announcement(self, events: list[Event], audience: Audience, locale: str) -> str:
        """What others did, for the polite live region ("Anna Bianchi ha spostato «…»")."""
        keyed = audience.keyed(True)
        key = ("announcer", keyed, locale)
        if key not in self._memo:
            shown = hide_private_events(events, keyed, self.private)
            with i18n.use_locale(locale):
                text = " ".join(f"{actor_name(e)} {CATALOG.describe(e)}." for e in shown)
            self._memo[key] = f'<div id="announcer" hx-swap-oob="innerHTML">{escape(text)}</div>' if text else ""
        return self._memo[key]
