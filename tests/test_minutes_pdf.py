"""The printed minutes: PDF/A-2u with its sRGB output intent, tagged, fonts embedded, not encrypted, saying
what the records say (attendance, decisions with positions, action items) in Italian; and a url_fetcher
that reads our static files and nothing else — a foreign image reaches no server (a counting HTTP server
proves it), a /static/ image is embedded.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path

import pikepdf
import pypdf
import pytest

from server.domain.minutes_pdf import (
    INTERNAL_BASE,
    STATIC_DIR,
    StaticOnlyFetcher,
    page_numbers,
    printable,
    render_pdf,
    render_pdf_async,
)
from server.domain.minutes_record import (
    MinutesRecord,
    PresentOrganisation,
    RecordedAction,
    RecordedDecision,
    RecordedItem,
    RecordedPosition,
)
from server.i18n import use_locale
from server.markdown import to_html
from tests.support import css, one, texts

PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
SITE = "https://tavoli.example.org/"

RECORD = MinutesRecord(
    table_name="Tavolo metropolitano per la mobilità sostenibile",
    table_slug="mobilita-sostenibile",
    meeting_id=7,
    meeting_title="Seduta ordinaria di novembre",
    meeting_slug="seduta-ordinaria-di-novembre",
    starts_at=datetime(2026, 11, 20, 14, 30, tzinfo=UTC),  # 15:30 in Bologna
    place="Palazzo Malvezzi, Sala del Consiglio",
    online_url="https://meet.example.org/mobilita",
    present=(
        PresentOrganisation("Comune di Imola", ("Anna Bianchi", "Marco Rossi")),
        PresentOrganisation("Legambiente Emilia-Romagna", ("Giulia Verdi",)),
    ),
    absent=("Comune di Budrio",),
    items=(
        RecordedItem(
            id=11,
            number=1,
            title="Piano della ciclabilità 2027",
            status="done",
            decision=RecordedDecision(
                id=5,
                kind="approved",
                label="Approvato",
                text="Il tavolo approva il piano con le modifiche discusse.",
                text_html="<p>Il tavolo approva il piano con le <strong>modifiche discusse</strong>.</p>",
                positions=(
                    RecordedPosition("Comune di Imola", "in_favour", "Favorevole", delegate="Anna Bianchi"),
                    RecordedPosition(
                        "Legambiente Emilia-Romagna",
                        "in_favour_with_reservation",
                        "Favorevole con riserva",
                        reservation="sui tempi di realizzazione",
                        delegate="Giulia Verdi",
                    ),
                ),
            ),
            actions=(
                RecordedAction(
                    id=3,
                    title="Inviare il piano ai comuni del distretto",
                    owner="Marco Rossi (Comune di Imola)",
                    due_on=date(2026, 12, 15),
                    status="open",
                ),
            ),
        ),
        RecordedItem(id=12, number=2, title="Calendario delle sedute 2027", status="deferred"),
    ),
)
BODY = to_html(
    "## 1. Piano della ciclabilità 2027\n\nLa presidente illustra il piano. Interviene Giulia Verdi.\n\n"
    "## 2. Calendario delle sedute 2027\n\nIl punto è rinviato alla prossima seduta.\n"
)


def small_png() -> bytes:
    """A valid red PNG of 2 by 3 pixels, written by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(3))
    header = struct.pack(">IIBBBBB", 2, 3, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def embedded_images(document: pikepdf.Pdf) -> list[pikepdf.Object]:
    """The image objects of the document, once each (WeasyPrint's pages share one resource dictionary)."""
    found: dict[tuple[int, int], pikepdf.Object] = {}
    for page in document.pages:
        for image in page.get_images().values():
            found.setdefault(image.objgen, image)
    return list(found.values())


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture(scope="module")
def public_pdf() -> bytes:
    html = printable(RECORD, BODY, copy="public", version=2, supersedes="2026-11-20-seduta.md", locale="it")
    return render_pdf(html, base_url=SITE)


# --- the document -----------------------------------------------------------------------------


def test_the_document_says_what_the_records_say_in_italian():
    html = printable(RECORD, BODY, copy="public", version=1, supersedes=None, locale="it")

    assert one(html, "html").attributes["lang"] == "it"
    assert texts(html, "p.issuer") == ["Città metropolitana di Bologna"]
    assert texts(html, "p.table-name") == ["Tavolo metropolitano per la mobilità sostenibile"]
    assert texts(html, "h1") == ["Verbale: Seduta ordinaria di novembre"]
    meeting = texts(html, "dl.meeting dd")
    assert meeting[0] == "venerdì 20 novembre 2026, ore 15:30"
    assert "Palazzo Malvezzi, Sala del Consiglio" in meeting
    assert texts(html, "section.attendance li") == [
        "Comune di Imola: Anna Bianchi, Marco Rossi",
        "Legambiente Emilia-Romagna: Giulia Verdi",
        "Comune di Budrio",
    ]
    assert texts(html, "section.decisions h3") == ["1. Piano della ciclabilità 2027", "2. Calendario delle sedute 2027"]
    positions = [texts(html, f"section.decisions table:nth-of-type(1) tbody tr:nth-child({n}) > *") for n in (1, 2)]
    assert positions == [
        ["Comune di Imola", "Favorevole", "Anna Bianchi", ""],
        ["Legambiente Emilia-Romagna", "Favorevole con riserva", "Giulia Verdi", "sui tempi di realizzazione"],
    ]
    assert texts(html, "section.decisions table:nth-of-type(2) tbody tr > *") == [
        "Inviare il piano ai comuni del distretto",
        "Marco Rossi (Comune di Imola)",
        "15 dicembre 2026",
        "Aperta",
    ]
    assert "Rinviato" in texts(html, "section.decisions p")
    assert texts(html, "section.body h2")[1:] == ["1. Piano della ciclabilità 2027", "2. Calendario delle sedute 2027"]
    assert "omissis" in texts(html, "p.copy")[0]
    # Page numbers in Italian, by CSS @page.
    assert '@bottom-center { content: "Pagina " counter(page) " di " counter(pages);' in html


def test_the_full_copy_says_so_and_a_correction_names_what_it_corrects():
    html = printable(RECORD, BODY, copy="full", version=3, supersedes="2026-11-20-seduta-v2.md", locale="it")

    assert "omissis" not in texts(html, "p.copy")[0]
    assert "2026-11-20-seduta-v2.md" in texts(html, "dl.meeting dd")[-1]


def test_english_labels_and_page_numbers_in_english():
    html = printable(RECORD, BODY, copy="public", version=1, supersedes=None, locale="en")

    assert one(html, "html").attributes["lang"] == "en"
    assert "Attendance" in texts(html, "h2")
    with use_locale("en"):
        assert page_numbers() == '"Page " counter(page) " of " counter(pages)'
    with use_locale("it"):
        assert page_numbers() == '"Pagina " counter(page) " di " counter(pages)'


def test_a_copy_that_is_neither_full_nor_public_is_refused():
    with pytest.raises(ValueError, match="copy"):
        printable(RECORD, BODY, copy="draft", version=1, supersedes=None, locale="it")


def test_the_body_cannot_bring_a_stylesheet_a_script_or_a_file_address():
    body = '<p>testo</p><link rel="stylesheet" href="http://evil.example/x.css"><script>alert(1)</script>'
    body += '<style>@import url(http://evil.example/y.css);</style><img src="file:///etc/passwd" alt="x">'
    html = printable(RECORD, body, copy="public", version=1, supersedes=None, locale="it")

    section = one(html, "section.body").html or ""
    assert css(section, "link, script, style") == []
    assert "file:" not in section
    assert "evil.example" not in section


# --- the PDF ----------------------------------------------------------------------------------


def test_the_pdf_is_pdf_a_2u_with_the_srgb_output_intent_and_no_encryption(public_pdf: bytes):
    with pikepdf.open(io.BytesIO(public_pdf)) as pdf:
        assert not pdf.is_encrypted
        assert "/Encrypt" not in pdf.trailer
        with pdf.open_metadata() as xmp:
            assert xmp[f"{PDFAID}part"] == "2"
            assert xmp[f"{PDFAID}conformance"] == "U"
            assert xmp["dc:title"] == "Verbale: Seduta ordinaria di novembre"
        (intent,) = pdf.Root.OutputIntents
        assert intent.Type == "/OutputIntent"
        assert intent.S == "/GTS_PDFA1"
        profile = intent.DestOutputProfile
        assert profile.N == 3
        icc = profile.read_bytes()
        assert icc[36:40] == b"acsp"  # an ICC profile's signature
        assert icc[16:20] == b"RGB "
        assert icc == (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()  # WeasyPrint's sRGB


def test_the_pdf_is_tagged_in_italian(public_pdf: bytes):
    with pikepdf.open(io.BytesIO(public_pdf)) as pdf:
        assert pdf.Root.MarkInfo.Marked is True
        assert "/StructTreeRoot" in pdf.Root
        assert str(pdf.Root.Lang) == "it"
        roles = {str(node.get("/S")) for node in pdf.objects if isinstance(node, pikepdf.Dictionary) and "/S" in node}
        assert {"/H1", "/H2", "/Table", "/TH", "/TD", "/P"} <= roles


def test_every_font_is_embedded(public_pdf: bytes):
    with pikepdf.open(io.BytesIO(public_pdf)) as pdf:
        fonts = [font for page in pdf.pages for font in page.Resources.Font.values()]
        assert fonts
        for font in fonts:
            descendants = list(font.DescendantFonts) if "/DescendantFonts" in font else [font]
            for described in descendants:
                descriptor = described.FontDescriptor
                assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")), font.BaseFont
        # And nowhere else in the file is there a font without its program.
        for node in pdf.objects:
            if isinstance(node, pikepdf.Dictionary) and node.get("/Type") == "/FontDescriptor":
                assert any(key in node for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def test_the_pdf_text_has_the_heading_attendance_decisions_actions_and_page_numbers(public_pdf: bytes):
    text = text_of(public_pdf)

    for expected in (
        "Città metropolitana di Bologna",
        "Tavolo metropolitano per la mobilità sostenibile",
        "Verbale: Seduta ordinaria di novembre",
        "venerdì 20 novembre 2026, ore 15:30",
        "Presenze",
        "Comune di Imola: Anna Bianchi, Marco Rossi",
        "Comune di Budrio",
        "Approvato",
        "modifiche discusse",
        "Favorevole con riserva",
        "sui tempi di realizzazione",
        "Inviare il piano ai comuni del distretto",
        "15 dicembre 2026",
        "La presidente illustra il piano",
        "2026-11-20-seduta.md",
        "Pagina 1 di 2",
        "Pagina 2 di 2",
    ):
        assert expected in text, expected


# --- what the PDF may fetch -------------------------------------------------------------------


@dataclass
class Counter:
    url: str
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def counting_server() -> Iterator[Counter]:
    """A local HTTP server that counts every request and answers each with a small PNG."""
    png = small_png()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Counter(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_counting_server_counts_what_a_default_fetcher_fetches(counting_server: Counter):
    # The control: without our fetcher, WeasyPrint does fetch the image (so a zero below means something).
    # (Imported here, after server.domain.minutes_pdf, which quiets WeasyPrint's warning at import.)
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    HTML(string=f'<img src="{counting_server.url}/control.png">', url_fetcher=URLFetcher()).write_pdf()
    assert counting_server.paths == ["/control.png"]


def test_a_foreign_image_in_the_minutes_fetches_nothing(counting_server: Counter):
    body = to_html(f"Un'immagine altrui: ![mappa]({counting_server.url}/mappa.png)\n")
    assert f"{counting_server.url}/mappa.png" in body  # the Markdown pipeline keeps an http(s) image
    html = printable(RECORD, body, copy="public", version=1, supersedes=None, locale="it")
    fetcher = StaticOnlyFetcher(STATIC_DIR, SITE)

    pdf = render_pdf(html, base_url=SITE, fetcher=fetcher)

    assert counting_server.paths == []
    assert fetcher.refused == [f"{counting_server.url}/mappa.png"]
    assert fetcher.served == []
    assert "mappa" in text_of(pdf)  # the alternative text stands in for the image
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert embedded_images(document) == []


def test_no_address_outside_our_static_folder_is_read(counting_server: Counter, tmp_path: Path):
    static = tmp_path / "static"
    (static / "print").mkdir(parents=True)
    (static / "print" / "ok.png").write_bytes(small_png())
    (tmp_path / "secret.png").write_bytes(small_png())
    (static / "print" / "link.png").symlink_to(tmp_path / "secret.png")
    foreign = counting_server.url
    html = f"""<!DOCTYPE html><html lang="it"><head><title>t</title>
    <link rel="stylesheet" href="{foreign}/sheet.css">
    <style>
      @import url("{foreign}/imported.css");
      @font-face {{ font-family: Altrui; src: url("{foreign}/font.woff2"); }}
      body {{ font-family: Altrui, serif; background-image: url("{foreign}/background.png"); }}
    </style></head><body>
    <img src="{foreign}/img.png" alt="a">
    <img src="{foreign.replace("http:", "https:")}/tls.png" alt="b">
    <img src="file:///etc/passwd" alt="c">
    <img src="file://{tmp_path}/secret.png" alt="d">
    <img src="/static/../secret.png" alt="e">
    <img src="/static/%2e%2e/secret.png" alt="f">
    <img src="/static/print/link.png" alt="g">
    <img src="{SITE.replace("https:", "http:")}static/print/ok.png" alt="h">
    <img src="https://other.example.org/static/print/ok.png" alt="i">
    <img src="data:image/png;base64,iVBORw0KGgo=" alt="j">
    <img src="ftp://127.0.0.1/x.png" alt="k">
    </body></html>"""
    fetcher = StaticOnlyFetcher(static, SITE)

    pdf = render_pdf(html, base_url=SITE, fetcher=fetcher)

    assert counting_server.paths == []
    assert fetcher.served == []
    assert len(fetcher.refused) == 15
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert embedded_images(document) == []


def test_a_static_image_is_embedded(tmp_path: Path):
    static = tmp_path / "static"
    (static / "print").mkdir(parents=True)
    (static / "print" / "stemma.png").write_bytes(small_png())
    body = to_html("![Lo stemma](/static/print/stemma.png)\n")
    html = printable(RECORD, body, copy="public", version=1, supersedes=None, locale="it")
    fetcher = StaticOnlyFetcher(static, SITE)

    pdf = render_pdf(html, base_url=SITE, fetcher=fetcher)

    assert fetcher.served == [f"{SITE}static/print/stemma.png"]
    assert fetcher.refused == []
    with pikepdf.open(io.BytesIO(pdf)) as document:
        images = embedded_images(document)
        assert [(image.Width, image.Height) for image in images] == [(2, 3)]


def test_a_file_path_inside_the_static_folder_is_served(tmp_path: Path):
    (tmp_path / "stemma.png").write_bytes(small_png())
    fetcher = StaticOnlyFetcher(tmp_path, INTERNAL_BASE)

    pdf = render_pdf(f'<img src="{(tmp_path / "stemma.png").as_uri()}" alt="s">', fetcher=fetcher)

    assert len(fetcher.served) == 1
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(embedded_images(document)) == 1


@pytest.mark.parametrize(
    ("url", "served"),
    [
        (f"{INTERNAL_BASE}static/src/app.js", True),
        (f"{INTERNAL_BASE}static/src/app.js?v=1#x", True),
        (f"{INTERNAL_BASE}static/src/", False),  # a folder
        (f"{INTERNAL_BASE}static/src/nothing.js", False),
        (f"{INTERNAL_BASE}static/../pyproject.toml", False),
        (f"{INTERNAL_BASE}pyproject.toml", False),
        ("https://TAVOLI.invalid/static/src/app.js", True),  # hosts are case-insensitive
        ("http://tavoli.invalid/static/src/app.js", False),  # another scheme is another site
        ("https://tavoli.invalid:8443/static/src/app.js", False),
        (f"file://{STATIC_DIR}/src/app.js", True),
        (f"file://localhost{STATIC_DIR}/src/app.js", True),
        (f"file://elsewhere{STATIC_DIR}/src/app.js", False),
        (f"file://{STATIC_DIR}/../pyproject.toml", False),
        ("file:///etc/passwd", False),
        (f"{INTERNAL_BASE}static/src/app.js\x00.png", False),
        ("/static/src/app.js", False),  # not resolved against a base: not an address
    ],
)
def test_the_fetcher_names_only_files_of_the_static_folder(url: str, served: bool):
    assert (StaticOnlyFetcher().local_path(url) is not None) is served


# --- off the event loop -----------------------------------------------------------------------


async def test_render_pdf_async_renders_in_a_process_of_its_own(tmp_path: Path):
    (tmp_path / "stemma.png").write_bytes(small_png())
    body = to_html("![Lo stemma](/static/stemma.png)\n")
    html = printable(RECORD, body, copy="public", version=1, supersedes=None, locale="it")

    pdf = await render_pdf_async(html, base_url=SITE, static_dir=tmp_path)

    with pikepdf.open(io.BytesIO(pdf)) as document:
        with document.open_metadata() as xmp:
            assert (xmp[f"{PDFAID}part"], xmp[f"{PDFAID}conformance"]) == ("2", "U")
        assert len(embedded_images(document)) == 1
    assert "Comune di Imola: Anna Bianchi, Marco Rossi" in text_of(pdf)


async def test_render_pdf_async_is_cut_off_at_its_time_limit():
    html = printable(RECORD, BODY, copy="public", version=1, supersedes=None, locale="it")

    with pytest.raises(TimeoutError):
        await render_pdf_async(html, time_limit=0.01)
    # The loop is free and the next rendering works.
    assert (await render_pdf_async(html)).startswith(b"%PDF-")
