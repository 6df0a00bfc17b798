"""Interface words for the values the code speaks in English (UX.md's glossary)."""

from __future__ import annotations

from typing import Any

from server.db.models import ActionStatus, AgendaStatus, Event, Organisation, ProposalStatus, Role, User
from server.i18n import _


def role_label(role: Role | str) -> str:
    labels = {
        Role.chair: _("Chair"),
        Role.secretary: _("Secretary"),
        Role.member: _("Member"),
        Role.observer: _("Observer"),
    }
    return labels[Role(role)]


def status_label(status: AgendaStatus | str) -> str:
    labels = {
        AgendaStatus.pending: _("To be discussed"),
        AgendaStatus.current: _("Under discussion"),
        AgendaStatus.done: _("Discussed"),
        AgendaStatus.deferred: _("Deferred"),
    }
    return labels[AgendaStatus(status)]


def action_status_label(status: ActionStatus | str) -> str:
    labels = {
        ActionStatus.open: _("Open"),
        ActionStatus.in_progress: _("In progress"),
        ActionStatus.done: _("Done"),
        ActionStatus.cancelled: _("Cancelled"),
    }
    return labels[ActionStatus(status)]


def proposal_status_label(status: ProposalStatus | str) -> str:
    labels = {
        ProposalStatus.draft: _("Draft"),
        ProposalStatus.submitted: _("Submitted"),
        ProposalStatus.under_discussion: _("Under discussion"),
        ProposalStatus.approved: _("Approved"),
        ProposalStatus.rejected: _("Rejected"),
        ProposalStatus.withdrawn: _("Withdrawn"),
    }
    return labels[ProposalStatus(status)]


def action_status_options() -> list[tuple[str, str]]:
    return [(status.value, action_status_label(status)) for status in ActionStatus]


def action_moves(status: ActionStatus, *, manages: bool) -> list[tuple[str, str]]:
    """The status buttons of an action item in `status`: the owner's, plus cancelling for managers."""
    from server.domain.actions import TRANSITIONS

    names = {
        ActionStatus.open: _("Reopen"),
        ActionStatus.in_progress: _("Start"),
        ActionStatus.done: _("Mark as done"),
        ActionStatus.cancelled: _("Cancel the action"),
    }
    order = [ActionStatus.in_progress, ActionStatus.done, ActionStatus.open, ActionStatus.cancelled]
    allowed = TRANSITIONS[ActionStatus(status)]
    return [(s.value, names[s]) for s in order if s in allowed and (manages or s is not ActionStatus.cancelled)]


def _status_change(payload: dict[str, Any]) -> str:
    sentences = {
        "current": _("opened the discussion of «{title}»"),
        "done": _("marked «{title}» as discussed"),
        "deferred": _("deferred «{title}»"),
        "pending": _("put «{title}» back among the items to be discussed"),
    }
    return sentences.get(payload.get("status", ""), _("changed the status of «{title}»"))


def describe_event(event: Event) -> str:
    """What an event did, as a sentence whose subject is its actor ("… added the item «X»")."""
    p: dict[str, Any] = {"title": "", "meeting_title": "", "name": "", **event.payload}
    if "role" in p:
        p["role"] = role_label(p["role"])
    sentences = {
        "table.created": _("created the table"),
        "table.updated": _("changed the description of the table"),
        "member.added": _("gave {name} the role {role}"),
        "member.changed": _("changed the role of {name} to {role}"),
        "member.removed": _("took away the role of {name}"),
        "meeting.created": _("convened the meeting «{title}»"),
        "meeting.updated": _("changed the details of the meeting «{title}»"),
        "agenda.item_added": _("added «{title}» to the agenda of «{meeting_title}»"),
        "agenda.item_updated": _("changed the agenda item «{title}»"),
        "agenda.item_removed": _("removed «{title}» from the agenda of «{meeting_title}»"),
        "agenda.item_moved": _("moved «{title}» to position {position} of the agenda"),
        "attendance.recorded": _("recorded the attendance of «{title}»: {present} organisations of {expected}"),
        "action.created": _("recorded the action item «{title}»"),
        "action.updated": _("changed the action item «{title}»"),
        "action.note_added": _("added a progress note to «{title}»"),
        "proposal.created": _("drafted the proposal «{title}»"),
        "proposal.updated": _("changed the draft of «{title}»"),
        "proposal.version_saved": _("kept version {number} of «{title}»"),
        "proposal.endorsed": _("endorsed «{title}» on behalf of their organisation"),
        "proposal.endorsement_withdrawn": _("withdrew their organisation's endorsement of «{title}»"),
        "proposal.commented": _("commented on «{title}»"),
        "proposal.comment_edited": _("edited a comment"),
        "proposal.comment_hidden": _("hid a comment"),
        "proposal.linked": _("linked «{title}» to the agenda"),
    }
    if event.kind == "agenda.item_status":
        return _status_change(p).format(**p)
    if event.kind == "proposal.status":
        p["status"] = proposal_status_label(p.get("status", "draft"))
        return _("moved the proposal «{title}» to {status}").format(**p)
    if event.kind == "action.status":
        p["status"] = action_status_label(p.get("status", "open"))
        return _("set the action item «{title}» to {status}").format(**p)
    sentence = sentences.get(event.kind)
    if sentence is None:
        return event.kind
    try:
        return sentence.format(**p)
    except (KeyError, IndexError):  # an older payload without some field: say what we can
        return event.kind


def actor_name(event: Event) -> str:
    return event.actor.name if event.actor else _("The system")


def role_options() -> list[tuple[str, str]]:
    return [(role.value, role_label(role)) for role in reversed(Role)]


def status_actions() -> list[tuple[str, str]]:
    """The buttons that set an agenda item's status, in the order of a discussion."""
    return [
        (AgendaStatus.current.value, _("Discuss now")),
        (AgendaStatus.done.value, _("Mark as discussed")),
        (AgendaStatus.deferred.value, _("Defer")),
        (AgendaStatus.pending.value, _("Back to be discussed")),
    ]


def organisation_options(organisations: list[Organisation]) -> list[tuple[str, str]]:
    return [(o.slug, o.name) for o in organisations]


def people_options(people: list[tuple[User, str | None]]) -> list[tuple[str, str]]:
    return [
        (str(user.id), f"{user.name} ({organisation})" if organisation else user.name) for user, organisation in people
    ]
