"""A protocol version's stored PDF/A, made once, and the institution's PAdES seal of the protocol in force.

**The stored PDF.** When a protocol opens for signature its text is frozen in a `ProtocolVersion`;
the PDF/A of that version (`version_document`: the printed protocol of server/domain/protocol_pdf.py
as it stands when frozen — open for signature, no signature yet — with the canonical text's SHA-256
on its first page) is what a party downloads and signs with its firma digitale, so it is made once
and kept: its exact bytes are `ProtocolVersion.pdf`. `stored_pdf(database, version_id)` reads it, or
renders it **outside any transaction** (a second or two in a worker process) and then keeps it with
one conditional `UPDATE … WHERE pdf IS NULL`: two callers racing each render, one of them is kept,
and both return the kept bytes. `stored_pdf_of(session, version_id)` only reads it (None: not made
yet), for the checks of an uploaded signature, which must compare with exactly these bytes.

**The seal.** With a PKCS#12 file of the Città metropolitana's seal certificate and its password in
the settings (`TAVOLI_SEAL_P12`, `TAVOLI_SEAL_PASSWORD`; `seal_from_settings`), the printed protocol
of a protocol that entered into force (with its signature page) is sealed with a PAdES signature
(pyHanko's async signer, a certification signature that allows no change after it), with a
timestamp from `TAVOLI_TSA_URL` when one is configured (`sealed_pdf`). Without a certificate the
PDF says on its first page, plainly, that it is not sealed: never a seal that is not one. The
sealed bytes are not stored (a protocol's print changes as parties adhere, and the versions have no
column for them): each call seals again.
"""

from __future__ import annotations

import hashlib
import html as html_escape
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db.models import Protocol, ProtocolStatus, ProtocolVersion, Table
from server.db.session import Database
from server.domain import protocol_bundle, protocol_pdf, protocols, texts
from server.domain.errors import DomainError, NotFound
from server.domain.minutes_pdf import ISSUER
from server.domain.protocol_pdf import PRINT_LOCALE, PrintedAnnex, PrintedLink, PrintedParty, PrintedProtocol
from server.i18n import _, use_locale

__all__ = [
    "SEAL_FIELD",
    "Render",
    "Seal",
    "SealError",
    "keep_pdf",
    "load_seal",
    "pdf_to_sign",
    "seal_from_settings",
    "seal_pdf",
    "sealed_document",
    "sealed_pdf",
    "stored_pdf",
    "stored_pdf_of",
    "stored_sealed_pdf",
    "version_document",
]

SEAL_FIELD = "SigilloCittaMetropolitana"
# What turns a whole HTML document into its PDF/A (protocol_pdf.render_pdf, in a worker process).
Render = Callable[[str], Awaitable[bytes]]


class SealError(DomainError):
    """The seal's certificate cannot be used (a missing file, a wrong password, no key in it)."""


# --- the note on the first page ----------------------------------------------------------------------


def _with_note(document: str, note: str) -> str:
    """`document` (a whole HTML document of protocol_pdf.printable) with `note` as the first thing of its
    first page, in the same framed style as the print's own statement."""
    marker = "<body>"
    if document.count(marker) != 1:
        raise ValueError("the printed protocol has no single <body> to put the note in")
    paragraph = f'\n<p class="state seal-note">{html_escape.escape(note)}</p>'
    return document.replace(marker, marker + paragraph, 1)


def _version_note(number: int) -> str:
    return _(
        "This is the PDF/A of version {version} of the text, made once when it was frozen for signature: a "
        "party that signs with its firma digitale (PAdES, or CAdES .p7m) signs exactly this file, unchanged."
    ).format(version=number)


def _unsealed_note(reason: str) -> str:
    return _("This PDF is not sealed by the {issuer}: {reason}").format(issuer=ISSUER, reason=reason)


def _sealed_note(seal: Seal) -> str:
    return _(
        "This PDF is sealed by {name} with a PAdES electronic seal (certificate issued by {issuer}){timestamp}: "
        "any change to the file after sealing breaks the seal. A PDF reader or pyHanko shows it and checks it."
    ).format(
        name=seal.name,
        issuer=seal.issuer,
        timestamp=_(", with a timestamp") if seal.tsa_url else "",
    )


# --- the stored PDF of a version ----------------------------------------------------------------------


async def version_document(session: AsyncSession, version_id: int, *, locale: str = PRINT_LOCALE) -> str:
    """The whole HTML document of the version's PDF/A: the printed protocol as frozen for signature —
    open for signature, the version's text, its SHA-256 on the first page, the annexes' hashes frozen
    with it, the parties that sign it (not the ones that adhered later), no signature yet. NotFound
    for a version that does not exist."""
    version = await session.get(ProtocolVersion, version_id)
    if version is None:
        raise NotFound(_("This version of the protocol does not exist."))
    found = (
        await session.execute(
            select(Protocol, Table).join(Table, Table.id == Protocol.table_id).where(Protocol.id == version.protocol_id)
        )
    ).first()
    if found is None:
        raise NotFound(_("This protocol does not exist."))
    protocol, table = found
    parties = [
        PrintedParty(party.organisation.name, party.external, False, None)
        for party in await protocols.parties_of(session, protocol.id)
        if not party.adhering
    ]
    supersedes = await session.get(Protocol, protocol.supersedes_id) if protocol.supersedes_id is not None else None
    printed = PrintedProtocol(
        protocol_id=protocol.id,
        table_name=table.name,
        table_slug=table.slug,
        title=protocol.title,
        kind=protocol.kind,
        status=ProtocolStatus.open,
        version=version.number,
        text=bytes(version.text).decode("utf-8"),
        text_sha256=version.text_sha256,
        annexes=tuple(
            PrintedAnnex(str(annex["name"]), str(annex["sha256"]), int(annex.get("size") or 0))
            for annex in version.annexes or []
        ),
        parties=tuple(parties),
        valid_from=protocol.valid_from,
        valid_until=protocol.valid_until,
        in_force_at=None,
        ended_at=None,
        supersedes=PrintedLink(supersedes.id, supersedes.title) if supersedes is not None else None,
        superseded_by=None,
    )
    text_html = await texts.renderer_of(session).render(printed.text)
    with use_locale(locale):
        return _with_note(protocol_pdf.printable(printed, text_html, locale=locale), _version_note(version.number))


async def stored_pdf_of(session: AsyncSession, version_id: int) -> bytes | None:
    """The version's stored PDF/A, exactly as kept; None while it has not been made. NotFound for a
    version that does not exist."""
    found = (
        await session.execute(select(ProtocolVersion.id, ProtocolVersion.pdf).where(ProtocolVersion.id == version_id))
    ).first()
    if found is None:
        raise NotFound(_("This version of the protocol does not exist."))
    return bytes(found.pdf) if found.pdf is not None else None


async def keep_pdf(session: AsyncSession, version_id: int, pdf: bytes) -> bytes:
    """Keep `pdf` as the version's PDF/A unless one is kept already (`UPDATE … WHERE pdf IS NULL`: of
    callers racing, the first to commit wins, the others change nothing); the kept bytes."""
    await session.execute(
        update(ProtocolVersion)
        .where(ProtocolVersion.id == version_id, ProtocolVersion.pdf.is_(None))
        .values(pdf=pdf, pdf_sha256=hashlib.sha256(pdf).hexdigest())
        .execution_options(synchronize_session=False)
    )
    version = await session.get(ProtocolVersion, version_id, populate_existing=True)
    if version is None or version.pdf is None:
        raise NotFound(_("This version of the protocol does not exist."))
    return bytes(version.pdf)


async def stored_pdf(
    source: Database | AsyncSession,
    version_id: int,
    *,
    base_url: str | None = None,
    render: Render | None = None,
) -> bytes:
    """The version's PDF/A, made the first time it is asked for and the same bytes ever after.

    With a `Database`, it is read in a read session, rendered with no session open (`render`, default
    protocol_pdf's worker process), and kept in a transaction of its own (`keep_pdf`): racing callers
    return the same bytes. With a session (the demo, which works in one transaction), everything
    happens in it: do not call it so while holding a lock others wait on. NotFound for a version that
    does not exist."""
    make = render if render is not None else (lambda document: protocol_pdf.render_pdf(document, base_url=base_url))
    if isinstance(source, AsyncSession):
        kept = await stored_pdf_of(source, version_id)
        if kept is not None:
            return kept
        return await keep_pdf(source, version_id, await make(await version_document(source, version_id)))
    async with source.read() as session:
        kept = await stored_pdf_of(session, version_id)
        if kept is not None:
            return kept
        document = await version_document(session, version_id)
    pdf = await make(document)
    async with source.transaction() as session:
        return await keep_pdf(session, version_id, pdf)


async def pdf_to_sign(database: Database, protocol_id: int, *, base_url: str | None = None) -> tuple[str, bytes]:
    """The file name and bytes of the stored PDF/A of the protocol's current version — what a party
    downloads to sign with its firma digitale (made on the first download if opening did not make it).
    NotFound for a protocol without a current version (a draft; one back in draft)."""
    async with database.read() as session:
        version = await protocols.current_version(session, protocol_id)
        if version is None:
            raise NotFound(_("This protocol has no frozen text yet: it has not been opened for signature."))
        version_id, name = version.id, f"{protocol_bundle.bundle_file_name(protocol_id, version.number)}.pdf"
    return name, await stored_pdf(database, version_id, base_url=base_url)


# --- the seal ---------------------------------------------------------------------------------------


def _name_of(name: asn1_x509.Name) -> str:
    values: dict[str, Any] = name.native
    for attribute in ("organization_name", "common_name"):
        value = values.get(attribute)
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        if value:
            return str(value)
    return str(name.human_friendly)


@dataclass(frozen=True)
class Seal:
    """The institution's seal: its key and certificate (pyHanko's signer), and where to get timestamps."""

    signer: signers.SimpleSigner
    tsa_url: str = ""

    @property
    def certificate(self) -> asn1_x509.Certificate:
        certificate = self.signer.signing_cert
        assert certificate is not None  # load_seal refuses a PKCS#12 file without one
        return certificate

    @property
    def name(self) -> str:
        """Whose seal it is, as its certificate names it (organisation, else common name)."""
        return _name_of(self.certificate.subject)

    @property
    def issuer(self) -> str:
        return _name_of(self.certificate.issuer)

    def timestamper(self) -> TimeStamper | None:
        return HTTPTimeStamper(self.tsa_url) if self.tsa_url else None


def load_seal(p12: bytes | str | Path, password: str, *, tsa_url: str = "") -> Seal:
    """The seal of a PKCS#12 file (its bytes or its path) and its password. SealError, saying why, when
    the file cannot be read, the password is wrong, or it holds no key and certificate."""
    if isinstance(p12, bytes):
        data = p12
    else:
        try:
            data = Path(p12).read_bytes()
        except OSError as exc:
            raise SealError(
                _("The seal's PKCS#12 file {path} cannot be read: {error}").format(path=p12, error=exc.strerror or exc)
            ) from None
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=[], passphrase=password.encode("utf-8"))
    except ValueError:
        raise SealError(
            _("The seal's PKCS#12 file cannot be opened: the password is wrong, or it is not a PKCS#12 file.")
        ) from None
    if signer.signing_cert is None or signer.signing_key is None:
        raise SealError(_("The seal's PKCS#12 file holds no key with its certificate."))
    return Seal(signer=signer, tsa_url=tsa_url)


def seal_from_settings(settings: Settings) -> Seal | None:
    """The seal the settings configure (TAVOLI_SEAL_P12, TAVOLI_SEAL_PASSWORD, TAVOLI_TSA_URL); None
    when no certificate is configured. SealError when one is configured and cannot be used."""
    if not settings.seal_p12:
        return None
    return load_seal(settings.seal_p12, settings.seal_password, tsa_url=settings.tsa_url)


async def seal_pdf(pdf: bytes, seal: Seal, *, timestamper: TimeStamper | None = None) -> bytes:
    """`pdf` with the institution's PAdES seal added as an incremental update: a certification
    signature allowing no change after it, with a signature timestamp from `timestamper` (default:
    the seal's TSA, if any). The original bytes are kept as they are, in front."""
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        reason=_("Electronic seal of the {issuer} on the protocol in force").format(issuer=ISSUER),
        location="Bologna",
        name=seal.name,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    output = await signers.async_sign_pdf(
        writer,
        metadata,
        signer=seal.signer,
        timestamper=timestamper if timestamper is not None else seal.timestamper(),
    )
    return bytes(output.getvalue())


def _sealable(protocol: PrintedProtocol) -> bool:
    return protocol.in_force_at is not None or protocol.status in (
        ProtocolStatus.in_force,
        ProtocolStatus.expired,
        ProtocolStatus.superseded,
    )


async def sealed_document(
    session: AsyncSession, protocol_id: int, *, seal: Seal | None, locale: str = PRINT_LOCALE
) -> tuple[PrintedProtocol, str, bool]:
    """The printed protocol (protocol_pdf's, with its signature page), its whole HTML document with a note
    on the first page saying whether and by whom it is sealed, and whether `sealed_pdf` seals it: only
    a protocol that entered into force is sealed, and only when a seal is configured."""
    printed, document = await protocol_pdf.protocol_document(session, protocol_id, locale=locale)
    with use_locale(locale):
        if not _sealable(printed):
            note = _unsealed_note(_("only a protocol in force is sealed, and this one is not in force."))
            return printed, _with_note(document, note), False
        if seal is None:
            note = _unsealed_note(
                _(
                    "no electronic seal certificate is configured on this server. The parties' signatures are "
                    "checked with the verification bundle."
                )
            )
            return printed, _with_note(document, note), False
        return printed, _with_note(document, _sealed_note(seal)), True


async def sealed_pdf(
    database: Database,
    protocol_id: int,
    *,
    seal: Seal | None,
    base_url: str | None = None,
    locale: str = PRINT_LOCALE,
    render: Render | None = None,
    timestamper: TimeStamper | None = None,
) -> tuple[PrintedProtocol, bytes]:
    """The printed protocol's PDF/A with its signature page, sealed when it is in force and `seal` is
    configured (else saying on its first page that it is not sealed, and why). Read in a read session;
    rendered and sealed with no session open. NotFound for a protocol never frozen."""
    async with database.read() as session:
        printed, document, sealing = await sealed_document(session, protocol_id, seal=seal, locale=locale)
    make = render if render is not None else (lambda html: protocol_pdf.render_pdf(html, base_url=base_url))
    pdf = await make(document)
    if sealing:
        assert seal is not None
        pdf = await seal_pdf(pdf, seal, timestamper=timestamper)
    return printed, pdf


# --- the sealed PDF, stored once per number of signatures ----------------------------------------------


async def stored_sealed_pdf(
    database: Database,
    protocol_id: int,
    *,
    seal: Seal | None,
    base_url: str | None = None,
    render: Render | None = None,
    timestamper: TimeStamper | None = None,
) -> tuple[str, bytes]:
    """The file name and bytes of `sealed_pdf` for the protocol's signed version, kept once sealed:
    `ProtocolVersion.sealed_pdf` with `sealed_signatures`, how many signatures it shows. A kept PDF
    showing as many signatures as the version has now is given back as it is; after an adhesion (one
    more signature) it is stale and sealed again. Kept with one conditional `UPDATE … WHERE
    sealed_signatures IS NULL OR sealed_signatures < n`: of callers racing, one keeps its PDF and
    the others return it. An unsealed PDF (no seal configured, or not in force) is made each time and
    never kept. NotFound for a protocol never frozen."""
    async with database.read() as session:
        version = await protocol_bundle.bundled_version(session, protocol_id)
        if version is None:
            raise NotFound(_("This protocol has no frozen text yet: it has not been opened for signature."))
        signed = len(await protocols.signatures_of(session, version.id))
        name = f"{protocol_bundle.bundle_file_name(protocol_id, version.number)}-sigillato.pdf"
        if seal is not None and version.sealed_pdf is not None and version.sealed_signatures == signed:
            return name, bytes(version.sealed_pdf)
        version_id = version.id
    printed, pdf = await sealed_pdf(
        database, protocol_id, seal=seal, base_url=base_url, render=render, timestamper=timestamper
    )
    if seal is None or not _sealable(printed):
        return name, pdf
    async with database.transaction() as session:
        await session.execute(
            update(ProtocolVersion)
            .where(
                ProtocolVersion.id == version_id,
                or_(ProtocolVersion.sealed_signatures.is_(None), ProtocolVersion.sealed_signatures < signed),
            )
            .values(sealed_pdf=pdf, sealed_pdf_sha256=hashlib.sha256(pdf).hexdigest(), sealed_signatures=signed)
            .execution_options(synchronize_session=False)
        )
        kept = await session.get(ProtocolVersion, version_id, populate_existing=True)
        if kept is not None and kept.sealed_pdf is not None and kept.sealed_signatures == signed:
            return name, bytes(kept.sealed_pdf)
    return name, pdf
