"""The printed protocol: PDF/A-2u, tagged, every font embedded; the text's SHA-256 on the first page; a
signature page listing each party's signature (signer, role, time, the statement's SHA-256, the kid),
what a broken one is, and the party that has not signed; the text through the one Markdown pipeline
and minutes_pdf's fetcher (a foreign image is not fetched)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pikepdf
import pypdf
import pytest
from sqlalchemy import delete, select, update

from server.db.models import Protocol, ProtocolParty, ProtocolStatus, ProtocolVersion, Signature
from server.db.session import Database
from server.domain import protocol_keys, protocol_pdf
from server.domain.errors import NotFound
from server.domain.minutes_pdf import StaticOnlyFetcher, render_pdf
from server.domain.protocol_keys import ServerKey
from server.domain.protocol_text import canonical, text_sha256
from tests.support import css, one, texts
from tests.test_signatures import TEXT, World, build, sign_as, status

PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
TEXT_SHA = text_sha256(canonical(TEXT))


@pytest.fixture
def key(tmp_path: Path) -> ServerKey:
    return protocol_keys.create_key_file(tmp_path / "signing.key")


@pytest.fixture
async def signed(database: Database, password_hash: str, key: ServerKey) -> World:
    """The protocol in force: the first party signed by its substitute, the second by its signatory."""
    world = await build(database, password_hash)
    await sign_as(database, world, key, 0, user=world.substitutes[0])
    await sign_as(database, world, key, 1)
    assert await status(database, world.protocol_id) is ProtocolStatus.in_force
    return world


async def document(
    database: Database, protocol_id: int, locale: str = "it"
) -> tuple[protocol_pdf.PrintedProtocol, str]:
    async with database.read() as session:
        return await protocol_pdf.protocol_document(session, protocol_id, locale=locale)


async def statements(database: Database, world: World) -> list[Signature]:
    async with database.read() as session:
        found = await session.scalars(
            select(Signature).where(Signature.protocol_id == world.protocol_id).order_by(Signature.party_id)
        )
        return list(found.all())


def signature_blocks(html: str) -> list[dict[str, str]]:
    blocks = []
    for block in css(html, "section.signatures div.signature"):
        found = {"party": block.css_first("h3").text(strip=True)}
        for name in ("signer", "role", "signed-at", "statement-sha256", "kid", "check"):
            node = block.css_first(f"dd.{name}")
            if node is not None:
                found[name] = " ".join(node.text().split())
        blocks.append(found)
    return blocks


def text_of(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


# --- the document -----------------------------------------------------------------------------


async def test_the_first_page_names_the_protocol_and_the_texts_sha256(database, signed):
    printed, html = await document(database, signed.protocol_id)

    assert (printed.version, printed.text_sha256) == (1, TEXT_SHA)
    assert one(html, "html").attributes["lang"] == "it"
    assert texts(html, "p.issuer") == ["Città metropolitana di Bologna"]
    assert texts(html, "p.table-name") == ["Tavolo appalti"]
    assert texts(html, "header h1") == ["Protocollo appalti «2031»"]
    assert texts(html, "p.kind") == ["Protocollo appalti"]
    assert texts(html, "header dd.text-sha256") == [TEXT_SHA]
    assert texts(html, "header dd")[0].startswith("In vigore · in vigore dal ")
    assert texts(html, "table.annexes tbody tr > *") == [
        "Allegato 1 — tabella salari.pdf",
        hashlib.sha256(
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n% allegato 0\n"
        ).hexdigest(),
    ]
    assert texts(html, "ul.parties li") == ["CGIL Bologna", "Confcommercio Ascom Bologna (parte esterna)"]
    # The text, through the Markdown pipeline: its commitment's heading is a heading.
    assert texts(html, "section.text h3") == ["Impegno — CGIL Bologna — entro 2031-12-31"]


async def test_the_signature_page_lists_each_partys_signature(database, signed):
    _printed, html = await document(database, signed.protocol_id)
    stored = {s.party_id: s for s in await statements(database, signed)}

    blocks = signature_blocks(html)
    assert [b["party"] for b in blocks] == signed.organisations
    for block, party_id, signer, role in zip(
        blocks,
        signed.parties,
        [signed.substitutes[0], signed.signatories[1]],
        ["Sostituto", "Firmatario"],
        strict=True,
    ):
        signature = stored[party_id]
        assert block["signer"] == signer.name
        assert block["role"] == role
        assert block["statement-sha256"] == hashlib.sha256(signature.statement).hexdigest()
        assert block["kid"] == signature.key_id
        assert block["signed-at"].endswith(f"({signature.signed_at.strftime('%Y-%m-%dT%H:%M:%SZ')})")
        assert block["check"].startswith("Valida")
    assert TEXT_SHA in texts(html, "section.signatures > p")[0]


async def test_a_party_that_has_not_signed_is_said_and_a_broken_signature_says_why(database, password_hash, key):
    world = await build(database, password_hash, parties=3)
    await sign_as(database, world, key, 0)
    async with database.transaction() as session:  # one character of the statement changed after sealing
        signature = await session.scalar(select(Signature).where(Signature.party_id == world.parties[0]))
        assert signature is not None
        changed = bytes(signature.statement).replace(b'"version":1', b'"version":2')
        await session.execute(update(Signature).where(Signature.id == signature.id).values(statement=changed))

    _printed, html = await document(database, world.protocol_id, locale="en")

    blocks = signature_blocks(html)
    assert blocks[0]["check"].startswith("Broken:")
    assert "the statement was changed after it was sealed" in blocks[0]["check"]
    assert [css(b.html or "", "p")[0].text(strip=True) for b in css(html, "div.signature")[1:]] == [
        "Has not signed this version.",
        "Has not signed this version.",
    ]
    assert "Not every party has signed this version yet." in texts(html, "p.state")[0]


async def test_an_adhering_party_and_the_protocol_that_superseded_it_are_named(database, signed):
    async with database.transaction() as session:
        later = Protocol(
            table_id=signed.table.id, kind="procurement", title="Addendum 2032", supersedes_id=signed.protocol_id
        )
        session.add(later)
        await session.execute(
            update(Protocol).where(Protocol.id == signed.protocol_id).values(status=ProtocolStatus.superseded)
        )
        await session.execute(update(ProtocolParty).where(ProtocolParty.id == signed.parties[1]).values(adhering=True))

    _printed, html = await document(database, signed.protocol_id, locale="en")

    facts = dict(zip(texts(html, "dl.facts dt"), texts(html, "dl.facts dd"), strict=True))
    assert facts["Superseded by"] == f"protocol {later.id}, «Addendum 2032»"
    assert facts["Status"].startswith("Superseded")
    assert texts(html, "ul.parties li")[1].endswith("adhered to the protocol in force")


async def test_a_draft_has_no_print(database, password_hash):
    world = await build(database, password_hash, status=ProtocolStatus.draft)
    async with database.transaction() as session:  # never opened: no frozen version
        await session.execute(delete(ProtocolVersion).where(ProtocolVersion.protocol_id == world.protocol_id))
    with pytest.raises(NotFound, match="not been opened for signature"):
        await document(database, world.protocol_id, locale="en")
    with pytest.raises(NotFound):
        await document(database, 999_999)


def test_the_text_cannot_bring_a_stylesheet_a_script_or_a_foreign_image():
    printed = protocol_pdf.PrintedProtocol(
        protocol_id=1,
        table_name="Tavolo",
        table_slug="tavolo",
        title="Protocollo",
        kind="other",
        status=ProtocolStatus.in_force,
        version=1,
        text="",
        text_sha256="0" * 64,
        annexes=(),
        parties=(),
        valid_from=None,
        valid_until=None,
        in_force_at=None,
        ended_at=None,
        supersedes=None,
        superseded_by=None,
    )
    body = '<p>testo</p><link rel="stylesheet" href="http://evil.example/x.css"><script>alert(1)</script>'
    body += '<img src="http://evil.example/pixel.png" alt="pixel">'
    html = protocol_pdf.printable(printed, body)

    section = one(html, "section.text").html or ""
    assert css(section, "link, script, style") == []
    fetcher = StaticOnlyFetcher()
    render_pdf(html, fetcher=fetcher)
    assert fetcher.refused == ["http://evil.example/pixel.png"]
    assert fetcher.served == []


# --- the PDF ----------------------------------------------------------------------------------


async def test_the_pdf_is_pdf_a_2u_tagged_with_every_font_embedded_and_the_signature_page(database, signed):
    async with database.read() as session:
        pdf = await protocol_pdf.protocol_pdf(session, signed.protocol_id)
    stored = await statements(database, signed)

    with pikepdf.open(io.BytesIO(pdf)) as document_:
        assert not document_.is_encrypted
        with document_.open_metadata() as xmp:
            assert xmp[f"{PDFAID}part"] == "2"
            assert xmp[f"{PDFAID}conformance"] == "U"
            assert xmp["dc:title"] == "Protocollo appalti «2031»"
        (intent,) = document_.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1"
        assert document_.Root.MarkInfo.Marked is True
        assert str(document_.Root.Lang) == "it"
        fonts = [font for page in document_.pages for font in page.Resources.Font.values()]
        assert fonts
        for node in document_.objects:
            if isinstance(node, pikepdf.Dictionary) and node.get("/Type") == "/FontDescriptor":
                assert any(k in node for k in ("/FontFile", "/FontFile2", "/FontFile3")), node.get("/FontName")

    pages = text_of(pdf)
    assert TEXT_SHA in pages[0].replace(" ", "")
    last = pages[-1]
    assert last.startswith("Firme ")  # the signature page is a page of its own, after the text
    assert all("Firme" not in page for page in pages[:-1])
    compact = last.replace(" ", "")
    for signature in stored:
        assert hashlib.sha256(signature.statement).hexdigest() in compact
        assert signature.key_id in compact
    assert f"{signed.substitutes[0].name} Come Sostituto" in last
    assert f"{signed.signatories[1].name} Come Firmatario" in last
