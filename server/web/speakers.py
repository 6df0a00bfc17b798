"""The lists of speakers: a member asks to speak for their organisation (and withdraws); the chair
and the secretary add, reorder, remove, give the floor and stop, open and close the list, and set
an item's speaking time. Each answers like the rest of the meeting room (server/web/room.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from server.db.models import Role
from server.domain import inputs, speaker_lists, speakers
from server.domain.errors import Invalid
from server.i18n import _
from server.web.access import TableAccess, TableRoute
from server.web.forms import number, text
from server.web.meetings import MEETING, meeting_id_of
from server.web.room import regions_named, room_action, switch

ITEM = MEETING + "/punti/{item_id:int}/interventi"
SPEAKER = MEETING + "/interventi"


def _item_id(request: Request) -> int:
    return int(request.path_params["item_id"])


async def _speaker_id(request: Request) -> int:
    found = inputs.record_id(text(await request.form(), "speaker", 20))
    if found is None:  # a hidden field: only a hand-made request gets here
        raise HTTPException(400, _("The request could not be understood."))
    return found


def _list() -> Any:
    return regions_named("speakers")


def _name(speaker: Any) -> str:
    return str(speaker.organisation.name)


async def ask(request: Request, access: TableAccess) -> Response:
    kind = (await request.form()).get("point_of_order")
    if kind not in (None, "on"):  # a hidden field: only a hand-made request sends another value
        raise HTTPException(400, _("The request could not be understood."))
    point_of_order = kind == "on"
    user_id = access.viewer.user_id
    assert user_id is not None  # a member's route: someone logged in
    organisation_id = access.membership.organisation_id if access.membership else None

    async def change(session: Any) -> Any:
        return await speakers.ask(
            session,
            access.table,
            meeting_id_of(request),
            _item_id(request),
            user_id=user_id,
            name=access.viewer.name,
            organisation_id=organisation_id,
            point_of_order=point_of_order,
        )

    return await room_action(
        request,
        access,
        change,
        regions=_list(),
        alert="speakers",
        said=lambda speaker: (
            _("Point of order asked for {organisation}.").format(organisation=_name(speaker))
            if point_of_order
            else _("Request to speak for {organisation} recorded.").format(organisation=_name(speaker))
        ),
    )


async def withdraw(request: Request, access: TableAccess) -> Response:
    speaker_id = await _speaker_id(request)
    user_id = access.viewer.user_id
    assert user_id is not None
    organisation_id = access.membership.organisation_id if access.membership else None

    async def change(session: Any) -> Any:
        return await speakers.withdraw(
            session,
            access.table,
            meeting_id_of(request),
            speaker_id,
            user_id=user_id,
            organisation_id=organisation_id,
            runs_meetings=access.audience.runs_meetings,
        )

    return await room_action(
        request,
        access,
        change,
        regions=_list(),
        alert="speakers",
        said=lambda speaker: _("Request of {organisation} withdrawn.").format(organisation=_name(speaker)),
    )


async def add(request: Request, access: TableAccess) -> Response:
    form = await request.form()
    organisation_id = inputs.record_id(text(form, "organisation", 20))
    point_of_order = form.get("point_of_order") == "on"

    async def change(session: Any) -> Any:
        if organisation_id is None:
            raise Invalid({"organisation": _("Choose an organisation present at the meeting.")})
        return await speakers.add(
            session,
            access.table,
            meeting_id_of(request),
            _item_id(request),
            organisation_id,
            actor_id=access.viewer.user_id,
            point_of_order=point_of_order,
        )

    return await room_action(
        request,
        access,
        change,
        regions=_list(),
        alert="speakers",
        said=lambda speaker: _("{organisation} added to the list of speakers.").format(organisation=_name(speaker)),
    )


async def _on_speaker(
    request: Request,
    access: TableAccess,
    act: Callable[..., Awaitable[Any]],
    said: Callable[[Any], str],
    regions: Any = None,
) -> Response:
    """One chair's act on one speaker of the list (`act(session, table, meeting_id, speaker_id, actor_id=…)`)."""
    speaker_id = await _speaker_id(request)

    async def change(session: Any) -> Any:
        return await act(session, access.table, meeting_id_of(request), speaker_id, actor_id=access.viewer.user_id)

    return await room_action(request, access, change, regions=regions or _list(), alert="speakers", said=said)


async def remove(request: Request, access: TableAccess) -> Response:
    return await _on_speaker(
        request,
        access,
        speakers.remove,
        lambda speaker: _("{organisation} taken off the list.").format(organisation=_name(speaker)),
    )


async def move(request: Request, access: TableAccess) -> Response:
    speaker_id = await _speaker_id(request)
    position = number(await request.form(), "position")

    async def change(session: Any) -> Any:
        return await speakers.move(
            session,
            access.table,
            meeting_id_of(request),
            speaker_id,
            to_position=position,
            actor_id=access.viewer.user_id,
        )

    return await room_action(
        request,
        access,
        change,
        regions=_list(),
        alert="speakers",
        said=lambda speaker: _("{organisation} moved to place {position}.").format(
            organisation=_name(speaker), position=position
        ),
    )


async def start(request: Request, access: TableAccess) -> Response:
    return await _on_speaker(
        request,
        access,
        speakers.start,
        lambda speaker: _("{organisation} has the floor.").format(organisation=_name(speaker)),
        regions=regions_named("speakers", "meeting-time"),
    )


async def stop(request: Request, access: TableAccess) -> Response:
    return await _on_speaker(
        request,
        access,
        speakers.stop,
        lambda speaker: _("{organisation} has finished speaking.").format(organisation=_name(speaker)),
    )


async def toggle(request: Request, access: TableAccess) -> Response:
    is_open = switch(await request.form())

    async def change(session: Any) -> Any:
        return await speakers.set_open(
            session, access.table, meeting_id_of(request), _item_id(request), is_open, actor_id=access.viewer.user_id
        )

    return await room_action(
        request,
        access,
        change,
        regions=_list(),
        alert="speakers",
        said=lambda _item: _("The list of speakers is open.") if is_open else _("The list of speakers is closed."),
    )


async def set_time(request: Request, access: TableAccess) -> Response:
    typed = text(await request.form(), "speaking_time", 20)

    async def change(session: Any) -> Any:
        seconds = speaker_lists.parse_speaking_time(typed) if typed.strip() else None
        return await speakers.set_item_time(
            session, access.table, meeting_id_of(request), _item_id(request), seconds, actor_id=access.viewer.user_id
        )

    return await room_action(
        request,
        access,
        change,
        regions=_list(),
        alert="speakers",
        said=lambda _item: _("Speaking time on this item saved."),
    )


def _post(path: str, endpoint: Any, role: Role, name: str) -> TableRoute:
    return TableRoute(path, endpoint, role=role, methods=["POST"], name=name)


ROUTES = [
    _post(ITEM, ask, Role.member, "ask_to_speak"),
    _post(ITEM + "/aggiungi", add, Role.secretary, "add_speaker"),
    _post(ITEM + "/lista", toggle, Role.secretary, "speakers_list"),
    _post(ITEM + "/tempo", set_time, Role.secretary, "item_speaking_time"),
    _post(SPEAKER + "/ritira", withdraw, Role.member, "withdraw_speaker"),
    _post(SPEAKER + "/rimuovi", remove, Role.secretary, "remove_speaker"),
    _post(SPEAKER + "/sposta", move, Role.secretary, "move_speaker"),
    _post(SPEAKER + "/avvia", start, Role.secretary, "start_speaker"),
    _post(SPEAKER + "/ferma", stop, Role.secretary, "stop_speaker"),
]
