"""Interface words shared by every area: roles, organisations, people, the author of an event."""

from __future__ import annotations

from server.db.models import Event, Organisation, Role, User
from server.i18n import _


def role_label(role: Role | str) -> str:
    labels = {
        Role.chair: _("Chair"),
        Role.secretary: _("Secretary"),
        Role.member: _("Member"),
        Role.observer: _("Observer"),
    }
    return labels[Role(role)]


def actor_name(event: Event) -> str:
    return event.actor.name if event.actor else _("The system")


def role_options() -> list[tuple[str, str]]:
    return [(role.value, role_label(role)) for role in reversed(Role)]


def organisation_options(organisations: list[Organisation]) -> list[tuple[str, str]]:
    return [(o.slug, o.name) for o in organisations]


def people_options(people: list[tuple[User, str | None]]) -> list[tuple[str, str]]:
    return [
        (str(user.id), f"{user.name} ({organisation})" if organisation else user.name) for user, organisation in people
    ]
