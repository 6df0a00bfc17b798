"""Qualified signatures (firma digitale) a party brings: every case of the issue with its outcome and
its Italian message, made with the test CA (tests/qualified_ca.py) and pyHanko, offline — a guard
refuses every connection that is not the test database's and the tests assert none was tried.

`check_upload`: PAdES over the stored PDF (and over a real PDF/A of the minutes' pipeline), over
another PDF, with text added after signing; an enveloping .p7m (DER, PEM, base64), over other
content; a detached CMS; an untrusted CA; an expired certificate; a broken signature; a name that
differs (a warning); revocation checked only with the CRLs the file carries. `record_qualified`: the
party's signature recorded with its file and sealed statement, every refusal with nothing stored,
the chair accepting a name that differs, the protocol in force once every party signed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from sqlalchemy import update

from server.db.models import Membership, ProtocolStatus, ProtocolVersion, Role, Signature, SignatureKind, User
from server.db.session import Database
from server.domain import accounts, protocol_keys, signatures
from server.domain.errors import Forbidden, Invalid
from server.domain.protocol_keys import ServerKey
from server.domain.qualified import file_reasons, record_qualified
from server.domain.qualified_checks import QualifiedCheck, check_upload, fiscal_code_of, same_person, trust_roots
from server.i18n import use_locale
from tests.qualified_ca import (
    TestCA,
    add_text_after,
    sample_pdf,
    sign_cades,
    sign_pades,
    with_crls,
    with_dss,
)
from tests.support import PASSWORD
from tests.test_signatures import World, build, count, kinds, status

STORED = sample_pdf("Protocollo appalti - versione 1")
OTHER = sample_pdf("Un altro documento")
FISCAL_CODE = "RSSMRA80A01A944I"


@pytest.fixture(autouse=True)
def italian() -> Iterator[None]:
    with use_locale("it"):
        yield


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """No network: a connection anywhere but this machine (the test database) is refused and noted."""
    attempts: list[Any] = []
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError("network access in a test of the qualified signatures")
        return connect(self, address)

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "::1", "localhost", None):
            attempts.append(host)
            raise OSError("name lookup in a test of the qualified signatures")
        return original_lookup(host, *args, **kwargs)

    original_lookup = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield attempts
    assert attempts == [], f"the network was touched: {attempts}"


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.make()


@pytest.fixture
def roots(ca: TestCA) -> list[Any]:
    return [asn1_x509.Certificate.load(ca.root_der)]


async def checked(
    data: bytes, roots: list[Any], *, stored: bytes = STORED, name: str = "Mario Rossi"
) -> QualifiedCheck:
    return await check_upload(data, stored_pdf=stored, trust_roots=roots, designated_name=name)


def assert_signer(check: QualifiedCheck, ca: TestCA, name: str = "Mario Rossi") -> None:
    assert check.signer_name == name
    assert check.fiscal_code == FISCAL_CODE
    assert check.issuer == ca.issuer_name()
    assert check.signing_time is not None


def refused_with(check: QualifiedCheck, code: str, message: str) -> None:
    assert check.status == "refused"
    assert check.accepted is False
    assert check.codes == [code]
    assert check.reasons == [message]
    assert check.status_label == "Firma qualificata rifiutata"


# --- PAdES -------------------------------------------------------------------------------------------


async def test_a_pades_over_the_stored_pdf_is_valid_with_its_revocation_not_checked(ca, roots):
    upload = await sign_pades(STORED, ca.person("Mario", "Rossi", FISCAL_CODE))
    check = await checked(upload, roots)
    assert check.status == "valid_revocation_unchecked"  # offline: never fully valid without revocation data
    assert check.status_label == "Valida, revoca non verificata"
    assert (check.format, check.reasons, check.warnings) == ("pades", [], [])
    assert check.file_sha256 == hashlib.sha256(upload).hexdigest()
    assert_signer(check, ca)
    record = check.as_record()
    assert json.loads(json.dumps(record)) == record  # what Signature.file_check keeps
    assert record["signing_time"].endswith("Z")


async def test_a_pades_over_a_real_pdf_a_of_the_printing_pipeline_is_valid(ca, roots):
    from server.domain.protocol_pdf import render_pdf

    stored = await render_pdf("<html lang='it'><body><h1>Protocollo appalti</h1><p>Testo congelato.</p></body></html>")
    check = await checked(await sign_pades(stored, ca.person("Mario", "Rossi")), roots, stored=stored)
    assert (check.status, check.format, check.reasons) == ("valid_revocation_unchecked", "pades", [])


async def test_a_pades_over_another_pdf_is_refused_as_another_document(ca, roots):
    check = await checked(await sign_pades(OTHER, ca.person("Mario", "Rossi")), roots)
    refused_with(
        check,
        "other_document",
        "Il PDF firmato non è il PDF del protocollo di questa versione: firmate il PDF scaricato da Tavoli "
        "senza modificarlo (i suoi byte devono venire per primi, immutati, nel file firmato).",
    )


async def test_text_added_after_signing_is_refused_naming_the_change(ca, roots):
    upload = add_text_after(await sign_pades(STORED, ca.person("Mario", "Rossi")))
    check = await checked(upload, roots)
    refused_with(
        check,
        "modified",
        "Il PDF è stato modificato oltre alla firma: il contenuto della pagina 1 è stato modificato dopo la firma.",
    )


async def test_text_added_in_the_signatures_own_revision_is_refused_too(ca, roots):
    """A PDF changed before it was signed (the change inside what the signature covers)."""
    changed = add_text_after(STORED)
    check = await checked(await sign_pades(changed, ca.person("Mario", "Rossi")), roots)
    refused_with(
        check,
        "modified",
        "Il PDF è stato modificato oltre alla firma: il contenuto della pagina 1 è stato modificato dopo la firma.",
    )


async def test_a_pdf_without_signature_is_not_a_signature(roots):
    refused_with(await checked(STORED, roots), "not_signature", "Il PDF non porta alcuna firma sul PDF del protocollo.")


# --- CAdES -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["der", "pem", "base64"])
async def test_an_enveloping_p7m_of_the_stored_pdf_is_valid(ca, roots, encoding):
    der = await sign_cades(STORED, ca.person("Mario", "Rossi"))
    upload = {
        "der": der,
        "pem": await sign_cades(STORED, ca.person("Mario", "Rossi"), pem=True),
        "base64": base64.encodebytes(der),
    }[encoding]
    check = await checked(upload, roots)
    assert (check.status, check.format, check.reasons, check.warnings) == (
        "valid_revocation_unchecked",
        "cades",
        [],
        [],
    )
    assert_signer(check, ca)


async def test_a_p7m_over_other_content_is_refused_as_another_document(ca, roots):
    check = await checked(await sign_cades(OTHER, ca.person("Mario", "Rossi")), roots)
    refused_with(
        check,
        "other_document",
        "Il contenuto firmato è un altro documento, non il PDF del protocollo di questa versione.",
    )
    assert_signer(check, ca)  # who signed it is still told


async def test_a_detached_cms_over_the_stored_pdf_is_valid(ca, roots):
    check = await checked(await sign_cades(STORED, ca.person("Mario", "Rossi"), detached=True), roots)
    assert (check.status, check.format, check.reasons) == ("valid_revocation_unchecked", "cades-detached", [])
    assert_signer(check, ca)


async def test_a_detached_cms_over_another_document_is_refused(ca, roots):
    check = await checked(await sign_cades(OTHER, ca.person("Mario", "Rossi"), detached=True), roots)
    refused_with(
        check,
        "other_document",
        "La firma è stata apposta su un altro documento, non sul PDF del protocollo di questa versione.",
    )


async def test_a_broken_signature_is_refused(ca, roots):
    info = cms.ContentInfo.load(await sign_cades(STORED, ca.person("Mario", "Rossi")))
    signer_info = info["content"]["signer_infos"][0]
    value = bytearray(signer_info["signature"].native)
    value[-1] ^= 0x01
    signer_info["signature"] = bytes(value)
    check = await checked(info.dump(force=True), roots)
    refused_with(check, "broken", "La firma non è integra: il file è stato alterato dopo la firma.")


async def test_a_file_that_is_no_signature_is_refused(roots):
    refused_with(
        await checked(b"Gentile presidente, in allegato la firma.", roots),
        "not_signature",
        "Il file non è una firma: caricate il PDF firmato (PAdES) o il file .p7m (CAdES).",
    )


async def test_a_file_too_large_is_refused_unread(roots):
    check = await check_upload(
        b"%PDF-" + b"0" * 3_000_000,
        stored_pdf=STORED,
        trust_roots=roots,
        designated_name="Mario Rossi",
        max_bytes=2_097_152,
    )
    refused_with(check, "too_large", "Il file è troppo grande: 2,9 MB, al massimo 2,0 MB.")


# --- the certificate ---------------------------------------------------------------------------------


async def test_a_certificate_from_an_untrusted_ca_is_refused(roots):
    stranger = TestCA.make("Altra CA")
    check = await checked(await sign_cades(STORED, stranger.person("Mario", "Rossi")), roots)
    refused_with(
        check,
        "untrusted",
        "Il certificato del firmatario non proviene da un'autorità di certificazione qualificata fidata "
        "(emittente: Altra CA Qualified Signatures).",
    )


@pytest.mark.parametrize("sign", ["pades", "cades"])
async def test_an_expired_certificate_is_refused(ca, roots, sign):
    person = ca.person("Mario", "Rossi", expired=True)
    upload = await (sign_pades(STORED, person) if sign == "pades" else sign_cades(STORED, person))
    check = await checked(upload, roots)
    until = person.cert.not_valid_after_utc.strftime("%d/%m/%Y")
    refused_with(
        check, "expired", f"Il certificato del firmatario era scaduto quando ha firmato: era valido fino al {until}."
    )


async def test_no_trust_root_trusts_nobody(ca):
    check = await checked(await sign_cades(STORED, ca.person("Mario", "Rossi")), [])
    assert check.codes == ["untrusted"]


async def test_revocation_is_checked_with_the_crls_the_file_carries(ca, roots):
    mario = ca.person("Mario", "Rossi")
    check = await checked(with_crls(await sign_cades(STORED, mario), ca), roots)
    assert (check.status, check.status_label) == ("valid", "Firma qualificata valida")
    revoked = await checked(with_crls(await sign_cades(STORED, mario), ca, revoked=[mario.cert]), roots)
    refused_with(revoked, "revoked", "Il certificato del firmatario è stato revocato.")


async def test_a_signer_whose_name_differs_is_a_warning_not_a_refusal(ca, roots):
    check = await checked(await sign_pades(STORED, ca.person("Luigi", "Bianchi")), roots)
    assert check.status == "valid_revocation_unchecked"
    assert check.warning_codes == ["name_differs"]
    assert check.warnings == [
        "Il certificato del firmatario indica Luigi Bianchi, non il firmatario designato della parte Mario Rossi: "
        "il presidente può accettarla."
    ]


def test_names_compare_words_ignoring_order_case_and_accents():
    assert same_person("ROSSI MARIO", "Mario Rossi")
    assert same_person("Niccolò Dall'Òglio", "niccolo dall oglio")
    assert not same_person("Mario Rossi", "Maria Rossi")
    assert not same_person("Mario Rossi", "")


def test_the_fiscal_code_comes_from_the_subjects_serial_number(ca):
    cert = asn1_x509.Certificate.load(ca.person("Mario", "Rossi", FISCAL_CODE).cert_der)
    assert fiscal_code_of(cert) == FISCAL_CODE
    assert fiscal_code_of(asn1_x509.Certificate.load(ca.person("Anna", "Neri", None).cert_der)) is None


def test_trust_roots_are_read_from_the_folder(tmp_path: Path, ca):
    other = TestCA.make("Altra CA")
    (tmp_path / "ca.pem").write_bytes(ca.root_pem + other.root_pem)
    (tmp_path / "ca.der").write_bytes(other.intermediate.cert_der)
    (tmp_path / "README.md").write_text("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n")
    (tmp_path / "broken.crt").write_bytes(b"not a certificate")
    found = trust_roots(tmp_path)
    assert sorted(cert.dump() for cert in found) == sorted([ca.root_der, other.root_der, other.intermediate.cert_der])
    assert trust_roots(tmp_path / "missing") == []
    assert trust_roots(Path(__file__).parent.parent / "trust") == []  # the repository's folder: README only


# --- record_qualified --------------------------------------------------------------------------------


@pytest.fixture
def key(tmp_path: Path) -> ServerKey:
    return protocol_keys.create_key_file(tmp_path / "signing.key")


@pytest.fixture
async def world(database: Database, password_hash: str) -> World:
    """Two parties: CGIL's signatory is Mario Rossi; the version's PDF is made; a chair on the table."""
    made = await build(database, password_hash, annexes=0)
    async with database.transaction() as session:
        await session.execute(update(User).where(User.id == made.signatories[0].id).values(name="Mario Rossi"))
        await session.execute(
            update(ProtocolVersion)
            .where(ProtocolVersion.id == made.version_id)
            .values(pdf=STORED, pdf_sha256=hashlib.sha256(STORED).hexdigest())
        )
        chair = await accounts.create_user(
            session, email="presidente@example.org", name="Presidente Tavolo", password_hash=password_hash
        )
        session.add(Membership(table_id=made.table.id, user_id=chair.id, role=Role.chair))
    made.stranger = chair  # the chair has no party of their own
    return made


async def upload(
    database: Database,
    world: World,
    key: ServerKey,
    roots: list[Any],
    data: bytes,
    *,
    user: User | None = None,
    party: int = 0,
    password: str = PASSWORD,
    accept_warning: bool = False,
    file_name: str = "protocollo.pdf.p7m",
) -> Signature:
    async with database.transaction() as session:
        return await record_qualified(
            session,
            world.table,
            world.protocol_id,
            party_id=world.parties[party],
            data=data,
            file_name=file_name,
            actor_user_id=(user or world.signatories[party]).id,
            password=password,
            accept_warning=accept_warning,
            key=key,
            roots=roots,
        )


async def refused(database: Database, world: World, error: type[Exception], message: str, **kwargs: Any) -> Any:
    with pytest.raises(error) as raised:
        await upload(database, world, **kwargs)
    assert message in str(raised.value)
    assert await count(database, Signature) == 0
    assert await kinds(database, world.table.id) == []
    return raised.value


async def test_a_valid_p7m_is_recorded_as_the_partys_sealed_signature(database, world, key, ca, roots):
    data = await sign_cades(STORED, ca.person("Mario", "Rossi"))
    signature = await upload(database, world, key, roots, data)
    assert signature.kind is SignatureKind.qualified
    assert (bytes(signature.file or b""), signature.file_name, signature.signer_role) == (
        data,
        "protocollo.pdf.p7m",
        "signatory",
    )
    assert signature.file_check["status"] == "valid_revocation_unchecked"
    assert signature.file_check["format"] == "cades"
    assert signature.file_check["fiscal_code"] == FISCAL_CODE
    statement = json.loads(signature.statement)
    assert statement["kind"] == "qualified"
    assert statement["qualified"]["file"] == {
        "name": "protocollo.pdf.p7m",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    assert statement["qualified"]["format"] == "cades"
    assert statement["qualified"]["status"] == "valid_revocation_unchecked"
    assert statement["qualified"]["signer"] == "Mario Rossi"
    assert statement["qualified"]["pdf_sha256"] == hashlib.sha256(STORED).hexdigest()
    assert signature.statement == signatures.statement_bytes(statement)
    assert protocol_keys.seal_valid(key.public, signature.statement, signature.seal)
    assert await kinds(database, world.table.id) == ["protocol.signed"]
    async with database.read() as session:
        [check] = await signatures.check_signatures(session, world.protocol_id)
    assert check.check.valid, check.check.reasons
    assert file_reasons(signature) == []
    changed = data + b"\x00"
    signature.file = changed
    actual, bound = hashlib.sha256(changed).hexdigest(), hashlib.sha256(data).hexdigest()
    assert file_reasons(signature) == [
        f"Il file conservato non è quello firmato: il suo SHA-256 è {actual}, la dichiarazione vincola {bound}."
    ]
    async with database.transaction() as session:  # the stored file swapped: the signature shows broken
        await session.execute(update(Signature).where(Signature.id == signature.id).values(file=changed))
    async with database.read() as session:
        [check] = await signatures.check_signatures(session, world.protocol_id)
    assert not check.check.valid
    assert check.check.reasons == file_reasons(signature)


async def test_the_protocol_enters_into_force_when_the_last_party_signs_with_a_pades(database, world, key, ca, roots):
    await upload(database, world, key, roots, await sign_cades(STORED, ca.person("Mario", "Rossi")))
    async with database.transaction() as session:
        await session.execute(update(User).where(User.id == world.signatories[1].id).values(name="Anna Neri"))
    pades = await sign_pades(STORED, ca.person("Anna", "Neri", "NRENNA85B41A944X"))
    second = await upload(database, world, key, roots, pades, party=1, file_name="protocollo-firmato.pdf")
    assert second.file_check["format"] == "pades"
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force
    assert await kinds(database, world.table.id) == ["protocol.signed", "protocol.signed", "protocol.in_force"]


async def test_uploading_the_same_file_again_gives_the_signature_back(database, world, key, ca, roots):
    data = await sign_cades(STORED, ca.person("Mario", "Rossi"))
    first = await upload(database, world, key, roots, data)
    again = await upload(database, world, key, roots, data, user=world.substitutes[0])
    assert again.id == first.id
    with pytest.raises(Invalid) as raised:
        await upload(database, world, key, roots, await sign_cades(STORED, ca.person("Mario", "Rossi")))
    assert raised.value.errors == {"file": "Questa parte ha già firmato questa versione del protocollo."}
    assert await count(database, Signature) == 1
    assert await kinds(database, world.table.id) == ["protocol.signed"]


async def test_a_file_that_does_not_validate_is_refused_with_its_reasons(database, world, key, ca, roots):
    error = await refused(
        database,
        world,
        Invalid,
        "Il contenuto firmato è un altro documento, non il PDF del protocollo di questa versione.",
        key=key,
        roots=roots,
        data=await sign_cades(OTHER, ca.person("Mario", "Rossi")),
    )
    assert set(error.errors) == {"file"}
    stranger = TestCA.make("Altra CA")
    await refused(
        database,
        world,
        Invalid,
        "non proviene da un'autorità di certificazione qualificata fidata",
        key=key,
        roots=roots,
        data=await sign_cades(STORED, stranger.person("Mario", "Rossi")),
    )


async def test_a_wrong_password_records_nothing_and_checks_nothing(database, world, key, roots):
    error = await refused(
        database, world, Invalid, "La password non è corretta", key=key, roots=roots, data=b"x", password="sbagliata"
    )
    assert set(error.errors) == {"password"}


async def test_only_the_partys_signatory_or_substitute_uploads_for_it(database, world, key, ca, roots):
    data = await sign_cades(STORED, ca.person("Mario", "Rossi"))
    message = "Solo il firmatario della parte o il suo sostituto possono firmare per essa."
    await refused(database, world, Forbidden, message, key=key, roots=roots, data=data, user=world.signatories[1])
    await refused(database, world, Forbidden, message, key=key, roots=roots, data=data, user=world.stranger)


async def test_a_version_without_its_pdf_takes_no_upload(database, world, key, ca, roots):
    async with database.transaction() as session:
        await session.execute(update(ProtocolVersion).values(pdf=None, pdf_sha256=None))
    await refused(
        database,
        world,
        Invalid,
        "Il PDF del protocollo da firmare non è ancora stato generato",
        key=key,
        roots=roots,
        data=await sign_cades(STORED, ca.person("Mario", "Rossi")),
    )


async def test_a_name_that_differs_is_refused_until_the_chair_accepts_it(database, world, key, ca, roots):
    data = await sign_pades(STORED, ca.person("Luigi", "Bianchi"))
    warning = (
        "Il certificato del firmatario indica Luigi Bianchi, non il firmatario designato della parte Mario Rossi: "
        "il presidente può accettarla."
    )
    error = await refused(database, world, Invalid, warning, key=key, roots=roots, data=data)
    assert error.errors == {"file": warning}
    await refused(
        database,
        world,
        Forbidden,
        "Solo il presidente può accettare una firma il cui firmatario non è quello designato.",
        key=key,
        roots=roots,
        data=data,
        accept_warning=True,
    )
    chair = world.stranger
    signature = await upload(
        database, world, key, roots, data, user=chair, accept_warning=True, file_name="protocollo-firmato.pdf"
    )
    assert (signature.signer_role, signature.signer_id) == ("chair", chair.id)
    assert signature.file_check["warnings"] == [warning]
    assert signature.file_check["warning_accepted_by"] == {"id": chair.id, "name": "Presidente Tavolo"}
    statement = json.loads(signature.statement)
    assert statement["role"] == "chair"
    assert statement["qualified"]["signer"] == "Luigi Bianchi"
    assert statement["qualified"]["warnings"] == [warning]
    assert statement["qualified"]["accepted_by"] == {"id": chair.id, "name": "Presidente Tavolo"}
    assert await kinds(database, world.table.id) == ["protocol.signed"]


async def test_the_chair_records_for_a_party_only_to_accept_a_warning(database, world, key, ca, roots):
    data = await sign_cades(STORED, ca.person("Mario", "Rossi"))
    message = "Solo il firmatario della parte o il suo sostituto possono firmare per essa."
    await refused(database, world, Forbidden, message, key=key, roots=roots, data=data, user=world.stranger)
    await refused(
        database, world, Forbidden, message, key=key, roots=roots, data=data, user=world.stranger, accept_warning=True
    )


async def test_the_substitute_uploads_a_file_its_party_signed_without_warning(database, world, key, ca, roots):
    async with database.transaction() as session:
        await session.execute(update(User).where(User.id == world.substitutes[0].id).values(name="Giulia Verdi"))
    by_substitute = await sign_cades(STORED, ca.person("Giulia", "Verdi", "VRDGLI90C45A944Z"))
    signature = await upload(database, world, key, roots, by_substitute, user=world.substitutes[0])
    assert signature.signer_role == "substitute"
    assert signature.file_check["warnings"] == []
    assert signature.file_check["signer_name"] == "Giulia Verdi"


async def test_the_parties_sign_in_order_with_a_firma_digitale_too(database, password_hash, key, ca, roots):
    ordered = await build(database, password_hash, annexes=0, signing_order=True, slug="ordine")
    async with database.transaction() as session:
        await session.execute(update(ProtocolVersion).values(pdf=STORED, pdf_sha256=hashlib.sha256(STORED).hexdigest()))
        await session.execute(update(User).where(User.id == ordered.signatories[1].id).values(name="Mario Rossi"))
    with pytest.raises(Invalid) as raised:
        await upload(database, ordered, key, roots, await sign_cades(STORED, ca.person("Mario", "Rossi")), party=1)
    assert raised.value.errors == {"party": "Le parti firmano in ordine: prima deve firmare CGIL Bologna (ordine)."}
    assert await count(database, Signature) == 0


async def test_uploads_at_once_for_one_party_leave_one_signature_and_one_event(database, world, key, ca, roots):
    mario = ca.person("Mario", "Rossi")
    files = [await sign_cades(STORED, mario) for _ in range(6)]
    results = await asyncio.gather(
        *(upload(database, world, key, roots, data) for data in files), return_exceptions=True
    )
    recorded = [result for result in results if isinstance(result, Signature)]
    refusals = [result for result in results if not isinstance(result, Signature)]
    assert len(recorded) == 1
    assert all(isinstance(error, Invalid) for error in refusals), refusals
    assert {error.errors["file"] for error in refusals if isinstance(error, Invalid)} <= {
        "Questa parte ha già firmato questa versione del protocollo."
    }
    assert await count(database, Signature) == 1
    assert await kinds(database, world.table.id) == ["protocol.signed"]


async def test_a_pades_with_its_crls_in_the_document_security_store_is_fully_valid(ca, roots):
    mario = ca.person("Mario", "Rossi")
    check = await checked(with_dss(await sign_pades(STORED, mario), ca), roots)
    assert (check.status, check.format, check.reasons) == ("valid", "pades", [])
    revoked = await checked(with_dss(await sign_pades(STORED, mario), ca, revoked=[mario.cert]), roots)
    refused_with(revoked, "revoked", "Il certificato del firmatario è stato revocato.")


@pytest.mark.parametrize("cut", [0.5, 0.9])
async def test_a_truncated_file_is_refused_never_an_error(ca, roots, cut):
    for data in (
        await sign_cades(STORED, ca.person("Mario", "Rossi")),
        await sign_pades(STORED, ca.person("Mario", "Rossi")),
    ):
        check = await checked(data[: int(len(data) * cut)], roots)
        assert check.status == "refused"
        assert check.codes[0] in {"not_signature", "broken", "other_document", "modified"}
        assert check.reasons
