"""The tables area: a table's description, its members and its recent history, and their words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Table
from server.domain import audit
from server.domain.tables import TableEvent, members_of, organisations
from server.i18n import _
from server.views.area import Area, Sentence
from server.views.audience import Audience, Screen
from server.views.privacy import hide_private_events
from server.views.regions import Private, Region

MEMBERSHIP = frozenset({TableEvent.member_added, TableEvent.member_changed, TableEvent.member_removed})
TABLE_CHANGED = frozenset({TableEvent.created, TableEvent.updated})


async def _about(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    return {"table": table}


async def _members(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    return {"table": table, "seats": await members_of(session, table.id), "organisations": await organisations(session)}


RECENT_SHOWN = 10


async def _recent(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    # More than are shown: those about records private to other organisations are left out.
    return {"table": table, "events": await audit.history(session, table.id, limit=3 * RECENT_SHOWN)}


def _recent_for(data: dict[str, Any], audience: Audience, private: Private) -> dict[str, Any]:
    return {**data, "events": hide_private_events(data["events"], audience, private)[:RECENT_SHOWN]}


ABOUT = Region("about", "tables/_about.html", _about, follows=TABLE_CHANGED)
MEMBERS = Region("members", "tables/_members.html", _members, follows=MEMBERSHIP)
RECENT = Region("recent-history", "tables/_recent.html", _recent, every_event=True, narrow=_recent_for)


def _sentences() -> Mapping[str, Sentence]:
    return {
        TableEvent.created: _("created the table"),
        TableEvent.updated: _("changed the description of the table"),
        TableEvent.member_added: _("gave {name} the role {role}"),
        TableEvent.member_changed: _("changed the role of {name} to {role}"),
        TableEvent.member_removed: _("took away the role of {name}"),
    }


AREA = Area(
    name="tables",
    events=(TableEvent,),
    sentences=_sentences,
    home_side=(ABOUT, MEMBERS, RECENT),
    routes=("server.web.tables",),
    membership={TableEvent.member_added: False, TableEvent.member_changed: False, TableEvent.member_removed: True},
)
