"""Interface words for the values the code speaks in English (UX.md's glossary)."""

from __future__ import annotations

from server.db.models import Role
from server.i18n import _


def role_label(role: Role | str) -> str:
    labels = {
        Role.chair: _("Chair"),
        Role.secretary: _("Secretary"),
        Role.member: _("Member"),
        Role.observer: _("Observer"),
    }
    return labels[Role(role)]
