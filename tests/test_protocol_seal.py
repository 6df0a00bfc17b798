"""A version's stored PDF/A is made once (racing callers keep one), and the institution's PAdES seal of a
protocol in force validates with pyHanko against the test root; without a certificate the PDF says
plainly that it is not sealed. Nothing here touches the network."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
import shutil
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pypdf
import pytest
from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select, update

from server.config import Settings, SettingsError
from server.db.models import (
    Organisation,
    Protocol,
    ProtocolParty,
    ProtocolStatus,
    ProtocolVersion,
    Signature,
    SignatureKind,
)
from server.db.session import Database
from server.demo import load_demo
from server.demo import qualified as demo_qualified
from server.domain import protocol_bundle, protocol_keys, protocol_seal, qualified
from server.domain.errors import NotFound
from server.domain.protocol_keys import ServerKey
from server.domain.protocol_seal import SealError
from server.domain.protocol_text import canonical, text_sha256
from tests.conftest import need
from tests.qualified_ca import TestCA, pkcs12, sample_pdf, sign_cades, sign_pades
from tests.support import PASSWORD as PASSWORD_OF_ACCOUNTS
from tests.test_signatures import TEXT, World, build, sign_as, status

TEXT_SHA = text_sha256(canonical(TEXT))
PASSWORD = "seal-password"
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Any attempt to reach another host fails the test (the PDF worker talks through pipes; a
    PostgreSQL test database is on the loopback)."""
    attempts: list[object] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def local(address: object) -> bool:
        host = address[0] if isinstance(address, tuple) else None
        return host is None or host in ("127.0.0.1", "::1", "localhost")

    def guarded(self: socket.socket, address: object) -> None:
        if not local(address):
            attempts.append(address)
            raise AssertionError(f"the network was touched: {address!r}")
        connect(self, address)  # type: ignore[arg-type]

    def guarded_ex(self: socket.socket, address: object) -> int:
        if not local(address):
            attempts.append(address)
            raise AssertionError(f"the network was touched: {address!r}")
        return connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_ex)
    yield attempts
    assert attempts == []


@pytest.fixture
def key(tmp_path: Path) -> ServerKey:
    return protocol_keys.create_key_file(tmp_path / "signing.key")


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.make()


@pytest.fixture
def seal(ca: TestCA) -> protocol_seal.Seal:
    return protocol_seal.load_seal(pkcs12(ca.seal_identity(), PASSWORD.encode()), PASSWORD)


@pytest.fixture
async def world(database: Database, password_hash: str) -> World:
    return await build(database, password_hash)


@pytest.fixture
async def in_force(database: Database, world: World, key: ServerKey) -> World:
    await sign_as(database, world, key, 0)
    await sign_as(database, world, key, 1)
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force
    return world


def assert_pdfa(pdf: bytes) -> None:
    with pikepdf.open(io.BytesIO(pdf)) as document, document.open_metadata() as xmp:
        assert (xmp[f"{PDFAID}part"], xmp[f"{PDFAID}conformance"]) == ("2", "U")


def pages(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


async def kept(database: Database, version_id: int) -> tuple[bytes | None, str | None]:
    async with database.read() as session:
        version = await session.get_one(ProtocolVersion, version_id)
        return (bytes(version.pdf) if version.pdf is not None else None), version.pdf_sha256


async def refuse_to_render(document: str) -> bytes:
    raise AssertionError("rendered again")


# --- the stored PDF -----------------------------------------------------------------------------------


async def test_a_versions_pdf_is_made_once_with_the_texts_sha256_on_its_first_page(database, world):
    async with database.read() as session:
        assert await protocol_seal.stored_pdf_of(session, world.version_id) is None

    pdf = await protocol_seal.stored_pdf(database, world.version_id)

    assert pdf.startswith(b"%PDF-")
    assert_pdfa(pdf)
    first = pages(pdf)[0]
    assert TEXT_SHA in first.replace(" ", "")
    assert "Protocollo appalti «2031»" in first
    assert "versione 1 del testo" in first
    assert "firma digitale" in first
    assert await kept(database, world.version_id) == (pdf, hashlib.sha256(pdf).hexdigest())
    # Asked again, the same bytes, never rendered again.
    assert await protocol_seal.stored_pdf(database, world.version_id, render=refuse_to_render) == pdf
    async with database.read() as session:
        assert await protocol_seal.stored_pdf_of(session, world.version_id) == pdf
        assert await protocol_seal.stored_pdf(session, world.version_id, render=refuse_to_render) == pdf


async def test_racing_callers_each_render_and_all_get_the_one_kept(database, world):
    callers = 4
    arrived: list[int] = []
    everyone_rendered = asyncio.Event()

    async def render(document: str) -> bytes:
        # Every caller has read "no PDF yet" and rendered before any of them stores: the race.
        arrived.append(len(arrived))
        candidate = f"%PDF-1.7 candidate {arrived[-1]}\n".encode()
        if len(arrived) == callers:
            everyone_rendered.set()
        await everyone_rendered.wait()
        return candidate

    results = await asyncio.gather(
        *(protocol_seal.stored_pdf(database, world.version_id, render=render) for _ in range(callers))
    )

    assert len(arrived) == callers
    assert len(set(results)) == 1
    stored, sha = await kept(database, world.version_id)
    assert stored == results[0]
    assert stored in {f"%PDF-1.7 candidate {n}\n".encode() for n in range(callers)}
    assert sha == hashlib.sha256(stored).hexdigest()


async def test_keeping_a_second_pdf_changes_nothing(database, world):
    async with database.transaction() as session:
        first = await protocol_seal.keep_pdf(session, world.version_id, b"%PDF-first")
    async with database.transaction() as session:
        second = await protocol_seal.keep_pdf(session, world.version_id, b"%PDF-second")

    assert first == second == b"%PDF-first"
    assert await kept(database, world.version_id) == (b"%PDF-first", hashlib.sha256(b"%PDF-first").hexdigest())


async def test_a_version_that_does_not_exist(database, world):
    with pytest.raises(NotFound) as refused:
        await protocol_seal.stored_pdf(database, world.version_id + 99, render=refuse_to_render)
    assert "versione" in str(refused.value.args[0]) or "version" in str(refused.value.args[0])
    async with database.read() as session:
        with pytest.raises(NotFound):
            await protocol_seal.stored_pdf_of(session, world.version_id + 99)
    async with database.read() as session:
        count = len((await session.scalars(select(ProtocolVersion).where(ProtocolVersion.pdf.is_not(None)))).all())
    assert count == 0


async def test_the_pdf_to_sign_is_the_current_versions(database, world):
    async with database.transaction() as session:
        await protocol_seal.keep_pdf(session, world.version_id, b"%PDF-kept")

    name, pdf = await protocol_seal.pdf_to_sign(database, world.protocol_id)

    assert (name, pdf) == (f"protocollo-{world.protocol_id}-v1.pdf", b"%PDF-kept")
    async with database.transaction() as session:  # back to draft: no current version
        await session.execute(update(ProtocolVersion).values(current=False))
    with pytest.raises(NotFound) as refused:
        await protocol_seal.pdf_to_sign(database, world.protocol_id)
    assert "non è stato aperto alla firma" in str(refused.value.args[0])


# --- the seal -----------------------------------------------------------------------------------------


async def validate(pdf: bytes, *roots: TestCA) -> PdfSignatureStatus:
    reader = PdfFileReader(io.BytesIO(pdf))
    assert len(reader.embedded_signatures) == 1
    signature = reader.embedded_signatures[0]
    assert signature.field_name == protocol_seal.SEAL_FIELD
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(ca.root_der) for ca in roots],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    return await async_validate_pdf_signature(signature, context)


async def test_the_sealed_pdf_of_a_protocol_in_force_validates_against_the_test_root(database, in_force, ca, seal):
    printed, pdf = await protocol_seal.sealed_pdf(database, in_force.protocol_id, seal=seal)

    assert printed.status is ProtocolStatus.in_force
    checked = await validate(pdf, ca)
    assert checked.intact
    assert checked.valid
    assert checked.trusted
    assert_pdfa(pdf)  # the seal is an incremental update of the PDF/A
    assert checked.docmdp_ok  # a certification allowing no change: none made
    assert checked.signing_cert.subject.native["organization_name"] == "Città metropolitana di Bologna"
    text = pages(pdf)
    assert "sigillato da Città metropolitana di Bologna" in text[0]
    assert "non è sigillato" not in " ".join(text)
    assert TEXT_SHA in text[0].replace(" ", "")
    assert "Firme" in " ".join(text)  # the signature page


async def test_with_a_tsa_the_seal_carries_a_timestamp_that_validates(database, in_force, ca, seal):
    # pyHanko's dummy timestamping authority signs with RSA only: an RSA certificate from the test CA.
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    issuer = ca.intermediate
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tavoli Test TSA")]))
        .issuer_name(issuer.cert.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(tsa_cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            tsa_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        certs_to_embed=[
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in (issuer.cert, *issuer.chain)
        ],
    )
    stamped = dataclasses.replace(seal, tsa_url="https://tsa.example.org/tsr")  # the stamper stands in for it

    _printed, pdf = await protocol_seal.sealed_pdf(database, in_force.protocol_id, seal=stamped, timestamper=stamper)

    checked = await validate(pdf, ca)
    assert checked.trusted
    assert checked.timestamp_validity is not None
    assert checked.timestamp_validity.intact
    assert checked.timestamp_validity.trusted
    assert "con marca temporale" in pages(pdf)[0]


async def test_the_seal_is_not_trusted_under_another_root(database, in_force, seal):
    _printed, pdf = await protocol_seal.sealed_pdf(database, in_force.protocol_id, seal=seal)

    checked = await validate(pdf, TestCA.make("Altra CA"))
    assert checked.intact
    assert checked.valid
    assert not checked.trusted


async def test_without_a_certificate_the_pdf_says_plainly_it_is_not_sealed(database, in_force):
    _printed, pdf = await protocol_seal.sealed_pdf(database, in_force.protocol_id, seal=None)

    assert PdfFileReader(io.BytesIO(pdf)).embedded_signatures == []
    first = pages(pdf)[0]
    assert "Questo PDF non è sigillato dalla Città metropolitana di Bologna" in first
    assert "nessun certificato di sigillo elettronico" in first


async def test_a_protocol_not_in_force_is_not_sealed_and_says_why(database, world, seal):
    _printed, pdf = await protocol_seal.sealed_pdf(database, world.protocol_id, seal=seal)

    assert PdfFileReader(io.BytesIO(pdf)).embedded_signatures == []
    assert "solo un protocollo in vigore è sigillato" in pages(pdf)[0]


async def test_a_protocol_never_frozen_has_no_pdf(database, world, seal):
    with pytest.raises(NotFound):
        await protocol_seal.sealed_pdf(database, world.protocol_id + 99, seal=seal, render=refuse_to_render)


# --- the seal's settings --------------------------------------------------------------------------


def test_the_seal_comes_from_the_settings(tmp_path, ca):
    path = tmp_path / "seal.p12"
    path.write_bytes(pkcs12(ca.seal_identity(), PASSWORD.encode()))

    assert protocol_seal.seal_from_settings(Settings()) is None
    seal = protocol_seal.seal_from_settings(Settings(seal_p12=str(path), seal_password=PASSWORD))
    assert seal is not None
    assert (seal.name, seal.issuer, seal.tsa_url) == (
        "Città metropolitana di Bologna",
        "Tavoli Test Qualified CA",
        "",
    )
    assert seal.timestamper() is None
    stamped = protocol_seal.load_seal(path, PASSWORD, tsa_url="https://tsa.example.org/tsr")
    assert stamped.timestamper() is not None


def test_a_seal_that_cannot_be_used_is_refused_saying_why(tmp_path, ca):
    path = tmp_path / "seal.p12"
    path.write_bytes(pkcs12(ca.seal_identity(), PASSWORD.encode()))

    with pytest.raises(SealError) as wrong:
        protocol_seal.load_seal(path, "not-the-password")
    assert "password" in str(wrong.value.args[0])
    with pytest.raises(SealError) as missing:
        protocol_seal.seal_from_settings(Settings(seal_p12=str(tmp_path / "nowhere.p12"), seal_password=PASSWORD))
    assert "nowhere.p12" in str(missing.value.args[0])
    with pytest.raises(SealError):
        protocol_seal.load_seal(b"%PDF-1.7 not a PKCS#12 file", PASSWORD)
    with pytest.raises(SettingsError) as tsa:
        Settings.from_env({"TAVOLI_TSA_URL": "ftp://tsa.example.org"})
    assert "TAVOLI_TSA_URL" in str(tsa.value)


# --- the bundle's qualified files and VERIFY.md's commands --------------------------------------------


async def sample_render(document: str) -> bytes:
    return sample_pdf("Protocollo appalti - versione 1")


async def record(database: Database, world: World, key: ServerKey, n: int, data: bytes, name: str, ca: TestCA) -> None:
    async with database.transaction() as session:
        await qualified.record_qualified(
            session,
            world.table,
            world.protocol_id,
            party_id=world.parties[n],
            data=data,
            file_name=name,
            actor_user_id=world.signatories[n].id,
            password=PASSWORD_OF_ACCOUNTS,
            accept_warning=False,
            key=key,
            roots=[asn1_x509.Certificate.load(ca.root_der)],
        )


def unpack(data: bytes, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
    (inside,) = list(folder.iterdir())
    return inside


def qualified_commands(verify_md: str) -> list[str]:
    section = verify_md.split("## Firme digitali qualificate", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line]


def run(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, cwd=folder, capture_output=True, text=True, check=False)  # noqa: S602


async def test_the_bundle_holds_each_qualified_file_and_verify_md_checks_them(
    database, password_hash, key, ca, tmp_path
):
    if shutil.which("openssl") is None:
        need("openssl is not installed")
    world = await build(database, password_hash, parties=3)
    people = [ca.person("Firma", organisation, fiscal_code=None) for organisation in world.organisations]
    stored = await protocol_seal.stored_pdf(database, world.version_id, render=sample_render)
    await record(database, world, key, 0, await sign_pades(stored, people[0]), "firmato.pdf", ca)
    await record(database, world, key, 1, await sign_cades(stored, people[1], pem=True), "firmato.pdf.p7m", ca)
    await record(database, world, key, 2, await sign_cades(stored, people[2], detached=True), "firma.p7s", ca)
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force
    async with database.read() as session:
        made = await protocol_bundle.bundle(session, world.protocol_id)

    folder = unpack(made, tmp_path / "bundle")
    assert (folder / "text.pdf").read_bytes() == stored
    assert sorted(path.name for path in (folder / "qualified").iterdir()) == ["01.pdf", "02.p7m", "03.p7s"]
    assert run("sha256sum -c SHA256SUMS", folder).returncode == 0
    assert run("python3 verify.py", folder).returncode == 0  # the statements' seals, as for any signature
    verify_md = (folder / "VERIFY.md").read_text("utf-8")
    assert "01.pdf — CGIL Bologna (Firma CGIL Bologna)" in verify_md
    (folder / "CA.pem").write_bytes(ca.root_pem)
    commands = qualified_commands(verify_md)
    assert [c for c in commands if c.startswith("pyhanko ")] == [
        "pyhanko sign validate --pretty-print --trust CA.pem --trust-replace qualified/01.pdf"
    ]  # pyHanko's command line is not installed here: the library checked the same file on upload
    outputs = []
    for command in commands:
        if command.startswith("pyhanko "):
            continue
        done = run(command, folder)
        assert done.returncode == 0, (command, done.stderr)
        outputs.append(done.stdout.split()[0] if done.stdout.strip() else "")
    # Each file's SHA-256 (sha256sum) is the one its sealed statement binds (python3 -c …).
    hashes = [line for line in outputs if len(line) == 64]
    assert len(hashes) == 6
    assert hashes[0::2] == hashes[1::2]

    # Another PDF in place of text.pdf: the PAdES file does not begin with it, the .p7m does not hold
    # it, the detached signature is broken.
    (folder / "text.pdf").write_bytes(sample_pdf("Un altro testo"))
    failed = [
        c for c in commands if not c.startswith(("pyhanko ", "sha256sum ", "python3 ")) and run(c, folder).returncode
    ]
    assert len(failed) == 3
    assert failed[0].startswith("head -c")
    assert failed[1].startswith("cmp 02-content.pdf")
    assert "-content text.pdf" in failed[2]
    # And a CA that did not issue the certificates: OpenSSL refuses them.
    (folder / "text.pdf").write_bytes(stored)
    (folder / "CA.pem").write_bytes(TestCA.make("Altra CA").root_pem)
    refused = [c for c in commands if c.startswith("openssl ") and run(c, folder).returncode]
    assert len(refused) == 2


async def test_a_bundle_without_qualified_signatures_says_nothing_of_them(database, world, key):
    await sign_as(database, world, key, 0)
    async with database.read() as session:
        made = await protocol_bundle.bundle(session, world.protocol_id)
    with zipfile.ZipFile(io.BytesIO(made)) as archive:
        names = archive.namelist()
        verify_md = next(archive.read(name) for name in names if name.endswith("VERIFY.md")).decode()
    assert not [name for name in names if "/qualified/" in name or name.endswith("/text.pdf")]
    assert "Firme digitali qualificate" not in verify_md
    assert "qualified" not in verify_md


# --- the demo -----------------------------------------------------------------------------------------


async def test_the_demo_protocollo_appalti_has_one_party_signed_with_a_firma_digitale(database):
    await load_demo(database, "una-password-demo-lunga", seeders=("server.demo.protocols",))

    async with database.read() as session:
        protocol = await session.scalar(select(Protocol).where(Protocol.title == demo_qualified.PROTOCOL))
        assert protocol is not None
        assert protocol.status is ProtocolStatus.in_force
        rows = (
            await session.execute(
                select(Signature, Organisation.name)
                .join(ProtocolParty, ProtocolParty.id == Signature.party_id)
                .join(Organisation, Organisation.id == ProtocolParty.organisation_id)
                .where(Signature.protocol_id == protocol.id)
            )
        ).all()
        version = await session.get_one(ProtocolVersion, rows[0][0].version_id)
    kinds = {name: signature.kind for signature, name in rows}
    assert kinds.pop("CGIL Bologna") is SignatureKind.qualified
    assert set(kinds.values()) == {SignatureKind.advanced}
    signature = next(signature for signature, name in rows if name == "CGIL Bologna")
    check = signature.file_check
    assert check["status"] == "valid_revocation_unchecked"  # no network: never fully valid
    assert (check["format"], check["signer_name"], check["fiscal_code"]) == (
        "cades",
        "Marco Zanotti",
        "ZNTMRC70A01A944Q",
    )
    assert check["issuer"] == demo_qualified.CA_NAME
    assert signature.file_name == "Protocollo appalti.pdf.p7m"
    statement = json.loads(signature.statement)
    assert statement["qualified"]["file"]["sha256"] == hashlib.sha256(signature.file).hexdigest()
    # The .p7m holds exactly the version's stored PDF/A, made once.
    assert version.pdf is not None
    assert statement["qualified"]["pdf_sha256"] == version.pdf_sha256 == hashlib.sha256(version.pdf).hexdigest()
    content = cms.ContentInfo.load(signature.file)["content"]["encap_content_info"]["content"].native
    assert content == version.pdf
