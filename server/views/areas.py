"""The list of Tavoli's areas, and what the app, the hub and the socket read from all of them at once.

The order matters where areas share a page: the table's home shows the areas' regions in this
order (main column, then side column), and `tavoli demo` seeds the areas in this order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import DocumentKind, Event, Role, Table
from server.domain.errors import NotFound
from server.i18n import _
from server.views import actions, decisions, documents, meetings, minutes, proposals, protocols, site, tables
from server.views.area import Area, DocumentBinding, ScreenKind, Sentence
from server.views.audience import Audience, Screen
from server.views.labels import role_label
from server.views.regions import Private, Region

AREAS: tuple[Area, ...] = (
    site.AREA,
    tables.AREA,
    meetings.AREA,
    proposals.AREA,
    actions.AREA,
    decisions.AREA,
    minutes.AREA,
    protocols.AREA,
)


class Catalog:
    """The areas, indexed: screens by kind and by address, regions by the event kinds that touch them."""

    def __init__(self, areas: Iterable[Area]) -> None:
        self.areas = tuple(areas)
        self.home_main = tuple(r for area in self.areas for r in area.home_main)
        self.home_side = tuple(r for area in self.areas for r in area.home_side)
        home = ScreenKind("table", self.home_main + self.home_side, presence=True)
        self.screens: dict[str, ScreenKind] = {home.name: home}
        for area in self.areas:
            for screen in area.screens:
                if screen.name in self.screens:
                    raise ValueError(f"two screens named {screen.name!r}")
                self.screens[screen.name] = screen
        self.regions = {r.id: r for screen in self.screens.values() for r in screen.regions}
        self.kinds = {kind for area in self.areas for kind in area.kinds()}
        self.membership: dict[str, bool] = {k: lost for area in self.areas for k, lost in area.membership.items()}
        self.unrecorded = frozenset(kind for area in self.areas for kind in area.unrecorded)
        self._affected = {kind: self._touching(kind) for kind in self.kinds}
        # Each kind of collaborative document, bound by the area that owns it (else by its default).
        self.documents: dict[DocumentKind, DocumentBinding] = dict(documents.DEFAULTS)
        for area in self.areas:
            self.documents.update(area.documents)

    def _touching(self, kind: str) -> tuple[Region, ...]:
        every = kind not in self.unrecorded
        return tuple(r for r in self.regions.values() if (r.every_event and every) or kind in r.follows)

    def affected(self, kind: str) -> tuple[Region, ...]:
        """The regions that an event of `kind` changes (an unknown kind: those that list every event)."""
        found = self._affected.get(kind)
        return found if found is not None else self._touching(kind)

    def regions_of(self, screen: Screen) -> tuple[Region, ...]:
        return self.screens[screen.kind].regions

    def shows_presence(self, screen: Screen) -> bool:
        return self.screens[screen.kind].presence

    def record_screens(self) -> list[ScreenKind]:
        return [s for s in self.screens.values() if s.param is not None]

    def listing(self, name: str) -> ScreenKind | None:
        return next((s for s in self.screens.values() if s.listing == name), None)

    def live_query(self, screen: Screen) -> str:
        """The socket address's query for a screen: "" for the table's home."""
        kind = self.screens[screen.kind]
        if kind.param is not None:
            return "?" + urlencode({kind.param: screen.record_id})
        if kind.listing is None:
            return ""
        if kind.for_person is not None:  # the person is the one asking, never a name in the address
            return "?" + urlencode({"elenco": kind.listing})
        return "?" + urlencode([("elenco", kind.listing), *screen.query])

    def sentences(self) -> dict[str, Sentence]:
        """Every kind's sentence, in the current locale."""
        return {kind: sentence for area in self.areas for kind, sentence in area.sentences().items()}

    def describe(self, event: Event) -> str:
        """What an event did, as a sentence whose subject is its actor ("… added the item «X»")."""
        payload: dict[str, Any] = {"title": "", "meeting_title": "", "name": "", **event.payload}
        if payload.get("role") in {role.value for role in Role}:  # a table role (a signer's role is not one)
            payload["role"] = role_label(payload["role"])
        sentence = self.sentences().get(event.kind)
        if sentence is None:
            return event.kind
        try:
            return sentence(payload) if callable(sentence) else str(sentence).format(**payload)
        except (KeyError, IndexError, ValueError):  # an older payload without some field: say what we can
            return event.kind

    async def private(self, session: AsyncSession, table_id: int) -> Private:
        """The table's records that only some organisations may see, by record kind."""
        return {
            kind: await query(session, table_id) for area in self.areas for kind, query in area.private_records.items()
        }

    async def may_read(
        self, session: AsyncSession, table_id: int, kind: str, record_id: int, audience: Audience
    ) -> bool:
        """Whether the audience may see record `record_id` of `kind` (a draft of another organisation: no)."""
        private = await self.private(session, table_id)
        authors = private.get(kind, {}).get(record_id)
        return authors is None or audience.reads_private(authors)

    async def load(
        self,
        session: AsyncSession,
        table: Table,
        regions: Iterable[Region],
        screen: Screen,
        audience: Audience,
    ) -> dict[str, Any]:
        """The merged data of the regions a page shows, narrowed to what `audience` may see.

        A region narrowed to nothing (a record the audience may not see) is not found (404).
        """
        regions = tuple(regions)
        private = await self.private(session, table.id) if any(r.narrow for r in regions) else {}
        data: dict[str, Any] = {}
        for region in regions:
            part: dict[str, Any] | None = await region.load(session, table, region.scope(screen))
            if region.narrow is not None and part is not None:
                part = region.narrow(part, audience, private)
            if part is None:
                raise NotFound(_("The page you asked for does not exist or is not visible to you."))
            data.update(part)
        return data

    def template_globals(self) -> dict[str, Callable[..., Any]]:
        found: dict[str, Callable[..., Any]] = {}
        for area in self.areas:
            clash = found.keys() & area.template_globals.keys()
            if clash:
                raise ValueError(f"template globals declared twice: {sorted(clash)}")
            found.update(area.template_globals)
        return found

    def route_modules(self) -> list[str]:
        return [module for area in self.areas for module in area.routes]

    def demo_modules(self) -> list[str]:
        return [area.demo for area in self.areas if area.demo]


def list_screen(kind: str, query: Iterable[tuple[str, str]]) -> Screen:
    """A list's screen, its filters in a stable order (so that equal lists share their renderings)."""
    return Screen(kind, None, tuple(sorted((k, v) for k, v in query if v)))


CATALOG = Catalog(AREAS)
