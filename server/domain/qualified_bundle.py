"""What a protocol's verification bundle adds for the qualified signatures (firma digitale) parties brought.

For every signature of the bundled version that is qualified, the bundle (server/domain/protocol_bundle.py)
holds the file the party uploaded, exactly as uploaded, as `qualified/NN.pdf` (PAdES), `qualified/NN.p7m`
(CAdES, enveloping) or `qualified/NN.p7s` (CAdES, detached) — NN is the number of its sealed statement
`signatures/NN.json`, which binds the file's SHA-256 (`qualified.file.sha256`) — and `text.pdf`, the
version's stored PDF/A that the parties signed (server/domain/protocol_seal.py). `VERIFY.md` gains a
section with the commands that check them with standard tools: `sha256sum` against the statement,
pyHanko's command line for a PAdES PDF (and `head`/`cmp` for "it begins with exactly text.pdf"),
`openssl cms -verify` for a `.p7m` or a detached `.p7s` — against the certificate of the qualified CA
that issued the signer's (the EU trusted list's), never against anything Tavoli ships.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.db.models import ProtocolVersion, Signature, SignatureKind
from server.i18n import _

__all__ = ["STORED_PDF", "QualifiedFile", "bundle_files", "qualified_files", "verify_section"]

STORED_PDF = "text.pdf"
PADES, CADES, CADES_DETACHED = "pades", "cades", "cades-detached"
_SUFFIXES = {PADES: "pdf", CADES: "p7m", CADES_DETACHED: "p7s"}


@dataclass(frozen=True)
class QualifiedFile:
    """One qualified signature's file as the bundle holds it."""

    number: int  # its statement's number: signatures/NN.json
    organisation: str
    signer: str  # the account that uploaded it
    path: str  # qualified/NN.<pdf|p7m|p7s>
    data: bytes
    format: str  # "pades", "cades" or "cades-detached"
    check: dict[str, Any]  # Signature.file_check: what Tavoli's check found


def _format_of(signature: Signature) -> str:
    found = (signature.file_check or {}).get("format")
    if isinstance(found, str) and found in _SUFFIXES:
        return found
    try:
        stated = json.loads(bytes(signature.statement).decode("utf-8"))["qualified"]["format"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        stated = None
    if isinstance(stated, str) and stated in _SUFFIXES:
        return stated
    return PADES if bytes(signature.file or b"").startswith(b"%PDF-") else CADES


def qualified_files(signed: Sequence[tuple[int, str, str, Signature]]) -> list[QualifiedFile]:
    """The qualified signatures among `signed` — (statement number, organisation, signer, signature), in
    the bundle's order — with their files."""
    found: list[QualifiedFile] = []
    for number, organisation, signer, signature in signed:
        if signature.kind is not SignatureKind.qualified or signature.file is None:
            continue
        kind = _format_of(signature)
        found.append(
            QualifiedFile(
                number=number,
                organisation=organisation,
                signer=signer,
                path=f"qualified/{number:02d}.{_SUFFIXES[kind]}",
                data=bytes(signature.file),
                format=kind,
                check=dict(signature.file_check or {}),
            )
        )
    return found


def bundle_files(qualified: Sequence[QualifiedFile], version: ProtocolVersion) -> dict[str, bytes]:
    """The files the bundle adds: each qualified signature's file, and the version's stored PDF/A
    (`text.pdf`) when it was made."""
    files = {item.path: item.data for item in qualified}
    if version.pdf is not None:
        files[STORED_PDF] = bytes(version.pdf)
    return files


def _format_label(kind: str) -> str:
    return {
        PADES: _("PAdES (a signed PDF)"),
        CADES: _("CAdES (.p7m, the PDF inside the envelope)"),
        CADES_DETACHED: _("CAdES, detached (.p7s, signing text.pdf)"),
    }[kind]


def _status_label(status: object) -> str:
    return {
        "valid": _("valid"),
        "valid_revocation_unchecked": _("valid, revocation not checked"),
    }.get(str(status), str(status or "?"))


def _describe(item: QualifiedFile) -> str:
    check = item.check
    who = str(check.get("signer_name") or "?")
    if check.get("fiscal_code"):
        who = f"{who}, {check['fiscal_code']}"
    return _(
        "- {path} — {organisation} ({signer}) — {format}; signed by {who}, certificate issued by {issuer}, on "
        "{time}; Tavoli's check: {status}."
    ).format(
        path=item.path,
        organisation=item.organisation,
        signer=item.signer,
        format=_format_label(item.format),
        who=who,
        issuer=check.get("issuer") or "?",
        time=check.get("signing_time") or "?",
        status=_status_label(check.get("status")),
    )


def _inform(data: bytes) -> str:
    """openssl's -inform for the file as uploaded: PEM, DER or (bare base64) none: decoded first."""
    head = data.lstrip()[:11]
    if head.startswith(b"-----BEGIN"):
        return "PEM"
    return "DER" if data[:1] == b"\x30" else "BASE64"


def _commands(item: QualifiedFile) -> list[str]:
    number = f"{item.number:02d}"
    lines = [
        f"sha256sum {item.path}",
        'python3 -c "import json; '
        f"print(json.load(open('signatures/{number}.json'))['qualified']['file']['sha256'])\"",
    ]
    if item.format == PADES:
        return [
            *lines,
            f'head -c "$(wc -c < {STORED_PDF})" {item.path} | cmp - {STORED_PDF}',
            f"pyhanko sign validate --pretty-print --trust CA.pem --trust-replace {item.path}",
        ]
    source = item.path
    inform = _inform(item.data)
    if inform == "BASE64":
        lines.append(f"base64 -d {item.path} > {number}.der")
        source, inform = f"{number}.der", "DER"
    verify = f"openssl cms -verify -binary -inform {inform} -in {source} -CAfile CA.pem -purpose any"
    if item.format == CADES_DETACHED:
        return [*lines, f"{verify} -content {STORED_PDF} -out /dev/null"]
    return [*lines, f"{verify} -out {number}-content.pdf", f"cmp {number}-content.pdf {STORED_PDF}"]


def verify_section(qualified: Sequence[QualifiedFile], version: ProtocolVersion) -> str:
    """The section VERIFY.md adds for the qualified signatures (empty when there is none)."""
    if not qualified:
        return ""
    lines = [
        "",
        "## " + _("Qualified signatures (firma digitale)"),
        "",
        _(
            "These parties signed with their firma digitale instead of signing in Tavoli. {pdf} is the PDF/A of "
            "text.md that they signed, made once when the text was frozen (its SHA-256 is {sha}; its first page "
            "states text.md's SHA-256). The folder qualified/ holds each file a party uploaded, exactly as "
            "uploaded; the statement with the same number in signatures/ names the file's SHA-256 "
            "(qualified.file.sha256) and its format, and is sealed as the others."
        ).format(pdf=STORED_PDF, sha=version.pdf_sha256 or "?"),
        "",
        *[_describe(item) for item in qualified],
        "",
        _(
            "Check each file with standard tools, against the certificate of the qualified CA that issued the "
            "signer's certificate — the Italian qualified CAs are in the EU trusted list "
            "(https://eidas.ec.europa.eu/efda/tl-browser/) —, saved as CA.pem. The first two commands of each "
            "file show the same SHA-256 twice. For a PAdES PDF, the next one checks that the file begins with "
            "exactly the bytes of text.pdf, and pyHanko's command line (pip install pyhanko-cli) checks the "
            "signature and that nothing but signatures was added after it (with --eutl instead of --trust "
            "CA.pem --trust-replace, it takes the EU trusted list itself, over the network). For a CAdES file, "
            "OpenSSL checks the signature and its certificate chain, and the file signed is text.pdf."
        ),
        "",
        "```sh",
    ]
    for item in qualified:
        lines += _commands(item)
    lines += ["```", ""]
    return "\n".join(lines)
