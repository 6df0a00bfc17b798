"""What a fragment may show: it depends on the role (and the administrator flag), never on the person.

The hub renders each live fragment once per audience and locale, so nothing personal may enter it.
One thing depends on the organisation a person represents: a record still private to its
co-authoring organisations (a draft proposal). Regions that list such records narrow their data
for each audience, and only those are rendered once per organisation (`Audience.keyed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.db.models import Role


@dataclass(frozen=True)
class Audience:
    """The eyes a page or fragment is rendered for."""

    role: Role | None
    is_admin: bool = False
    organisation_id: int | None = None  # the organisation the person represents on the table

    def reads_private(self, authors: frozenset[int]) -> bool:
        """May see a record private to the organisations `authors` (the chair and secretary see all)."""
        return self.runs_meetings or (self.organisation_id is not None and self.organisation_id in authors)

    def keyed(self, narrows: bool) -> Audience:
        """The audience a rendering depends on: with the organisation only where the data is narrowed
        for it (and not for the chair and secretary, who see everything), so that other regions are
        still rendered once per role."""
        if narrows and not self.runs_meetings:
            return self
        return Audience(self.role, self.is_admin)

    @property
    def reads_table(self) -> bool:
        """Sees the whole table (members' names, meetings, history), not only its public face."""
        return self.role is not None or self.is_admin

    @property
    def runs_meetings(self) -> bool:
        """Convenes meetings, builds their agenda and records attendance: chair and secretary."""
        return self.role in (Role.chair, Role.secretary)

    @property
    def manages_members(self) -> bool:
        return self.is_admin


@dataclass(frozen=True)
class Screen:
    """What an open page shows: its kind, the record it is about, and the filters of a list.

    The kinds are "table" (the home) and those the areas declare (`ScreenKind.name`); `query`
    holds a list's filters, sorted, as they came in the address.
    """

    kind: str = "table"
    record_id: int | None = None
    query: tuple[tuple[str, str], ...] = ()

    @property
    def meeting_id(self) -> int | None:
        return self.record_id if self.kind == "meeting" else None
