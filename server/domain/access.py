"""Who may see or do what on a table: the one rule every table route and socket goes through."""

from __future__ import annotations

from enum import Enum

from server.db.models import Role


class Decision(Enum):
    allow = "allow"
    login = "login"  # not logged in: log in first, then we will know
    not_found = "not_found"  # a private table is invisible to whoever has no role on it
    forbidden = "forbidden"  # the table is visible, but this needs a higher role


def decide(
    *,
    required: Role | None,
    role: Role | None,
    is_public: bool,
    authenticated: bool,
    is_admin: bool = False,
) -> Decision:
    """Decide access to a table; `required=None` asks only to see the table's public face.

    Administrators (the metropolitan staff) read every table as observers do; acting on a table
    still needs a role on it.
    """
    if role is not None and (required is None or role.rank >= required.rank):
        return Decision.allow
    if is_admin and (required is None or required is Role.observer):
        return Decision.allow
    if required is None and is_public:
        return Decision.allow
    if not authenticated:
        return Decision.login
    if role is None and not is_public and not is_admin:
        return Decision.not_found
    return Decision.forbidden
