"""Published minutes for the public: the version's page (hash, chain head, downloads, superseded
banner and links both ways), the Atom feeds, the table's public face; a private table's minutes
are not there for the public; a redacted passage is nowhere the public can read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import update

from server.db.models import MinutesVersion, Role, Table
from server.domain import documents, minutes_archive, minutes_publishing
from server.domain import minutes as minutes_domain
from server.domain.actions import Actor
from tests.support import Board, css, login, one, texts

ATOM = "{http://www.w3.org/2005/Atom}"
SECRET_NAME = "Ugo Riservatissimo"


def make_public(board: Board) -> None:
    board.seed.run(lambda s: s.execute(update(Table).where(Table.id == board.table.id).values(is_public=True)))


def publish(client: Any, board: Board, *, extra: str = "", redact: list[str] | None = None) -> MinutesVersion:
    """Draft (with `extra` typed in), send, approve, redact and publish the board meeting's minutes
    through the domain and the publishing protocol, as the chair would."""
    chair = Actor(board.chair.id, Role.chair)
    secretary = Actor(board.secretary.id, Role.secretary)
    database = client.app.state.database
    directory = client.app.state.settings.minutes_dir

    async def prepare(session: Any) -> int:
        row = await minutes_domain.minutes_of_meeting(session, board.meeting.id)
        if row is None:
            row = await minutes_domain.start_drafting(session, board.table, board.meeting.id, actor=secretary)
        if extra:
            base = await documents.text_of(session, row.document_id)
            await documents.apply_text(session, row.document_id, base=base, new=base + extra, user_id=secretary.user_id)
        sent = await minutes_domain.send_for_approval(
            session, board.table, row.id, version=row.version, actor=secretary
        )
        approved = await minutes_domain.approve(session, board.table, row.id, version=sent.minutes.version, actor=chair)
        if redact:
            await minutes_domain.set_redactions(session, board.table, row.id, redact, actor=chair)
        return approved.id

    minutes_id = board.seed.run(prepare)

    async def build(session: Any) -> MinutesVersion:
        return await minutes_domain.build_version(session, minutes_id, chair)

    assert client.portal is not None
    return client.portal.call(  # type: ignore[no-any-return]
        lambda: minutes_publishing.publish(
            database,
            table_id=board.table.id,
            minutes_id=minutes_id,
            build=build,
            actor_id=chair.user_id,
            directory=directory,
        )
    )


def erratum(client: Any, board: Board, version: MinutesVersion, extra: str) -> MinutesVersion:
    board.seed.run(
        lambda s: minutes_domain.start_erratum(s, board.table, version.id, actor=Actor(board.chair.id, Role.chair))
    )
    return publish(client, board, extra=extra)


def version_url(board: Board, version: MinutesVersion) -> str:
    return f"/tavoli/{board.table.slug}/verbali/{version.id}"


def entries(feed: str) -> list[ET.Element]:
    root = ET.fromstring(feed)  # noqa: S314 (our own feed, not untrusted input)
    return root.findall(f"{ATOM}entry")


# --- the version's page -------------------------------------------------------------------------


def test_an_anonymous_visitor_reads_a_public_tables_minutes_with_hash_and_chain_head(client, board):
    make_public(board)
    version = publish(client, board, extra="\nIl tavolo approva il calendario.\n")
    page = client.get(version_url(board, version))
    assert page.status_code == 200
    assert "Il tavolo approva il calendario." in one(page.text, ".minutes-text").text()
    hashes = texts(page.text, ".minutes-hashes dd code")
    head = minutes_archive.chain_head(client.app.state.settings.minutes_dir, board.table.slug)
    assert version.public_sha256["markdown"] in hashes
    assert version.chain_hash in hashes
    assert head in hashes
    assert version.full_sha256["markdown"] not in page.text, "the full copy's hash never leaves the application"
    pdf = one(page.text, f".minutes-downloads a[href$='/verbali/{version.id}.pdf']")
    markdown = one(page.text, f".minutes-downloads a[href$='/verbali/{version.id}.md']")
    got_pdf = client.get(pdf.attributes["href"])
    assert got_pdf.status_code == 200
    assert got_pdf.headers["content-type"] == "application/pdf"
    assert got_pdf.content == version.public_pdf
    got_md = client.get(markdown.attributes["href"])
    assert got_md.content == version.public_markdown.encode("utf-8")
    assert minutes_domain.sha256(got_md.content) == version.public_sha256["markdown"]


def test_members_read_the_full_copy_and_may_ask_for_the_public_one(client, board):
    version = publish(client, board, extra=f"\nInterviene {SECRET_NAME}.\n", redact=[SECRET_NAME])
    login(client, "observer@example.org")
    page = client.get(version_url(board, version))
    assert SECRET_NAME in one(page.text, ".minutes-text").text()
    assert client.get(version_url(board, version) + ".pdf").content == version.full_pdf
    public = client.get(version_url(board, version) + "?copia=pubblica")
    assert SECRET_NAME not in public.text
    assert "[omissis]" in one(public.text, ".minutes-text").text()
    assert client.get(version_url(board, version) + ".md?copia=pubblica").content == version.public_markdown.encode()


def test_a_redacted_name_is_nowhere_the_public_reads(client, board):
    make_public(board)
    version = publish(client, board, extra=f"\nInterviene {SECRET_NAME} per il quartiere.\n", redact=[SECRET_NAME])
    where = {
        "page": client.get(version_url(board, version)).text,
        "markdown": client.get(version_url(board, version) + ".md").text,
        "feed": client.get(f"/tavoli/{board.table.slug}/verbali.atom").text,
        "all feed": client.get("/verbali.atom").text,
        "public face": client.get(f"/tavoli/{board.table.slug}").text,
    }
    for name, text in where.items():
        assert SECRET_NAME not in text, f"the redacted name is in the {name}"
    assert "[omissis]" in where["page"]
    assert "[omissis]" in where["markdown"]
    from io import BytesIO

    from pypdf import PdfReader

    pdf = client.get(version_url(board, version) + ".pdf").content
    extracted = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert "omissis" in extracted
    assert "Riservatissimo" not in extracted, "the redacted name is in the public PDF"
    archived = client.app.state.settings.minutes_dir + f"/{board.table.slug}/{version.file_name}"
    with open(archived, encoding="utf-8") as file:
        assert SECRET_NAME not in file.read(), "the redacted name is in the archive's file"


def test_an_erratum_supersedes_the_old_version_linked_both_ways(client, board):
    make_public(board)
    first = publish(client, board, extra="\nPrima stesura.\n")
    second = erratum(client, board, first, "\nCorrezione.\n")
    assert second.supersedes_id == first.id
    assert second.number == 2
    old = client.get(version_url(board, first)).text
    banner = one(old, ".minutes-superseded")
    assert one(old, ".minutes-superseded a").attributes["href"].endswith(version_url(board, second))
    assert banner.text().strip()
    new = client.get(version_url(board, second)).text
    assert css(new, ".minutes-superseded") == []
    assert one(new, ".minutes-supersedes a").attributes["href"].endswith(version_url(board, first))
    # The public face lists both, newest first.
    face = client.get(f"/tavoli/{board.table.slug}").text
    links = [a.attributes["href"] for a in css(face, "#published-minutes a[href*='/verbali/']")]
    assert [link.rsplit("/", 1)[1] for link in links] == [str(second.id), str(first.id)]


def test_a_version_being_published_or_of_another_table_is_404(client, board):
    make_public(board)
    version = publish(client, board)
    board.seed.run(lambda s: s.execute(update(MinutesVersion).values(state="publishing")))
    assert client.get(version_url(board, version)).status_code == 404
    login(client, "other.chair@example.org")
    assert client.get(f"/tavoli/{board.other.slug}/verbali/{version.id}").status_code == 404


# --- private tables -----------------------------------------------------------------------------


def test_a_private_tables_minutes_are_not_there_for_the_public(client, board):
    version = publish(client, board)
    for path in (
        version_url(board, version),
        version_url(board, version) + ".pdf",
        version_url(board, version) + ".md",
    ):
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")
    assert client.get(f"/tavoli/{board.table.slug}/verbali.atom", follow_redirects=False).status_code == 303
    assert entries(client.get("/verbali.atom").text) == []
    login(client, "outsider@example.org")
    for path in (
        version_url(board, version),
        version_url(board, version) + ".md",
        f"/tavoli/{board.table.slug}/verbali.atom",
    ):
        assert client.get(path).status_code == 404
    login(client, "member@example.org")
    assert client.get(version_url(board, version)).status_code == 200
    assert client.get(f"/tavoli/{board.table.slug}/verbali.atom").status_code == 404, "a private table has no feed"


# --- the feeds ----------------------------------------------------------------------------------


def test_the_feeds_carry_each_entrys_page_and_hash(client, board):
    make_public(board)
    first = publish(client, board, extra="\nUno.\n")
    second = erratum(client, board, first, "\nDue.\n")
    feed = client.get(f"/tavoli/{board.table.slug}/verbali.atom")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    found = entries(feed.text)
    assert len(found) == 2
    newest = found[0]
    assert newest.find(f"{ATOM}link").get("href").endswith(version_url(board, second))
    summary = newest.find(f"{ATOM}summary").text or ""
    assert second.public_sha256["markdown"] in summary
    assert second.chain_hash in summary
    head = minutes_archive.chain_head(client.app.state.settings.minutes_dir, board.table.slug)
    assert head in summary
    every = entries(client.get("/verbali.atom").text)
    assert [e.find(f"{ATOM}id").text for e in every] == [e.find(f"{ATOM}id").text for e in found]


def test_the_public_face_lists_nothing_when_nothing_is_published(client, board):
    make_public(board)
    face = client.get(f"/tavoli/{board.table.slug}").text
    assert css(face, "#published-minutes a[href*='/verbali/']") == []
    assert one(face, "#published-minutes p").text().strip()


@pytest.mark.parametrize("path", ["/verbali.atom"])
def test_the_feed_of_all_tables_is_valid_atom_when_empty(client, path):
    feed = client.get(path)
    assert feed.status_code == 200
    root = ET.fromstring(feed.text)  # noqa: S314 (our own feed)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}id") is not None


def test_published_versions_are_listed_for_members_on_the_home(client, board):
    version = publish(client, board)
    login(client, "member@example.org")
    home = client.get(f"/tavoli/{board.table.slug}").text
    assert one(home, "#published-minutes a").attributes["href"].endswith(version_url(board, version))
    assert css(home, "#published-minutes a[href$='verbali.atom']") == [], "a private table has no feed"
