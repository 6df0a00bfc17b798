"""Signing a protocol, on a real database (SQLite, and PostgreSQL with TAVOLI_TEST_DATABASE_URL): the
sealed statement's exact bytes, every refusal with nothing stored, fifty requests at once for one
party leaving one signature and one event, the protocol in force once every party signed, adhesion,
and the checks that show a signature broken, with why, once a character of the stored text, of an
annex or of a statement changed."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from server.db.models import (
    Event,
    Protocol,
    ProtocolAnnex,
    ProtocolKind,
    ProtocolParty,
    ProtocolStatus,
    ProtocolVersion,
    Signature,
    SigningKey,
    Table,
    User,
)
from server.db.session import Database
from server.domain import accounts, protocol_keys, signatures, tables
from server.domain.errors import Forbidden, Invalid, NotFound
from server.domain.protocol_keys import ServerKey
from server.domain.protocol_text import canonical, text_sha256
from server.domain.signatures import check_signatures, sign, statement_bytes, verify_signature
from server.i18n import use_locale
from tests.support import PASSWORD

TEXT = (
    "# Protocollo appalti\r\n\r\nLe parti concordano la clausola sociale negli appalti della Città metropolitana."
    "\r\n\r\n### Impegno — CGIL Bologna — entro 2031-12-31\r\n\r\nApplicare il contratto collettivo.\r\n"
)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def english():
    with use_locale("en"):
        yield


@dataclass
class World:
    """A table, a protocol open for signature with its frozen version, its parties and their signers."""

    table: Table
    protocol_id: int
    version_id: int
    parties: list[int]
    organisations: list[str]
    signatories: list[User]
    substitutes: list[User]
    annexes: list[int]
    stranger: User


async def build(
    database: Database,
    password_hash: str,
    *,
    parties: int = 2,
    annexes: int = 1,
    status: ProtocolStatus = ProtocolStatus.open,
    signing_order: bool = False,
    slug: str = "appalti",
) -> World:
    """The records straight through the models, as the protocols' domain leaves them once opened."""
    names = ["CGIL Bologna", "Confcommercio Ascom Bologna", "Legacoop Bologna", "CNA Bologna"][:parties]
    if slug != "appalti":
        names = [f"{name} ({slug})" for name in names]
    async with database.transaction() as session:
        table = await tables.create_table(session, slug=slug, name=f"Tavolo {slug}", is_public=True)
        stranger = await accounts.create_user(
            session, email=f"stranger.{slug}@example.org", name="Sara Estranea", password_hash=password_hash
        )
        protocol = Protocol(
            table_id=table.id,
            kind=ProtocolKind.procurement,
            title="Protocollo appalti «2031»",
            status=status,
            signing_order=signing_order,
        )
        session.add(protocol)
        await session.flush()
        made = []
        for n in range(annexes):
            data = PDF + f"% allegato {n}\n".encode()
            annex = ProtocolAnnex(
                protocol_id=protocol.id,
                name=f"Allegato {n + 1} — tabella salari.pdf",
                filename=f"allegato-{n + 1}.pdf",
                data=data,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
            )
            session.add(annex)
            await session.flush()
            made.append(annex)
        text = canonical(TEXT)
        version = ProtocolVersion(
            protocol_id=protocol.id,
            number=1,
            text=text,
            text_sha256=text_sha256(text),
            annexes=[{"annex_id": a.id, "name": a.name, "sha256": a.sha256, "size": a.size} for a in made],
            current=True,
        )
        session.add(version)
        party_ids, signatories, substitutes, organisations = [], [], [], []
        for position, name in enumerate(names):
            organisation = await tables.create_organisation(session, name)
            local = organisation.slug
            signatory = await accounts.create_user(
                session, email=f"firma.{local}.{slug}@example.org", name=f"Firma {name}", password_hash=password_hash
            )
            substitute = await accounts.create_user(
                session, email=f"sostituto.{local}.{slug}@example.org", name=f"Sost {name}", password_hash=password_hash
            )
            party = ProtocolParty(
                protocol_id=protocol.id,
                organisation_id=organisation.id,
                signatory_id=signatory.id,
                substitute_id=substitute.id,
                position=position,
                external=position == parties - 1,
            )
            session.add(party)
            await session.flush()
            party_ids.append(party.id)
            signatories.append(signatory)
            substitutes.append(substitute)
            organisations.append(name)
        await session.flush()
        return World(
            table=table,
            protocol_id=protocol.id,
            version_id=version.id,
            parties=party_ids,
            organisations=organisations,
            signatories=signatories,
            substitutes=substitutes,
            annexes=[a.id for a in made],
            stranger=stranger,
        )


async def sign_as(
    database: Database, world: World, key: ServerKey, n: int = 0, *, user: User | None = None, password: str = PASSWORD
) -> Signature:
    async with database.transaction() as session:
        return await sign(
            session,
            world.table,
            world.protocol_id,
            party_id=world.parties[n],
            actor_user_id=(user or world.signatories[n]).id,
            password=password,
            key=key,
        )


async def kinds(database: Database, table_id: int) -> list[str]:
    async with database.read() as session:
        found = await session.scalars(
            select(Event.kind).where(Event.table_id == table_id, Event.kind.like("protocol.%")).order_by(Event.seq)
        )
        return list(found.all())


async def count(database: Database, model: type) -> int:
    async with database.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def status(database: Database, protocol_id: int) -> ProtocolStatus:
    async with database.read() as session:
        return (await session.get_one(Protocol, protocol_id)).status


async def checks(database: Database, protocol_id: int) -> list[signatures.SignatureCheck]:
    async with database.read() as session:
        return await check_signatures(session, protocol_id)


@pytest.fixture
def key(tmp_path: Path) -> ServerKey:
    return protocol_keys.create_key_file(tmp_path / "signing.key")


@pytest.fixture
async def world(database, password_hash) -> World:
    return await build(database, password_hash)


# --- Signing ------------------------------------------------------------------------------------------


async def test_a_signature_seals_the_exact_bytes_of_a_canonical_statement(database, world, key):
    signature = await sign_as(database, world, key)
    statement = json.loads(signature.statement)
    assert signature.statement == statement_bytes(statement)  # stored as sealed, canonical
    assert signature.statement.startswith(b'{"annexes":[{"name":"Allegato')  # keys sorted, no spaces
    assert b'", "' not in signature.statement
    assert b'": ' not in signature.statement
    assert "«2031»".encode() in signature.statement  # non-ASCII kept as it is
    assert protocol_keys.seal_valid(key.public, signature.statement, signature.seal)
    text = canonical(TEXT)
    assert statement == {
        "type": "tavoli.signature/1",
        "protocol": {"id": world.protocol_id, "title": "Protocollo appalti «2031»", "table": "appalti"},
        "version": 1,
        "text_sha256": hashlib.sha256(text).hexdigest(),
        "annexes": [
            {"name": "Allegato 1 — tabella salari.pdf", "sha256": hashlib.sha256(PDF + b"% allegato 0\n").hexdigest()}
        ],
        "party": {"id": world.parties[0], "organisation": "CGIL Bologna"},
        "signer": {"id": world.signatories[0].id, "name": "Firma CGIL Bologna"},
        "role": "signatory",
        "signed_at": statement["signed_at"],
        "kid": key.kid,
    }
    signed_at = datetime.strptime(statement["signed_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert signed_at == signature.signed_at
    assert signature.key_id == key.kid
    assert signature.signer_role == "signatory"
    assert await kinds(database, world.table.id) == ["protocol.signed"]
    assert await status(database, world.protocol_id) is ProtocolStatus.open
    async with database.read() as session:
        row = (await session.scalars(select(SigningKey))).one()
    assert (row.kid, bytes(row.public_key), row.retired_at) == (key.kid, key.public, None)


async def test_the_substitute_signs_for_the_party_and_the_last_party_brings_the_protocol_into_force(
    database, world, key
):
    await sign_as(database, world, key, 0)
    second = await sign_as(database, world, key, 1, user=world.substitutes[1])
    assert second.signer_role == "substitute"
    assert json.loads(second.statement)["role"] == "substitute"
    assert json.loads(second.statement)["signer"]["name"] == "Sost Confcommercio Ascom Bologna"
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force
    assert await kinds(database, world.table.id) == ["protocol.signed", "protocol.signed", "protocol.in_force"]
    assert [c.check.valid for c in await checks(database, world.protocol_id)] == [True, True]


async def test_signing_again_gives_the_signature_back_and_records_nothing(database, world, key):
    first = await sign_as(database, world, key)
    again = await sign_as(database, world, key, user=world.substitutes[0], password="not the password at all")
    assert again.id == first.id
    assert again.statement == first.statement
    assert await count(database, Signature) == 1
    assert await kinds(database, world.table.id) == ["protocol.signed"]


async def refused(database, world, error, message, **change):
    """The refusal's type and message; nothing stored."""
    with pytest.raises(error) as raised:
        async with database.transaction() as session:
            await sign(
                session,
                change.get("table", world.table),
                change.get("protocol_id", world.protocol_id),
                party_id=change.get("party_id", world.parties[0]),
                actor_user_id=change.get("user", world.signatories[0]).id,
                password=change.get("password", PASSWORD),
                key=change["key"],
            )
    assert message in str(raised.value)
    assert await count(database, Signature) == 0
    assert await kinds(database, world.table.id) == []
    return raised.value


async def test_a_wrong_password_signs_nothing(database, world, key):
    error = await refused(
        database, world, Invalid, "The password is not right: nothing was signed.", password="sbagliata", key=key
    )
    assert set(error.errors) == {"password"}


async def test_only_the_partys_signatory_or_substitute_signs_for_it(database, world, key):
    message = "Only the party's signatory or its substitute may sign for it."
    await refused(database, world, Forbidden, message, user=world.stranger, key=key)
    await refused(database, world, Forbidden, message, user=world.signatories[1], key=key)  # another party's


async def test_a_protocol_or_party_elsewhere_does_not_exist(database, password_hash, world, key):
    other = await build(database, password_hash, slug="altro")
    await refused(
        database, world, NotFound, "This protocol does not exist on this table.", protocol_id=other.protocol_id, key=key
    )
    await refused(database, world, NotFound, "This protocol does not exist on this table.", table=other.table, key=key)
    await refused(
        database,
        world,
        NotFound,
        "This party is not among the protocol's parties.",
        party_id=other.parties[0],
        user=other.signatories[0],
        key=key,
    )


@pytest.mark.parametrize("state", [ProtocolStatus.draft, ProtocolStatus.expired, ProtocolStatus.superseded])
async def test_only_a_protocol_open_for_signature_is_signed(database, world, key, state):
    async with database.transaction() as session:
        await session.execute(update(Protocol).where(Protocol.id == world.protocol_id).values(status=state))
    error = await refused(database, world, Invalid, "The protocol is not open for signature.", key=key)
    assert set(error.errors) == {"status"}


async def test_a_version_taken_back_to_draft_is_not_signed(database, world, key):
    async with database.transaction() as session:
        await session.execute(update(ProtocolVersion).values(current=False))
    await refused(database, world, Invalid, "The protocol is not open for signature.", key=key)


async def test_in_force_only_an_adhering_party_signs_the_same_frozen_version(database, password_hash, world, key):
    await sign_as(database, world, key, 0)
    await sign_as(database, world, key, 1)
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force
    async with database.transaction() as session:
        organisation = await tables.create_organisation(session, "Interporto Bologna S.p.A.")
        signer = await accounts.create_user(
            session, email="firma@interporto.example.org", name="Ilaria Porto", password_hash=password_hash
        )
        late = ProtocolParty(
            protocol_id=world.protocol_id,
            organisation_id=organisation.id,
            signatory_id=signer.id,
            position=9,
            external=True,
            adhering=True,
        )
        session.add(late)
        await session.flush()
        world.parties.append(late.id)
        world.signatories.append(signer)
    # A party of the protocol that had not adhered cannot sign it in force: its time was before.
    async with database.transaction() as session:
        await session.execute(update(ProtocolParty).where(ProtocolParty.id == late.id).values(adhering=False))
    with pytest.raises(Invalid, match="only a party that adheres to it may sign now"):
        await sign_as(database, world, key, 2)
    async with database.transaction() as session:
        await session.execute(update(ProtocolParty).where(ProtocolParty.id == late.id).values(adhering=True))
    adhesion = await sign_as(database, world, key, 2)
    assert adhesion.version_id == world.version_id
    assert json.loads(adhesion.statement)["text_sha256"] == text_sha256(canonical(TEXT))
    assert (await kinds(database, world.table.id))[-1] == "protocol.adhered"
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force
    assert [c.check.valid for c in await checks(database, world.protocol_id)] == [True, True, True]


async def test_in_order_a_party_waits_for_the_ones_before_it(database, password_hash, key):
    world = await build(database, password_hash, parties=3, signing_order=True)
    error = await refused(
        database,
        world,
        Invalid,
        "The parties sign in order: CGIL Bologna, Confcommercio Ascom Bologna must sign first.",
        party_id=world.parties[2],
        user=world.signatories[2],
        key=key,
    )
    assert set(error.errors) == {"party"}
    await sign_as(database, world, key, 0)
    with pytest.raises(Invalid, match="Confcommercio Ascom Bologna must sign first"):
        await sign_as(database, world, key, 2)
    await sign_as(database, world, key, 1)
    await sign_as(database, world, key, 2)
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force


async def test_fifty_sign_requests_at_once_leave_one_signature_and_one_event(database, world, key):
    async def attempt() -> int:
        return (await sign_as(database, world, key)).id

    ids = await asyncio.gather(*(attempt() for _ in range(50)))
    assert len(set(ids)) == 1
    assert await count(database, Signature) == 1
    assert await kinds(database, world.table.id) == ["protocol.signed"]


async def test_the_last_two_parties_signing_at_once_bring_the_protocol_into_force_once(database, password_hash, key):
    world = await build(database, password_hash, parties=4)

    async def everyone(n: int) -> None:
        await asyncio.gather(*(sign_as(database, world, key, n) for _ in range(5)))

    await asyncio.gather(*(everyone(n) for n in range(4)))
    assert await count(database, Signature) == 4
    found = await kinds(database, world.table.id)
    assert sorted(found) == ["protocol.in_force"] + ["protocol.signed"] * 4
    assert found[-1] == "protocol.in_force"
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force


# --- Checking ----------------------------------------------------------------------------------------


async def signed_world(database, world, key) -> list[Signature]:
    return [await sign_as(database, world, key, 0), await sign_as(database, world, key, 1)]


def only(found: list[signatures.SignatureCheck]) -> list[list[str]]:
    return [c.check.reasons for c in found]


async def test_untouched_signatures_are_valid(database, world, key):
    await signed_world(database, world, key)
    found = await checks(database, world.protocol_id)
    assert [(c.organisation, c.signer, c.check.valid, c.check.reasons) for c in found] == [
        ("CGIL Bologna", "Firma CGIL Bologna", True, []),
        ("Confcommercio Ascom Bologna", "Firma Confcommercio Ascom Bologna", True, []),
    ]


async def test_one_character_of_the_stored_text_changed_breaks_every_signature_and_says_why(database, world, key):
    await signed_world(database, world, key)
    text = canonical(TEXT)
    tampered = text.replace(b"2031-12-31", b"2032-12-31")
    async with database.transaction() as session:
        await session.execute(update(ProtocolVersion).values(text=tampered))
    found = await checks(database, world.protocol_id)
    actual, signed = hashlib.sha256(tampered).hexdigest(), hashlib.sha256(text).hexdigest()
    for reasons in only(found):
        assert f"The text is not the one signed: its SHA-256 is {actual}, the statement binds {signed}." in reasons
        assert f"The stored text of version 1 is not the text frozen: its SHA-256 is {actual}, not {signed}." in reasons
    # Changing the recorded hash with the text does not hide it: the statement binds the text signed.
    async with database.transaction() as session:
        await session.execute(update(ProtocolVersion).values(text_sha256=actual))
    for reasons in only(await checks(database, world.protocol_id)):
        assert reasons == [f"The text is not the one signed: its SHA-256 is {actual}, the statement binds {signed}."]


async def test_one_byte_of_an_annex_changed_breaks_the_signatures_and_says_which(database, world, key):
    await signed_world(database, world, key)
    original = PDF + b"% allegato 0\n"
    tampered = original.replace(b"allegato 0", b"allegato 1")
    async with database.transaction() as session:
        await session.execute(update(ProtocolAnnex).values(data=tampered))
    for reasons in only(await checks(database, world.protocol_id)):
        assert reasons == [
            "The annex «Allegato 1 — tabella salari.pdf» is not the one frozen: its SHA-256 is "
            f"{hashlib.sha256(tampered).hexdigest()}, not {hashlib.sha256(original).hexdigest()}."
        ]


async def test_an_annex_swapped_in_the_frozen_version_breaks_the_signatures(database, world, key):
    await signed_world(database, world, key)
    other = PDF + b"% un altro allegato\n"
    other_hash = hashlib.sha256(other).hexdigest()
    async with database.transaction() as session:
        await session.execute(update(ProtocolAnnex).values(data=other, sha256=other_hash))
        version = await session.get_one(ProtocolVersion, world.version_id)
        version.annexes = [{**version.annexes[0], "sha256": other_hash}]
    for reasons in only(await checks(database, world.protocol_id)):
        assert len(reasons) == 1
        assert reasons[0].startswith("The annexes are not the ones signed: the statement binds")


async def test_one_character_of_a_statement_changed_breaks_its_seal(database, world, key):
    first, _second = await signed_world(database, world, key)
    tampered = first.statement.replace(b'"role":"signatory"', b'"role":"substitute"')
    assert tampered != first.statement
    async with database.transaction() as session:
        await session.execute(update(Signature).where(Signature.id == first.id).values(statement=tampered))
    found = await checks(database, world.protocol_id)
    assert only(found) == [
        ["The seal does not match the statement: the statement was changed after it was sealed."],
        [],
    ]
    assert [c.check.valid for c in found] == [False, True]


async def test_a_seal_by_an_unknown_key_is_broken(database, world, key, tmp_path):
    signature = await sign_as(database, world, key)
    async with database.read() as session:
        version = await session.get_one(ProtocolVersion, world.version_id)
        data = await signatures.annex_bytes(session, [version])
    assert verify_signature(signature, version, {key.kid: key.public}, data).valid
    stranger = protocol_keys.create_key_file(tmp_path / "other.key")
    check = verify_signature(signature, version, {stranger.kid: stranger.public}, data)
    assert check.reasons == [f"The seal's key {key.kid} is not among the server's keys."]
    # The right kid with another key's bytes: the seal does not match.
    check = verify_signature(signature, version, {key.kid: stranger.public}, data)
    assert check.reasons == ["The seal does not match the statement: the statement was changed after it was sealed."]


async def test_a_statement_of_another_version_or_party_is_broken(database, world, key):
    first, second = await signed_world(database, world, key)
    async with database.transaction() as session:  # the second party's row now carries the first's statement
        await session.execute(
            update(Signature).where(Signature.id == second.id).values(statement=first.statement, seal=first.seal)
        )
    found = await checks(database, world.protocol_id)
    assert only(found)[1] == ["The statement is about another protocol, version or party than this signature."]


async def test_the_reasons_are_in_italian_for_an_italian_reader(database, world, key):
    await signed_world(database, world, key)
    async with database.transaction() as session:
        await session.execute(update(ProtocolVersion).values(text=b"altro\n"))
    with use_locale("it"):
        reasons = only(await checks(database, world.protocol_id))[0]
    assert all("SHA-256" in reason for reason in reasons)
    assert not any(reason.startswith("The ") for reason in reasons)
