"""The protocols area: a table's protocols (the list), one protocol's page (its state and buttons,
its frozen text and hashes, its parties and who signed, its annexes, its commitments), and the
table home's protocols in force with their open commitments.

The protocol page is a screen of its own (`?protocollo=<id>`); its regions are about the protocol
(`record="protocol"`), so an event of another protocol of the table leaves them alone. The draft's
text is a collaborative document (`DocumentKind.protocol_text`) whose rule is the domain's
(server/domain/protocols.py, `document_access`). A party's signatory and substitute reach the page
even without a role on the table (server/web/protocols.py); the regions are the same for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Document, DocumentKind, Membership, Protocol, ProtocolParty, ProtocolStatus, Table, User
from server.domain import protocol_access, protocol_annexes, protocol_commitments, protocols, signatures, texts
from server.domain.actions import ActionEvent
from server.domain.documents import DocumentAccess
from server.domain.protocols import ProtocolEvent, protocol_kind_label, protocol_status_label
from server.i18n import _
from server.views.area import Area, DocumentBinding, ScreenKind, Sentence
from server.views.audience import Audience, Screen
from server.views.regions import Region

SCREEN = "protocol"
PROTOCOL_CHANGED = frozenset(ProtocolEvent)
# The commitments' action items change with the action items' own events.
ACTIONS_CHANGED = frozenset({ActionEvent.created, ActionEvent.updated, ActionEvent.status})


def protocol_of(screen: Screen) -> int:
    if screen.kind != SCREEN or screen.record_id is None:
        raise ValueError(f"a protocol region on {screen}")
    return screen.record_id


# --- the regions ----------------------------------------------------------------------------------


async def _protocol(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    protocol = await protocols.get_protocol(session, table.id, protocol_of(screen))
    version = await protocols.current_version(session, protocol.id)
    errors = await protocols.commitment_errors(session, protocol) if protocol.status is ProtocolStatus.draft else []
    supersedes = await session.get(Protocol, protocol.supersedes_id) if protocol.supersedes_id is not None else None
    return {
        "table": table,
        "protocol": protocol,
        "version": version,
        "versions": await protocols.versions_of(session, protocol.id),
        "commitment_errors": errors,
        "supersedes": supersedes,
        "superseded_by": await protocols.superseded_by(session, protocol.id),
    }


async def _text(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    """The frozen text once open (the canonical bytes, rendered, and its hash)."""
    protocol = await protocols.get_protocol(session, table.id, protocol_of(screen))
    version = await protocols.current_version(session, protocol.id)
    html = None
    if version is not None:
        html = await texts.renderer_of(session).render(version.text.decode("utf-8"))
    return {"table": table, "protocol": protocol, "frozen": version, "frozen_html": html}


async def _parties(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    protocol = await protocols.get_protocol(session, table.id, protocol_of(screen))
    checks = {check.signature.id: check for check in await signatures.check_signatures(session, protocol.id)}
    return {
        "table": table,
        "protocol": protocol,
        "party_states": await protocols.party_states(session, protocol),
        "signature_checks": checks,
    }


async def _annexes(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    protocol = await protocols.get_protocol(session, table.id, protocol_of(screen))
    return {"table": table, "protocol": protocol, "annexes": await protocol_annexes.annexes_of(session, protocol.id)}


async def _commitments(session: AsyncSession, table: Table, screen: Screen) -> dict[str, Any]:
    protocol = await protocols.get_protocol(session, table.id, protocol_of(screen))
    parties = await protocols.parties_of(session, protocol.id)
    states = await protocol_commitments.commitments_of(session, protocol.id)
    return {
        "table": table,
        "protocol": protocol,
        "commitments": states,
        "party_names": {party.id: party.organisation.name for party in parties},
        "commitment_people": await _owners(session, table, parties) if any(s.action for s in states) else {},
    }


async def _owners(
    session: AsyncSession, table: Table, parties: list[ProtocolParty]
) -> dict[int, list[tuple[int, str]]]:
    """Party id -> who may own its commitments' action items (server/domain/protocol_commitments.py,
    `assign_owner`): its signatory, its substitute, the table's members sitting for its organisation."""
    people = await people_of_organisations(session, table.id, {party.organisation_id for party in parties})
    found: dict[int, list[tuple[int, str]]] = {}
    for party in parties:
        choices = {user.id: user.name for user in (party.signatory, party.substitute) if user is not None}
        choices.update(people.get(party.organisation_id, {}))
        found[party.id] = sorted(choices.items(), key=lambda choice: choice[1].lower())
    return found


async def people_of_organisations(
    session: AsyncSession, table_id: int, organisation_ids: set[int]
) -> dict[int, dict[int, str]]:
    """Organisation id -> the table's members sitting for it (user id -> name)."""
    if not organisation_ids:
        return {}
    rows = await session.execute(
        select(Membership.organisation_id, User.id, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.table_id == table_id, Membership.organisation_id.in_(organisation_ids))
    )
    found: dict[int, dict[int, str]] = {}
    for organisation_id, user_id, name in rows.all():
        if organisation_id is not None:
            found.setdefault(organisation_id, {})[user_id] = name
    return found


async def _list(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    return {"table": table, "protocols": await protocols.protocols_of(session, table.id)}


async def _in_force(session: AsyncSession, table: Table, _screen: Screen) -> dict[str, Any]:
    return {"table": table, "in_force": await protocol_commitments.open_commitments_of_table(session, table.id)}


PROTOCOL = Region("protocol", "protocols/_protocol.html", _protocol, record="protocol", follows=PROTOCOL_CHANGED)
TEXT = Region(
    "protocol-text",
    "protocols/_text.html",
    _text,
    record="protocol",
    follows=frozenset({ProtocolEvent.opened, ProtocolEvent.reopened, ProtocolEvent.changed}),
)
PARTIES = Region("protocol-parties", "protocols/_parties.html", _parties, record="protocol", follows=PROTOCOL_CHANGED)
ANNEXES = Region(
    "protocol-annexes",
    "protocols/_annexes.html",
    _annexes,
    record="protocol",
    follows=frozenset({ProtocolEvent.annex_added, ProtocolEvent.annex_removed, ProtocolEvent.opened}),
)
COMMITMENTS = Region(
    "protocol-commitments",
    "protocols/_commitments.html",
    _commitments,
    record="protocol",
    follows=PROTOCOL_CHANGED | ACTIONS_CHANGED,
)
LIST = Region("protocols-list", "protocols/_list.html", _list, follows=PROTOCOL_CHANGED - {ProtocolEvent.edited})
# On the table's home: the protocols in force and what their parties still have to do.
IN_FORCE = Region(
    "protocols-in-force", "protocols/_in_force.html", _in_force, follows=PROTOCOL_CHANGED | ACTIONS_CHANGED
)
PROTOCOL_PAGE = (PROTOCOL, TEXT, PARTIES, ANNEXES, COMMITMENTS)
LIST_PAGE = (LIST,)


# --- words ----------------------------------------------------------------------------------------


def _say(sentence: str) -> Sentence:
    return lambda payload: sentence.format(**{"organisation": "", "annex": "", "superseded_by_title": "", **payload})


def _sentences() -> Mapping[str, Sentence]:
    return {
        ProtocolEvent.created: _say(_("created the protocol «{title}»")),
        ProtocolEvent.changed: _say(_("changed the details of the protocol «{title}»")),
        ProtocolEvent.party_added: _say(_("added {organisation} as a party to the protocol «{title}»")),
        ProtocolEvent.party_changed: _say(_("changed the signers of {organisation} for the protocol «{title}»")),
        ProtocolEvent.party_removed: _say(_("removed {organisation} from the parties to the protocol «{title}»")),
        ProtocolEvent.annex_added: _say(_("annexed «{annex}» to the protocol «{title}»")),
        ProtocolEvent.annex_removed: _say(_("removed the annex «{annex}» from the protocol «{title}»")),
        ProtocolEvent.opened: _say(_("opened the protocol «{title}» for signature")),
        ProtocolEvent.reopened: _say(_("took the protocol «{title}» back to draft")),
        ProtocolEvent.signed: _say(_("signed the protocol «{title}» for {organisation}")),
        ProtocolEvent.in_force: _say(_("brought the protocol «{title}» into force with the last signature")),
        ProtocolEvent.adhered: _say(_("adhered to the protocol «{title}» for {organisation}")),
        ProtocolEvent.expired: _say(_("marked the protocol «{title}» expired: its validity has ended")),
        ProtocolEvent.superseded: _say(_("replaced the protocol «{title}» with «{superseded_by_title}», now in force")),
        ProtocolEvent.edited: _say(_("edited the text of the protocol «{title}»")),
    }


# --- the document -----------------------------------------------------------------------------------


async def _document_access(
    session: AsyncSession, document: Document, audience: Audience, user_id: int
) -> DocumentAccess:
    """Who writes and who reads a protocol's text: the domain's rule (the chair, the secretary and
    the parties' members write a draft; every role reads it; nobody writes a frozen text)."""
    return await protocol_access.document_access(
        session,
        document,
        role=audience.role,
        organisation_id=audience.organisation_id,
        is_admin=audience.is_admin,
        user_id=user_id,
    )


async def _document_changed(session: AsyncSession, document: Document, text: str, editor_ids: frozenset[int]) -> None:
    await protocol_access.document_changed(session, document, text, editor_ids)


DOCUMENT = DocumentBinding(access=_document_access, changed=_document_changed)

AREA = Area(
    name="protocols",
    events=(ProtocolEvent,),
    sentences=_sentences,
    screens=(
        ScreenKind("protocols", LIST_PAGE, listing="protocolli"),
        ScreenKind(SCREEN, PROTOCOL_PAGE, param="protocollo", model=Protocol, presence=True),
    ),
    home_main=(IN_FORCE,),
    template_globals={
        "protocol_kind_label": protocol_kind_label,
        "protocol_status_label": protocol_status_label,
    },
    routes=("server.web.protocols", "server.web.keys"),
    documents={DocumentKind.protocol_text: DOCUMENT},
    demo="server.demo.protocols",
)
