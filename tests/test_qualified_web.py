"""Qualified signatures (firma digitale) over HTTP: the PDF to sign made once the protocol opens and
downloaded by the parties' signers, a .p7m or a signed PDF uploaded and shown as a qualified signature
(signer, fiscal code, signing time, issuer, "valida, revoca non verificata", the file's SHA-256 and
its download), every refusal with its reason in words and nothing stored, the chair accepting a name
that differs, the upload's own limit, and the sealed PDF of a protocol in force — validating with
pyHanko against the test root, stored once per number of signatures. Nothing touches the network."""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import func, select, update

from server.app import create_app
from server.config import Settings
from server.db.models import ProtocolStatus, ProtocolVersion, Signature, SignatureKind, Table, User
from server.domain import protocol_keys, protocol_seal, protocols, signatures
from server.web.security import is_upload
from tests import protocols_support as ps
from tests.qualified_ca import TestCA, pkcs12, sample_pdf, sign_cades, sign_pades
from tests.support import PASSWORD, Board, csrf_of, css, login, one, post_form, texts

STORED = sample_pdf("Protocollo appalti - versione 1")
OTHER = sample_pdf("Un altro documento")
FISCAL_CODE = "RSSMRA80A01A944I"
LIMIT = 200_000


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.make()


@pytest.fixture
def sealing(request: pytest.FixtureRequest) -> bool:
    """Whether the app has the institution's seal (a PKCS#12 of the test CA): parametrize indirectly."""
    return bool(getattr(request, "param", False))


@pytest.fixture
def settings(database_url: str, tmp_path: Path, ca: TestCA, sealing: bool) -> Settings:
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.pem").write_bytes(ca.root_pem)
    seal: dict[str, Any] = {}
    if sealing:
        p12 = tmp_path / "seal.p12"
        p12.write_bytes(pkcs12(ca.seal_identity()))
        seal = {"seal_p12": str(p12), "seal_password": "seal-password"}
    return ps.protocol_settings(database_url, tmp_path, trust_dir=str(trust), upload_max_bytes=LIMIT, **seal)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """No network: a connection anywhere but this machine is refused and noted (asserted empty)."""
    attempts: list[Any] = []
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError("network access in a test of the qualified signatures")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    assert attempts == []


def page(board: Board, protocol_id: int) -> str:
    return f"/tavoli/{board.table.slug}/protocolli/{protocol_id}"


def named(board: Board, user: User, name: str) -> None:
    board.seed.run(lambda s: s.execute(update(User).where(User.id == user.id).values(name=name)))


def with_stored_pdf(board: Board, protocol_id: int, pdf: bytes = STORED) -> int:
    """Keep `pdf` as the current version's stored PDF (as opening would, without rendering)."""

    async def keep(session: Any) -> int:
        version = await protocols.current_version(session, protocol_id)
        assert version is not None
        await protocol_seal.keep_pdf(session, version.id, pdf)
        return version.id

    return board.seed.run(keep)  # type: ignore[no-any-return]


def opened(board: Board) -> tuple[Any, list[Any]]:
    """The protocol open for signature with the sample PDF stored; CGIL's signatory is Mario Rossi."""
    protocol, parties = ps.ready(board)
    with_stored_pdf(board, protocol.id)
    named(board, board.member, "Mario Rossi")
    return protocol, parties


def upload(
    client: Any,
    board: Board,
    protocol_id: int,
    party_id: int,
    data: bytes,
    *,
    name: str = "protocollo.pdf.p7m",
    password: str = PASSWORD,
    accept: bool = False,
) -> Any:
    fields = {"party": str(party_id), "password": password}
    if accept:
        fields["accept_warning"] = "on"
    token = csrf_of(client.get(page(board, protocol_id)).text)
    return client.post(
        f"{page(board, protocol_id)}/firma-digitale",
        data={**fields, "csrf_token": token},
        files={"file": (name, data, "application/octet-stream")},
        follow_redirects=False,
    )


def qualified_count(board: Board) -> int:
    return board.seed.run(  # type: ignore[no-any-return]
        lambda s: s.scalar(select(func.count()).select_from(Signature).where(Signature.kind == SignatureKind.qualified))
    )


def alert(html: str) -> str:
    return " ".join(node.text(strip=True) for node in css(html, '[role="alert"]'))


# --- the PDF to sign ------------------------------------------------------------------------------


def test_opening_makes_the_pdf_to_sign_which_the_signers_download(client, board):
    protocol = ps.draft(board)
    ps.with_parties(board, protocol.id)
    login(client, "chair@example.org")
    opened_page = post_form(
        client, f"{page(board, protocol.id)}/apri", {"version": str(protocol.version)}, page=page(board, protocol.id)
    )
    assert opened_page.status_code == 303
    kept = board.seed.run(lambda s: protocols.current_version(s, protocol.id))
    assert kept.pdf is not None  # made right after the opening committed
    assert kept.pdf_sha256 == hashlib.sha256(bytes(kept.pdf)).hexdigest()
    assert not css(client.get(page(board, protocol.id)).text, "a.protocol-pdf-to-sign")  # the chair signs nothing

    login(client, "member@example.org")
    shown = client.get(page(board, protocol.id))
    link = one(shown.text, "a.protocol-pdf-to-sign").attributes["href"]
    downloaded = client.get(link)
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.content == bytes(kept.pdf)
    assert downloaded.headers["digest"] == f"sha-256={kept.pdf_sha256}"
    assert "attachment" in downloaded.headers["content-disposition"]
    sign_page = client.get(f"{page(board, protocol.id)}/firma")
    assert one(sign_page.text, "#sign-qualified a.protocol-pdf-to-sign").attributes["href"] == link
    assert css(sign_page.text, '#sign-qualified-form input[type="file"][name="file"]#qualified-file')
    assert css(sign_page.text, 'label[for="qualified-file"]')
    assert css(sign_page.text, 'label[for="qualified-password"]')


def test_a_draft_has_no_pdf_to_sign_and_an_outsider_reaches_none(client, board):
    protocol = ps.draft(board)
    login(client, "member@example.org")
    assert client.get(f"{page(board, protocol.id)}/pdf-da-firmare.pdf").status_code == 404
    login(client, "outsider@example.org")
    assert client.get(f"{page(board, protocol.id)}/pdf-da-firmare.pdf").status_code == 404


# --- an upload accepted ---------------------------------------------------------------------------


def test_a_p7m_of_the_party_signatory_is_shown_as_a_qualified_signature(client, board, ca):
    protocol, parties = opened(board)
    p7m = board.seed.run(lambda _s: sign_cades(STORED, ca.person("Mario", "Rossi", FISCAL_CODE)))
    login(client, "member@example.org")
    sent = upload(client, board, protocol.id, parties[0].id, p7m)
    assert sent.status_code == 303
    assert sent.headers["location"].endswith("#protocol-parties")
    assert qualified_count(board) == 1

    shown = client.get(page(board, protocol.id))
    entry = f"#party-{parties[0].id}"
    assert one(shown.text, entry).attributes["data-signed"] == "yes"
    details = one(shown.text, f"{entry} dl.signature-qualified")
    assert details.attributes["data-status"] == "valid_revocation_unchecked"
    assert texts(shown.text, f"{entry} .qualified-status") == ["Valida, revoca non verificata"]
    assert texts(shown.text, f"{entry} .qualified-signer") == ["Mario Rossi"]
    assert texts(shown.text, f"{entry} .qualified-fiscal-code") == [FISCAL_CODE]
    assert texts(shown.text, f"{entry} .qualified-issuer") == [ca.issuer_name()]
    assert one(shown.text, f"{entry} .qualified-signing-time").text(strip=True).endswith("Z")
    assert texts(shown.text, f"{entry} .qualified-sha256") == [hashlib.sha256(p7m).hexdigest()]
    assert one(shown.text, f"{entry} .signature-check").attributes["data-check"] == "valid"

    file = client.get(one(shown.text, f"{entry} a.qualified-file").attributes["href"])
    assert file.status_code == 200
    assert file.content == p7m
    assert file.headers["content-type"] == "application/pkcs7-mime"
    assert 'filename="protocollo.pdf.p7m"' in file.headers["content-disposition"]


def test_a_signed_pdf_uploaded_by_the_substitute_is_downloaded_as_a_pdf(client, board, ca):
    protocol, parties = opened(board)
    named(board, board.observer, "Anna Verdi")
    pades = board.seed.run(lambda _s: sign_pades(STORED, ca.person("Anna", "Verdi")))
    login(client, "observer@example.org")
    assert upload(client, board, protocol.id, parties[0].id, pades, name="firmato").status_code == 303
    shown = client.get(page(board, protocol.id))
    file = client.get(one(shown.text, f"#party-{parties[0].id} a.qualified-file").attributes["href"])
    assert file.content == pades
    assert file.headers["content-type"] == "application/pdf"
    assert 'filename="firmato.pdf"' in file.headers["content-disposition"]


def test_the_qualified_file_of_a_party_without_one_is_404(client, board):
    protocol, parties = opened(board)
    login(client, "member@example.org")
    assert client.get(f"{page(board, protocol.id)}/parti/{parties[0].id}/firma-digitale").status_code == 404


# --- refusals -------------------------------------------------------------------------------------


REFUSALS = {
    "another document": (
        lambda ca: sign_cades(OTHER, ca.person("Mario", "Rossi")),
        "Il contenuto firmato è un altro documento, non il PDF del protocollo di questa versione.",
    ),
    "untrusted": (
        lambda ca: sign_cades(STORED, TestCA.make("Altra CA").person("Mario", "Rossi")),
        "Il certificato del firmatario non proviene da un'autorità di certificazione qualificata fidata",
    ),
    "expired": (
        lambda ca: sign_cades(STORED, ca.person("Mario", "Rossi", expired=True)),
        "Il certificato del firmatario era scaduto quando ha firmato",
    ),
    "not a signature": (
        lambda ca: _bytes(b"un testo qualsiasi, non una firma"),
        "Il file non è una firma",
    ),
}


async def _bytes(data: bytes) -> bytes:
    return data


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_file_that_does_not_check_is_refused_with_its_reason_in_words(client, board, ca, case):
    protocol, parties = opened(board)
    make, message = REFUSALS[case]
    data = board.seed.run(lambda _s: make(ca))
    login(client, "member@example.org")
    refused = upload(client, board, protocol.id, parties[0].id, data)
    assert refused.status_code == 422
    assert message in alert(refused.text)
    assert css(refused.text, "#sign-qualified-form")  # the signing page again, to try another file
    assert qualified_count(board) == 0
    assert ps.current(board, protocol.id).status is ProtocolStatus.open


def test_a_wrong_password_or_no_file_or_no_party_is_refused(client, board, ca):
    protocol, parties = opened(board)
    p7m = board.seed.run(lambda _s: sign_cades(STORED, ca.person("Mario", "Rossi")))
    login(client, "member@example.org")
    wrong = upload(client, board, protocol.id, parties[0].id, p7m, password="sbagliata")
    assert wrong.status_code == 422
    assert "La password non è corretta" in alert(wrong.text)
    empty = upload(client, board, protocol.id, parties[0].id, b"")
    assert empty.status_code == 422
    assert alert(empty.text)
    token = csrf_of(client.get(page(board, protocol.id)).text)
    no_party = client.post(
        f"{page(board, protocol.id)}/firma-digitale",
        data={"password": "x", "csrf_token": token},
        files={"file": ("a.p7m", p7m, "application/octet-stream")},
        follow_redirects=False,
    )
    assert no_party.status_code == 422
    assert alert(no_party.text)
    assert qualified_count(board) == 0


def test_someone_not_the_partys_signer_is_refused(client, board, ca):
    protocol, parties = opened(board)
    p7m = board.seed.run(lambda _s: sign_cades(STORED, ca.person("Mario", "Rossi")))
    login(client, "secretary@example.org")  # CNA's signatory, not CGIL's
    refused = upload(client, board, protocol.id, parties[0].id, p7m)
    assert refused.status_code == 403
    assert qualified_count(board) == 0
    login(client, "chair@example.org")  # the chair, without accepting a warning
    assert upload(client, board, protocol.id, parties[0].id, p7m).status_code == 403
    assert qualified_count(board) == 0
    login(client, "outsider@example.org")
    token = csrf_of(client.get("/").text)
    outsider = client.post(
        f"{page(board, protocol.id)}/firma-digitale",
        data={"party": str(parties[0].id), "password": "x", "csrf_token": token},
        files={"file": ("a.p7m", p7m, "application/octet-stream")},
        follow_redirects=False,
    )
    assert outsider.status_code == 404
    assert qualified_count(board) == 0


def test_a_file_past_the_upload_limit_is_refused_and_the_route_is_an_upload_route(client, board):
    protocol, parties = opened(board)
    assert is_upload(f"{page(board, protocol.id)}/firma-digitale")
    login(client, "member@example.org")
    too_large = upload(client, board, protocol.id, parties[0].id, b"x" * (LIMIT + 1))
    assert too_large.status_code == 422  # within the body's own limit: the domain says it is too large
    assert "Il file è troppo grande" in alert(too_large.text)
    bound = max(LIMIT, client.app.state.settings.max_body_bytes)
    refused = upload(client, board, protocol.id, parties[0].id, b"x" * (bound + 1))
    assert refused.status_code == 413  # past the upload's limit, refused before it is read
    assert qualified_count(board) == 0


# --- a name that differs, accepted by the chair ----------------------------------------------------


def test_a_name_that_differs_is_refused_to_the_signatory_and_accepted_by_the_chair(client, board, ca):
    protocol, parties = opened(board)
    p7m = board.seed.run(lambda _s: sign_cades(STORED, ca.person("Luigi", "Bianchi")))
    login(client, "member@example.org")
    warned = upload(client, board, protocol.id, parties[0].id, p7m)
    assert warned.status_code == 422
    assert "indica Luigi Bianchi, non il firmatario designato" in alert(warned.text)
    assert qualified_count(board) == 0
    assert upload(client, board, protocol.id, parties[0].id, p7m, accept=True).status_code == 403  # not the chair

    login(client, "chair@example.org")
    chair_page = client.get(page(board, protocol.id))
    form = one(chair_page.text, "#qualified-accept-form")
    assert form.attributes["enctype"] == "multipart/form-data"
    assert css(chair_page.text, 'label[for="qualified-accept-file"]')
    wrong = upload(client, board, protocol.id, parties[0].id, p7m, accept=True, password="sbagliata")
    assert wrong.status_code == 422
    assert "La password non è corretta" in alert(wrong.text)
    assert qualified_count(board) == 0

    accepted = upload(client, board, protocol.id, parties[0].id, p7m, accept=True)
    assert accepted.status_code == 303
    assert qualified_count(board) == 1
    shown = client.get(page(board, protocol.id))
    entry = f"#party-{parties[0].id}"
    assert texts(shown.text, f"{entry} .qualified-signer") == ["Luigi Bianchi"]
    assert "Chair" in one(shown.text, f"{entry} .qualified-accepted").text()
    assert css(shown.text, f'#qualified-accept-party option[value="{parties[1].id}"]')
    assert not css(shown.text, f'#qualified-accept-party option[value="{parties[0].id}"]')


def test_the_chair_cannot_accept_a_file_that_does_not_check(client, board, ca):
    protocol, parties = opened(board)
    p7m = board.seed.run(lambda _s: sign_cades(OTHER, ca.person("Luigi", "Bianchi")))
    login(client, "chair@example.org")
    refused = upload(client, board, protocol.id, parties[0].id, p7m, accept=True)
    assert refused.status_code == 422
    assert "un altro documento" in alert(refused.text)
    assert css(refused.text, "#qualified-accept-form")  # the protocol page again
    assert qualified_count(board) == 0


# --- the sealed PDF -------------------------------------------------------------------------------


async def _validate(pdf: bytes, ca: TestCA) -> Any:
    reader = PdfFileReader(io.BytesIO(pdf))
    assert len(reader.embedded_signatures) == 1
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(ca.root_der)], allow_fetching=False, revocation_mode="soft-fail"
    )
    return await async_validate_pdf_signature(reader.embedded_signatures[0], context)


def in_force(client: Any, board: Board) -> Any:
    """A protocol both parties signed in the app: in force."""
    protocol, parties = ps.ready(board)
    key = protocol_keys.current_key(client.app.state.settings.signing_key_file)
    for party, user in zip(parties, (board.member, board.secretary), strict=True):
        board.seed.run(
            lambda s, party=party, user=user: signatures.sign(
                s, board.table, protocol.id, party_id=party.id, actor_user_id=user.id, password=PASSWORD, key=key
            )
        )
    assert ps.current(board, protocol.id).status is ProtocolStatus.in_force
    return protocol


def kept_version(board: Board, protocol_id: int) -> ProtocolVersion:
    return board.seed.run(  # type: ignore[no-any-return]
        lambda s: s.scalar(
            select(ProtocolVersion)
            .where(ProtocolVersion.protocol_id == protocol_id)
            .execution_options(populate_existing=True)
        )
    )


@pytest.mark.parametrize("sealing", [True], indirect=True)
def test_the_sealed_pdf_validates_and_is_stored_once_per_signature_count(client, board, ca):
    assert client.app.state.seal is not None
    protocol = in_force(client, board)
    login(client, "observer@example.org")
    link = one(client.get(page(board, protocol.id)).text, "a.protocol-sealed-pdf").attributes["href"]
    first = client.get(link)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/pdf"
    checked = board.seed.run(lambda _s: _validate(first.content, ca))
    assert checked.intact
    assert checked.valid
    assert checked.trusted
    kept = kept_version(board, protocol.id)
    assert kept.sealed_signatures == 2
    assert bytes(kept.sealed_pdf or b"") == first.content
    assert kept.sealed_pdf_sha256 == hashlib.sha256(first.content).hexdigest()
    assert client.get(link).content == first.content  # stored once: the same bytes, not sealed again


def test_without_a_seal_the_pdf_says_it_is_not_sealed_and_nothing_is_kept(client, board):
    assert client.app.state.seal is None
    protocol = in_force(client, board)
    login(client, "member@example.org")
    pdf = client.get(f"{page(board, protocol.id)}/sigillato.pdf")
    assert pdf.status_code == 200
    first_page = " ".join((pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text() or "").split())
    assert "non è sigillato" in first_page
    assert kept_version(board, protocol.id).sealed_pdf is None


def test_a_draft_has_no_sealed_pdf(client, board):
    protocol = ps.draft(board)
    login(client, "member@example.org")
    assert client.get(f"{page(board, protocol.id)}/sigillato.pdf").status_code == 404


def test_a_seal_that_cannot_be_used_stops_the_start_up_saying_why(database_url, tmp_path):
    broken = ps.protocol_settings(database_url, tmp_path, seal_p12=str(tmp_path / "missing.p12"))
    with pytest.raises(protocol_seal.SealError, match=r"missing\.p12"):
        create_app(broken)


@pytest.mark.parametrize("sealing", [True], indirect=True)
def test_the_public_downloads_the_sealed_pdf_of_a_public_protocol_and_of_no_other(client, board, ca):
    protocol = in_force(client, board)
    address = f"{page(board, protocol.id)}/sigillato.pdf"
    assert client.get(address, follow_redirects=False).status_code in (303, 404)  # a private table: nothing
    board.seed.run(lambda s: s.execute(update(Table).where(Table.id == board.table.id).values(is_public=True)))
    public_page = client.get(page(board, protocol.id))
    assert one(public_page.text, ".protocol-public a.protocol-sealed-pdf").attributes["href"] == address
    sealed = client.get(address)
    assert sealed.status_code == 200
    assert sealed.headers["content-type"] == "application/pdf"
    checked = board.seed.run(lambda _s: _validate(sealed.content, ca))
    assert checked.intact
    assert checked.trusted
    assert kept_version(board, protocol.id).sealed_signatures == 2
    draft = ps.draft(board, "Protocollo in bozza")
    assert client.get(f"{page(board, draft.id)}/sigillato.pdf").status_code == 404


@pytest.mark.parametrize("sealing", [True], indirect=True)
def test_racing_callers_each_seal_and_all_get_the_one_kept(client, board):
    protocol = in_force(client, board)
    made = iter(range(100))

    async def render(_document: str) -> bytes:
        return sample_pdf(f"Stampa {next(made)}")  # each caller lays out a PDF of its own

    async def race() -> list[bytes]:
        database, seal = client.app.state.database, client.app.state.seal
        found = await asyncio.gather(
            *(protocol_seal.stored_sealed_pdf(database, protocol.id, seal=seal, render=render) for _ in range(4))
        )
        return [pdf for _name, pdf in found]

    pdfs = client.portal.call(race)  # on the app's loop, outside any transaction
    kept = kept_version(board, protocol.id)
    assert kept.sealed_signatures == 2
    assert pdfs == [bytes(kept.sealed_pdf or b"")] * 4
