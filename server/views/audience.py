"""What a fragment may show: it depends on the role (and the administrator flag), never on the person.

The hub renders each live fragment once per view and locale, so nothing personal may enter it.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.db.models import Role


@dataclass(frozen=True)
class Audience:
    """The eyes a page or fragment is rendered for."""

    role: Role | None
    is_admin: bool = False

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
