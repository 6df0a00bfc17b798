"""A test certification authority for qualified signatures (firma digitale) and the institution's seal.

Made in the test with `cryptography` and signed with pyHanko, nothing fetched:

    ca = TestCA.make()                    # root → intermediate, the root is the trust anchor
    mario = ca.person("Mario", "Rossi", "RSSMRA80A01A944I")   # subject serialNumber TINIT-…
    stored = sample_pdf("Protocollo appalti")                  # a one-page PDF
    pades = await sign_pades(stored, mario)                    # the stored bytes + one signature
    p7m = await sign_cades(stored, mario)                      # enveloping .p7m (DER)
    p7s = await sign_cades(stored, mario, detached=True)       # detached CMS (DER)
    ca.root_pem                                                # write it in a TAVOLI_TRUST_DIR

`ca.person(..., expired=True)` gives a certificate whose validity ended before now,
`TestCA.make("Altra CA")` a CA nobody trusts; `ca.seal_identity(...)` / `pkcs12(...)` a seal's
certificate and its PKCS#12 file (for TAVOLI_SEAL_P12).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import cms as asn1_cms
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12 as pyca_pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko_certvalidator.registry import SimpleCertificateStore

__all__ = [
    "Identity",
    "TestCA",
    "add_text_after",
    "crl",
    "pkcs12",
    "sample_pdf",
    "sign_cades",
    "sign_pades",
    "signer_of",
    "with_crls",
    "with_dss",
]

DAY = timedelta(days=1)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(
    common_name: str, *, organisation: str | None = None, extra: list[x509.NameAttribute] | None = None
) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "IT")]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    attributes.extend(extra or [])
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


@dataclass(frozen=True)
class Identity:
    """A certificate, its private key and the chain above it (intermediate first, root last)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class TestCA:
    """A root and an intermediate CA that issue signers' and seals' certificates."""

    __test__ = False  # not a pytest class

    name: str
    root: Identity
    intermediate: Identity

    @classmethod
    def make(cls, name: str = "Tavoli Test Qualified CA", *, now: datetime | None = None) -> TestCA:
        now = now or datetime.now(UTC)
        root_key = _key()
        root_name = _name(f"{name} Root", organisation=name)
        root_cert = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - 3650 * DAY)
            .not_valid_after(now + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        root = Identity(root_cert, root_key, ())
        inter_key = _key()
        inter_cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"{name} Qualified Signatures", organisation=name))
            .issuer_name(root_name)
            .public_key(inter_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - 1825 * DAY)
            .not_valid_after(now + 1825 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        return cls(name, root, Identity(inter_cert, inter_key, (root_cert,)))

    @property
    def root_pem(self) -> bytes:
        """The trust anchor, PEM: what a TAVOLI_TRUST_DIR holds."""
        return self.root.cert_pem

    @property
    def root_der(self) -> bytes:
        return self.root.cert_der

    def issuer_name(self) -> str:
        """The signers' certificates' issuer, as its common name."""
        return self.intermediate.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value  # type: ignore[return-value]

    def _issue(
        self,
        subject: x509.Name,
        *,
        expired: bool,
        now: datetime | None,
        usage: x509.KeyUsage,
        extended: list[x509.ObjectIdentifier] | None = None,
    ) -> Identity:
        now = now or datetime.now(UTC)
        if expired:
            not_before, not_after = now - 730 * DAY, now - 2 * DAY
        else:
            not_before, not_after = now - 30 * DAY, now + 730 * DAY
        key = _key()
        issuer = self.intermediate
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        )
        if extended:
            builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
        cert = builder.sign(issuer.key, hashes.SHA256())
        return Identity(cert, key, (issuer.cert, *issuer.chain))

    def person(
        self,
        given_name: str,
        surname: str,
        fiscal_code: str | None = "RSSMRA80A01A944I",
        *,
        expired: bool = False,
        now: datetime | None = None,
    ) -> Identity:
        """A natural person's signing certificate as Italian qualified certificates carry it: CN
        "Given Surname", givenName, surname and serialNumber "TINIT-<fiscal code>" (non-repudiation)."""
        extra = [
            x509.NameAttribute(NameOID.SURNAME, surname),
            x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
        ]
        if fiscal_code:
            extra.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, f"TINIT-{fiscal_code}"))
        return self._issue(
            _name(f"{given_name} {surname}", extra=extra),
            expired=expired,
            now=now,
            usage=_usage(content_commitment=True),
        )

    def seal_identity(
        self, organisation: str = "Città metropolitana di Bologna", *, now: datetime | None = None
    ) -> Identity:
        """An organisation's seal certificate (for the institution's PAdES seal)."""
        return self._issue(
            _name(organisation, organisation=organisation),
            expired=False,
            now=now,
            usage=_usage(content_commitment=True),
            extended=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
        )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _usage(*, content_commitment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def pkcs12(identity: Identity, password: bytes | None = b"seal-password") -> bytes:
    """The identity's key, certificate and chain as a PKCS#12 file (what TAVOLI_SEAL_P12 names)."""
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return pyca_pkcs12.serialize_key_and_certificates(
        b"seal", identity.key, identity.cert, list(identity.chain), encryption
    )


def signer_of(identity: Identity) -> signers.SimpleSigner:
    """pyHanko's in-memory signer for the identity (its chain embedded in what it signs)."""
    key_der = identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain = [asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)) for cert in identity.chain]
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(identity.cert_der),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )


def _content_page(
    writer: PdfFileWriter | IncrementalPdfFileWriter, text: str, y: int, font_name: str = "/F1"
) -> tuple[generic.IndirectObject, generic.DictionaryObject]:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = generic.StreamObject(
        stream_data=f"BT {font_name} 14 Tf 72 {y} Td ({escaped}) Tj ET".encode("latin-1", "replace")
    )
    font = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name(font_name): writer.add_object(font)})}
    )
    return writer.add_object(stream), resources


def sample_pdf(text: str = "Protocollo appalti - testo congelato") -> bytes:
    """A one-page PDF showing `text` (Latin-1 characters): a stand-in for a version's stored PDF."""
    writer = PdfFileWriter()
    contents, resources = _content_page(writer, text, 760)
    writer.insert_page(PageObject(contents=contents, media_box=[0, 0, 595, 842], resources=resources))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def sign_pades(pdf: bytes, identity: Identity, *, field_name: str = "FirmaDigitale") -> bytes:
    """`pdf` signed by `identity` (PAdES, an incremental update: the result begins with `pdf`'s bytes)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(field_name=field_name, subfilter=SigSeedSubFilter.PADES)
    out = await signers.async_sign_pdf(
        writer, meta, signer=signer_of(identity), new_field_spec=SigFieldSpec(field_name)
    )
    return out.getvalue()  # type: ignore[no-any-return]


async def sign_cades(data: bytes, identity: Identity, *, detached: bool = False, pem: bool = False) -> bytes:
    """A CAdES signature of `data` by `identity`: enveloping (a .p7m with `data` inside, as Italian
    signing tools make it) or detached; DER, or PEM ("-----BEGIN PKCS7-----") when `pem`."""
    signed = await signer_of(identity).async_sign_general_data(data, "sha256", detached=detached, use_cades=True)
    der: bytes = signed.dump()
    if not pem:
        return der
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN PKCS7-----\n{body}-----END PKCS7-----\n".encode("ascii")


def add_text_after(signed_pdf: bytes, text: str = "Clausola aggiunta dopo la firma") -> bytes:
    """An incremental update after the signatures that adds `text` to the first page: a change of
    content that a signature does not allow."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf), strict=False)
    contents, resources = _content_page(writer, text, 700, "/FAdded")
    writer.add_stream_to_page(0, contents, resources=resources)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def crl(issuer: Identity, revoked: Sequence[x509.Certificate] = (), *, now: datetime | None = None) -> bytes:
    """A CRL (DER) of `issuer`, valid for a week, listing `revoked`."""
    now = now or datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - timedelta(hours=1))
        .next_update(now + 7 * DAY)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(now - timedelta(hours=2))
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def with_crls(p7m: bytes, ca: TestCA, revoked: Sequence[x509.Certificate] = ()) -> bytes:
    """The CAdES signature `p7m` (DER) carrying the root's and the intermediate's CRLs in its
    SignedData (outside what is signed, as signing tools add them): revocation checkable offline."""
    info = asn1_cms.ContentInfo.load(p7m)
    info["content"]["crls"] = asn1_cms.RevocationInfoChoices(
        [
            asn1_cms.RevocationInfoChoice(name="crl", value=asn1_crl.CertificateList.load(crl(ca.root))),
            asn1_cms.RevocationInfoChoice(
                name="crl", value=asn1_crl.CertificateList.load(crl(ca.intermediate, revoked))
            ),
        ]
    )
    return info.dump(force=True)  # type: ignore[no-any-return]


def with_dss(signed_pdf: bytes, ca: TestCA, revoked: Sequence[x509.Certificate] = ()) -> bytes:
    """The signed PDF with a document security store (an incremental update after the signature, as
    PAdES-LT adds it) carrying the root's and the intermediate's CRLs."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    out = io.BytesIO(signed_pdf)
    DocumentSecurityStore.add_dss(
        out,
        None,
        crls=[
            asn1_crl.CertificateList.load(crl(ca.root)),
            asn1_crl.CertificateList.load(crl(ca.intermediate, revoked)),
        ],
        strict=False,
    )
    return out.getvalue()
