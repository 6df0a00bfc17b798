"""`tavoli verify` and `tavoli minutes export`: tampering is found with the file and the line, and the
export's VERIFY.md commands, run by bash and by dash exactly as written, pass on it and fail on a
tampered copy."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from server.cli import cli
from server.db.models import Minutes, MinutesVersion
from server.db.session import Database
from server.domain import minutes_archive as archive
from server.domain import minutes_publishing
from server.i18n import use_locale
from tests.conftest import run_async
from tests.test_minutes_archive import SLUG, approved_minutes, build_for, publish

FILES = ["2031-03-12-seduta-1.md", "2031-03-12-seduta-2.md", "2031-03-12-seduta-3.md"]


@pytest.fixture(autouse=True)
def italian():
    """Italian, whatever a command run before set (the command line sets the locale for its process)."""
    with use_locale("it"):
        yield


def tavoli(database_url: str, directory: Path, *args: str, locale: str = "en"):
    return CliRunner().invoke(
        cli,
        list(args),
        env={
            "TAVOLI_DATABASE_URL": database_url,
            "TAVOLI_MINUTES_DIR": str(directory),
            "TAVOLI_DEFAULT_LOCALE": locale,
        },
    )


def on(database_url: str, change):
    async def go():
        database = Database(database_url)
        try:
            return await change(database)
        finally:
            await database.dispose()

    return run_async(go())


@pytest.fixture
def directory(database_url: str, tmp_path: Path) -> Path:
    """Three minutes of one table published into a minutes folder."""
    folder = tmp_path / "minutes"

    async def go(database: Database) -> None:
        table_id, ids = await approved_minutes(database, 3)
        for minutes_id in ids:
            await publish(database, folder, table_id, minutes_id)

    on(database_url, go)
    assert [line.name for line in archive.read_chain(folder / SLUG)] == ["IDENTITY", *FILES]
    return folder


def problems(result) -> list[str]:
    assert result.exit_code == 1, result.output
    return result.stdout.splitlines()


def chain_lines(directory: Path) -> list[bytes]:
    return (directory / SLUG / "CHAIN").read_bytes().splitlines(keepends=True)


def write_chain(directory: Path, lines: list[bytes]) -> None:
    (directory / SLUG / "CHAIN").write_bytes(b"".join(lines))


def test_a_whole_archive_verifies_with_its_heads(database_url, directory):
    result = tavoli(database_url, directory, "verify")
    assert result.exit_code == 0, result.output
    head = archive.chain_head(directory, SLUG)
    assert f"{SLUG}: chain head {head}" in result.stdout
    assert f"The minutes archive {directory} is whole: 1 tables, 3 files." in result.stdout
    # --dir names another folder: the same archive copied there verifies too
    elsewhere = directory.parent / "copia"
    subprocess.run(["cp", "-a", str(directory), str(elsewhere)], check=True)
    assert tavoli(database_url, directory.parent / "nowhere", "verify", "--dir", str(elsewhere)).exit_code == 0


def test_verify_in_italian(database_url, directory):
    (directory / SLUG / FILES[0]).write_bytes((directory / SLUG / FILES[0]).read_bytes() + b" ")
    result = tavoli(database_url, directory, "verify", locale="it")
    assert result.exit_code == 1
    assert f"{SLUG}/{FILES[0]}: Il suo SHA-256 è " in result.stdout
    assert "problemi nell'archivio dei verbali" in result.output


def test_one_changed_byte_is_found_with_its_file(database_url, directory):
    path = directory / SLUG / FILES[1]
    data = bytearray(path.read_bytes())
    at = data.rindex(b"approvato")
    data[at] = ord("A")
    path.write_bytes(bytes(data))
    found = problems(tavoli(database_url, directory, "verify"))
    assert any(
        line.startswith(f"{SLUG}/{FILES[1]}: Its SHA-256 is ") and "as CHAIN line 3 says: the file was changed" in line
        for line in found
    ), found
    assert f"{SLUG}/{FILES[1]}: The text's SHA-256 differs from body_sha256 in its front matter." in found
    assert all(FILES[1] in line for line in found), "nothing else is reported"


def test_a_removed_line_is_found_with_its_line(database_url, directory):
    lines = chain_lines(directory)
    write_chain(directory, lines[:2] + lines[3:])  # the line of FILES[1] is gone
    found = problems(tavoli(database_url, directory, "verify"))
    assert (
        f"{SLUG}/CHAIN:3: The previous line's hash is wrong: a line before it was removed, changed or moved." in found
    )
    assert f"{SLUG}/CHAIN: The published version {FILES[1]} is not in the chain: its line was removed." in found
    assert f"{SLUG}/{FILES[1]}: This file is not in the chain." in found


def test_a_removed_last_line_is_found_against_the_database(database_url, directory):
    write_chain(directory, chain_lines(directory)[:-1])
    found = problems(tavoli(database_url, directory, "verify"))
    assert f"{SLUG}/CHAIN: The published version {FILES[2]} is not in the chain: its line was removed." in found


def test_a_changed_line_is_found_with_its_line(database_url, directory):
    lines = chain_lines(directory)
    digest, previous, name = lines[2].decode().split(" ")
    lines[2] = f"{'0' * 64} {previous} {name}".encode()
    write_chain(directory, lines)
    found = problems(tavoli(database_url, directory, "verify"))
    assert any(line.startswith(f"{SLUG}/{FILES[1]}: Its SHA-256 is {digest}") for line in found), found
    assert f"{SLUG}/CHAIN:3: The database has another SHA-256 for this file." in found
    assert f"{SLUG}/CHAIN:3: The database recorded another hash for this line." in found
    assert (
        f"{SLUG}/CHAIN:4: The previous line's hash is wrong: a line before it was removed, changed or moved." in found
    )


def test_a_reordered_chain_is_found_with_its_lines(database_url, directory):
    lines = chain_lines(directory)
    write_chain(directory, [lines[0], lines[1], lines[3], lines[2]])
    found = problems(tavoli(database_url, directory, "verify"))
    for number in (3, 4):
        assert (
            f"{SLUG}/CHAIN:{number}: The previous line's hash is wrong: a line before it was removed, changed or moved."
            in found
        )


def test_a_rewritten_file_and_chain_still_differ_from_the_database(database_url, directory):
    """Someone rewrites a file and recomputes the whole chain: the chain is whole, the database is not fooled."""
    folder = directory / SLUG
    path = folder / FILES[0]
    path.write_bytes(path.read_bytes().replace(b"Palazzo Malvezzi", b"Altrove"))
    names = [line.name for line in archive.read_chain(folder)]
    (folder / "CHAIN").unlink()
    for name in names:
        archive.append_line(folder, archive.sha256_hex((folder / name).read_bytes()), name)
    found = problems(tavoli(database_url, directory, "verify"))
    assert f"{SLUG}/{FILES[0]}: Its front matter differs from the database in: place." in found
    assert f"{SLUG}/CHAIN:2: The database has another SHA-256 for this file." in found
    assert f"{SLUG}/CHAIN:2: The database recorded another hash for this line." in found


def test_a_front_matter_changed_in_the_database_is_found(database_url, directory):
    async def change(database: Database) -> None:
        async with database.transaction() as session:
            await session.execute(
                update(MinutesVersion).where(MinutesVersion.file_name == FILES[2]).values(front_matter={"table": "x"})
            )

    on(database_url, change)
    found = problems(tavoli(database_url, directory, "verify"))
    assert any(line.startswith(f"{SLUG}/{FILES[2]}: Its front matter differs from the database in: ") for line in found)


def test_a_missing_file_and_a_missing_folder_are_found(database_url, directory):
    (directory / SLUG / FILES[0]).unlink()
    assert f"{SLUG}/CHAIN:2: The file {FILES[0]} is missing." in problems(tavoli(database_url, directory, "verify"))
    subprocess.run(["rm", "-r", str(directory / SLUG)], check=True)
    found = problems(tavoli(database_url, directory, "verify"))
    assert found == [f"{SLUG}: The folder of this table is missing, with its published minutes."]


def test_a_publication_cut_short_is_explained(database_url, directory):
    async def cut(database: Database) -> int:
        async with database.read() as session:
            table_id, minutes_id = (
                await session.execute(select(Minutes.table_id, Minutes.id).order_by(Minutes.id).limit(1))
            ).one()
        return await minutes_publishing.commit_publishing(
            database, table_id=table_id, minutes_id=minutes_id, build=build_for(minutes_id)
        )

    on(database_url, cut)
    found = problems(tavoli(database_url, directory, "verify"))
    assert found == [
        f"{SLUG}/2031-03-12-seduta-1-v2.md: Version 2 (2031-03-12-seduta-1-v2.md) was left publishing by a "
        "publication cut short; its file is not written: the next start of Tavoli writes it, appends its line and "
        "marks it published."
    ]


def test_the_demo_sets_an_archive_of_another_database_aside_saying_so(database_url, directory, tmp_path):
    """A fresh database (another identity) meets the old archive: `tavoli demo`'s first step moves it aside."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the fresh database is a copy of the SQLite file")
    fresh = tmp_path / "fresh.db"
    subprocess.run(["cp", database_url.removeprefix("sqlite+aiosqlite:///"), str(fresh)], check=True)

    async def forget(database: Database) -> None:
        from sqlalchemy import delete

        from server.db.models import Installation

        async with database.transaction() as session:
            await session.execute(delete(Installation))

    fresh_url = f"sqlite+aiosqlite:///{fresh}"
    on(fresh_url, forget)
    moved = on(fresh_url, lambda database: minutes_publishing.set_aside_foreign(database, directory))
    assert moved is not None
    assert (moved / SLUG / "CHAIN").is_file()
    assert not (directory / SLUG).exists()


# --- Export and VERIFY.md -----------------------------------------------------------------------------


def verify_commands(out: Path) -> str:
    """The one shell block of VERIFY.md, as written."""
    (block,) = re.findall(r"```sh\n(.*?)```", (out / "VERIFY.md").read_text(), flags=re.DOTALL)
    return block


def run(shell: str, commands: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([shell, "-c", commands], cwd=out, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def exported(database_url, directory, tmp_path) -> Path:
    out = tmp_path / "export" / SLUG
    result = tavoli(database_url, directory, "minutes", "export", SLUG, str(out))
    assert result.exit_code == 0, result.output
    head = archive.chain_head(directory, SLUG)
    assert f"chain head {head}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(["CHAIN", "IDENTITY", "VERIFY.md", *FILES])
    return out


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_verify_md_passes_on_an_export(shell, directory, exported):
    commands = verify_commands(exported)
    assert "sha256sum" in commands
    head = archive.chain_head(directory, SLUG)
    assert head in (exported / "VERIFY.md").read_text()
    result = run(shell, commands, exported)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(head)


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_verify_md_fails_on_a_changed_byte(shell, exported):
    path = exported / FILES[2]
    path.write_bytes(path.read_bytes().replace(b"Testo", b"Testa", 1))
    result = run(shell, verify_commands(exported), exported)
    assert result.returncode == 1
    assert f"{FILES[2]} (CHAIN:4):" in result.stdout


@pytest.mark.parametrize(
    ("tamper", "line"),
    [
        (lambda lines: lines[:2] + lines[3:], 3),  # a removed line
        (lambda lines: [lines[0], lines[1], lines[3], lines[2]], 3),  # reordered
        (lambda lines: [*lines[:2], lines[2].replace(b"seduta-2", b"seduta-3"), lines[3]], 4),  # a changed name
    ],
)
def test_verify_md_fails_on_a_tampered_chain(tamper, line, exported):
    chain = exported / "CHAIN"
    chain.write_bytes(b"".join(tamper(chain.read_bytes().splitlines(keepends=True))))
    result = run("bash", verify_commands(exported), exported)
    assert result.returncode == 1
    assert f"CHAIN:{line}:" in result.stdout


def test_verify_md_refuses_a_name_outside_the_folder(exported):
    chain = exported / "CHAIN"
    lines = chain.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(FILES[2].encode(), b"../../etc/passwd")
    chain.write_bytes(b"".join(lines))
    result = run("sh", verify_commands(exported), exported)
    assert result.returncode == 1
    assert "CHAIN:4: not a file name of this folder" in result.stdout


def test_export_refuses_an_unknown_table_and_a_folder_not_empty(database_url, directory, exported):
    result = tavoli(database_url, directory, "minutes", "export", SLUG, str(exported))
    assert result.exit_code == 1
    assert f"{exported} is not empty." in result.output
    result = tavoli(database_url, directory, "minutes", "export", "nessun-tavolo", str(exported.parent / "x"))
    assert result.exit_code == 1
    assert "The table nessun-tavolo has no minutes archive" in result.output
    result = tavoli(database_url, directory, "minutes", "export", "../fuori", str(exported.parent / "x"))
    assert result.exit_code == 1
    assert "../fuori is not a table's short name." in result.output
