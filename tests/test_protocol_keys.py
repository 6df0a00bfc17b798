"""The server's signing keys: the key file (PEM, PKCS#8, mode 0600), the kid as RFC 7638 thumbprint
(RFC 8037's own example), the JWK set with the retired keys, `tavoli keys init|show|rotate`, a
rotation that keeps the signatures sealed before it valid, and `/.well-known/jwks.json`."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from starlette.testclient import TestClient

from server.app import create_app
from server.cli import cli
from server.config import Settings
from server.db.models import SigningKey
from server.db.session import Database
from server.domain import protocol_keys
from server.domain.protocol_keys import KeyFileError
from server.i18n import use_locale
from tests.conftest import BASE_URL, SECRET, run_async
from tests.test_signatures import build, checks, sign_as

# RFC 8037, Appendix A.1 and A.3: the example Ed25519 key and its RFC 7638 thumbprint.
RFC_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.fixture(autouse=True)
def english():
    with use_locale("en"):
        yield


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rfc_key_file(path: Path) -> Path:
    private = Ed25519PrivateKey.from_private_bytes(protocol_keys.b64url_decode(RFC_D))
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


# --- The key and its kid --------------------------------------------------------------------------


def test_the_kid_is_the_rfc_7638_thumbprint_of_rfc_8037s_example(tmp_path):
    assert protocol_keys.thumbprint(protocol_keys.b64url_decode(RFC_X)) == RFC_KID
    key = protocol_keys.load_key(rfc_key_file(tmp_path / "rfc.key"))
    assert (key.x, key.kid) == (RFC_X, RFC_KID)
    assert protocol_keys.jwk(key.public) == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC_X,
        "kid": RFC_KID,
        "use": "sig",
        "alg": "EdDSA",
    }


def test_a_new_key_file_is_a_pkcs8_pem_readable_by_its_owner_only(tmp_path):
    previous = os.umask(0)
    try:
        key = protocol_keys.create_key_file(tmp_path / "signing.key")
    finally:
        os.umask(previous)
    data = (tmp_path / "signing.key").read_bytes()
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert mode(tmp_path / "signing.key") == 0o600
    assert protocol_keys.load_key(tmp_path / "signing.key").kid == key.kid
    assert protocol_keys.seal_valid(key.public, b"testo", key.seal(b"testo"))
    assert not protocol_keys.seal_valid(key.public, b"testo!", key.seal(b"testo"))


def test_an_existing_key_file_is_never_overwritten(tmp_path):
    path = rfc_key_file(tmp_path / "signing.key")
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists: it was left as it is"):
        protocol_keys.create_key_file(path)
    assert path.read_bytes() == before
    kept, created = protocol_keys.ensure_key_file(path)
    assert not created
    assert kept.kid == RFC_KID


def test_a_missing_or_wrong_key_file_says_what_to_do(tmp_path):
    with pytest.raises(KeyFileError, match=r"does not exist\. Create it with `tavoli keys init`"):
        protocol_keys.load_key(tmp_path / "nowhere.key")
    (tmp_path / "garbage.key").write_text("not a key\n")
    with pytest.raises(KeyFileError, match="does not hold an unencrypted Ed25519 private key"):
        protocol_keys.load_key(tmp_path / "garbage.key")
    other = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.key").write_bytes(
        other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(KeyFileError, match="does not hold an unencrypted Ed25519 private key"):
        protocol_keys.load_key(tmp_path / "ec.key")


def test_ensure_makes_a_missing_key_file_once(tmp_path):
    made, created = protocol_keys.ensure_key_file(tmp_path / "signing.key")
    assert created
    assert mode(tmp_path / "signing.key") == 0o600
    again, created = protocol_keys.ensure_key_file(tmp_path / "signing.key")
    assert not created
    assert again.kid == made.kid


# --- The JWK set and rotation -------------------------------------------------------------------------


async def test_the_set_lists_the_key_files_key_before_it_sealed_anything(database, tmp_path):
    key = protocol_keys.create_key_file(tmp_path / "signing.key")
    async with database.read() as session:
        assert await protocol_keys.jwks(session) == {"keys": []}
        assert await protocol_keys.jwks(session, key) == {"keys": [protocol_keys.jwk(key.public)]}


async def test_registering_a_key_retires_the_others_and_keeps_them_in_the_set(database, tmp_path):
    first = protocol_keys.create_key_file(tmp_path / "first.key")
    second = protocol_keys.create_key_file(tmp_path / "second.key")
    async with database.transaction() as session:
        await protocol_keys.register(session, first)
        await protocol_keys.register(session, first)  # once
    async with database.transaction() as session:
        await protocol_keys.register(session, second)
    async with database.read() as session:
        rows = {row.kid: row.retired_at for row in (await session.scalars(select(SigningKey))).all()}
        assert rows.keys() == {first.kid, second.kid}
        assert rows[first.kid] is not None
        assert rows[second.kid] is None
        assert [k["kid"] for k in (await protocol_keys.jwks(session, second))["keys"]] == [second.kid, first.kid]
        assert [k["kid"] for k in (await protocol_keys.jwks(session))["keys"]] == [second.kid, first.kid]
        assert await protocol_keys.public_keys(session) == {first.kid: first.public, second.kid: second.public}


async def test_rotation_keeps_the_signatures_sealed_before_it_valid(database, password_hash, tmp_path):
    path = tmp_path / "signing.key"
    old = protocol_keys.create_key_file(path)
    assert protocol_keys.current_key(path).kid == old.kid
    world = await build(database, password_hash)
    await sign_as(database, world, protocol_keys.current_key(path), 0)
    async with database.transaction() as session:
        retired, new, fresh = await protocol_keys.rotate(session, path)
    aside = protocol_keys.finish_rotation(path, retired, fresh)
    assert retired.kid == old.kid
    assert new.kid != old.kid
    assert protocol_keys.load_key(aside).kid == old.kid
    assert mode(aside) == 0o600
    assert protocol_keys.load_key(path).kid == new.kid
    assert mode(path) == 0o600
    assert not fresh.exists()
    assert protocol_keys.current_key(path).kid == new.kid  # read again: no restart needed
    second = await sign_as(database, world, protocol_keys.current_key(path), 1)
    assert second.key_id == new.kid
    found = await checks(database, world.protocol_id)
    assert [(c.signature.key_id, c.check.valid) for c in found] == [(old.kid, True), (new.kid, True)]
    async with database.read() as session:
        assert [k["kid"] for k in (await protocol_keys.jwks(session, new))["keys"]] == [new.kid, old.kid]
        rows = {row.kid: row.retired_at for row in (await session.scalars(select(SigningKey))).all()}
    assert rows[old.kid] is not None
    assert rows[new.kid] is None


async def test_a_rotation_that_does_not_commit_leaves_the_key_in_place(database, tmp_path):
    (tmp_path / "keys").mkdir()
    path = tmp_path / "keys" / "signing.key"
    old = protocol_keys.create_key_file(path)
    made = []
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            _, _, fresh = await protocol_keys.rotate(session, path)
            made.append(fresh)
            raise RuntimeError("the commit failed")
    made[0].unlink()  # what `tavoli keys rotate` does
    assert protocol_keys.load_key(path).kid == old.kid
    assert sorted(p.name for p in path.parent.iterdir()) == ["signing.key"]
    async with database.read() as session:
        assert await protocol_keys.public_keys(session) == {}


# --- The command line ---------------------------------------------------------------------------------


def tavoli(database_url: str, key_file: Path, *args: str):
    return CliRunner().invoke(
        cli,
        list(args),
        env={
            "TAVOLI_DATABASE_URL": database_url,
            "TAVOLI_SIGNING_KEY_FILE": str(key_file),
            "TAVOLI_DEFAULT_LOCALE": "en",
        },
    )


def test_keys_init_creates_the_file_and_show_prints_the_same_kid_and_x(database_url, tmp_path):
    path = tmp_path / "keys" / "signing.key"
    path.parent.mkdir()
    made = tavoli(database_url, path, "keys", "init")
    assert made.exit_code == 0, made.output
    key = protocol_keys.load_key(path)
    assert mode(path) == 0o600
    assert made.stdout.splitlines() == [f"Signing key created in {path}.", f"kid: {key.kid}", f"x: {key.x}"]
    shown = tavoli(database_url, path, "keys", "show")
    assert shown.exit_code == 0
    assert shown.stdout.splitlines() == [f"kid: {key.kid}", f"x: {key.x}"]
    as_jwk = tavoli(database_url, path, "keys", "show", "--jwk")
    assert json.loads(as_jwk.stdout) == protocol_keys.jwk(key.public)
    again = tavoli(database_url, path, "keys", "init")
    assert again.exit_code == 1
    assert f"Error: The signing key file {path} already exists: it was left as it is." in again.output
    assert protocol_keys.load_key(path).kid == key.kid


def test_keys_show_without_a_key_says_to_run_init(database_url, tmp_path):
    result = tavoli(database_url, tmp_path / "none.key", "keys", "show")
    assert result.exit_code == 1
    assert "Create it with `tavoli keys init`." in result.output


def test_keys_rotate_retires_the_old_key_and_moves_its_file_aside(database_url, tmp_path):
    (tmp_path / "keys").mkdir()
    path = tmp_path / "keys" / "signing.key"
    old = protocol_keys.create_key_file(path)
    result = tavoli(database_url, path, "keys", "rotate")
    assert result.exit_code == 0, result.output
    new = protocol_keys.load_key(path)
    (aside,) = [p for p in path.parent.iterdir() if p.name != "signing.key"]
    assert aside.name.startswith("signing.key.retired-")
    assert protocol_keys.load_key(aside).kid == old.kid
    assert result.stdout.splitlines() == [
        f"The key {old.kid} is retired; its file was moved to {aside}.",
        f"New signing key in {path}.",
        f"kid: {new.kid}",
        f"x: {new.x}",
    ]

    async def listed() -> list[str]:
        database = Database(database_url)
        try:
            async with database.read() as session:
                return [k["kid"] for k in (await protocol_keys.jwks(session))["keys"]]
        finally:
            await database.dispose()

    assert run_async(listed()) == [new.kid, old.kid]


def test_keys_rotate_without_a_key_changes_nothing(database_url, tmp_path):
    (tmp_path / "keys").mkdir()
    result = tavoli(database_url, tmp_path / "keys" / "none.key", "keys", "rotate")
    assert result.exit_code == 1
    assert "Create it with `tavoli keys init`." in result.output
    assert list((tmp_path / "keys").iterdir()) == []


# --- /.well-known/jwks.json ---------------------------------------------------------------------------


def test_the_well_known_set_lists_the_current_and_retired_keys(database_url, tmp_path):
    path = tmp_path / "signing.key"
    settings = Settings(database_url=database_url, base_url=BASE_URL, secret_key=SECRET, signing_key_file=str(path))
    old = protocol_keys.create_key_file(tmp_path / "old.key")

    async def register() -> None:
        database = Database(database_url)
        try:
            async with database.transaction() as session:
                await protocol_keys.register(session, old)
        finally:
            await database.dispose()

    run_async(register())
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        response = client.get("/.well-known/jwks.json")  # no key file: what the database knows
        assert response.status_code == 200
        assert response.json() == {"keys": [protocol_keys.jwk(old.public)]}
        new = protocol_keys.create_key_file(path)
        response = client.get("/.well-known/jwks.json")  # no login needed
        assert client.post("/.well-known/jwks.json").status_code in (403, 405)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {"keys": [protocol_keys.jwk(new.public), protocol_keys.jwk(old.public)]}
