"""A protocol's parties: the organisations that sign it, their signatory and substitute, the order.

A party is one of the table's organisations (one with a seat: a membership on the table), or an
external one — a company, an investor — recorded as an organisation without a seat on the table
(made here when it does not exist yet). Its signatory and substitute are existing accounts, chosen
by e-mail; they reach the protocol to read and sign it even without a role on the table (an
external party's people reach that protocol only: server/domain/protocols.py, `protocol_access`).

The chair or the secretary adds, changes and removes parties of a draft. A party's signers may
still change while its signature is due (open for signature, or an adhering party not yet signed).
A party added to a protocol in force adheres to it: it signs the same frozen version.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Membership,
    Organisation,
    ProtocolParty,
    ProtocolStatus,
    Signature,
    Table,
    User,
)
from server.domain import audit, inputs
from server.domain.actions import Actor
from server.domain.errors import Invalid, NotFound
from server.domain.meetings import lock_table
from server.domain.protocols import ProtocolEvent, check_manager, current_version, get_protocol, payload
from server.domain.tables import create_organisation
from server.i18n import _

__all__ = [
    "PartyValues",
    "SignerValues",
    "add_party",
    "get_party",
    "has_signed",
    "parse_party",
    "parse_signers",
    "remove_party",
    "seated_organisations",
    "update_party",
]


@dataclass(frozen=True)
class SignerValues:
    """Who signs for a party (e-mail addresses, checked for shape) and its place in the order."""

    signatory_email: str
    substitute_email: str
    position: int | None


@dataclass(frozen=True)
class PartyValues:
    """A new party: one of the table's organisations (`organisation_id`) or an external one by
    name (`external_name`), and its signers."""

    organisation_id: int | None
    external_name: str
    signers: SignerValues


def parse_signers(*, signatory: str, substitute: str, position: str = "") -> SignerValues:
    """Check the signers' e-mail addresses and the position typed for a party."""
    errors: dict[str, str] = {}
    found: dict[str, str] = {}
    for field, value in (("signatory", signatory), ("substitute", substitute)):
        value = value.strip().lower()
        if value and ("@" not in value or len(value) > 254 or " " in value):
            errors[field] = _("Enter the e-mail address of an account, for example name@example.org.")
        found[field] = value
    if found["signatory"] and found["signatory"] == found["substitute"]:
        errors["substitute"] = _("The substitute must be someone other than the signatory.")
    number: int | None = None
    if position.strip():
        try:
            number = int(position.strip())
        except ValueError:
            number = -1
        if number < 1 or number > 1000:
            errors["position"] = _("The position in the signing order is a number from 1.")
    if errors:
        raise Invalid(errors)
    return SignerValues(found["signatory"], found["substitute"], number)


def parse_party(
    *, organisation: str, external_name: str, signatory: str, substitute: str, position: str = ""
) -> PartyValues:
    """Check what a person typed for a new party: exactly one of a table's organisation (its id)
    and an external organisation's name."""
    errors: dict[str, str] = {}
    organisation_id = inputs.record_id(organisation.strip())
    external = " ".join(external_name.split())
    if organisation.strip() and organisation_id is None:
        errors["organisation"] = _("Choose the organisation among those of the table.")
    if organisation_id is None and not external and "organisation" not in errors:
        errors["organisation"] = _("Choose an organisation of the table, or name an external one.")
    if organisation_id is not None and external:
        errors["external_name"] = _("Choose an organisation of the table or name an external one, not both.")
    if len(external) > 200:
        errors["external_name"] = _("The name can be at most {n} characters long.").format(n=200)
    try:
        signers = parse_signers(signatory=signatory, substitute=substitute, position=position)
    except Invalid as exc:
        errors.update(exc.errors)
        signers = SignerValues("", "", None)
    if errors:
        raise Invalid(errors)
    return PartyValues(organisation_id, external, signers)


async def seated_organisations(session: AsyncSession, table_id: int) -> set[int]:
    """The organisations with a seat on the table (a membership)."""
    found = await session.scalars(
        select(Membership.organisation_id).where(
            Membership.table_id == table_id, Membership.organisation_id.is_not(None)
        )
    )
    return {organisation_id for organisation_id in found.all() if organisation_id is not None}


async def get_party(session: AsyncSession, protocol_id: int, party_id: int) -> ProtocolParty:
    found = await session.scalar(
        select(ProtocolParty)
        .where(ProtocolParty.id == party_id, ProtocolParty.protocol_id == protocol_id)
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise NotFound(_("This party does not exist in this protocol."))
    return found


async def has_signed(session: AsyncSession, party: ProtocolParty) -> bool:
    """Whether the party signed the protocol's current version."""
    version = await current_version(session, party.protocol_id)
    if version is None:
        return False
    found = await session.scalar(
        select(Signature.id).where(Signature.version_id == version.id, Signature.party_id == party.id)
    )
    return found is not None


async def _account(session: AsyncSession, email: str, field: str) -> int | None:
    if not email:
        return None
    user = await session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None or not user.is_active:
        raise Invalid({field: _("No active account has this e-mail address.")})
    return user.id


async def _external_organisation(session: AsyncSession, table_id: int, name: str, actor: Actor) -> Organisation:
    found = await session.scalar(
        select(Organisation).where(
            (func.lower(Organisation.name) == name.lower()) | (Organisation.slug == name.lower())
        )
    )
    if found is None:
        return await create_organisation(session, name, actor_id=actor.user_id)
    if found.id in await seated_organisations(session, table_id):
        raise Invalid(
            {
                "external_name": _("{name} has a seat on the table: choose it among the table's organisations.").format(
                    name=found.name
                )
            }
        )
    return found


def _party_payload(party: ProtocolParty, organisation: str) -> dict[str, object]:
    return {"party_id": party.id, "organisation": organisation, "external": party.external}


async def add_party(
    session: AsyncSession, table: Table, protocol_id: int, values: PartyValues, *, actor: Actor
) -> ProtocolParty:
    """Add a party (chair or secretary): to a draft, or to a protocol in force as an adhering party
    (it then signs the same frozen version). Refused while the protocol is open for signature or
    has ended, for an organisation already a party, for a table organisation without a seat and
    for an "external" one with a seat."""
    check_manager(actor)
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    if protocol.status not in (ProtocolStatus.draft, ProtocolStatus.in_force):
        raise Invalid(
            {"status": _("Parties are added to a draft, or adhere to a protocol in force; not to this protocol now.")}
        )
    if values.organisation_id is not None:
        organisation = await session.get(Organisation, values.organisation_id)
        if organisation is None or organisation.id not in await seated_organisations(session, table.id):
            raise Invalid({"organisation": _("Choose the organisation among those of the table.")})
        external = False
    else:
        organisation = await _external_organisation(session, table.id, values.external_name, actor)
        external = True
    taken = await session.scalar(
        select(ProtocolParty.id).where(
            ProtocolParty.protocol_id == protocol.id, ProtocolParty.organisation_id == organisation.id
        )
    )
    if taken is not None:
        raise Invalid({"organisation": _("{name} is already a party to this protocol.").format(name=organisation.name)})
    signatory_id = await _account(session, values.signers.signatory_email, "signatory")
    substitute_id = await _account(session, values.signers.substitute_email, "substitute")
    position = values.signers.position
    if position is None:
        last = await session.scalar(
            select(func.coalesce(func.max(ProtocolParty.position), 0)).where(ProtocolParty.protocol_id == protocol.id)
        )
        position = (last or 0) + 1
    party = ProtocolParty(
        protocol_id=protocol.id,
        organisation_id=organisation.id,
        external=external,
        signatory_id=signatory_id,
        substitute_id=substitute_id,
        position=position,
        adhering=protocol.status is ProtocolStatus.in_force,
    )
    session.add(party)
    await session.flush()
    await audit.record(
        session,
        ProtocolEvent.party_added,
        actor_id=actor.user_id,
        table_id=table.id,
        adhering=party.adhering,
        **_party_payload(party, organisation.name),
        **payload(protocol),
    )
    return party


async def _signature_due(session: AsyncSession, party: ProtocolParty, status: ProtocolStatus) -> bool:
    """Whether the party's signers may change: a draft's, or one whose signature is still due."""
    if status is ProtocolStatus.draft:
        return True
    due = status is ProtocolStatus.open or (status is ProtocolStatus.in_force and party.adhering)
    return due and not await has_signed(session, party)


async def update_party(
    session: AsyncSession, table: Table, protocol_id: int, party_id: int, values: SignerValues, *, actor: Actor
) -> ProtocolParty:
    """Change a party's signatory, substitute or position (chair or secretary): in a draft, or
    while its signature is still due. The same values again are a no-op."""
    check_manager(actor)
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    party = await get_party(session, protocol.id, party_id)
    signatory_id = await _account(session, values.signatory_email, "signatory")
    substitute_id = await _account(session, values.substitute_email, "substitute")
    position = party.position if values.position is None else values.position
    if (party.signatory_id, party.substitute_id, party.position) == (signatory_id, substitute_id, position):
        return party
    if not await _signature_due(session, party, protocol.status):
        raise Invalid({"status": _("This party has signed, or the protocol has ended: its signers no longer change.")})
    if position != party.position and protocol.status is not ProtocolStatus.draft:
        raise Invalid({"position": _("The signing order changes only while the protocol is a draft.")})
    party.signatory_id, party.substitute_id, party.position = signatory_id, substitute_id, position
    await session.flush()
    name = (await session.scalar(select(Organisation.name).where(Organisation.id == party.organisation_id))) or ""
    await audit.record(
        session,
        ProtocolEvent.party_changed,
        actor_id=actor.user_id,
        table_id=table.id,
        **_party_payload(party, name),
        **payload(protocol),
    )
    return party


async def remove_party(session: AsyncSession, table: Table, protocol_id: int, party_id: int, *, actor: Actor) -> None:
    """Remove a party from a draft (chair or secretary), or an adhering party that has not signed."""
    check_manager(actor)
    await lock_table(session, table.id)
    protocol = await get_protocol(session, table.id, protocol_id)
    party = await get_party(session, protocol.id, party_id)
    removable = protocol.status is ProtocolStatus.draft or (
        protocol.status is ProtocolStatus.in_force and party.adhering and not await has_signed(session, party)
    )
    if not removable:
        raise Invalid({"status": _("Parties are removed only from a draft.")})
    name = (await session.scalar(select(Organisation.name).where(Organisation.id == party.organisation_id))) or ""
    details = _party_payload(party, name)
    await session.delete(party)
    await session.flush()
    await audit.record(
        session, ProtocolEvent.party_removed, actor_id=actor.user_id, table_id=table.id, **details, **payload(protocol)
    )
