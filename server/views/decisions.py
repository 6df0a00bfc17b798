"""The decisions area: what the table decided on each agenda item, and where each organisation stands.

Its regions: the decisions of a meeting on the meeting's page (`meeting-decisions`: the chair and
the secretary record and edit them, the chair opens and closes a roll call, a present delegate
records their organisation's position while it is open), the roll call on the room screen
(`room-roll-call`), the table's decisions page with its filters (`decision-list`) and the latest
decisions on the table's home (`decisions`). The meetings area lists the first two on its screens
(server/views/meetings.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    ActionItem,
    AgendaItem,
    Decision,
    Meeting,
    Organisation,
    Position,
    PositionKind,
    Proposal,
    ProposalLink,
    ProposalStatus,
    RollCall,
    Table,
)
from server.domain import decisions, inputs
from server.domain.actions import ActionEvent
from server.domain.agenda import AgendaEvent, agenda_of
from server.domain.decisions import DecisionEvent
from server.domain.errors import BadQuery
from server.domain.meetings import MeetingEvent, get_meeting
from server.domain.proposal_basics import ProposalEvent
from server.domain.tables import organisations
from server.i18n import TIMEZONE, _
from server.views import meeting_room
from server.views.area import Area, ScreenKind, Sentence
from server.views.audience import Screen
from server.views.regions import Region, record_of
from server.views.tables import MEMBERSHIP

DECISION_CHANGED = frozenset(DecisionEvent)
AGENDA_CHANGED = frozenset(AgendaEvent)
MEETING_CHANGED = frozenset({MeetingEvent.created, MeetingEvent.updated})
# A decision names a proposal and the agenda item it was discussed on: their titles show beside it.
PROPOSAL_CHANGED = frozenset({ProposalEvent.linked, ProposalEvent.status, ProposalEvent.updated})
# Who may record a position depends on who is present, and the roll call on the meeting's life.
ROOM_CHANGED = DECISION_CHANGED | meeting_room.ATTENDANCE | meeting_room.LIFE | meeting_room.CHECK_IN
RECENT_SHOWN = 5
# The list's filters, as the address names them.
MEETING_FILTER, ORGANISATION_FILTER, POSITION_FILTER = "seduta", "organizzazione", "posizione"


# --- what the regions read ---------------------------------------------------------------------


async def _proposals(session: AsyncSession, ids: Sequence[int | None]) -> dict[int, Proposal]:
    """The proposals the decisions name (drafts left out: only their co-authors may see them)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    found = await session.scalars(
        select(Proposal).where(Proposal.id.in_(wanted), Proposal.status != ProposalStatus.draft)
    )
    return {proposal.id: proposal for proposal in found.all()}


async def _linked_proposals(session: AsyncSession, meeting_id: int) -> list[tuple[Proposal, int]]:
    """The proposals discussed on the meeting's items (the choices of a decision's proposal), with the item."""
    rows = await session.execute(
        select(Proposal, ProposalLink.item_id)
        .join(ProposalLink, ProposalLink.proposal_id == Proposal.id)
        .join(AgendaItem, AgendaItem.id == ProposalLink.item_id)
        .where(
            AgendaItem.meeting_id == meeting_id,
            AgendaItem.removed_at.is_(None),
            Proposal.status != ProposalStatus.draft,
        )
        .order_by(AgendaItem.position, Proposal.title)
    )
    return [(proposal, item_id) for proposal, item_id in rows.all()]


async def _actions_of_items(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, list[ActionItem]]:
    """The action items whose origin is each of these agenda items."""
    if not item_ids:
        return {}
    found = await session.scalars(
        select(ActionItem).where(ActionItem.origin_item_id.in_(item_ids)).order_by(ActionItem.id)
    )
    by_item: dict[int, list[ActionItem]] = {}
    for action in found.all():
        assert action.origin_item_id is not None
        by_item.setdefault(action.origin_item_id, []).append(action)
    return by_item


async def _meeting_decisions(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, record_of(screen, "meeting"))
    rows = await decisions.meeting_decisions(session, meeting.id)
    decided = {item.id for item, _decision, _positions in rows}
    return {
        "table": table,
        "meeting": meeting,
        "decisions": rows,
        "decision_proposals": await _proposals(session, [d.proposal_id for _i, d, _p in rows]),
        # The items still without a decision, and the proposals discussed at this meeting.
        "undecided_items": [item for item in await agenda_of(session, meeting.id) if item.id not in decided],
        "linked_proposals": await _linked_proposals(session, meeting.id),
        "present_delegations": await decisions.present_organisations(session, meeting.id),
    }


async def _room_roll_call(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    meeting = await get_meeting(session, table.id, record_of(screen, "room"))
    rows = await decisions.meeting_decisions(session, meeting.id)
    return {
        "table": table,
        "meeting": meeting,
        "roll_calls": [row for row in rows if row[1].roll_call is RollCall.open],
        "roll_call_present": await decisions.present_organisations(session, meeting.id),
    }


async def _table_meetings(session: AsyncSession, table_id: int) -> list[Meeting]:
    found = await session.scalars(
        select(Meeting).where(Meeting.table_id == table_id).order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )
    return list(found.all())


async def _deciding_organisations(session: AsyncSession, table_id: int) -> list[Organisation]:
    """The organisations that took a position on a decision of the table (the choices of the filter)."""
    found = await session.scalars(
        select(Organisation)
        .where(
            Organisation.id.in_(
                select(Position.organisation_id)
                .join(Decision, Decision.id == Position.decision_id)
                .where(Decision.table_id == table_id)
            )
        )
        .order_by(Organisation.name)
    )
    return list(found.all())


@dataclass(frozen=True)
class Filters:
    """The decisions page's filters, each from an allowlist: the table's meetings, the known
    organisations, the kinds of position (anything else is refused, never guessed)."""

    meeting_id: int | None
    organisation_id: int | None
    position: PositionKind | None


async def filters_of(session: AsyncSession, table: Table, screen: Screen) -> Filters:
    """The list's filters from the screen's query (BadQuery for a value outside its allowlist)."""
    query = dict(screen.query)
    unknown = set(query) - {MEETING_FILTER, ORGANISATION_FILTER, POSITION_FILTER}
    meeting, organisation = query.get(MEETING_FILTER, ""), query.get(ORGANISATION_FILTER, "")
    position = query.get(POSITION_FILTER, "")
    meeting_id, organisation_id = inputs.record_id(meeting), inputs.record_id(organisation)
    refused = BadQuery(_("This filter does not exist: choose among those of the form."))
    if unknown or position not in ("", *(kind.value for kind in PositionKind)):
        raise refused
    if meeting and (meeting_id is None or meeting_id not in {m.id for m in await _table_meetings(session, table.id)}):
        raise refused
    if organisation and (organisation_id is None or await session.get(Organisation, organisation_id) is None):
        raise refused
    return Filters(meeting_id, organisation_id, PositionKind(position) if position else None)


async def _check_filters(session: AsyncSession, table: Table, screen: Screen) -> None:
    await filters_of(session, table, screen)


async def _decision_list(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    filters = await filters_of(session, table, screen)
    rows = await decisions.table_decisions(
        session,
        table.id,
        meeting_id=filters.meeting_id,
        organisation_id=filters.organisation_id,
        position=filters.position.value if filters.position else None,
    )
    chosen = dict(screen.query)
    return {
        "table": table,
        "decision_rows": rows,
        "decision_proposals": await _proposals(session, [d.proposal_id for _m, _i, d, _p in rows]),
        "decision_actions": await _actions_of_items(session, [item.id for _m, item, _d, _p in rows]),
        "filter_meetings": await _table_meetings(session, table.id),
        "filter_organisations": await _deciding_organisations(session, table.id) or await organisations(session),
        "chosen": chosen,
        "filtered": bool(chosen),
    }


async def _recent_decisions(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    rows = await decisions.table_decisions(session, table.id)
    return {"table": table, "recent_decisions": rows[:RECENT_SHOWN]}


MEETING_DECISIONS = Region(
    "meeting-decisions",
    "decisions/_meeting.html",
    _meeting_decisions,
    record="meeting",
    follows=ROOM_CHANGED | AGENDA_CHANGED | PROPOSAL_CHANGED | MEMBERSHIP,
)
ROOM_ROLL_CALL = Region(
    "room-roll-call", "decisions/_room_roll_call.html", _room_roll_call, record="meeting", follows=ROOM_CHANGED
)
DECISION_LIST = Region(
    "decision-list",
    "decisions/_list.html",
    _decision_list,
    filtered=True,
    follows=DECISION_CHANGED | AGENDA_CHANGED | MEETING_CHANGED | PROPOSAL_CHANGED | frozenset(ActionEvent),
)
RECENT_DECISIONS = Region(
    "decisions", "decisions/_recent.html", _recent_decisions, follows=DECISION_CHANGED | AGENDA_CHANGED
)
DECISION_LIST_PAGE = (DECISION_LIST,)


# --- words -------------------------------------------------------------------------------------


def decision_kind_options() -> list[tuple[str, str]]:
    return [(kind.value, decisions.decision_kind_label(kind)) for kind in decisions.DECISION_KINDS]


def position_options() -> list[tuple[str, str]]:
    return [(kind.value, decisions.position_label(kind)) for kind in decisions.POSITION_KINDS]


def position_count(positions: Sequence[Position]) -> list[tuple[str, str, int]]:
    """The count of each kind of position (kind, label, count), in the kinds' order, zeros included."""
    counted = decisions.tally(positions)
    return [(kind.value, decisions.position_label(kind), counted.get(kind, 0)) for kind in decisions.POSITION_KINDS]


def meeting_options(meetings: Sequence[Meeting]) -> list[tuple[str, str]]:
    """The decisions page's meeting filter: each meeting by its title and day."""
    return [(str(m.id), f"{m.title} ({m.starts_at.astimezone(TIMEZONE):%d/%m/%Y})") for m in meetings]


def organisation_id_options(found: Sequence[Organisation]) -> list[tuple[str, str]]:
    return [(str(o.id), o.name) for o in found]


def roll_call_label(state: RollCall | str) -> str:
    labels = {
        RollCall.none: _("No roll call yet"),
        RollCall.open: _("Roll call open"),
        RollCall.closed: _("Roll call closed"),
    }
    return labels[RollCall(state)]


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"  # an older payload without this field


def _label(label: Any, value: Any) -> str:
    try:
        return str(label(value))
    except (KeyError, ValueError):
        return "…"


def _roll_call_sentence(payload: dict[str, Any]) -> str:
    if payload.get("state") == RollCall.open.value:
        return _("opened the roll call on «{title}»").format_map(_Lenient(payload))
    if payload.get("state") == RollCall.closed.value:
        return _("closed the roll call on «{title}»").format_map(_Lenient(payload))
    return _("changed the roll call on «{title}»").format_map(_Lenient(payload))


def _position_sentence(payload: dict[str, Any]) -> str:
    values = _Lenient(payload)
    if "position" in payload:
        values["position"] = _label(decisions.position_label, payload["position"])
    if payload.get("by_secretary"):
        return _("recorded the position of {organisation} on «{title}» for {delegate}: {position}").format_map(values)
    return _("recorded the position of {organisation} on «{title}»: {position}").format_map(values)


def _decision_sentence(template: str) -> Sentence:
    def sentence(payload: dict[str, Any]) -> str:
        values = _Lenient(payload)
        kind = payload.get("decision_kind", payload.get("kind"))
        if kind is not None:
            values["kind"] = _label(decisions.decision_kind_label, kind)
        return template.format_map(values)

    return sentence


def _sentences() -> Mapping[str, Sentence]:
    return {
        DecisionEvent.recorded: _decision_sentence(_("recorded the decision on «{title}»: {kind}")),
        DecisionEvent.changed: _decision_sentence(_("changed the decision on «{title}»")),
        DecisionEvent.roll_call: _roll_call_sentence,
        DecisionEvent.position: _position_sentence,
        DecisionEvent.locked: _("locked the decisions of «{meeting_title}»: the minutes are approved"),
    }


AREA = Area(
    name="decisions",
    events=(DecisionEvent,),
    sentences=_sentences,
    screens=(ScreenKind("decisions", DECISION_LIST_PAGE, listing="decisioni", check=_check_filters),),
    home_side=(RECENT_DECISIONS,),
    template_globals={
        "decision_kind_label": decisions.decision_kind_label,
        "decision_kind_options": decision_kind_options,
        "position_label": decisions.position_label,
        "position_options": position_options,
        "position_count": position_count,
        "roll_call_label": roll_call_label,
        "meeting_options": meeting_options,
        "organisation_id_options": organisation_id_options,
    },
    routes=("server.web.decisions",),
    demo="server.demo.decisions",
)
