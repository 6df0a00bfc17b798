"""Checking a qualified signature (firma digitale) a party brings for a protocol's stored PDF.

`check_upload` takes the uploaded bytes and the version's stored PDF (the exact bytes parties
download to sign) and tells, with pyHanko's async validation inside the event loop and nothing
fetched from the network:

- **PAdES** (a PDF): the upload's bytes must begin with exactly the stored PDF's bytes, and
  pyHanko's difference analysis must allow nothing after them but signatures (a later incremental
  update that changes the content is refused, naming the change);
- **CAdES** (a `.p7m`, DER, PEM or base64): enveloping — the encapsulated content must be the stored
  PDF's bytes — or detached over the stored PDF.

The signer's certificate must chain to one of the trust roots given (`trust_roots(folder)`, the
Italian qualified CAs of the EU trusted list in production) and be within its validity when it
signed. Revocation is only checked against what the file itself carries (CRLs, OCSP responses);
where it cannot be checked the signature is "valid, revocation not checked", never fully valid.
A signer whose name is not the designated signatory's is a warning, not a refusal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

from asn1crypto import cms, pem  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from babel.numbers import format_decimal
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import (
    async_validate_cms_signature,
    async_validate_detached_cms,
    extract_self_reported_ts,
)
from pyhanko.sign.validation.status import SignatureStatus
from pyhanko_certvalidator import ValidationContext

from server.db.models import Signature, SignatureKind
from server.i18n import _, current_locale

__all__ = [
    "CADES",
    "CADES_DETACHED",
    "DEFAULT_MAX_BYTES",
    "PADES",
    "QualifiedCheck",
    "check_upload",
    "file_reasons",
    "fiscal_code_of",
    "same_person",
    "trust_roots",
]

PADES, CADES, CADES_DETACHED = "pades", "cades", "cades-detached"
VALID: Final = "valid"
UNCHECKED: Final = "valid_revocation_unchecked"
REFUSED: Final = "refused"
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
Status = Literal["valid", "valid_revocation_unchecked", "refused"]
# asn1crypto.x509.Certificate, what pyHanko takes (asn1crypto carries no type information).
Certificate: TypeAlias = Any


@dataclass
class QualifiedCheck:
    """What checking an uploaded qualified signature found.

    `status`: "valid", "valid_revocation_unchecked" (intact, trusted, within validity, but its
    revocation could not be checked offline) or "refused". `reasons`: why it is refused, in words
    (one sentence each); `codes`: the same reasons as stable codes ("too_large", "not_signature",
    "other_document", "modified", "broken", "untrusted", "expired", "not_yet_valid", "revoked",
    "certificate"). `warnings`: what the chair may accept (the signer is not the designated
    signatory by name: code "name_differs" in `warning_codes`)."""

    status: Status
    file_sha256: str
    format: str | None = None
    reasons: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warning_codes: list[str] = field(default_factory=list)
    signer_name: str | None = None
    fiscal_code: str | None = None
    signing_time: datetime | None = None
    issuer: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status != REFUSED

    def refuse(self, code: str, reason: str) -> None:
        self.status = REFUSED
        if code not in self.codes:
            self.codes.append(code)
            self.reasons.append(reason)

    def as_record(self) -> dict[str, Any]:
        """JSON for `Signature.file_check` (times as RFC 3339)."""
        record = asdict(self)
        record["signing_time"] = (
            self.signing_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if self.signing_time else None
        )
        return record

    @property
    def status_label(self) -> str:
        labels = {
            VALID: _("Valid qualified signature"),
            UNCHECKED: _("Valid, revocation not checked"),
            REFUSED: _("Refused qualified signature"),
        }
        return labels[self.status]


# --- trust roots -------------------------------------------------------------------------------------


CERTIFICATE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})


def trust_roots(folder: Path) -> list[Certificate]:
    """The certificates in `folder`'s `.pem`, `.crt`, `.cer` and `.der` files (PEM, one or many per
    file, or DER): the trust anchors of the qualified signatures. Other files (README.md, .gitignore)
    and what is not a certificate are skipped; a missing folder gives none (then every qualified
    signature is refused as untrusted)."""
    roots: list[Certificate] = []
    if not folder.is_dir():
        return roots
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in CERTIFICATE_SUFFIXES:
            continue
        data = path.read_bytes()
        try:
            if pem.detect(data):
                for kind, _headers, der in pem.unarmor(data, multiple=True):
                    if kind == "CERTIFICATE":
                        cert = asn1_x509.Certificate.load(der)
                        cert.native  # noqa: B018 (parses every field: raises on what is not a certificate)
                        roots.append(cert)
                continue
            cert = asn1_x509.Certificate.load(data, strict=True)
            cert.native  # noqa: B018
        except (ValueError, TypeError):
            continue
        roots.append(cert)
    return roots


# --- names -------------------------------------------------------------------------------------------


def _words(name: str) -> frozenset[str]:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").casefold()
    return frozenset(word for word in re.split(r"[^a-z0-9]+", plain) if word)


def same_person(certificate_name: str, designated_name: str) -> bool:
    """Whether a certificate's name is the designated person's: the same words, in any order, with
    case and accents ignored ("ROSSI MARIO" is "Mario Rossi")."""
    return bool(_words(designated_name)) and _words(certificate_name) == _words(designated_name)


def _attribute(cert: Certificate, name: str) -> str | None:
    value = cert.subject.native.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value else None


def fiscal_code_of(cert: Certificate) -> str | None:
    """The fiscal code an Italian qualified certificate carries in its subject's serialNumber
    ("TINIT-RSSMRA80A01A944I" → "RSSMRA80A01A944I"); None when it carries none."""
    serial = _attribute(cert, "serial_number")
    if serial is None:
        return None
    match = re.fullmatch(r"(?:TINIT-|IT:)?([A-Z0-9]{11,16})", serial.strip().upper())
    return match.group(1) if match else None


def _signer_name(cert: Certificate) -> str:
    given, surname = _attribute(cert, "given_name"), _attribute(cert, "surname")
    if given and surname:
        return f"{given} {surname}"
    return _attribute(cert, "common_name") or cert.subject.human_friendly


def _issuer_name(cert: Certificate) -> str:
    issuer = cert.issuer.native
    name = issuer.get("common_name") or issuer.get("organization_name")
    return str(name) if name else cert.issuer.human_friendly


# --- reading the upload ------------------------------------------------------------------------------


def _signed_data(data: bytes) -> cms.SignedData | None:
    """The CMS SignedData of a .p7m in DER, PEM or base64; None when it is none."""
    candidates = [data]
    if pem.detect(data):
        try:
            candidates = [der for _kind, _headers, der in pem.unarmor(data, multiple=True)]
        except ValueError:
            return None
    elif not data.startswith(b"\x30"):
        try:
            candidates = [base64.b64decode(b"".join(data.split()), validate=True)]
        except (binascii.Error, ValueError):
            return None
    for der in candidates:
        try:
            info = cms.ContentInfo.load(der)
            if info["content_type"].native != "signed_data":
                continue
            signed = info["content"]
            signed.native  # noqa: B018 (parses every field)
        except (ValueError, TypeError, KeyError):
            continue
        return signed
    return None


def _revocation_info(signed: cms.SignedData) -> tuple[list[Any], list[Any]]:
    """The CRLs and OCSP responses the signature carries (SignedData.crls and Adobe's archival attribute)."""
    crls: list[Any] = []
    ocsps: list[Any] = []
    for choice in signed["crls"] or []:
        if choice.name == "crl":
            crls.append(choice.chosen)
        elif choice.name == "other" and choice.chosen["other_rev_info_format"].native == "ocsp_response":
            ocsps.append(choice.chosen["other_rev_info"])
    for signer_info in signed["signer_infos"]:
        for attribute in signer_info["signed_attrs"] or []:
            if attribute["type"].native == "adobe_revocation_info_archival":
                for archival in attribute["values"]:
                    crls.extend(archival["crl"] or [])
                    ocsps.extend(archival["ocsp"] or [])
    return crls, ocsps


def _dss_revocation(reader: PdfFileReader) -> tuple[list[Any], list[Any]]:
    """The CRLs and OCSP responses of the PDF's document security store (PAdES-LT), as DER bytes."""
    root: Any = reader.root
    if "/DSS" not in root:
        return [], []
    dss: Any = root["/DSS"]

    def streams(key: str) -> list[Any]:
        found = dss.get(key) if key in dss else None
        items = [item.get_object() for item in found or []]
        return [bytes(item.data) for item in items if isinstance(item, generic.StreamObject)]

    return streams("/CRLs"), streams("/OCSPs")


def _context(
    roots: Sequence[Certificate], now: datetime, *, crls: Sequence[Any] = (), ocsps: Sequence[Any] = (), hard: bool
) -> ValidationContext:
    return ValidationContext(
        trust_roots=list(roots),
        moment=now,
        allow_fetching=False,
        crls=list(crls),
        ocsps=list(ocsps),
        revocation_mode="require" if hard else "soft-fail",
    )


def _describe_change(detail: str) -> str:
    pages = sorted({int(number) + 1 for number in re.findall(r"Kids\[(\d+)\]", detail)})
    if pages:
        return _("the content of page {pages} was changed after it was signed").format(
            pages=", ".join(str(page) for page in pages)
        )
    if "/Annots" in detail:
        return _("annotations were added after it was signed")
    return _("objects of the PDF were changed after it was signed ({detail})").format(detail=detail[:300])


# Which keys a signature may add or change in the catalog, a page, the form, over the stored PDF.
CATALOG_KEYS = frozenset({"/AcroForm", "/Perms", "/DSS", "/Extensions", "/Version", "/Metadata"})
PAGE_KEYS = frozenset({"/Annots"})
FORM_KEYS = frozenset({"/Fields", "/SigFlags", "/DR", "/DA"})


def _pages(resolver: Any) -> list[Any]:
    """The page objects' references of a revision, in order."""
    found: list[Any] = []

    def walk(node_ref: Any) -> None:
        node = node_ref.get_object()
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            for kid in node["/Kids"]:
                walk(kid)
        else:
            found.append(node_ref.reference)

    walk(resolver.root.raw_get("/Pages"))
    return found


def _content_refs(page: Any) -> set[Any]:
    contents: Any = page.raw_get("/Contents") if "/Contents" in page else None
    refs = set()
    if isinstance(contents, generic.IndirectObject):
        refs.add(contents.reference)
        resolved: Any = contents.get_object()  # type: ignore[no-untyped-call]
        if isinstance(resolved, generic.ArrayObject):
            refs |= {item.reference for item in resolved if isinstance(item, generic.IndirectObject)}
    elif isinstance(contents, generic.ArrayObject):
        refs |= {item.reference for item in contents if isinstance(item, generic.IndirectObject)}
    return refs


def _grown(old: Any, new: Any) -> bool:
    """Whether the array `new` is `old` with items added at its end."""
    return (
        isinstance(old, generic.ArrayObject)
        and isinstance(new, generic.ArrayObject)
        and len(new) >= len(old)
        and all(a == b for a, b in zip(old, new, strict=False))
    )


def _same_except(before: Any, after: Any, ignored: frozenset[str]) -> bool:
    """Whether two dictionaries hold the same entries (as written, references unresolved) but `ignored`."""
    if not isinstance(before, generic.DictionaryObject) or not isinstance(after, generic.DictionaryObject):
        return False
    keys = (set(before.keys()) | set(after.keys())) - ignored
    return all(key in before and key in after and before.raw_get(key) == after.raw_get(key) for key in keys)


def _is_signature_widget(annotation: Any) -> bool:
    annotation = annotation.get_object()
    if annotation.get("/Subtype") != "/Widget":
        return False
    node = annotation
    for _depth in range(10):
        if "/FT" in node:
            return bool(node["/FT"] == "/Sig")
        if "/Parent" not in node:
            return False
        node = node["/Parent"]
    return False


def _only_signatures_added(before: Any, after: Any) -> bool:
    """Whether the annotations `after` are those `before` and signature fields' widgets added at the end."""
    before, after = before.get_object() if before is not None else None, after.get_object()
    if before is None:
        before = generic.ArrayObject()
    return _grown(before, after) and all(
        _is_signature_widget(after.raw_get(index)) for index in range(len(before), len(after))
    )


def _change_before_signing(reader: PdfFileReader, base: int, upto: int) -> str | None:
    """What the revisions after the stored PDF (`base`) up to the first signature's (`upto`)
    change besides adding a signature: new objects, the catalog's form, a page's annotations and
    the form's fields may change; anything else is named (None when nothing else changed)."""
    xrefs = reader.xrefs
    for revision in range(base + 1, upto + 1):
        old = reader.get_historical_resolver(revision - 1)
        new = reader.get_historical_resolver(revision)
        pages = _pages(old)
        page_number = {ref: index + 1 for index, ref in enumerate(pages)}
        contents = {ref: page_number[page] for page in pages for ref in _content_refs(old(page))}
        annots = {}
        for page in pages:
            raw = old(page).raw_get("/Annots") if "/Annots" in old(page) else None
            if isinstance(raw, generic.IndirectObject):
                annots[raw.reference] = page_number[page]
        form = old.root.raw_get("/AcroForm") if "/AcroForm" in old.root else None
        form_ref = form.reference if isinstance(form, generic.IndirectObject) else None
        fields = form.get_object().raw_get("/Fields") if form is not None and "/Fields" in form.get_object() else None
        fields_ref = fields.reference if isinstance(fields, generic.IndirectObject) else None
        metadata = old.root.raw_get("/Metadata") if "/Metadata" in old.root else None
        metadata_ref = metadata.reference if isinstance(metadata, generic.IndirectObject) else None
        info = old.trailer_view.raw_get("/Info") if "/Info" in old.trailer_view else None
        info_ref = info.reference if isinstance(info, generic.IndirectObject) else None
        if xrefs.refs_freed_in_revision(revision):
            return _("objects of the PDF were deleted")
        for ref in sorted(xrefs.explicit_refs_in_revision(revision), key=lambda r: (r.idnum, r.generation)):
            if xrefs.get_introducing_revision(ref) == revision:
                continue  # a new object: the signature, its field, its appearance
            before, after = old(ref), new(ref)
            if ref == old.root_ref:
                if _same_except(before, after, CATALOG_KEYS) and (
                    form is None or before.raw_get("/AcroForm") == after.raw_get("/AcroForm")
                ):
                    continue
                return _("the document's catalog was changed")
            if ref in page_number:
                if _same_except(before, after, PAGE_KEYS) and _only_signatures_added(
                    before.get("/Annots", generic.ArrayObject()), after.get("/Annots", generic.ArrayObject())
                ):
                    continue
                return _("the content of page {pages} was changed after it was signed").format(pages=page_number[ref])
            if ref in annots and _only_signatures_added(before, after):
                continue
            if ref == form_ref and _same_except(before, after, FORM_KEYS):
                continue
            if ref == fields_ref and _grown(before, after):
                continue
            if ref in (metadata_ref, info_ref):
                continue  # the metadata (XMP, Info: producer, dates) a signing tool updates: not the content
            if ref in contents:
                return _("the content of page {pages} was changed after it was signed").format(pages=contents[ref])
            return _("object {number} of the PDF was changed").format(number=ref.idnum)
    return None


# --- the checks --------------------------------------------------------------------------------------


def _signer_details(check: QualifiedCheck, cert: Certificate, signing_time: datetime | None) -> None:
    check.signer_name = _signer_name(cert)
    check.fiscal_code = fiscal_code_of(cert)
    check.issuer = _issuer_name(cert)
    check.signing_time = signing_time


def _judge(
    check: QualifiedCheck, status: SignatureStatus, cert: Certificate, when: datetime, *, content_matches: bool
) -> None:
    """The refusals a signature's status and its certificate give."""
    if not status.intact or not status.valid:
        if content_matches:
            check.refuse("broken", _("The signature is broken: the file was altered after it was signed."))
        else:
            check.refuse(
                "other_document",
                _("The signature was made over another document, not over the protocol's PDF of this version."),
            )
        return
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if when > not_after:
        check.refuse(
            "expired",
            _("The signer's certificate had expired when it signed: it was valid until {date}.").format(
                date=not_after.strftime("%d/%m/%Y")
            ),
        )
        return
    if when < not_before:
        check.refuse(
            "not_yet_valid",
            _("The signer's certificate was not valid yet when it signed: it is valid from {date}.").format(
                date=not_before.strftime("%d/%m/%Y")
            ),
        )
        return
    indication = status.trust_problem_indic
    if indication is None:
        return
    name = getattr(indication, "name", str(indication))
    if name == "NO_CERTIFICATE_CHAIN_FOUND":
        check.refuse(
            "untrusted",
            _(
                "The signer's certificate does not come from a trusted qualified certification authority "
                "(issuer: {issuer})."
            ).format(issuer=_issuer_name(cert)),
        )
    elif "REVOKED" in name:
        check.refuse("revoked", _("The signer's certificate has been revoked."))
    elif "OUT_OF_BOUNDS" in name or "EXPIRED" in name:
        check.refuse(
            "expired",
            _("The signer's certificate, or one above it, was not within its validity when it signed."),
        )
    else:
        check.refuse(
            "certificate",
            _("The signer's certificate could not be validated ({indication}).").format(indication=name),
        )


async def _revocation(
    check: QualifiedCheck,
    run: Any,
    crls: Sequence[Any],
    ocsps: Sequence[Any],
    roots: Sequence[Certificate],
    now: datetime,
) -> None:
    """Valid only when the signature also validates with revocation required against the CRLs and
    OCSP responses the file carries; refused when they say the certificate was revoked; otherwise
    "valid, revocation not checked" (nothing is fetched)."""
    check.status = UNCHECKED
    if not crls and not ocsps:
        return
    try:
        status = await run(_context(roots, now, crls=crls, ocsps=ocsps, hard=True))
    except (SignatureValidationError, ValueError):
        return
    indication = getattr(status.trust_problem_indic, "name", "")
    if "REVOKED" in indication or status.revocation_details is not None:
        check.refuse("revoked", _("The signer's certificate has been revoked."))
    elif status.intact and status.valid and status.trust_problem_indic is None:
        check.status = VALID


async def _check_cms(
    check: QualifiedCheck, signed: cms.SignedData, stored_pdf: bytes, roots: Sequence[Certificate], now: datetime
) -> None:
    content = signed["encap_content_info"]["content"]
    detached = content.native is None
    check.format = CADES_DETACHED if detached else CADES
    signer_infos = signed["signer_infos"]
    if len(signer_infos) == 0:
        check.refuse("not_signature", _("The file is not a signature: it carries no signer."))
        return
    signer_info = signer_infos[0]
    cert = _signer_cert(signed, signer_info)
    if cert is None:
        check.refuse("not_signature", _("The signature does not carry its signer's certificate."))
        return
    signing_time = extract_self_reported_ts(signer_info)
    _signer_details(check, cert, signing_time)
    if detached:
        digest = _message_digest(signer_info)
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
        content_matches = digest is None or digest == hashlib.new(algorithm, stored_pdf).digest()

        async def run(context: ValidationContext) -> SignatureStatus:
            return await async_validate_detached_cms(stored_pdf, signed, signer_validation_context=context)

    else:
        if content.native != stored_pdf:
            check.refuse(
                "other_document",
                _("The signed content is another document, not the protocol's PDF of this version."),
            )
            return
        content_matches = True

        async def run(context: ValidationContext) -> SignatureStatus:
            return await async_validate_cms_signature(signed, validation_context=context)

    try:
        status = await run(_context(roots, now, hard=False))
    except (SignatureValidationError, ValueError) as error:
        check.refuse("broken", _("The signature is broken: {detail}").format(detail=str(error)[:200]))
        return
    _judge(check, status, cert, signing_time or now, content_matches=content_matches)
    if check.accepted:
        crls, ocsps = _revocation_info(signed)
        await _revocation(check, run, crls, ocsps, roots, now)


def _signer_cert(signed: cms.SignedData, signer_info: cms.SignerInfo) -> Certificate | None:
    sid = signer_info["sid"]
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


def _message_digest(signer_info: cms.SignerInfo) -> bytes | None:
    for attribute in signer_info["signed_attrs"] or []:
        if attribute["type"].native == "message_digest":
            return bytes(attribute["values"][0].native)
    return None


async def _check_pdf(
    check: QualifiedCheck, data: bytes, stored_pdf: bytes, roots: Sequence[Certificate], now: datetime
) -> None:
    check.format = PADES
    if not data.startswith(stored_pdf):
        check.refuse(
            "other_document",
            _(
                "The signed PDF is not the protocol's PDF of this version: sign the PDF downloaded from "
                "Tavoli without changing it (its bytes must come first, unchanged, in the signed file)."
            ),
        )
        return
    try:
        base = PdfFileReader(io.BytesIO(stored_pdf), strict=False).xrefs.total_revisions - 1
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = [sig for sig in reader.embedded_signatures if sig.signed_revision > base]
    except (PdfReadError, ValueError, KeyError) as error:
        check.refuse("not_signature", _("The PDF cannot be read: {detail}").format(detail=str(error)[:200]))
        return
    if not signatures:
        check.refuse("not_signature", _("The PDF carries no signature over the protocol's PDF."))
        return
    first_revision = min(sig.signed_revision for sig in signatures)
    try:
        change = _change_before_signing(reader, base, first_revision)
    except (PdfReadError, ValueError, KeyError) as error:
        change = _("the PDF's structure cannot be compared ({detail})").format(detail=str(error)[:200])
    if change is not None:
        check.refuse("modified", _("The PDF was changed besides being signed: {change}.").format(change=change))
        return
    for index, embedded in enumerate(signatures):
        cert = embedded.signer_cert
        signing_time = embedded.self_reported_timestamp
        if index == 0:
            _signer_details(check, cert, signing_time)

        async def run(context: ValidationContext, embedded: Any = embedded) -> SignatureStatus:
            return await async_validate_pdf_signature(embedded, context)

        try:
            status = await run(_context(roots, now, hard=False))
        except (SignatureValidationError, ValueError) as error:
            check.refuse("broken", _("The signature is broken: {detail}").format(detail=str(error)[:200]))
            return
        _judge(check, status, cert, signing_time or now, content_matches=True)
        if getattr(status, "docmdp_ok", True) is False:
            check.refuse(
                "modified",
                _("The PDF was changed besides being signed: {change}.").format(
                    change=_describe_change(str(getattr(status, "diff_result", "")))
                ),
            )
        if not check.accepted:
            return
    crls, ocsps = _dss_revocation(reader)
    for embedded in signatures:
        found_crls, found_ocsps = _revocation_info(embedded.signed_data)
        crls += found_crls
        ocsps += found_ocsps
    first = signatures[0]

    async def run_first(context: ValidationContext) -> SignatureStatus:
        return await async_validate_pdf_signature(first, context)

    await _revocation(check, run_first, crls, ocsps, roots, now)


# What pyHanko and asn1crypto raise on a malformed file.
UNREADABLE = (PdfReadError, SignatureValidationError, ValueError, KeyError, TypeError, IndexError, AttributeError)


def _megabytes(size: int) -> str:
    return format_decimal(size / 1_048_576, format="0.0", locale=current_locale())


async def check_upload(
    data: bytes,
    *,
    stored_pdf: bytes,
    trust_roots: Sequence[Certificate],
    designated_name: str,
    now: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> QualifiedCheck:
    """Check an uploaded qualified signature (PAdES PDF, or CAdES .p7m enveloping or detached) of
    `stored_pdf` against `trust_roots`, at `now` (default: the present), offline. Never raises for
    what the file holds: a refusal is `status == "refused"` with its reasons in words."""
    now = now or datetime.now(UTC)
    check = QualifiedCheck(status=UNCHECKED, file_sha256=hashlib.sha256(data).hexdigest())
    if len(data) > max_bytes:
        check.refuse(
            "too_large",
            _("The file is too large: {size} MB, at most {limit} MB.").format(
                size=_megabytes(len(data)), limit=_megabytes(max_bytes)
            ),
        )
        return check
    try:
        if data.lstrip()[:5] == b"%PDF-":
            await _check_pdf(check, data, stored_pdf, trust_roots, now)
        else:
            signed = _signed_data(data)
            if signed is None:
                check.refuse(
                    "not_signature",
                    _("The file is not a signature: upload the signed PDF (PAdES) or the .p7m file (CAdES)."),
                )
                return check
            await _check_cms(check, signed, stored_pdf, trust_roots, now)
    except UNREADABLE as error:  # a malformed file: refused, never a server error
        check.refuse("broken", _("The signature is broken: {detail}").format(detail=str(error)[:200]))
        return check
    if check.accepted and check.signer_name and not same_person(check.signer_name, designated_name):
        check.warning_codes.append("name_differs")
        check.warnings.append(
            _(
                "The signer's certificate names {signer}, not the party's designated signatory {designated}: "
                "the chair may accept it."
            ).format(signer=check.signer_name, designated=designated_name)
        )
    return check


# --- the kept file ---


def file_reasons(signature: Signature) -> list[str]:
    """Why a qualified signature's kept file is not the one its sealed statement binds (its SHA-256
    recomputed); none for an advanced signature or a file that matches."""
    if signature.kind is not SignatureKind.qualified:
        return []
    try:
        statement = json.loads(bytes(signature.statement).decode("utf-8"))
        bound = statement["qualified"]["file"]["sha256"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return [_("The statement of this qualified signature does not bind its file.")]
    if signature.file is None:
        return [_("The file of this qualified signature is missing.")]
    actual = hashlib.sha256(bytes(signature.file)).hexdigest()
    if actual != bound:
        return [
            _("The kept file is not the one signed: its SHA-256 is {actual}, the statement binds {signed}.").format(
                actual=actual, signed=bound
            )
        ]
    return []
