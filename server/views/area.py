"""How an area of Tavoli declares itself: its live regions, its screens, its events and their words.

An area (tables, meetings, action items, proposals…) lists here everything the rest of the app
needs to know about it, and `server.views.areas` collects the areas: the app takes their routes,
the hub their regions and the event kinds that touch them, the table socket their screens, the
history page their sentences, `tavoli demo` their demo data. Adding an area adds its own files
and one line to that list (docs/architecture.md, "How to add an area").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Document, DocumentKind, Table
from server.domain.documents import DocumentAccess as DocumentAccess  # the bindings' answer, named here too
from server.views.audience import Audience, Screen
from server.views.regions import Region

# A sentence for an event: its text with {placeholders} for the payload, or a function of the
# payload (for sentences that depend on a value, such as the status an item moved to).
Sentence = str | Callable[[dict[str, Any]], str]
PrivateQuery = Callable[[AsyncSession, int], Awaitable[Mapping[int, frozenset[int]]]]
# Checks a list screen's filters (raises BadQuery), as the page itself would refuse them.
FilterCheck = Callable[[AsyncSession, Table, Screen], Awaitable[None]]
# What a person (their audience on the table, their user id) may do with a collaborative document.
DocumentAccessRule = Callable[[AsyncSession, Document, Audience, int], Awaitable[DocumentAccess]]
# Told the document's current (stored) text and who edited it since the last call.
DocumentChanged = Callable[[AsyncSession, Document, str, frozenset[int]], Awaitable[None]]


@dataclass(frozen=True)
class DocumentBinding:
    """How the area that owns a kind of collaborative document ties it to its records
    (server/live/documents.py calls both; docs/architecture.md, "Collaborative documents").

    `access` is asked at the `/ws/docs` handshake: `none` refuses the socket (4404), `read` lets
    the person follow the document (their updates are dropped), `edit` lets them write.
    `changed` is called by the room that stored the updates, at most once a second while people
    type, inside a write transaction, with the stored text and the editors since the last call:
    the area renders and stores the text and lets the hub push it.
    """

    access: DocumentAccessRule
    changed: DocumentChanged | None = None


@dataclass(frozen=True)
class ScreenKind:
    """A kind of page that follows its table live, and how the socket's address names it.

    A record screen is named `?<param>=<id>` and shows one record of `model` (which must belong
    to the table); a list screen is named `?elenco=<listing>` with the list's filters; a personal
    list (`personal`) is about the person asking, whose id `for_person` puts in the screen.
    """

    name: str
    regions: tuple[Region, ...]
    param: str | None = None
    model: type[Any] | None = None
    listing: str | None = None
    check: FilterCheck | None = None
    for_person: Callable[[int], Screen] | None = None
    presence: bool = False  # shows who is on the table now (tables/_presence.html)


@dataclass(frozen=True)
class Area:
    """One area of the application, declared in one place."""

    name: str
    # The kinds of the events it records on a table (they are pushed live and listed in the
    # table's history), and of those it records outside any table (kept for the audit only).
    events: tuple[type[StrEnum], ...] = ()
    site_events: tuple[type[StrEnum], ...] = ()
    # Called at render time (inside the locale in use): kind -> sentence whose subject is the actor.
    sentences: Callable[[], Mapping[str, Sentence]] = dict
    screens: tuple[ScreenKind, ...] = ()
    # The regions this area adds to the table's home, in the main column and in the side column.
    home_main: tuple[Region, ...] = ()
    home_side: tuple[Region, ...] = ()
    # Functions the templates call (labels of this area's values, its option lists…).
    template_globals: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    # Dotted names of the modules of server/web whose ROUTES serve this area (the app imports them:
    # this layer knows nothing of HTTP).
    routes: tuple[str, ...] = ()
    # Dotted name of the module whose `seed(session, world)` fills this area's demo data.
    demo: str | None = None
    # Event kinds that change someone's role on the table -> whether the person loses it: their
    # open sockets on that table are closed (lost) or reconnected to see the new role.
    membership: Mapping[str, bool] = field(default_factory=dict)
    # Record kind -> the query of its records still private to some organisations (id -> the
    # organisations that may see it): pages, lists, history and pushes hide them from others.
    private_records: Mapping[str, PrivateQuery] = field(default_factory=dict)
    # The kinds of collaborative document (server/db/models/documents.py) this area owns, and how
    # their access and their rendering work.
    documents: Mapping[DocumentKind, DocumentBinding] = field(default_factory=dict)
    # Event kinds pushed live without a row in the history (`audit.announce`): the regions that
    # list every event (the table's recent history) do not follow them.
    unrecorded: frozenset[str] = frozenset()

    def kinds(self) -> list[str]:
        """Every event kind the area declares, on a table or not."""
        return [kind.value for enum in (*self.events, *self.site_events) for kind in enum]
