"""The minutes archive: file names, front matter, the hash chain, the publish protocol, start-up repair.

The versions are built here directly with the models (`build_for`), as M3's `build_version` does
with every copy rendered: the archive needs only the public file, its name and its front matter.
A process killed at a named point of the protocol is a real subprocess that sends itself SIGKILL
there; two instances publishing at once are two `Database` objects (and two processes).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.db.models import Event, Minutes, MinutesStatus, MinutesVersion, PublicationState, Table
from server.db.session import Database
from server.domain import meetings, minutes_publishing, tables
from server.domain import minutes_archive as archive
from server.domain.errors import Duplicate
from server.domain.minutes_record import (
    MinutesRecord,
    PresentOrganisation,
    RecordedAction,
    RecordedDecision,
    RecordedItem,
    RecordedPosition,
)
from server.i18n import use_locale
from tests.conftest import BASE_URL, SECRET

ROOT = Path(__file__).resolve().parents[1]
SLUG = "commercio-turismo"


@pytest.fixture(autouse=True)
def italian():
    """Italian, whatever a command run before set (the command line sets the locale for its process)."""
    with use_locale("it"):
        yield


# --- A tiny builder: what M3's build_version makes, with the models --------------------------------


def record_of(table: Table, meeting_id: int, title: str, starts_at: datetime) -> MinutesRecord:
    decision = RecordedDecision(
        id=1,
        kind="approved",
        label="Approvato",
        text="Saldi dal **5 gennaio**.",
        text_html="",
        positions=(
            RecordedPosition("CGIL Bologna", "favourable", "Favorevole", delegate="Anna Bianchi"),
            RecordedPosition("Confcommercio Ascom Bologna", "reservation", "Con riserva", reservation="Sul calendario"),
        ),
    )
    action = RecordedAction(7, "Calendario dei saldi", "Marco Rossi (CNA Bologna)", date(2031, 12, 31), "open")
    return MinutesRecord(
        table_name=table.name,
        table_slug=table.slug,
        meeting_id=meeting_id,
        meeting_title=title,
        meeting_slug=title.lower().replace(" ", "-"),
        starts_at=starts_at,
        place="Palazzo Malvezzi",
        online_url="",
        present=(
            PresentOrganisation("CGIL Bologna", ("Anna Bianchi",)),
            PresentOrganisation("Confcommercio Ascom Bologna", ("Luca Verdi", "Sara Neri")),
        ),
        absent=("CNA Bologna",),
        items=(
            RecordedItem(1, 1, "Saldi invernali", "done", decision, (action,)),
            RecordedItem(2, 2, "Varie ed eventuali", "done"),
        ),
    )


def build_for(minutes_id: int, body: str = "# Verbale\n\nTesto approvato.\n") -> minutes_publishing.Build:
    """`build(session)`: the next version of these minutes, in state publishing."""

    async def build(session):
        minutes = await session.get(Minutes, minutes_id)
        table = await session.get(Table, minutes.table_id)
        meeting = await meetings.get_meeting(session, minutes.table_id, minutes.meeting_id)
        previous = await session.scalar(
            select(MinutesVersion).where(MinutesVersion.minutes_id == minutes_id).order_by(MinutesVersion.number.desc())
        )
        number = previous.number + 1 if previous else 1
        record = record_of(table, meeting.id, meeting.title, meeting.starts_at.replace(tzinfo=UTC))
        front = archive.front_matter(
            record,
            number=number,
            supersedes_file=previous.file_name if previous else None,
            body_sha256=archive.body_sha256(body),
        )
        file = archive.compose_file(front, body)
        version = MinutesVersion(
            minutes_id=minutes_id,
            table_id=table.id,
            number=number,
            state=PublicationState.publishing,
            supersedes_id=previous.id if previous else None,
            full_markdown=body,
            full_html="",
            full_pdf=b"",
            full_sha256={},
            public_markdown=file.decode(),
            public_html="",
            public_pdf=b"",
            public_sha256={"markdown": hashlib.sha256(file).hexdigest()},
            file_name=archive.file_name(record, number),
            front_matter=front,
        )
        session.add(version)
        await session.flush()
        return version

    return build


async def approved_minutes(database: Database, count: int = 1, *, slug: str = SLUG) -> tuple[int, list[int]]:
    """A public table with `count` meetings whose minutes are approved: the table's id and the minutes' ids."""
    async with database.transaction() as session:
        table = await session.scalar(select(Table).where(Table.slug == slug))
        if table is None:
            table = await tables.create_table(session, slug=slug, name=f"Tavolo {slug}", is_public=True)
        ids = []
        for number in range(1, count + 1):
            values = meetings.parse_meeting(
                title=f"Seduta {number}", day="2031-03-12", hour="17:30", place="Palazzo Malvezzi", online_url=""
            )
            meeting = await meetings.create_meeting(session, table, values, actor_id=None)
            minutes = Minutes(table_id=table.id, meeting_id=meeting.id, status=MinutesStatus.approved)
            session.add(minutes)
            await session.flush()
            ids.append(minutes.id)
        return table.id, ids


async def publish(database: Database, directory: Path, table_id: int, minutes_id: int, **kwargs) -> MinutesVersion:
    return await minutes_publishing.publish(
        database,
        table_id=table_id,
        minutes_id=minutes_id,
        build=kwargs.pop("build", None) or build_for(minutes_id),
        actor_id=None,
        directory=directory,
        **kwargs,
    )


def chain_of(directory: Path, slug: str = SLUG) -> list[archive.ChainLine]:
    return archive.read_chain(directory / slug)


def assert_whole(directory: Path, slug: str = SLUG) -> None:
    """Every line's previous hash is the hash of the line before, every file has its line's hash."""
    previous = archive.ZEROS
    for line in chain_of(directory, slug):
        assert line.previous == previous, f"line {line.number}"
        assert archive.sha256_hex((directory / slug / line.name).read_bytes()) == line.file_hash
        previous = line.line_hash


async def versions(database: Database) -> list[MinutesVersion]:
    async with database.read() as session:
        return list((await session.scalars(select(MinutesVersion).order_by(MinutesVersion.id))).all())


# --- Files --------------------------------------------------------------------------------------------


def test_the_file_name_has_the_day_in_rome_and_a_version_from_the_second_on():
    table = Table(name="Tavolo", slug=SLUG)
    late = record_of(table, 1, "Seduta di marzo", datetime(2031, 3, 1, 23, 30, tzinfo=UTC))  # 00:30 in Rome
    assert archive.file_name(late, 1) == "2031-03-02-seduta-di-marzo.md"
    assert archive.file_name(late, 2) == "2031-03-02-seduta-di-marzo-v2.md"
    summer = record_of(table, 1, "Seduta di luglio", datetime(2031, 7, 1, 21, 59, tzinfo=UTC))  # 23:59 in Rome
    assert archive.file_name(summer, 1) == "2031-07-01-seduta-di-luglio.md"
    assert archive.FILE_NAME.match(archive.file_name(late, 3))


def test_front_matter_and_file_round_trip_in_utf8_with_lf_and_one_final_newline():
    table = Table(name="Tavolo per il commercio e le attività turistiche", slug=SLUG)
    record = record_of(table, 1, "Seduta di marzo", datetime(2031, 3, 12, 16, 30, tzinfo=UTC))
    body = "# Verbale\r\n\r\nPerché «sì».\r\n\r\n\r\n"
    front = archive.front_matter(
        record, number=2, supersedes_file="2031-03-12-seduta-di-marzo.md", body_sha256=archive.body_sha256(body)
    )
    assert list(front) == [
        "table",
        "table_slug",
        "meeting",
        "date",
        "time",
        "place",
        "attendance",
        "decisions",
        "action_items",
        "version",
        "supersedes",
        "body_sha256",
    ]
    assert front["date"] == "2031-03-12"
    assert front["time"] == "17:30"
    assert front["attendance"]["present"][1] == {
        "organisation": "Confcommercio Ascom Bologna",
        "delegates": ["Luca Verdi", "Sara Neri"],
    }
    assert front["decisions"][0]["item"] == "1. Saldi invernali"
    assert front["decisions"][0]["positions"][1]["reservation"] == "Sul calendario"
    assert front["action_items"] == [
        {
            "item": "1. Saldi invernali",
            "title": "Calendario dei saldi",
            "owner": "Marco Rossi (CNA Bologna)",
            "due_on": "2031-12-31",
            "status": "open",
        }
    ]
    data = archive.compose_file(front, body)
    text = data.decode("utf-8")
    assert text.startswith("---\ntable: Tavolo per il commercio e le attività turistiche\n")  # allow_unicode
    assert "\r" not in text
    assert text.endswith("Perché «sì».\n")
    assert not text.endswith("\n\n")
    parsed, parsed_body = archive.split_file(data)
    assert parsed == front
    assert parsed_body == "# Verbale\n\nPerché «sì».\n"
    assert front["body_sha256"] == hashlib.sha256(parsed_body.encode()).hexdigest()
    assert yaml.safe_load(text.split("---\n")[1]) == front


def test_front_matter_carries_the_redactions_of_the_public_copy():
    record = record_of(Table(name="Tavolo", slug=SLUG), 1, "Seduta", datetime(2031, 3, 12, 16, 30, tzinfo=UTC))
    front = archive.front_matter(
        record, number=1, supersedes_file=None, body_sha256="0" * 64, redactions=["Anna Bianchi"]
    )
    assert "Anna Bianchi" not in archive.compose_file(front, "Testo.").decode()
    assert front["attendance"]["present"][0]["delegates"] == ["[omissis]"]
    assert front["decisions"][0]["positions"][0]["delegate"] == "[omissis]"


# --- Publishing ------------------------------------------------------------------------------------------


async def test_publishing_writes_the_file_and_chains_it_after_the_identity(database, tmp_path):
    directory = tmp_path / "minutes"
    table_id, (first, second) = await approved_minutes(database, 2)
    one = await publish(database, directory, table_id, first)
    erratum = await publish(database, directory, table_id, first, build=build_for(first, "# Verbale\n\nCorretto.\n"))
    other = await publish(database, directory, table_id, second)

    folder = directory / SLUG
    lines = chain_of(directory)
    assert [line.name for line in lines] == [
        "IDENTITY",
        "2031-03-12-seduta-1.md",
        "2031-03-12-seduta-1-v2.md",
        "2031-03-12-seduta-2.md",
    ]
    assert lines[0].previous == archive.ZEROS
    assert_whole(directory)
    async with database.read() as session:
        identity = await minutes_publishing.database_identity(session)
    assert archive.read_identity(folder) == identity
    assert (folder / "IDENTITY").read_text().splitlines()[1:] == [f"database: {identity}", f"table: {SLUG}"]
    assert archive.chain_head(directory, SLUG) == lines[-1].line_hash
    assert archive.chain_head(directory, "nessuno") is None

    stored = await versions(database)
    assert [v.id for v in stored] == [one.id, erratum.id, other.id]
    for version, line in zip(stored, lines[1:], strict=True):
        assert version.state is PublicationState.published
        assert version.chain_hash == line.line_hash
        assert version.published_at is not None
        assert (folder / version.file_name).read_bytes() == version.public_markdown.encode()
    front, _body = archive.split_file((folder / erratum.file_name).read_bytes())
    assert front["supersedes"] == "2031-03-12-seduta-1.md"
    assert front["version"] == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        ".lock",
        "2031-03-12-seduta-1-v2.md",
        *sorted(["2031-03-12-seduta-1.md", "2031-03-12-seduta-2.md", "CHAIN", "IDENTITY"]),
    ]
    # The minutes' own mark_published ran in the second transaction: the minutes and the event.
    async with database.read() as session:
        assert (await session.get(Minutes, second)).status is MinutesStatus.published
        kinds = (await session.scalars(select(Event.kind).where(Event.table_id == table_id))).all()
    assert kinds.count("minutes.published") == 3
    result = await minutes_publishing.verify(database, directory)
    assert result.findings == []
    assert result.heads == {SLUG: lines[-1].line_hash}
    assert result.files == 3


async def test_a_build_that_refuses_writes_nothing(database, tmp_path):
    directory = tmp_path / "minutes"
    table_id, (minutes_id,) = await approved_minutes(database)

    async def refuse(session):
        from server.domain.errors import Invalid

        raise Invalid({"status": "Solo un verbale approvato si pubblica."})

    with pytest.raises(Exception, match="approvato"):
        await publish(database, directory, table_id, minutes_id, build=refuse)
    assert [line.name for line in chain_of(directory)] == ["IDENTITY"]
    assert await versions(database) == []
    assert sorted(p.name for p in (directory / SLUG).iterdir()) == [".lock", "CHAIN", "IDENTITY"]


async def test_an_archive_of_another_database_is_never_appended_to_and_is_set_aside(database, tmp_path):
    directory = tmp_path / "minutes"
    table_id, (minutes_id,) = await approved_minutes(database)
    folder = directory / SLUG
    folder.mkdir(parents=True)
    archive.ensure_chain(folder, "f" * 64, SLUG)
    before = (folder / "CHAIN").read_bytes()

    with pytest.raises(archive.ForeignArchive, match="appartiene a un altro database"):
        await publish(database, directory, table_id, minutes_id)
    assert (folder / "CHAIN").read_bytes() == before
    assert await versions(database) == []

    aside = await minutes_publishing.set_aside_foreign(database, directory)
    assert aside is not None
    assert aside.parent == directory
    assert aside.name.startswith("minutes.old-")
    assert (aside / SLUG / "CHAIN").read_bytes() == before
    assert not folder.exists()
    assert await minutes_publishing.set_aside_foreign(database, directory) is None  # nothing more to move

    await publish(database, directory, table_id, minutes_id)
    assert [line.name for line in chain_of(directory)] == ["IDENTITY", "2031-03-12-seduta-1.md"]
    assert (await minutes_publishing.verify(database, directory)).findings == []  # the folder aside is not a table


async def test_the_database_identity_is_created_once(database):
    first = await minutes_publishing.ensure_identity(database)
    again = await asyncio.gather(*(minutes_publishing.ensure_identity(database) for _ in range(3)))
    assert set(again) == {first}
    assert len(first) == 64


# --- Two instances at once --------------------------------------------------------------------------------


async def test_two_instances_publishing_at_once_keep_one_chain(database_url, tmp_path):
    """Two Database objects (two instances' pools, SQLite or PostgreSQL) publish six minutes of one
    table at the same time: one chain, in the order of the commits, every line whole."""
    directory = tmp_path / "minutes"
    first, second = Database(database_url), Database(database_url)
    try:
        table_id, ids = await approved_minutes(first, 6)
        published = await asyncio.gather(
            *(publish(first if n % 2 else second, directory, table_id, minutes_id) for n, minutes_id in enumerate(ids))
        )
        assert len({v.id for v in published}) == 6
        lines = chain_of(directory)
        assert len(lines) == 7
        assert_whole(directory)
        stored = await versions(first)
        assert [line.name for line in lines[1:]] == [v.file_name for v in stored], "the chain's order is the commits'"
        assert [v.chain_hash for v in stored] == [line.line_hash for line in lines[1:]]
        assert (await minutes_publishing.verify(first, directory)).findings == []
    finally:
        await first.dispose()
        await second.dispose()


PUBLISHER = """
import asyncio, sys
from server.db.session import Database
from tests.test_minutes_archive import publish
url, directory, table_id, *ids = sys.argv[1:]

async def main():
    database = Database(url)
    try:
        print("ready", flush=True)
        assert sys.stdin.readline() == "go\\n"
        for minutes_id in ids:
            await publish(database, directory, int(table_id), int(minutes_id))
    finally:
        await database.dispose()

asyncio.run(main())
"""


def run_publishers(database_url: str, directory: Path, table_id: int, ids: list[int]) -> None:
    """Two processes, each publishing half of the minutes, both let go when both are ready."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, database_url, str(directory), str(table_id), *map(str, ids[n::2])],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    try:
        for process in processes:  # both have imported everything and opened their pools
            assert process.stdout.readline() == "ready\n"
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            assert process.wait(120) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdin.close()
            process.stdout.close()


async def test_two_processes_publishing_at_once_keep_one_chain(database_url, database, tmp_path):
    directory = tmp_path / "minutes"
    table_id, ids = await approved_minutes(database, 6)
    await asyncio.to_thread(run_publishers, database_url, directory, table_id, ids)
    lines = chain_of(directory)
    assert len(lines) == 7
    assert_whole(directory)
    stored = await versions(database)
    assert [line.name for line in lines[1:]] == [v.file_name for v in stored]
    assert all(v.state is PublicationState.published for v in stored)
    assert (await minutes_publishing.verify(database, directory)).findings == []


# --- A process killed midway, then start-up -----------------------------------------------------------

KILLER = """
import asyncio, os, signal, sys
from server.db.session import Database
from server.domain import minutes_archive, minutes_publishing
from tests.test_minutes_archive import publish
url, directory, table_id, minutes_id, point = sys.argv[1:]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point == "before-rename":  # the temporary file is written and fsynced, not renamed
    replace = os.replace
    os.replace = lambda source, target: die() if str(target).endswith(".md") else replace(source, target)
elif point == "before-chain":  # the file is in place, its CHAIN line is not
    append = minutes_archive.append_line
    minutes_archive.append_line = lambda folder, digest, name: die() if name.endswith(".md") else append(
        folder, digest, name
    )
elif point == "before-commit":  # the file and its CHAIN line are there, the record is still publishing
    async def mark(*args, **kwargs):
        die()
    minutes_publishing.mark_published = mark

async def main():
    database = Database(url)
    await publish(database, directory, int(table_id), int(minutes_id))

asyncio.run(main())
"""


def killed_at(point: str, database_url: str, directory: Path, table_id: int, minutes_id: int) -> None:
    process = subprocess.run(
        [sys.executable, "-c", KILLER, database_url, str(directory), str(table_id), str(minutes_id), point],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr


@pytest.mark.parametrize(
    ("point", "explained"),
    [
        ("before-rename", "il suo file non è scritto"),
        ("before-chain", "il suo file è scritto ma non è nella catena"),
        ("before-commit", "il suo file è scritto e nella catena"),
    ],
)
async def test_a_process_killed_midway_is_explained_by_verify_and_finished_by_repair(
    point, explained, database_url, database, tmp_path
):
    directory = tmp_path / "minutes"
    table_id, (done, cut) = await approved_minutes(database, 2)
    await publish(database, directory, table_id, done)
    await asyncio.to_thread(killed_at, point, database_url, directory, table_id, cut)

    (left,) = [v for v in await versions(database) if v.minutes_id == cut]
    assert left.state is PublicationState.publishing
    folder = directory / SLUG
    assert bool(archive.stray_temporaries(folder)) == (point == "before-rename")
    findings = (await minutes_publishing.verify(database, directory)).findings
    assert any(explained in f.message and left.file_name in f.message for f in findings), findings
    if point == "before-rename":
        assert any(f.path.startswith(f"{SLUG}/.tmp-") for f in findings)

    done_now = await minutes_publishing.repair(database, directory)
    assert any(left.file_name in what for what in done_now)
    (left,) = [v for v in await versions(database) if v.minutes_id == cut]
    assert left.state is PublicationState.published
    assert [line.name for line in chain_of(directory)][-1] == left.file_name
    assert left.chain_hash == chain_of(directory)[-1].line_hash
    assert archive.stray_temporaries(folder) == []
    assert_whole(directory)
    assert (await minutes_publishing.verify(database, directory)).findings == []
    assert await minutes_publishing.repair(database, directory) == []  # nothing left to do


def test_start_up_finishes_a_publication_cut_short(database_url, tmp_path):
    directory = tmp_path / "minutes"

    async def prepare() -> tuple[int, int]:
        database = Database(database_url)
        try:
            table_id, (minutes_id,) = await approved_minutes(database)
            return table_id, minutes_id
        finally:
            await database.dispose()

    table_id, minutes_id = asyncio.run(prepare())
    killed_at("before-commit", database_url, directory, table_id, minutes_id)
    settings = Settings(database_url=database_url, base_url=BASE_URL, secret_key=SECRET, minutes_dir=str(directory))
    with TestClient(create_app(settings), base_url=BASE_URL):
        pass

    async def check() -> None:
        database = Database(database_url)
        try:
            (version,) = await versions(database)
            assert version.state is PublicationState.published
            assert (await minutes_publishing.verify(database, directory)).findings == []
        finally:
            await database.dispose()

    asyncio.run(check())


async def test_a_name_the_chain_already_has_with_other_bytes_is_rolled_back(database, tmp_path):
    directory = tmp_path / "minutes"
    table_id, (minutes_id,) = await approved_minutes(database)
    identity = await minutes_publishing.ensure_identity(database)
    folder = directory / SLUG
    archive.ensure_chain(folder, identity, SLUG)
    archive.append_line(folder, "ab" * 32, "2031-03-12-seduta-1.md")  # chained before, with other bytes
    version_id = await minutes_publishing.commit_publishing(
        database, table_id=table_id, minutes_id=minutes_id, build=build_for(minutes_id)
    )
    stray = folder / ".tmp-2031-03-12-seduta-1.md-0000"
    stray.write_bytes(b"half")
    chain_before = (folder / "CHAIN").read_bytes()
    (folder / "CHAIN").write_bytes(chain_before + b"cd" * 32)  # a line cut short

    done = await minutes_publishing.repair(database, directory)

    assert any("la pubblicazione è stata annullata" in what for what in done)
    assert any("tolto il file temporaneo" in what for what in done)
    assert any("tolta una riga di CHAIN" in what for what in done)
    assert (folder / "CHAIN").read_bytes() == chain_before
    assert not stray.exists()
    async with database.read() as session:
        assert await session.get(MinutesVersion, version_id) is None
        assert await session.scalar(select(func.count()).select_from(MinutesVersion)) == 0


async def test_a_publication_finishes_the_leftovers_of_its_table_first(database, tmp_path):
    directory = tmp_path / "minutes"
    table_id, (cut, later) = await approved_minutes(database, 2)
    left = await minutes_publishing.commit_publishing(database, table_id=table_id, minutes_id=cut, build=build_for(cut))
    version = await publish(database, directory, table_id, later)
    stored = {v.id: v for v in await versions(database)}
    assert stored[left].state is PublicationState.published
    assert [line.name for line in chain_of(directory)][1:] == [stored[left].file_name, version.file_name]
    assert_whole(directory)


def test_the_lock_file_is_shared_across_processes(tmp_path):
    """flock on the folder's .lock: a second holder (another open file, as another process has) waits."""
    folder = tmp_path / SLUG
    with archive.locked(folder):
        other = os.open(folder / archive.LOCK, os.O_RDWR)
        try:
            import fcntl

            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)


async def test_publishing_under_a_name_the_chain_has_with_other_bytes_is_refused_and_rolled_back(database, tmp_path):
    """The archive kept a file this database does not know (a database restored from an older backup)."""
    directory = tmp_path / "minutes"
    table_id, (minutes_id,) = await approved_minutes(database)
    identity = await minutes_publishing.ensure_identity(database)
    folder = directory / SLUG
    archive.ensure_chain(folder, identity, SLUG)
    archive.append_line(folder, "ab" * 32, "2031-03-12-seduta-1.md")
    chain = (folder / "CHAIN").read_bytes()

    with pytest.raises(Duplicate, match=r"2031-03-12-seduta-1\.md") as refused:
        await publish(database, directory, table_id, minutes_id)
    assert "nulla è stato pubblicato" in str(refused.value)
    assert (folder / "CHAIN").read_bytes() == chain
    assert not (folder / "2031-03-12-seduta-1.md").exists()
    assert await versions(database) == []
