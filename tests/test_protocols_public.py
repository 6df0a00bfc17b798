"""The public face of protocols: a public table's protocol in force, expired or superseded is public at
/tavoli/<slug>/protocolli/<id> (the page, its PDF/A with the signature page, its verification
bundle) and in the Atom feeds; a draft, a protocol open for signature and every protocol of a private
table are not (404, or "log in first" for the anonymous). The same addresses stay the protocol's own
page and bundle for its people (a role on the table, a party's signer)."""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db.models import Protocol, ProtocolStatus, Signature, Table, User
from server.domain import protocol_keys, signatures
from server.domain.protocol_text import canonical
from tests import protocols_support as ps
from tests.support import PASSWORD, Board, css, login, one, texts

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return ps.protocol_settings(database_url, tmp_path)


def make_public(board: Board) -> None:
    board.seed.run(lambda s: s.execute(update(Table).where(Table.id == board.table.id).values(is_public=True)))


def page(board: Board, protocol_id: int) -> str:
    return f"/tavoli/{board.table.slug}/protocolli/{protocol_id}"


def sign(client: Any, board: Board, protocol_id: int, party: Any, email: str) -> None:
    key = protocol_keys.load_key(client.app.state.settings.signing_key_file)

    async def signed(session: AsyncSession) -> Signature:
        user = await session.scalar(select(User).where(User.email == email))
        assert user is not None
        return await signatures.sign(
            session, board.table, protocol_id, party_id=party.id, actor_user_id=user.id, password=PASSWORD, key=key
        )

    board.seed.run(signed)


def in_force(client: Any, board: Board, title: str = "Protocollo appalti") -> Protocol:
    """A protocol both parties signed (CGIL by its member, CNA by the secretary)."""
    protocol, parties = ps.ready(board, title)
    sign(client, board, protocol.id, parties[0], "member@example.org")
    sign(client, board, protocol.id, parties[1], "secretary@example.org")
    found = ps.current(board, protocol.id)
    assert found.status is ProtocolStatus.in_force
    return found


def half_signed(client: Any, board: Board) -> Protocol:
    protocol, parties = ps.ready(board, "Protocollo di sito Interporto")
    sign(client, board, protocol.id, parties[0], "member@example.org")
    return ps.current(board, protocol.id)


def set_status(board: Board, protocol_id: int, status: ProtocolStatus) -> None:
    board.seed.run(lambda s: s.execute(update(Protocol).where(Protocol.id == protocol_id).values(status=status)))


def entries(feed: str) -> list[ET.Element]:
    return ET.fromstring(feed).findall(f"{ATOM}entry")  # noqa: S314 (our own feed)


def statements(board: Board, protocol_id: int) -> list[Signature]:
    return board.seed.run(  # type: ignore[no-any-return]
        lambda s: s.scalars(select(Signature).where(Signature.protocol_id == protocol_id).order_by(Signature.id))
    ).all()


# --- the page -------------------------------------------------------------------------------------


def test_a_protocol_in_force_of_a_public_table_is_public_with_every_signature_checked(client, board):
    make_public(board)
    protocol = in_force(client, board)
    response = client.get(page(board, protocol.id))

    assert response.status_code == 200
    html = response.text
    assert texts(html, "#protocol-title") == ["Protocollo appalti"]
    assert texts(html, ".protocol-kind") == ["Protocollo appalti"]
    assert texts(html, ".protocol-status strong") == ["In vigore"]
    assert texts(html, ".protocol-text h3") == [
        "Impegno — CGIL Bologna — entro 2027-03-31",
        "Impegno — CNA Bologna — entro 2027-06-30",
    ]
    assert texts(html, "code.text-sha256") == [hashlib.sha256(canonical(ps.TEXT)).hexdigest()]
    assert texts(html, ".party-name") == ["CGIL Bologna", "CNA Bologna"]
    stored = statements(board, protocol.id)
    assert texts(html, "code.statement-sha256") == [hashlib.sha256(s.statement).hexdigest() for s in stored]
    assert texts(html, "code.kid") == [s.key_id for s in stored]
    assert len(css(html, ".signature-valid")) == 2
    assert css(html, ".signature-broken") == []
    downloads = [a.attributes["href"] for a in css(html, ".protocol-downloads a")]
    assert downloads == [
        f"{page(board, protocol.id)}.pdf",
        f"{page(board, protocol.id)}/verifica.zip",
        "/.well-known/jwks.json",
    ]
    # Nothing of the protocol's own page: no form, no editor, no live socket.
    assert css(html, "form[action*='/protocolli/']") == []
    assert css(html, "[ws-connect]") == []


def test_a_broken_signature_shows_broken_with_why_on_the_public_page(client, board):
    make_public(board)
    protocol = in_force(client, board)
    first = statements(board, protocol.id)[0]
    changed = bytes(first.statement).replace(b"Protocollo appalti", b"Protocollo appaltI")
    board.seed.run(lambda s: s.execute(update(Signature).where(Signature.id == first.id).values(statement=changed)))

    html = client.get(page(board, protocol.id)).text

    assert len(css(html, ".signature-valid")) == 1
    (broken,) = css(html, ".signature-check")[:1]
    assert "Non valida:" in broken.text()
    assert "sigillo non corrisponde" in broken.text()


@pytest.mark.parametrize("status", [ProtocolStatus.expired, ProtocolStatus.superseded])
def test_expired_and_superseded_protocols_stay_public(client, board, status):
    make_public(board)
    protocol = in_force(client, board)
    set_status(board, protocol.id, status)
    response = client.get(page(board, protocol.id))
    assert response.status_code == 200
    assert texts(response.text, ".protocol-status strong") == [
        {"expired": "Scaduto", "superseded": "Sostituito"}[status]
    ]


def test_drafts_and_protocols_open_for_signature_are_not_public(client, board):
    make_public(board)
    draft = ps.draft(board, "Intesa per la buona occupazione")
    opened = half_signed(client, board)
    for protocol in (draft, opened):
        for suffix in ("", ".pdf", "/verifica.zip"):
            assert client.get(page(board, protocol.id) + suffix).status_code == 404, (protocol.status, suffix)
    login(client, "outsider@example.org")  # signed in, without a role on the table: the public, too
    for suffix in ("", ".pdf", "/verifica.zip"):
        assert client.get(page(board, opened.id) + suffix).status_code == 404


def test_a_private_tables_protocol_in_force_is_not_public(client, board):
    protocol = in_force(client, board)
    for suffix in ("", ".pdf", "/verifica.zip"):
        response = client.get(page(board, protocol.id) + suffix, follow_redirects=False)
        assert response.status_code == 303, suffix
        assert response.headers["location"].startswith("/login?next=")
    login(client, "outsider@example.org")
    for suffix in ("", ".pdf", "/verifica.zip"):
        assert client.get(page(board, protocol.id) + suffix).status_code == 404, suffix


def test_another_tables_address_and_an_unknown_id_are_404(client, board):
    make_public(board)
    protocol = in_force(client, board)
    board.seed.run(lambda s: s.execute(update(Table).where(Table.id == board.other.id).values(is_public=True)))
    assert client.get(f"/tavoli/{board.other.slug}/protocolli/{protocol.id}").status_code == 404
    assert client.get(page(board, 999_999)).status_code == 404
    assert client.get(page(board, 99_999_999_999)).status_code == 404


def test_the_protocols_people_keep_its_own_page_at_the_same_address(client, board):
    make_public(board)
    protocol = in_force(client, board)
    login(client, "observer@example.org")
    html = client.get(page(board, protocol.id)).text
    assert css(html, ".protocol-public") == [], "a role on the table: the protocol's own page"
    assert css(html, "#protocol")
    assert client.get(page(board, protocol.id) + "/verifica.zip").status_code == 200


def test_a_public_page_links_what_it_supersedes_and_what_superseded_it(client, board):
    make_public(board)
    old = in_force(client, board, "Protocollo appalti 2026")
    new = in_force(client, board, "Protocollo appalti 2027")
    board.seed.run(lambda s: s.execute(update(Protocol).where(Protocol.id == new.id).values(supersedes_id=old.id)))
    set_status(board, old.id, ProtocolStatus.superseded)

    old_page = client.get(page(board, old.id)).text
    assert one(old_page, ".protocol-superseded a").attributes["href"] == page(board, new.id)
    new_page = client.get(page(board, new.id)).text
    assert one(new_page, ".protocol-supersedes a").attributes["href"] == page(board, old.id)


# --- the PDF/A and the bundle ----------------------------------------------------------------------


def test_the_public_pdf_is_pdf_a_with_the_signature_page(client, board):
    make_public(board)
    protocol = in_force(client, board)
    response = client.get(page(board, protocol.id) + ".pdf")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f'filename="protocollo-{protocol.id}-v1.pdf"' in response.headers["content-disposition"]
    with pikepdf.open(io.BytesIO(response.content)) as pdf, pdf.open_metadata() as xmp:
        assert xmp["{http://www.aiim.org/pdfa/ns/id/}part"] == "2"
        assert xmp["dc:title"] == "Protocollo appalti"
    # Asked again: the same document, kept (the same protocol in the same state prints the same).
    assert client.get(page(board, protocol.id) + ".pdf").content == response.content
    assert len(client.app.state.protocol_prints.done) == 1


def test_the_protocols_people_print_an_open_protocol_too(client, board):
    opened = half_signed(client, board)
    login(client, "member@example.org")
    response = client.get(page(board, opened.id) + ".pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")
    draft = ps.draft(board, "Bozza")
    assert client.get(page(board, draft.id) + ".pdf").status_code == 404, "a draft has no frozen text to print"


def test_the_public_bundle_holds_the_exact_signed_bytes(client, board):
    make_public(board)
    protocol = in_force(client, board)
    response = client.get(page(board, protocol.id) + "/verifica.zip")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    folder = f"protocollo-{protocol.id}-v1"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.read(f"{folder}/text.md") == canonical(ps.TEXT)
        for n, signature in enumerate(statements(board, protocol.id), start=1):
            assert archive.read(f"{folder}/signatures/{n:02d}.json") == signature.statement


# --- the feeds ------------------------------------------------------------------------------------


def test_the_feeds_carry_public_protocols_and_nothing_else(client, board):
    make_public(board)
    protocol = in_force(client, board)
    half_signed(client, board)
    ps.draft(board, "Intesa per la buona occupazione")

    for url in (f"/tavoli/{board.table.slug}/verbali.atom", "/verbali.atom"):
        found = entries(client.get(url).text)
        assert len(found) == 1, url
        (entry,) = found
        assert entry.find(f"{ATOM}link").get("href").endswith(page(board, protocol.id))  # type: ignore[union-attr]
        assert "Protocollo appalti" in (entry.find(f"{ATOM}title").text or "")  # type: ignore[union-attr]
        summary = entry.find(f"{ATOM}summary").text or ""  # type: ignore[union-attr]
        assert hashlib.sha256(canonical(ps.TEXT)).hexdigest() in summary
        assert f"{page(board, protocol.id)}.pdf" in summary
        assert f"{page(board, protocol.id)}/verifica.zip" in summary


def test_a_private_tables_protocols_are_in_no_feed(client, board):
    in_force(client, board)
    assert entries(client.get("/verbali.atom").text) == []
    login(client, "member@example.org")
    assert client.get(f"/tavoli/{board.table.slug}/verbali.atom").status_code == 404


def test_a_public_tables_face_lists_its_public_protocols_only(client, board):
    make_public(board)
    shown = in_force(client, board)
    hidden = half_signed(client, board)
    ps.draft(board, "Intesa per la buona occupazione")
    client.cookies.clear()  # the public
    home = client.get(f"/tavoli/{board.table.slug}")
    assert home.status_code == 200
    links = [a.attributes["href"] for a in css(home.text, "#public-protocols a")]
    assert links == [page(board, shown.id)]
    assert hidden.title not in " ".join(texts(home.text, "#public-protocols"))
    assert texts(home.text, "#public-protocols li span") == ["· In vigore"]
