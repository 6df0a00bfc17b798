"""The demo's firma digitale: one party of the *Protocollo appalti* signs with a qualified signature.

`tavoli demo` makes a demo certification authority each time it runs (a root, with `cryptography`; its
name says it is a demonstration, its private key is never written anywhere), a signing certificate
for the CGIL's signatory as Italian qualified certificates carry it (CN, givenName, surname and
serialNumber "TINIT-<fiscal code>", an invented fiscal code), and signs the version's stored PDF/A
(made once, `protocol_seal.stored_pdf`) with a CAdES enveloping signature (`.p7m`) through pyHanko —
what an Italian signing tool gives a party. The file is recorded through the same
`qualified.record_qualified` as an upload, checked against the demo root only: the demo CA is never
put in TAVOLI_TRUST_DIR, so no server trusts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Protocol, ProtocolParty, Signature, Table
from server.demo.world import DemoWorld
from server.domain import protocol_seal, protocols, qualified
from server.domain.protocol_keys import ServerKey

__all__ = ["CA_NAME", "PROTOCOL", "DemoCA", "sign_protocol"]

PROTOCOL = "Protocollo appalti"  # the demo protocol one of whose parties signs with a firma digitale
SIGNER = "marco.zanotti"  # the CGIL's signatory (email local part)
FISCAL_CODE = "ZNTMRC70A01A944Q"  # invented
CA_NAME = "Tavoli Demo CA firma qualificata (solo dimostrazione)"
DAY = timedelta(days=1)


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,  # non-repudiation: what a qualified signing certificate carries
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class DemoCA:
    """A demo root CA: its certificate and its key (kept in memory only)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def make(cls, now: datetime | None = None) -> DemoCA:
        now = now or datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_NAME),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @property
    def root(self) -> asn1_x509.Certificate:
        """The root as pyHanko takes it (a trust root)."""
        return asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))

    def signer(self, person: str, fiscal_code: str, now: datetime | None = None) -> signers.SimpleSigner:
        """pyHanko's signer for a natural person's signing certificate issued by this CA."""
        now = now or datetime.now(UTC)
        given, _space, surname = person.partition(" ")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
                x509.NameAttribute(NameOID.SURNAME, surname or given),
                x509.NameAttribute(NameOID.GIVEN_NAME, given),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, f"TINIT-{fiscal_code}"),
                x509.NameAttribute(NameOID.COMMON_NAME, person),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 1095 * DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return signers.SimpleSigner(
            signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
            cert_registry=SimpleCertificateStore.from_certs([self.root]),  # type: ignore[no-untyped-call]
        )


async def sign_protocol(
    session: AsyncSession, world: DemoWorld, table: Table, protocol_id: int, key: ServerKey
) -> Signature | None:
    """When `protocol_id` is the demo's Protocollo appalti, open for signature: the CGIL's signatory signs
    its stored PDF/A with a demo firma digitale (.p7m), recorded as the party's qualified signature.
    Called right after the protocol opens, before the other parties sign in the app (whose `sign` then
    leaves this party's signature as it is). None for any other protocol."""
    protocol = await session.get(Protocol, protocol_id)
    user = world.users.get(SIGNER)
    if protocol is None or protocol.title != PROTOCOL or user is None:
        return None
    party = await session.scalar(
        select(ProtocolParty).where(ProtocolParty.protocol_id == protocol_id, ProtocolParty.signatory_id == user.id)
    )
    version = await protocols.current_version(session, protocol_id)
    if party is None or version is None:
        return None
    pdf = await protocol_seal.stored_pdf(session, version.id)
    ca = DemoCA.make()
    signed = await ca.signer(user.name, FISCAL_CODE).async_sign_general_data(
        pdf, "sha256", detached=False, use_cades=True
    )
    return await qualified.record_qualified(
        session,
        table,
        protocol_id,
        party_id=party.id,
        data=signed.dump(),
        file_name=f"{PROTOCOL}.pdf.p7m",
        actor_user_id=user.id,
        password=world.password,
        accept_warning=False,
        key=key,
        roots=[ca.root],
    )
