"""A protocol's verification bundle: a zip that anyone checks without Tavoli.

The zip holds one folder, `protocollo-<id>-v<version>/`, with:

- `text.md` — the frozen version's canonical text, its exact stored bytes;
- `annexes/NN-<name>.pdf` — the annexes frozen with it, in its order, their stored bytes;
- `signatures/NN.json` and `signatures/NN.sig` — each signature statement's exact sealed bytes and
  its raw Ed25519 seal (64 bytes, not encoded), in the order they were made;
- `jwks.json` — the server's public keys (RFC 8037 JWK set, current and retired);
  `keys/<kid>.pem` — the same keys as PEM files, for `openssl`;
- `verify.py` — a few lines of Python that use only the standard library and `cryptography`:
  each statement's seal under the key its kid names, its text and annex hashes against the files;
- `VERIFY.md` — what is in the bundle and the commands: `sha256sum -c SHA256SUMS`, `python3 verify.py`;
- `SHA256SUMS` — every other file's SHA-256, in `sha256sum` format.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Organisation, Protocol, ProtocolParty, ProtocolVersion, Signature, Table, User
from server.domain import protocol_keys, protocols, qualified_bundle
from server.domain.errors import NotFound
from server.domain.protocol_keys import ServerKey
from server.domain.signatures import annex_bytes
from server.i18n import _

__all__ = ["bundle", "bundle_file_name", "bundled_version", "verify_document", "verify_script"]

SUMS = "SHA256SUMS"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "allegato"
    stem = stem[:80]
    return stem if stem.lower().endswith(".pdf") else f"{stem}.pdf"


async def bundled_version(session: AsyncSession, protocol_id: int) -> ProtocolVersion | None:
    """The version a bundle is of: the one its latest signature signed, else the current one, else the latest."""
    signed = await session.scalar(
        select(Signature.version_id)
        .where(Signature.protocol_id == protocol_id)
        .order_by(Signature.signed_at.desc(), Signature.id.desc())
        .limit(1)
    )
    if signed is not None:
        return await session.get(ProtocolVersion, signed)
    current = await protocols.current_version(session, protocol_id)
    if current is not None:
        return current
    return await session.scalar(
        select(ProtocolVersion)
        .where(ProtocolVersion.protocol_id == protocol_id)
        .order_by(ProtocolVersion.number.desc())
        .limit(1)
    )


def bundle_file_name(protocol_id: int, version_number: int) -> str:
    """The bundle's folder and (with .zip) its file name."""
    return f"protocollo-{protocol_id}-v{version_number}"


@dataclass(frozen=True)
class _Signed:
    number: int
    organisation: str
    signer: str
    statement: bytes
    seal: bytes


async def bundle(
    session: AsyncSession, protocol_id: int, *, current: ServerKey | None = None, base_url: str | None = None
) -> bytes:
    """The verification bundle (a zip of one folder, `bundle_file_name(id, version)`) of the protocol's
    signed (or current) version. `current`: the key file's key, listed in jwks.json even before it
    sealed anything; `base_url`: where VERIFY.md says the server publishes its keys. NotFound for a
    protocol that was never frozen."""
    found = (
        await session.execute(
            select(Protocol, Table.slug).join(Table, Table.id == Protocol.table_id).where(Protocol.id == protocol_id)
        )
    ).first()
    if found is None:
        raise NotFound(_("This protocol does not exist."))
    protocol, slug = found
    version = await bundled_version(session, protocol_id)
    if version is None:
        raise NotFound(_("This protocol has no frozen text yet: it has not been opened for signature."))
    rows = (
        await session.execute(
            select(Signature, Organisation.name, User.name)
            .join(ProtocolParty, ProtocolParty.id == Signature.party_id)
            .join(Organisation, Organisation.id == ProtocolParty.organisation_id)
            .outerjoin(User, User.id == Signature.signer_id)
            .where(Signature.version_id == version.id)
            .order_by(Signature.signed_at, Signature.id)
        )
    ).all()
    signed = [
        _Signed(n, organisation, signer or "", bytes(signature.statement), bytes(signature.seal))
        for n, (signature, organisation, signer) in enumerate(rows, start=1)
    ]
    waiting = (
        await session.execute(
            select(Organisation.name)
            .join(ProtocolParty, ProtocolParty.organisation_id == Organisation.id)
            .where(
                ProtocolParty.protocol_id == protocol_id,
                ProtocolParty.id.not_in(select(Signature.party_id).where(Signature.version_id == version.id)),
            )
            .order_by(ProtocolParty.position, ProtocolParty.id)
        )
    ).scalars()
    keys = await protocol_keys.jwks(session, current)
    data = await annex_bytes(session, [version])
    folder = bundle_file_name(protocol_id, version.number)
    files: dict[str, bytes] = {"text.md": bytes(version.text)}
    annex_files: list[tuple[str, str]] = []
    for n, annex in enumerate(version.annexes or [], start=1):
        path = f"annexes/{n:02d}-{_safe(str(annex['name']))}"
        files[path] = data.get(int(annex["annex_id"]), b"")
        annex_files.append((path, str(annex["name"])))
    for item in signed:
        files[f"signatures/{item.number:02d}.json"] = item.statement
        files[f"signatures/{item.number:02d}.sig"] = item.seal
    qualified = qualified_bundle.qualified_files(
        [(item.number, item.organisation, item.signer, row[0]) for item, row in zip(signed, rows, strict=True)]
    )
    files.update(qualified_bundle.bundle_files(qualified, version))
    files["jwks.json"] = (json.dumps(keys, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    pem_files = []
    for key in keys["keys"]:
        public = Ed25519PublicKey.from_public_bytes(protocol_keys.b64url_decode(key["x"]))
        path = f"keys/{key['kid']}.pem"
        files[path] = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        pem_files.append((key["kid"], path))
    files["verify.py"] = verify_script(protocol_id, version.number).encode("utf-8")
    files["VERIFY.md"] = (
        verify_document(
            title=protocol.title,
            table=slug,
            protocol_id=protocol_id,
            version=version,
            annexes=annex_files,
            signed=signed,
            waiting=list(waiting),
            base_url=base_url,
        )
        + qualified_bundle.verify_section(qualified, version)
    ).encode("utf-8")
    files[SUMS] = "".join(f"{_sha256(files[path])}  {path}\n" for path in sorted(files)).encode("utf-8")
    moment = version.created_at.astimezone(UTC)
    stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(f"{folder}/{path}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[path])
    return buffer.getvalue()


# --- verify.py and VERIFY.md --------------------------------------------------------------------------

_SCRIPT = '''#!/usr/bin/env python3
"""{doc}"""

import base64
import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PROTOCOL, VERSION = {protocol_id}, {version}
SAY = {messages}
HERE = Path(__file__).resolve().parent


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(x):
    members = json.dumps({{"crv": "Ed25519", "kty": "OKP", "x": x}}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


keys = {{}}
for key in json.loads((HERE / "jwks.json").read_text("utf-8"))["keys"]:
    if key.get("kty") == "OKP" and key.get("crv") == "Ed25519" and thumbprint(key["x"]) == key.get("kid"):
        keys[key["kid"]] = Ed25519PublicKey.from_public_bytes(unb64(key["x"]))
text = sha256(HERE / "text.md")
annexes = [sha256(path) for path in sorted((HERE / "annexes").glob("*"))] if (HERE / "annexes").is_dir() else []
statements = sorted((HERE / "signatures").glob("*.json")) if (HERE / "signatures").is_dir() else []
broken = 0
for path in statements:
    data = path.read_bytes()
    seal = path.with_suffix(".sig").read_bytes() if path.with_suffix(".sig").is_file() else b""
    reasons = []
    try:
        statement = json.loads(data.decode("utf-8"))
    except ValueError:
        statement = {{}}
    if not isinstance(statement, dict) or statement.get("type") != "tavoli.signature/1":
        statement = {{}}
        reasons.append(SAY["not_statement"])
    key = keys.get(statement.get("kid"))
    if key is None:
        reasons.append(SAY["unknown_key"])
    else:
        try:
            key.verify(seal, data)
        except InvalidSignature:
            reasons.append(SAY["seal"])
    if (statement.get("protocol") or {{}}).get("id") != PROTOCOL or statement.get("version") != VERSION:
        reasons.append(SAY["other"])
    if statement.get("text_sha256") != text:
        reasons.append(SAY["text"])
    if [annex.get("sha256") for annex in statement.get("annexes") or []] != annexes:
        reasons.append(SAY["annexes"])
    party, signer = statement.get("party") or {{}}, statement.get("signer") or {{}}
    who = "{{}} ({{}})".format(party.get("organisation", "?"), signer.get("name", "?"))
    if reasons:
        broken += 1
        print(path.name, who, SAY["broken"], "; ".join(reasons))
    else:
        print(path.name, who, SAY["valid"])
if not statements:
    print(SAY["none"])
print(SAY["text_hash"], text)
sys.exit(1 if broken or not statements else 0)
'''


def verify_script(protocol_id: int, version: int) -> str:
    """verify.py: checks the bundle's signatures with the standard library and `cryptography` only."""
    messages = {
        "not_statement": _("not a signature statement of Tavoli"),
        "unknown_key": _("its key is not in jwks.json"),
        "seal": _("the seal does not match the statement (the statement was changed after it was sealed)"),
        "other": _("the statement is about another protocol or version"),
        "text": _("text.md is not the text signed"),
        "annexes": _("the annexes are not the ones signed"),
        "broken": _("BROKEN:"),
        "valid": _("valid"),
        "none": _("No signature in this bundle."),
        "text_hash": _("SHA-256 of text.md:"),
    }
    return _SCRIPT.format(
        doc=_("Checks every signature of this bundle; exits with 1 when one is broken. Run: python3 verify.py"),
        protocol_id=protocol_id,
        version=version,
        messages=json.dumps(messages, ensure_ascii=False, indent=4),
    )


def verify_document(
    *,
    title: str,
    table: str,
    protocol_id: int,
    version: ProtocolVersion,
    annexes: list[tuple[str, str]],
    signed: list[_Signed],
    waiting: list[str],
    base_url: str | None,
) -> str:
    """VERIFY.md: what the bundle holds and the commands that check it without Tavoli."""
    lines = [
        "# " + _("Checking the signatures of «{title}»").format(title=title),
        "",
        _("Protocol {id} of the table {table}, version {version}.").format(
            id=protocol_id, table=table, version=version.number
        ),
        "",
        _(
            "text.md is the protocol's canonical text as signed: UTF-8, Unicode NFC, LF line endings, exactly "
            "one final newline. Its SHA-256 is {sha}."
        ).format(sha=version.text_sha256),
        "",
    ]
    if annexes:
        lines.append(_("Annexes (in the folder annexes/), with the SHA-256 frozen with the text:"))
        lines.append("")
        for (path, name), frozen in zip(annexes, version.annexes or [], strict=False):
            lines.append(f"- {path} — {name} — `{frozen['sha256']}`")
        lines.append("")
    lines += [
        _(
            "Each signature is a statement in signatures/ (NN.json, the exact bytes the server sealed: a "
            "canonical JSON naming the protocol, the version, the text's and the annexes' SHA-256, the party, "
            "the signer, the role, the time and the key's kid) and its seal (NN.sig, the raw 64-byte Ed25519 "
            "signature of those bytes). jwks.json holds the server's public keys (RFC 8037; each kid is the "
            "key's RFC 7638 thumbprint), keys/ the same keys as PEM files."
        ),
        "",
    ]
    if signed:
        lines.append(_("Signatures:"))
        lines.append("")
        lines += [f"- signatures/{item.number:02d}.json — {item.organisation} ({item.signer})" for item in signed]
        lines.append("")
    if waiting:
        lines.append(_("Parties that have not signed this version: {names}.").format(names=", ".join(waiting)))
        lines.append("")
    lines += [
        _(
            "In this folder, run the commands below (sha256sum, and Python 3 with the `cryptography` package: "
            "pip install cryptography). The first checks that no file changed since the bundle was made; the "
            "second checks each seal and that each statement binds text.md and the annexes. Both exit with 0 "
            "when everything holds, and say what is broken and exit with 1 otherwise."
        ),
        "",
        "```sh",
        f"sha256sum -c {SUMS}",
        "python3 verify.py",
        "```",
        "",
        _("Each seal can also be checked with OpenSSL 3 alone:"),
        "",
        "```sh",
    ]
    for item in signed:
        kid = _statement_kid(item.statement)
        lines.append(
            f"openssl pkeyutl -verify -pubin -inkey keys/{kid}.pem -rawin "
            f"-in signatures/{item.number:02d}.json -sigfile signatures/{item.number:02d}.sig"
        )
    lines += ["```", ""]
    where = f"{base_url.rstrip('/')}/.well-known/jwks.json" if base_url else "/.well-known/jwks.json"
    lines += [
        _(
            "The bundle proves that the statements were sealed by the keys in jwks.json: compare those keys "
            "with the ones the server publishes at {where} (or that `tavoli keys show` prints)."
        ).format(where=where),
        "",
    ]
    return "\n".join(lines)


def _statement_kid(statement: bytes) -> str:
    try:
        kid = json.loads(statement.decode("utf-8")).get("kid")
    except (UnicodeDecodeError, ValueError, AttributeError):
        return "?"
    return kid if isinstance(kid, str) and re.fullmatch(r"[A-Za-z0-9_-]+", kid) else "?"
