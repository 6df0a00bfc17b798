"""Signing a protocol's frozen version, and checking a signature.

A party's signatory (or substitute) confirms their password and signs the protocol's current
version. The server writes the **signature statement**, a canonical JSON document (keys sorted, no
spaces, UTF-8, non-ASCII characters as they are):

    {"annexes":[{"name":…,"sha256":…}],"kid":…,"party":{"id":…,"organisation":…},
     "protocol":{"id":…,"table":<table's short name>,"title":…},"role":"signatory"|"substitute",
     "signed_at":"YYYY-MM-DDTHH:MM:SSZ","signer":{"id":…,"name":…},"text_sha256":…,
     "type":"tavoli.signature/1","version":<number>}

seals exactly those bytes with its Ed25519 key (server/domain/protocol_keys.py) and stores the
bytes and the seal as they are: a statement is never serialised again, it is read and shipped as
stored. A signature is valid when its seal matches the statement under the key named by its kid,
and the statement's text and annex hashes match the version's stored text and the stored annexes'
bytes, recomputed (`verify_signature`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Organisation,
    Protocol,
    ProtocolAnnex,
    ProtocolParty,
    ProtocolStatus,
    ProtocolVersion,
    Signature,
    SignatureKind,
    Table,
    User,
)
from server.domain import accounts, protocol_force, protocol_keys, protocols, qualified_checks
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.meetings import lock_table
from server.domain.protocol_keys import ServerKey
from server.i18n import _

__all__ = [
    "STATEMENT_TYPE",
    "Check",
    "SignatureCheck",
    "annex_bytes",
    "check_signatures",
    "check_version",
    "sign",
    "statement_bytes",
    "verify_protocols",
    "verify_signature",
]

STATEMENT_TYPE = "tavoli.signature/1"
SIGNATORY, SUBSTITUTE = "signatory", "substitute"


def statement_bytes(statement: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a statement: keys sorted, no spaces, UTF-8 with its characters as they are."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def find_party(
    session: AsyncSession, table: Table, protocol_id: int, party_id: int
) -> tuple[Protocol, ProtocolParty]:
    """The protocol of `table` and its party that a signature is for, read afresh (NotFound otherwise)."""
    protocol = await session.scalar(
        select(Protocol)
        .where(Protocol.id == protocol_id, Protocol.table_id == table.id)
        .execution_options(populate_existing=True)
    )
    if protocol is None:
        raise NotFound(_("This protocol does not exist on this table."))
    party = await session.scalar(
        select(ProtocolParty)
        .where(ProtocolParty.id == party_id, ProtocolParty.protocol_id == protocol.id)
        .execution_options(populate_existing=True)
    )
    if party is None:
        raise NotFound(_("This party is not among the protocol's parties."))
    return protocol, party


async def signature_of(session: AsyncSession, version_id: int, party_id: int) -> Signature | None:
    return await session.scalar(
        select(Signature)
        .where(Signature.version_id == version_id, Signature.party_id == party_id)
        .execution_options(populate_existing=True)
    )


async def waiting_for(
    session: AsyncSession, protocol: Protocol, version: ProtocolVersion, party: ProtocolParty
) -> list[str]:
    """The organisations that sign before `party` in the protocol's order and have not signed yet."""
    signed = select(Signature.party_id).where(Signature.version_id == version.id)
    rows = await session.execute(
        select(Organisation.name)
        .join(ProtocolParty, ProtocolParty.organisation_id == Organisation.id)
        .where(
            ProtocolParty.protocol_id == protocol.id,
            ProtocolParty.adhering.is_(False),
            ProtocolParty.position < party.position,
            ProtocolParty.id.not_in(signed),
        )
        .order_by(ProtocolParty.position, ProtocolParty.id)
    )
    return list(rows.scalars())


async def sign(
    session: AsyncSession,
    table: Table,
    protocol_id: int,
    *,
    party_id: int,
    actor_user_id: int,
    password: str,
    key: ServerKey,
) -> Signature:
    """Sign the protocol's current version for the party, as its signatory or substitute.

    Refused: a protocol or party not there (NotFound), someone who is neither the party's signatory
    nor its substitute (Forbidden), a protocol not open for signature (in force: only for a party
    that adheres), a party whose turn has not come when the parties sign in order, and a wrong
    password (Invalid, on "status", "party" and "password"). A party that already signed this
    version gets its signature back and nothing changes: fifty requests at once make one signature
    and one event (the table's row is locked first, so the requests take turns). Then
    `protocol_force.record_signature_hook` records the event (`protocol.signed`, or `protocol.adhered`)
    and brings the protocol into force when every party has signed.
    """
    await lock_table(session, table.id)
    protocol, party = await find_party(session, table, protocol_id, party_id)
    if actor_user_id == party.signatory_id:
        role = SIGNATORY
    elif actor_user_id == party.substitute_id:
        role = SUBSTITUTE
    else:
        raise Forbidden(_("Only the party's signatory or its substitute may sign for it."))
    version = await protocols.current_version(session, protocol.id)
    if version is not None:
        existing = await signature_of(session, version.id, party.id)
        if existing is not None:
            return existing
    adhesion = protocol.status is ProtocolStatus.in_force and party.adhering
    if version is None or (protocol.status is not ProtocolStatus.open and not adhesion):
        if protocol.status is ProtocolStatus.in_force:
            message = _("The protocol is already in force: only a party that adheres to it may sign now.")
        else:
            message = _("The protocol is not open for signature.")
        raise Invalid({"status": message})
    if protocol.signing_order and not party.adhering:
        waiting = await waiting_for(session, protocol, version, party)
        if waiting:
            raise Invalid(
                {"party": _("The parties sign in order: {names} must sign first.").format(names=", ".join(waiting))}
            )
    signer = await session.get(User, actor_user_id)
    if not await accounts.password_matches(signer, password):
        raise Invalid({"password": _("The password is not right: nothing was signed.")})
    assert signer is not None  # a password only matches an account
    organisation = await session.get_one(Organisation, party.organisation_id)
    signed_at = datetime.now(UTC).replace(microsecond=0)
    statement = statement_bytes(
        {
            "type": STATEMENT_TYPE,
            "protocol": {"id": protocol.id, "title": protocol.title, "table": table.slug},
            "version": version.number,
            "text_sha256": version.text_sha256,
            "annexes": [{"name": annex["name"], "sha256": annex["sha256"]} for annex in version.annexes or []],
            "party": {"id": party.id, "organisation": organisation.name},
            "signer": {"id": signer.id, "name": signer.name},
            "role": role,
            "signed_at": _rfc3339(signed_at),
            "kid": key.kid,
        }
    )
    await protocol_keys.register(session, key)
    signature = Signature(
        protocol_id=protocol.id,
        version_id=version.id,
        party_id=party.id,
        signer_id=signer.id,
        signer_role=role,
        kind=SignatureKind.advanced,
        statement=statement,
        seal=key.seal(statement),
        key_id=key.kid,
        signed_at=signed_at,
    )
    session.add(signature)
    await session.flush()
    await protocol_force.record_signature_hook(session, signature, actor_id=actor_user_id)
    return signature


# --- Checking ----------------------------------------------------------------------------------------


@dataclass
class Check:
    """Whether a signature (or a version) holds, and why not: one sentence per problem found."""

    valid: bool
    reasons: list[str] = field(default_factory=list)


def check_version(version: ProtocolVersion, annex_data: Mapping[int, bytes]) -> Check:
    """The version's stored text against its recorded SHA-256, and each frozen annex's stored bytes
    (`annex_data`: annex id → bytes) against the SHA-256 frozen with the version."""
    reasons: list[str] = []
    actual = _sha256(bytes(version.text))
    if actual != version.text_sha256:
        reasons.append(
            _(
                "The stored text of version {number} is not the text frozen: its SHA-256 is {actual}, not {recorded}."
            ).format(number=version.number, actual=actual, recorded=version.text_sha256)
        )
    for annex in version.annexes or []:
        data = annex_data.get(int(annex["annex_id"])) if annex.get("annex_id") is not None else None
        if data is None:
            reasons.append(_("The annex «{name}» is missing.").format(name=annex["name"]))
            continue
        found = _sha256(bytes(data))
        if found != annex["sha256"]:
            reasons.append(
                _("The annex «{name}» is not the one frozen: its SHA-256 is {actual}, not {recorded}.").format(
                    name=annex["name"], actual=found, recorded=annex["sha256"]
                )
            )
    return Check(valid=not reasons, reasons=reasons)


def _statement(data: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(parsed, dict) or parsed.get("type") != STATEMENT_TYPE:
        return None
    return parsed


def _statement_annexes(statement: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    annexes = statement.get("annexes")
    if not isinstance(annexes, list):
        return None
    found = []
    for annex in annexes:
        if (
            not isinstance(annex, dict)
            or not isinstance(annex.get("name"), str)
            or not isinstance(annex.get("sha256"), str)
        ):
            return None
        found.append((annex["name"], annex["sha256"]))
    return found


def verify_signature(
    signature: Signature, version: ProtocolVersion, keys: Mapping[str, bytes], annex_data: Mapping[int, bytes]
) -> Check:
    """Check one signature of `version`: its seal against the key its kid names (`keys`: kid → raw
    public key, current and retired, `protocol_keys.public_keys`), the statement's text and annex
    hashes against the version's stored text and the stored annexes' bytes (`annex_data`: annex id →
    bytes), recomputed, and the version's recorded hashes against the same bytes."""
    reasons: list[str] = []
    statement_data = bytes(signature.statement)
    public = keys.get(signature.key_id)
    if public is None:
        reasons.append(_("The seal's key {kid} is not among the server's keys.").format(kid=signature.key_id))
    elif not protocol_keys.seal_valid(public, statement_data, bytes(signature.seal)):
        reasons.append(_("The seal does not match the statement: the statement was changed after it was sealed."))
    statement = _statement(statement_data)
    if statement is None:
        reasons.append(_("The statement is not a signature statement of Tavoli."))
        return Check(valid=False, reasons=reasons)
    if statement.get("kid") != signature.key_id:
        reasons.append(
            _("The statement names the key {named}, but the signature was sealed by {kid}.").format(
                named=statement.get("kid"), kid=signature.key_id
            )
        )
    protocol = statement.get("protocol")
    party = statement.get("party")
    if (
        not isinstance(protocol, dict)
        or protocol.get("id") != signature.protocol_id
        or version.protocol_id != signature.protocol_id
        or statement.get("version") != version.number
        or signature.version_id != version.id
        or not isinstance(party, dict)
        or party.get("id") != signature.party_id
    ):
        reasons.append(_("The statement is about another protocol, version or party than this signature."))
    actual = _sha256(bytes(version.text))
    if statement.get("text_sha256") != actual:
        reasons.append(
            _("The text is not the one signed: its SHA-256 is {actual}, the statement binds {signed}.").format(
                actual=actual, signed=statement.get("text_sha256")
            )
        )
    signed_annexes = _statement_annexes(statement)
    frozen = [(str(annex["name"]), str(annex["sha256"])) for annex in version.annexes or []]
    if signed_annexes != frozen:
        reasons.append(
            _("The annexes are not the ones signed: the statement binds {signed}, the version has {frozen}.").format(
                signed=", ".join(f"{name} ({sha})" for name, sha in signed_annexes or []) or "-",
                frozen=", ".join(f"{name} ({sha})" for name, sha in frozen) or "-",
            )
        )
    reasons.extend(reason for reason in check_version(version, annex_data).reasons if reason not in reasons)
    reasons.extend(qualified_checks.file_reasons(signature))  # a firma digitale's file: the one the statement binds
    return Check(valid=not reasons, reasons=reasons)


@dataclass
class SignatureCheck:
    """One signature of a protocol, its party's organisation, and what checking it found."""

    signature: Signature
    organisation: str
    signer: str
    version: ProtocolVersion
    check: Check


async def annex_bytes(session: AsyncSession, versions: Sequence[ProtocolVersion]) -> dict[int, bytes]:
    """The stored bytes of every annex frozen with `versions`, by annex id."""
    ids = {int(annex["annex_id"]) for version in versions for annex in version.annexes or [] if annex.get("annex_id")}
    if not ids:
        return {}
    rows = await session.execute(select(ProtocolAnnex.id, ProtocolAnnex.data).where(ProtocolAnnex.id.in_(ids)))
    return {annex_id: bytes(data) for annex_id, data in rows}


async def check_signatures(
    session: AsyncSession, protocol_id: int, *, keys: Mapping[str, bytes] | None = None
) -> list[SignatureCheck]:
    """Every signature of the protocol (every version), in the order they were made, each checked."""
    rows = (
        await session.execute(
            select(Signature, Organisation.name, User.name)
            .join(ProtocolParty, ProtocolParty.id == Signature.party_id)
            .join(Organisation, Organisation.id == ProtocolParty.organisation_id)
            .outerjoin(User, User.id == Signature.signer_id)
            .where(Signature.protocol_id == protocol_id)
            .order_by(Signature.signed_at, Signature.id)
        )
    ).all()
    if not rows:
        return []
    versions = {
        version.id: version
        for version in (
            await session.execute(select(ProtocolVersion).where(ProtocolVersion.protocol_id == protocol_id))
        ).scalars()
    }
    keys = keys if keys is not None else await protocol_keys.public_keys(session)
    data = await annex_bytes(session, list(versions.values()))
    return [
        SignatureCheck(
            signature=signature,
            organisation=organisation,
            signer=signer or "",
            version=versions[signature.version_id],
            check=verify_signature(signature, versions[signature.version_id], keys, data),
        )
        for signature, organisation, signer in rows
    ]


# --- `tavoli verify` ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolFinding:
    """Something broken in a protocol: which (table, protocol, the party whose signature it is) and why."""

    table: str
    protocol_id: int
    title: str
    party: str | None
    message: str

    def __str__(self) -> str:
        where = _("{table}: protocol {id} «{title}»").format(table=self.table, id=self.protocol_id, title=self.title)
        if self.party is not None:
            where += " — " + _("signature of {party}").format(party=self.party)
        return f"{where}: {self.message}"


@dataclass
class ProtocolVerification:
    """What `tavoli verify` found in the protocols: the problems, and how much it checked."""

    findings: list[ProtocolFinding] = field(default_factory=list)
    protocols: int = 0
    versions: int = 0
    signatures: int = 0


async def verify_protocols(session: AsyncSession) -> ProtocolVerification:
    """Check every frozen version of every protocol (its text and annexes against their recorded
    hashes) and every signature (`verify_signature`), offline: one finding per problem."""
    result = ProtocolVerification()
    keys = await protocol_keys.public_keys(session)
    listed = (
        await session.execute(
            select(Protocol.id, Protocol.title, Table.slug)
            .join(Table, Table.id == Protocol.table_id)
            .order_by(Table.slug, Protocol.id)
        )
    ).all()
    for protocol_id, title, slug in listed:
        versions = list(
            (
                await session.execute(
                    select(ProtocolVersion)
                    .where(ProtocolVersion.protocol_id == protocol_id)
                    .order_by(ProtocolVersion.number)
                )
            ).scalars()
        )
        if not versions:
            continue
        result.protocols += 1
        result.versions += len(versions)
        data = await annex_bytes(session, versions)
        found: list[str] = []
        for version in versions:
            for reason in check_version(version, data).reasons:
                found.append(reason)
                result.findings.append(ProtocolFinding(slug, protocol_id, title, None, reason))
        for checked in await check_signatures(session, protocol_id, keys=keys):
            result.signatures += 1
            for reason in checked.check.reasons:
                if reason not in found:
                    result.findings.append(ProtocolFinding(slug, protocol_id, title, checked.organisation, reason))
        session.expunge_all()  # the annexes' bytes of one protocol at a time
    return result
