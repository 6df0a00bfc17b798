"""Renderings of live regions, reused until their table changes (bench/render)."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from datetime import date
from typing import Any

import jinja2
from markupsafe import Markup

from server.db.models import Table
from server.views.audience import Audience
from server.views.regions import Region

# Stands for the CSRF token in a cached rendering; random, so no user content can contain it.
CSRF_SLOT = secrets.token_hex(16)


class PageCache:
    """Renderings of a page's regions, reused until the table changes (docs/architecture.md).

    Every change of a table takes its next event sequence number, so a fragment rendered from the
    table at sequence number n, for a view, a locale and a day (what is overdue), stays right
    until n moves. Renderings are kept with a slot for the CSRF token, which each page fills in.
    A rendering of data newer than its key is harmless: the key only ever ages.
    """

    def __init__(self, env: jinja2.Environment, size: int = 512) -> None:
        self.env = env
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self.renders = 0

    @staticmethod
    def key(fragment: Region, table: Table, view: Audience, locale: str, day: date) -> tuple[Any, ...]:
        """The key of a region's rendering; the organisation is part of it only where the region
        narrows its data for it (Audience.keyed)."""
        return (fragment.id, table.id, table.event_seq, view.keyed(fragment.narrow is not None), locale, day)

    def missing(self, keys: dict[Region, tuple[Any, ...]]) -> tuple[Region, ...]:
        return tuple(fragment for fragment, key in keys.items() if key not in self._entries)

    def rendered(self, key: tuple[Any, ...], template: str, context: dict[str, Any], csrf_token: str) -> Markup:
        """The fragment's HTML for this page: from the cache, or rendered now and kept."""
        html = self._entries.get(key)
        if html is None:
            html = self.env.get_template(template).render({**context, "csrf_token": CSRF_SLOT})
            self.renders += 1
            self._entries[key] = html
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return Markup(html.replace(CSRF_SLOT, csrf_token))  # noqa: S704 (our own rendering, autoescaped)
