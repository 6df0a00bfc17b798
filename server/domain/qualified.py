"""A party's qualified signature (firma digitale): the file it brings, checked, recorded and sealed.

A party's signatory (or substitute) downloads the version's stored PDF (made once, the exact bytes
to sign), signs it with its firma digitale — a signed PDF (PAdES) or a `.p7m` (CAdES, enveloping or
detached) — and uploads it. `record_qualified` checks it (server/domain/qualified_checks.py:
pyHanko's async validation against the trust roots of TAVOLI_TRUST_DIR, nothing fetched) and records
it as the party's signature of that version: `Signature(kind=qualified)` with the file, its name and
what the check found (`file_check`), and a signature statement sealed like any other
(server/domain/signatures.py) that also binds the file's SHA-256, its format and the certificate's
signer. Then the protocols' hook records `protocol.signed` and brings the protocol into force when
every party has signed.

A file that does not validate is refused with its reasons in words. A signer whose name on the
certificate is not the designated signatory's is a warning: the signatory's upload is refused with
it, and the table's chair may accept it — the chair then records the party's file on its behalf
(`accept_warning=True`, the chair's password), and the acceptance is recorded in the sealed
statement and in `file_check`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Membership,
    Organisation,
    Protocol,
    ProtocolParty,
    ProtocolStatus,
    ProtocolVersion,
    Role,
    Signature,
    SignatureKind,
    Table,
    User,
)
from server.domain import accounts, protocol_force, protocol_keys, protocols
from server.domain.errors import Forbidden, Invalid
from server.domain.meetings import lock_table
from server.domain.protocol_keys import ServerKey
from server.domain.qualified_checks import (
    CADES,
    CADES_DETACHED,
    DEFAULT_MAX_BYTES,
    PADES,
    Certificate,
    QualifiedCheck,
    check_upload,
    file_reasons,
    same_person,
    trust_roots,
)
from server.domain.signatures import (
    SIGNATORY,
    STATEMENT_TYPE,
    SUBSTITUTE,
    find_party,
    signature_of,
    statement_bytes,
    waiting_for,
)
from server.i18n import _

__all__ = [
    "CADES",
    "CADES_DETACHED",
    "CHAIR",
    "PADES",
    "QualifiedCheck",
    "check_upload",
    "file_reasons",
    "record_qualified",
    "trust_roots",
]

CHAIR = "chair"  # the role of a signature the chair recorded for a party, accepting its warning
NAME_LIMIT = 200


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _is_chair(session: AsyncSession, table_id: int, user_id: int) -> bool:
    role = await session.scalar(
        select(Membership.role).where(Membership.table_id == table_id, Membership.user_id == user_id)
    )
    return role is Role.chair


def _refuse_status(protocol: Protocol, party: ProtocolParty, version: ProtocolVersion | None) -> None:
    adhesion = protocol.status is ProtocolStatus.in_force and party.adhering
    if version is None or (protocol.status is not ProtocolStatus.open and not adhesion):
        if protocol.status is ProtocolStatus.in_force:
            message = _("The protocol is already in force: only a party that adheres to it may sign now.")
        else:
            message = _("The protocol is not open for signature.")
        raise Invalid({"status": message})


async def record_qualified(
    session: AsyncSession,
    table: Table,
    protocol_id: int,
    *,
    party_id: int,
    data: bytes,
    file_name: str,
    actor_user_id: int,
    password: str,
    accept_warning: bool,
    key: ServerKey,
    roots: Sequence[Certificate],
    now: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Signature:
    """Record the qualified signature `data` (the uploaded file, named `file_name`) as the party's
    signature of the protocol's current version.

    Who: the party's signatory or substitute (as `signatures.sign`), or the table's chair when
    accepting a warning for the party (`accept_warning=True`: only the chair may). Refused (nothing
    stored): a protocol or party not there (NotFound); anyone else (Forbidden); a protocol not open
    for signature, a party whose turn has not come (as `sign`, on "status" / "party"); a version
    whose PDF has not been made yet (on "file": download it first); a wrong password (on
    "password"); a file that does not check (on "file", every reason in words); a signer who is not
    the designated signatory by name, unless the chair accepts it (on "file"). A party that already
    signed this version: the same file gives its signature back, another file is refused.
    """
    file_name = (file_name or "").strip()[:NAME_LIMIT] or "firma"
    protocol, party = await find_party(session, table, protocol_id, party_id)
    if actor_user_id == party.signatory_id:
        role = SIGNATORY
    elif actor_user_id == party.substitute_id:
        role = SUBSTITUTE
    elif accept_warning and await _is_chair(session, table.id, actor_user_id):
        role = CHAIR
    else:
        raise Forbidden(_("Only the party's signatory or its substitute may sign for it."))
    if accept_warning and role != CHAIR and not await _is_chair(session, table.id, actor_user_id):
        raise Forbidden(_("Only the chair may accept a signature whose signer is not the designated signatory."))
    version = await protocols.current_version(session, protocol.id)
    _refuse_status(protocol, party, version)
    assert version is not None
    if version.pdf is None:
        raise Invalid(
            {"file": _("The protocol's PDF to sign has not been made yet: download it, sign it, then upload it.")}
        )
    same = await signature_of(session, version.id, party.id)
    if same is not None and same.file is not None and bytes(same.file) == data:
        return same  # the same file again: its signature back, nothing changes
    actor = await session.get(User, actor_user_id)
    if not await accounts.password_matches(actor, password):
        raise Invalid({"password": _("The password is not right: nothing was signed.")})
    assert actor is not None  # a password only matches an account
    signatory = await session.get(User, party.signatory_id) if party.signatory_id else None
    substitute = await session.get(User, party.substitute_id) if party.substitute_id else None
    designated = [person.name for person in (signatory, substitute) if person is not None]
    check = await check_upload(
        data,
        stored_pdf=bytes(version.pdf),
        trust_roots=roots,
        designated_name=designated[0] if designated else actor.name,
        now=now,
        max_bytes=max_bytes,
    )
    if check.signer_name and any(same_person(check.signer_name, name) for name in designated):
        # the party's substitute signed (or its signatory, uploaded by the substitute): no warning
        check.warning_codes.clear()
        check.warnings.clear()
    if not check.accepted:
        raise Invalid({"file": " ".join(check.reasons)})
    if role == CHAIR and not check.warnings:
        raise Forbidden(_("Only the party's signatory or its substitute may sign for it."))
    if check.warnings and not accept_warning:
        raise Invalid({"file": " ".join(check.warnings)})
    accepted = bool(check.warnings) and accept_warning

    # The same rules as `signatures.sign`, under the table's lock: one signature per party and version.
    await lock_table(session, table.id)
    protocol, party = await find_party(session, table, protocol_id, party_id)
    version = await protocols.current_version(session, protocol.id)
    _refuse_status(protocol, party, version)
    assert version is not None
    existing = await signature_of(session, version.id, party.id)
    if existing is not None:
        if existing.file is not None and hashlib.sha256(bytes(existing.file)).hexdigest() == check.file_sha256:
            return existing
        raise Invalid({"file": _("This party has already signed this version of the protocol.")})
    if protocol.signing_order and not party.adhering:
        waiting = await waiting_for(session, protocol, version, party)
        if waiting:
            raise Invalid(
                {"party": _("The parties sign in order: {names} must sign first.").format(names=", ".join(waiting))}
            )
    organisation = await session.get_one(Organisation, party.organisation_id)
    signed_at = datetime.now(UTC).replace(microsecond=0)
    qualified: dict[str, Any] = {
        "file": {"name": file_name, "sha256": check.file_sha256, "size": len(data)},
        "format": check.format,
        "status": check.status,
        "signer": check.signer_name,
        "fiscal_code": check.fiscal_code,
        "issuer": check.issuer,
        "signing_time": _rfc3339(check.signing_time) if check.signing_time else None,
        "pdf_sha256": version.pdf_sha256 or hashlib.sha256(bytes(version.pdf or b"")).hexdigest(),
    }
    if accepted:
        qualified["warnings"] = list(check.warnings)
        qualified["accepted_by"] = {"id": actor.id, "name": actor.name}
    statement = statement_bytes(
        {
            "type": STATEMENT_TYPE,
            "protocol": {"id": protocol.id, "title": protocol.title, "table": table.slug},
            "version": version.number,
            "text_sha256": version.text_sha256,
            "annexes": [{"name": annex["name"], "sha256": annex["sha256"]} for annex in version.annexes or []],
            "party": {"id": party.id, "organisation": organisation.name},
            "signer": {"id": actor.id, "name": actor.name},
            "role": role,
            "signed_at": _rfc3339(signed_at),
            "kid": key.kid,
            "kind": SignatureKind.qualified.value,
            "qualified": qualified,
        }
    )
    await protocol_keys.register(session, key)
    record = check.as_record()
    record["file_name"] = file_name
    if accepted:
        record["warning_accepted_by"] = {"id": actor.id, "name": actor.name}
    signature = Signature(
        protocol_id=protocol.id,
        version_id=version.id,
        party_id=party.id,
        signer_id=actor.id,
        signer_role=role,
        kind=SignatureKind.qualified,
        statement=statement,
        seal=key.seal(statement),
        key_id=key.kid,
        file=data,
        file_name=file_name,
        file_check=record,
        signed_at=signed_at,
    )
    session.add(signature)
    await session.flush()
    await protocol_force.record_signature_hook(session, signature, actor_id=actor_user_id)
    return signature
