"""The verification bundle, checked by the commands of its own VERIFY.md (sha256sum, and verify.py
run by a Python that has `cryptography` but no Tavoli), on a good bundle and on bundles tampered
with (text, annex, statement, keys); and `tavoli verify`, which names the protocol, the party and
why when the stored text, an annex or a statement changed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from server.cli import cli
from server.db.models import ProtocolAnnex, ProtocolStatus, ProtocolVersion, Signature
from server.db.session import Database
from server.domain import protocol_bundle, protocol_keys
from server.domain.errors import NotFound
from server.domain.protocol_keys import ServerKey
from server.domain.protocol_text import canonical
from server.i18n import use_locale
from tests.conftest import run_async
from tests.test_signatures import PDF, TEXT, World, build, sign_as, status

FOLDER = "protocollo-1-v1"


@pytest.fixture(autouse=True)
def english():
    with use_locale("en"):
        yield


@pytest.fixture
def key(tmp_path: Path) -> ServerKey:
    return protocol_keys.create_key_file(tmp_path / "signing.key")


@pytest.fixture
async def signed(database, password_hash, key) -> World:
    """The protocol in force: both parties signed."""
    world = await build(database, password_hash)
    await sign_as(database, world, key, 0)
    await sign_as(database, world, key, 1)
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force
    return world


async def make_bundle(database: Database, protocol_id: int, key: ServerKey | None = None) -> bytes:
    async with database.read() as session:
        return await protocol_bundle.bundle(session, protocol_id, current=key, base_url="https://tavoli.example.org")


def unzip(data: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert all(name.startswith(f"{FOLDER}/") and ".." not in name for name in names)
        archive.extractall(into)
    return into / FOLDER


@pytest.fixture
def python3(tmp_path: Path) -> dict[str, str]:
    """An environment whose `python3` is the tests' interpreter (it has `cryptography`), started
    outside the repository and without PYTHONPATH, so that verify.py cannot import Tavoli."""
    folder = tmp_path / "bin"
    folder.mkdir()
    wrapper = folder / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I "$@"\n')
    wrapper.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment["PATH"] = f"{folder}{os.pathsep}{environment.get('PATH', '')}"
    environment["LC_ALL"] = "C.UTF-8"
    return environment


def blocks(folder: Path) -> list[list[str]]:
    """The command lines of each shell block of VERIFY.md, as written."""
    found = re.findall(r"```sh\n(.*?)```", (folder / "VERIFY.md").read_text("utf-8"), flags=re.DOTALL)
    return [[line for line in block.splitlines() if line.strip()] for block in found]


def run(folder: Path, command: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command], cwd=folder, env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def resum(folder: Path) -> None:
    """SHA256SUMS made again over the changed files: only verify.py can tell now."""
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    names = [line.split("  ", 1)[1] for line in lines]
    (folder / "SHA256SUMS").write_text(
        "".join(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n" for name in names)
    )


@pytest.fixture
async def bundle_folder(database, signed, key, tmp_path) -> Path:
    return unzip(await make_bundle(database, signed.protocol_id, key), tmp_path / "bundle")


# --- What the bundle holds ----------------------------------------------------------------------------


async def test_the_bundle_holds_the_exact_bytes_signed(database, signed, key, bundle_folder):
    folder = bundle_folder
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == [
        "SHA256SUMS",
        "VERIFY.md",
        "annexes/01-Allegato-1-tabella-salari.pdf",
        "jwks.json",
        f"keys/{key.kid}.pem",
        "signatures/01.json",
        "signatures/01.sig",
        "signatures/02.json",
        "signatures/02.sig",
        "text.md",
        "verify.py",
    ]
    assert (folder / "text.md").read_bytes() == canonical(TEXT)
    assert (folder / "annexes/01-Allegato-1-tabella-salari.pdf").read_bytes() == PDF + b"% allegato 0\n"
    async with database.read() as session:
        stored = (await session.execute(Signature.__table__.select().order_by(Signature.id))).all()
    for n, row in enumerate(stored, start=1):
        assert (folder / f"signatures/{n:02d}.json").read_bytes() == row.statement
        assert (folder / f"signatures/{n:02d}.sig").read_bytes() == row.seal
        assert len(row.seal) == 64
    assert json.loads((folder / "jwks.json").read_text()) == {"keys": [protocol_keys.jwk(key.public)]}
    sums = (folder / "SHA256SUMS").read_text().splitlines()
    assert [line.split("  ", 1)[1] for line in sums] == [f for f in files if f != "SHA256SUMS"]
    document = (folder / "VERIFY.md").read_text()
    assert "# Checking the signatures of «Protocollo appalti «2031»»" in document
    assert hashlib.sha256(canonical(TEXT)).hexdigest() in document
    assert "https://tavoli.example.org/.well-known/jwks.json" in document
    assert "- signatures/01.json — CGIL Bologna (Firma CGIL Bologna)" in document
    assert "import server" not in (folder / "verify.py").read_text()


async def test_a_bundle_is_the_same_bytes_each_time(database, signed, key):
    assert await make_bundle(database, signed.protocol_id, key) == await make_bundle(database, signed.protocol_id, key)


async def test_a_protocol_never_opened_has_no_bundle(database, password_hash):
    world = await build(database, password_hash)
    async with database.transaction() as session:
        await session.execute(ProtocolVersion.__table__.delete())
    with pytest.raises(NotFound, match="has not been opened for signature"):
        await make_bundle(database, world.protocol_id)
    with pytest.raises(NotFound, match=r"This protocol does not exist\."):
        await make_bundle(database, 999_999)


# --- Its commands --------------------------------------------------------------------------------------


def test_verify_md_commands_pass_on_the_bundle(bundle_folder, python3):
    main, *_ = blocks(bundle_folder)
    assert main == ["sha256sum -c SHA256SUMS", "python3 verify.py"]
    for command in main:
        result = run(bundle_folder, command, python3)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    out = run(bundle_folder, "python3 verify.py", python3).stdout.splitlines()
    assert out[:2] == [
        "01.json CGIL Bologna (Firma CGIL Bologna) valid",
        "02.json Confcommercio Ascom Bologna (Firma Confcommercio Ascom Bologna) valid",
    ]
    assert out[2] == f"SHA-256 of text.md: {hashlib.sha256(canonical(TEXT)).hexdigest()}"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on this machine")
def test_each_seal_checks_with_openssl_alone(bundle_folder, python3):
    _main, seals = blocks(bundle_folder)
    assert len(seals) == 2
    for command in seals:
        result = run(bundle_folder, command, python3)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        assert "Signature Verified Successfully" in result.stdout
    (bundle_folder / "signatures/02.json").write_bytes(
        (bundle_folder / "signatures/02.json").read_bytes().replace(b"Confcommercio", b"Confcommercia")
    )
    assert run(bundle_folder, seals[1], python3).returncode != 0


def fails(folder: Path, environment: dict[str, str]) -> str:
    """Both commands fail on a tampered bundle; with its sums made again, verify.py alone still does."""
    checked = run(folder, "sha256sum -c SHA256SUMS", environment)
    assert checked.returncode != 0
    assert "FAILED" in checked.stdout
    resum(folder)
    assert run(folder, "sha256sum -c SHA256SUMS", environment).returncode == 0
    result = run(folder, "python3 verify.py", environment)
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


def test_one_character_of_the_text_changed_fails(bundle_folder, python3):
    text = bundle_folder / "text.md"
    text.write_bytes(text.read_bytes().replace(b"2031-12-31", b"2031-12-30"))
    out = fails(bundle_folder, python3)
    assert "01.json CGIL Bologna (Firma CGIL Bologna) BROKEN: text.md is not the text signed" in out
    assert out.count("BROKEN: text.md is not the text signed") == 2


def test_one_byte_of_an_annex_changed_fails(bundle_folder, python3):
    annex = bundle_folder / "annexes/01-Allegato-1-tabella-salari.pdf"
    annex.write_bytes(annex.read_bytes().replace(b"allegato 0", b"allegato 9"))
    out = fails(bundle_folder, python3)
    assert out.count("BROKEN: the annexes are not the ones signed") == 2


def test_one_character_of_a_statement_changed_fails(bundle_folder, python3):
    statement = bundle_folder / "signatures/01.json"
    statement.write_bytes(statement.read_bytes().replace(b'"role":"signatory"', b'"role":"substitute"'))
    out = fails(bundle_folder, python3)
    assert "01.json CGIL Bologna (Firma CGIL Bologna) BROKEN: the seal does not match the statement" in out
    assert "02.json Confcommercio Ascom Bologna (Firma Confcommercio Ascom Bologna) valid" in out


def test_a_key_set_swapped_for_another_key_fails(bundle_folder, python3, tmp_path):
    other = protocol_keys.create_key_file(tmp_path / "other.key")
    (bundle_folder / "jwks.json").write_text(json.dumps({"keys": [protocol_keys.jwk(other.public)]}))
    out = fails(bundle_folder, python3)
    assert out.count("BROKEN: its key is not in jwks.json") == 2


async def test_a_bundle_of_a_tampered_database_fails_its_own_check(database, signed, key, tmp_path, python3):
    async with database.transaction() as session:
        await session.execute(update(ProtocolVersion).values(text=canonical(TEXT.replace("sociale", "speciale"))))
    folder = unzip(await make_bundle(database, signed.protocol_id, key), tmp_path / "tampered")
    assert run(folder, "sha256sum -c SHA256SUMS", python3).returncode == 0  # made from what is stored
    result = run(folder, "python3 verify.py", python3)
    assert result.returncode == 1
    assert result.stdout.count("BROKEN: text.md is not the text signed") == 2


async def test_an_open_protocol_lists_who_has_not_signed(database, password_hash, key, tmp_path, python3):
    world = await build(database, password_hash)
    await sign_as(database, world, key, 1)
    folder = unzip(await make_bundle(database, world.protocol_id), tmp_path / "open")
    assert "Parties that have not signed this version: CGIL Bologna." in (folder / "VERIFY.md").read_text()
    assert json.loads((folder / "jwks.json").read_text()) == {"keys": [protocol_keys.jwk(key.public)]}
    for command in blocks(folder)[0]:
        assert run(folder, command, python3).returncode == 0


# --- tavoli verify ---------------------------------------------------------------------------------------


def tavoli_verify(database_url: str, tmp_path: Path, locale: str = "en"):
    return CliRunner().invoke(
        cli,
        ["verify"],
        env={
            "TAVOLI_DATABASE_URL": database_url,
            "TAVOLI_MINUTES_DIR": str(tmp_path / "minutes"),
            "TAVOLI_DEFAULT_LOCALE": locale,
        },
    )


def change(database_url: str, statement) -> None:
    async def go() -> None:
        database = Database(database_url)
        try:
            async with database.transaction() as session:
                await session.execute(statement)
        finally:
            await database.dispose()

    run_async(go())


@pytest.fixture
def signed_twice(database_url, password_hash, tmp_path) -> World:
    """Two protocols on two tables, all signed (built on a loop of its own: the command line runs its own)."""
    key = protocol_keys.create_key_file(tmp_path / "cli.key")

    async def go() -> World:
        database = Database(database_url)
        try:
            world = await build(database, password_hash)
            other = await build(database, password_hash, slug="cantieri")
            for each in (world, other):
                await sign_as(database, each, key, 0)
                await sign_as(database, each, key, 1)
            return world
        finally:
            await database.dispose()

    return run_async(go())


PREFIX = "appalti: protocol 1 «Protocollo appalti «2031»»"


def test_tavoli_verify_checks_every_protocol_and_signature(database_url, signed_twice, tmp_path):
    result = tavoli_verify(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "The protocols hold: 2 protocols, 2 frozen versions, 4 valid signatures." in result.stdout


def test_tavoli_verify_names_the_protocol_party_and_why_for_a_changed_text(database_url, signed_twice, tmp_path):
    text = canonical(TEXT)
    tampered = text.replace(b"Applicare", b"Applicate")
    change(database_url, update(ProtocolVersion).where(ProtocolVersion.id == 1).values(text=tampered))
    result = tavoli_verify(database_url, tmp_path)
    assert result.exit_code == 1
    actual, signed = hashlib.sha256(tampered).hexdigest(), hashlib.sha256(text).hexdigest()
    assert result.stdout.splitlines() == [
        f"{PREFIX}: The stored text of version 1 is not the text frozen: its SHA-256 is {actual}, not {signed}.",
        f"{PREFIX} — signature of CGIL Bologna: The text is not the one signed: its SHA-256 is {actual}, "
        f"the statement binds {signed}.",
        f"{PREFIX} — signature of Confcommercio Ascom Bologna: The text is not the one signed: its SHA-256 is "
        f"{actual}, the statement binds {signed}.",
    ]
    assert "3 problems in the protocols." in result.output


def test_tavoli_verify_names_a_changed_annex(database_url, signed_twice, tmp_path):
    change(database_url, update(ProtocolAnnex).where(ProtocolAnnex.id == 2).values(data=PDF))
    result = tavoli_verify(database_url, tmp_path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("cantieri: protocol 2 «Protocollo appalti «2031»»: The annex «Allegato 1")
    assert "is not the one frozen: its SHA-256 is" in lines[0]


def test_tavoli_verify_names_a_changed_statement(database_url, signed_twice, tmp_path):
    async def statement() -> bytes:
        database = Database(database_url)
        try:
            async with database.read() as session:
                return bytes((await session.get_one(Signature, 2)).statement)
        finally:
            await database.dispose()

    tampered = run_async(statement()).replace(b"Firma Confcommercio", b"Firma Confcommerci0")
    change(database_url, update(Signature).where(Signature.id == 2).values(statement=tampered))
    result = tavoli_verify(database_url, tmp_path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{PREFIX} — signature of Confcommercio Ascom Bologna: The seal does not match the statement: the "
        "statement was changed after it was sealed."
    ]


def test_tavoli_verify_speaks_italian(database_url, signed_twice, tmp_path):
    change(database_url, update(ProtocolVersion).where(ProtocolVersion.id == 1).values(text=b"altro\n"))
    result = tavoli_verify(database_url, tmp_path, locale="it")
    assert result.exit_code == 1
    assert "appalti: protocollo 1 «Protocollo appalti «2031»» — firma di CGIL Bologna: " in result.stdout
    assert "3 problemi nei protocolli." in result.output
