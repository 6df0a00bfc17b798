"""Publishing a version of the minutes into the archive, finishing what a crash left, and checking it all.

The protocol (`publish`), for one table at a time across processes and instances — the table
folder's `flock` is held from before the first transaction to after the last, and the first
transaction also locks the table's row:

1. commit the *publishing* record (`build(session)`, M3's function, creates the MinutesVersion
   with every copy rendered and its file name);
2. write the public file: a temporary file, fsync, rename, fsync the folder;
3. append its CHAIN line, fsync;
4. mark the record published with its CHAIN line's hash, in a second transaction, through
   `finish` (default: the minutes' `mark_published`, which also publishes the minutes and records
   the event).

A record left *publishing* (a process killed between two steps) is rolled forward by `repair`, at
start-up and before the table's next publication: the record holds the file's bytes, so the file
is written if it is not there, its line appended if it is not in the chain, and the record marked.
It is rolled back (the record deleted, a file of its name that the chain does not name removed)
only when that cannot be: the chain already names that file with other bytes. Temporary files of
an interrupted write are removed, and a CHAIN line cut short is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only

from server.db.models import Installation, MinutesVersion, PublicationState, Table
from server.db.session import Database
from server.db.types import utcnow
from server.domain import minutes
from server.domain import minutes_archive as archive
from server.domain.actions import Actor
from server.domain.errors import Duplicate, NotFound
from server.domain.meetings import lock_table
from server.i18n import _

log = logging.getLogger(__name__)

# What `verify` reads of each version (not its copies' HTML and PDFs).
_CHECKED = (
    MinutesVersion.id,
    MinutesVersion.number,
    MinutesVersion.state,
    MinutesVersion.file_name,
    MinutesVersion.chain_hash,
    MinutesVersion.public_sha256,
    MinutesVersion.front_matter,
    MinutesVersion.public_markdown,
)

Build = Callable[[AsyncSession], Awaitable[MinutesVersion]]


class Finish(Protocol):
    """Marks a version published, in the caller's transaction (server.domain.minutes.mark_published)."""

    async def __call__(
        self, session: AsyncSession, version_id: int, *, actor_id: int | None, chain_hash: str | None = None
    ) -> MinutesVersion: ...


class NameTaken(Exception):
    """The chain already names the version's file with other bytes: the version cannot be published."""


# --- The database's identity ------------------------------------------------------------------------


async def database_identity(session: AsyncSession) -> str | None:
    return await session.scalar(select(Installation.identity).order_by(Installation.id).limit(1))


async def ensure_identity(database: Database) -> str:
    """This database's identity, created once (the first time an archive needs it)."""
    async with database.read() as session:
        found = await database_identity(session)
    if found is not None:
        return found
    values = {"id": 1, "identity": os.urandom(32).hex(), "created_at": utcnow()}
    insert = postgresql_insert if database.dialect == "postgresql" else sqlite_insert
    async with database.transaction() as session:
        await session.execute(insert(Installation).values(**values).on_conflict_do_nothing())
    async with database.read() as session:
        identity = await database_identity(session)
    assert identity is not None
    return identity


# --- The table folder's lock, from async code -----------------------------------------------------


@contextlib.asynccontextmanager
async def folder_lock(folder: Path) -> AsyncIterator[None]:
    """Hold the table folder's `flock` (other processes and other tasks wait for it in a thread)."""
    fd = await asyncio.to_thread(archive.open_lock, folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        waiting = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread takes the lock some time later: close the descriptor then, which releases it.
            waiting.add_done_callback(lambda _done: os.close(fd))
            raise
        except BaseException:
            os.close(fd)
            raise
    try:
        yield
    finally:
        os.close(fd)


# --- Publishing -------------------------------------------------------------------------------------


async def publish(
    database: Database,
    *,
    table_id: int,
    minutes_id: int,
    build: Build,
    actor_id: int | None,
    directory: str | os.PathLike[str],
    finish: Finish | None = None,
) -> MinutesVersion:
    """Publish the version that `build(session)` creates (state publishing) into the table's archive.

    Raises what `build` raises (nothing is written then), ForeignArchive when the table's folder
    belongs to another database, Duplicate when the chain already names the version's file with
    other bytes (the version is rolled back), OSError when the folder cannot be written (the record stays
    publishing, and `repair` finishes it).
    """
    slug = await _table_slug(database, table_id)
    identity = await ensure_identity(database)
    folder = archive.table_folder(directory, slug)
    async with folder_lock(folder):
        await asyncio.to_thread(archive.ensure_chain, folder, identity, slug)
        for done in await _repair_table(database, folder, table_id, finish):
            log.warning("minutes archive %s: %s", slug, done)
        version_id = await commit_publishing(database, table_id=table_id, minutes_id=minutes_id, build=build)
        try:
            version, _done = await complete(database, folder, version_id, actor_id=actor_id, finish=finish)
        except NameTaken as taken:
            log.warning("minutes archive %s: %s", slug, await _roll_back(database, folder, version_id, str(taken)))
            raise Duplicate(
                _(
                    "The minutes archive already has a file named {name} that this database does not know: "
                    "nothing was published; `tavoli verify` shows the archive's state."
                ).format(name=taken)
            ) from None
        return version


async def publish_minutes(
    database: Database, *, table_id: int, minutes_id: int, actor: Actor, directory: str | os.PathLike[str]
) -> MinutesVersion:
    """Publish approved minutes: their copies are rendered first, outside any lock (the PDFs take
    seconds), and the publishing transaction only checks that nothing changed meanwhile and stores
    them (it renders them again itself if something did)."""
    async with database.read() as session:
        prepared = await minutes.prepare_version(session, minutes_id, actor)

    async def build(session: AsyncSession) -> MinutesVersion:
        return await minutes.build_version(session, minutes_id, actor, prepared=prepared)

    return await publish(
        database, table_id=table_id, minutes_id=minutes_id, build=build, actor_id=actor.user_id, directory=directory
    )


async def _table_slug(database: Database, table_id: int) -> str:
    async with database.read() as session:
        slug = await session.scalar(select(Table.slug).where(Table.id == table_id))
    if slug is None:
        raise NotFound(_("This table does not exist."))
    return slug


async def commit_publishing(database: Database, *, table_id: int, minutes_id: int, build: Build) -> int:
    """Step 1: commit the publishing record that `build` creates; its id."""
    async with database.transaction() as session:
        await lock_table(session, table_id)
        version = await build(session)
        await session.flush()
        if (version.table_id, version.minutes_id, version.state) != (
            table_id,
            minutes_id,
            PublicationState.publishing,
        ):
            raise ValueError(f"build() made version {version.id} of another table or minutes, or not publishing")
        return version.id


async def complete(
    database: Database, folder: Path, version_id: int, *, actor_id: int | None, finish: Finish | None
) -> tuple[MinutesVersion, str]:
    """Steps 2 to 4 for a publishing record, skipping those already done; the version and what was done.

    Raises NameTaken when the chain names the file with other bytes.
    """
    async with database.read() as session:
        version = await session.get(MinutesVersion, version_id)
    if version is None:
        raise NotFound(_("This version of the minutes does not exist."))
    if version.state is PublicationState.published:
        return version, _("{name}: already published.").format(name=version.file_name)
    data = version.public_markdown.encode("utf-8")
    wrote, appended, line_hash = await asyncio.to_thread(_write_and_chain, folder, version.file_name, data)
    marked = await mark_published(
        database, version_id, chain_hash=line_hash, actor_id=actor_id or version.published_by, finish=finish
    )
    if wrote:
        what = _("{name}: file written, chained and marked published.")
    elif appended:
        what = _("{name}: file already written; chained and marked published.")
    else:
        what = _("{name}: file already written and chained; marked published.")
    return marked, what.format(name=version.file_name)


def _write_and_chain(folder: Path, name: str, data: bytes) -> tuple[bool, bool, str]:
    """Steps 2 and 3 (blocking): whether the file was written, whether its line was appended, the line's hash."""
    if not archive.FILE_NAME.match(name):
        raise NameTaken(name)
    file_hash = archive.sha256_hex(data)
    line = next((line for line in archive.read_chain(folder) if line.name == name), None)
    if line is not None and line.file_hash != file_hash:
        raise NameTaken(name)
    path = folder / name
    wrote = not (path.is_file() and path.read_bytes() == data)
    if wrote:
        archive.write_atomically(folder, name, data)
    if line is not None:
        return wrote, False, line.line_hash
    return wrote, True, archive.append_line(folder, file_hash, name)


async def mark_published(
    database: Database, version_id: int, *, chain_hash: str, actor_id: int | None, finish: Finish | None = None
) -> MinutesVersion:
    """Step 4, in a transaction of its own: `finish` (the minutes' `mark_published`: the version and
    the minutes published, the event) with the hash of the version's CHAIN line."""
    async with database.transaction() as session:
        return await (finish or minutes.mark_published)(session, version_id, actor_id=actor_id, chain_hash=chain_hash)


# --- Repair -----------------------------------------------------------------------------------------


async def repair(database: Database, directory: str | os.PathLike[str], *, finish: Finish | None = None) -> list[str]:
    """Finish or roll back every record left publishing, remove temporary files and CHAIN lines cut
    short, table by table under each folder's lock; what was done, one sentence each."""
    async with database.read() as session:
        identity = await database_identity(session)
        pending = set(
            (
                await session.scalars(
                    select(Table.slug)
                    .join(MinutesVersion, MinutesVersion.table_id == Table.id)
                    .where(MinutesVersion.state == PublicationState.publishing)
                )
            ).all()
        )
        tables: dict[str, int] = dict((await session.execute(select(Table.slug, Table.id))).all())
    if pending and identity is None:
        identity = await ensure_identity(database)
    done: list[str] = []
    for slug in sorted(pending | {folder.name for folder in archive.table_folders(directory)}):
        if slug not in tables:
            continue  # a folder of a table this database does not have: `tavoli verify` says so
        folder = archive.table_folder(directory, slug)
        async with folder_lock(folder):
            found = await asyncio.to_thread(archive.read_identity, folder)
            if found is not None and found != identity:
                if slug in pending:
                    done.append(f"{slug}: " + archive.foreign_message(slug))
                continue
            if slug in pending:
                assert identity is not None
                try:
                    await asyncio.to_thread(archive.ensure_chain, folder, identity, slug)
                except archive.ForeignArchive as foreign:
                    done.append(f"{slug}: {foreign}")
                    continue
            done.extend(f"{slug}: {what}" for what in await _repair_table(database, folder, tables[slug], finish))
    for what in done:
        log.warning("minutes archive repair: %s", what)
    return done


async def _repair_table(database: Database, folder: Path, table_id: int, finish: Finish | None) -> list[str]:
    """Under the folder's lock: the table's leftovers, oldest first."""
    done: list[str] = []
    for temporary in await asyncio.to_thread(archive.stray_temporaries, folder):
        await asyncio.to_thread(temporary.unlink)
        done.append(_("removed the temporary file {name} of a write cut short.").format(name=temporary.name))
    if await asyncio.to_thread(archive.trim_unfinished_line, folder):
        done.append(_("cut off a CHAIN line whose write was cut short."))
    async with database.read() as session:
        leftovers = list(
            (
                await session.scalars(
                    select(MinutesVersion.id)
                    .where(MinutesVersion.table_id == table_id, MinutesVersion.state == PublicationState.publishing)
                    .order_by(MinutesVersion.id)
                )
            ).all()
        )
    for version_id in leftovers:
        try:
            _version, what = await complete(database, folder, version_id, actor_id=None, finish=finish)
        except NameTaken as taken:
            done.append(await _roll_back(database, folder, version_id, str(taken)))
        else:
            done.append(what)
    return done


async def _roll_back(database: Database, folder: Path, version_id: int, name: str) -> str:
    async with database.transaction() as session:
        await session.execute(delete(MinutesVersion).where(MinutesVersion.id == version_id))
    chained = {line.name for line in await asyncio.to_thread(archive.read_chain, folder)}
    path = folder / name
    if name not in chained and archive.FILE_NAME.match(name) and path.is_file():
        await asyncio.to_thread(path.unlink)
    return _("{name}: the chain already has another file of this name; the publication was rolled back.").format(
        name=name
    )


# --- Archives of another database -------------------------------------------------------------------


async def set_aside_foreign(database: Database, directory: str | os.PathLike[str]) -> Path | None:
    """Move the tables' archives of another database aside (`tavoli demo` on a fresh database)."""
    identity = await ensure_identity(database)
    return await asyncio.to_thread(archive.set_aside, directory, identity)


# --- Checking, offline --------------------------------------------------------------------------------


@dataclass
class Verification:
    """What `tavoli verify` found: the problems, and each table's chain head and number of files."""

    findings: list[archive.Finding] = field(default_factory=list)
    heads: dict[str, str | None] = field(default_factory=dict)
    files: int = 0


async def verify(database: Database, directory: str | os.PathLike[str]) -> Verification:
    """Check every table's chain, every file's hash, each file's front matter against the database,
    and explain the records left publishing (which the next start finishes)."""
    root = Path(directory)
    async with database.read() as session:
        identity = await database_identity(session)
        rows = (
            await session.execute(
                select(MinutesVersion, Table.slug)
                .options(load_only(*_CHECKED, raiseload=True))
                .join(Table, Table.id == MinutesVersion.table_id)
                .order_by(MinutesVersion.id)
            )
        ).all()
    expected: dict[str, dict[str, archive.Expected]] = {}
    leftovers: list[tuple[str, MinutesVersion]] = []
    for version, slug in rows:
        published = version.state is PublicationState.published
        expected.setdefault(slug, {})[version.file_name] = archive.Expected(
            version_id=version.id,
            published=published,
            chain_hash=version.chain_hash,
            file_sha256=(version.public_sha256 or {}).get("markdown"),
            front_matter=version.front_matter or {},
        )
        if not published:
            leftovers.append((slug, version))
    return await asyncio.to_thread(_verify_folders, root, identity, expected, leftovers)


def _verify_folders(
    root: Path,
    identity: str | None,
    expected: dict[str, dict[str, archive.Expected]],
    leftovers: list[tuple[str, MinutesVersion]],
) -> Verification:
    result = Verification()
    folders = {folder.name for folder in archive.table_folders(root)}
    published = {slug for slug, files in expected.items() if any(f.published for f in files.values())}
    for slug in sorted(folders | published):
        folder = root / slug
        if slug not in folders:
            result.findings.append(
                archive.Finding(slug, None, _("The folder of this table is missing, with its published minutes."))
            )
            continue
        result.findings.extend(archive.check_folder(folder, identity, expected.get(slug, {}), root=root))
        lines = archive.read_chain(folder)
        result.heads[slug] = lines[-1].line_hash if lines else None
        result.files += sum(1 for line in lines if line.name and line.name != archive.IDENTITY)
        for temporary in archive.stray_temporaries(folder):
            result.findings.append(
                archive.Finding(
                    f"{slug}/{temporary.name}",
                    None,
                    _("A temporary file of a publication cut short: the next start of Tavoli removes it."),
                )
            )
    for slug, version in leftovers:
        result.findings.append(_explain_leftover(root, slug, version))
    return result


def _explain_leftover(root: Path, slug: str, version: MinutesVersion) -> archive.Finding:
    folder = root / slug
    data = version.public_markdown.encode("utf-8")
    line = next((line for line in archive.read_chain(folder) if line.name == version.file_name), None)
    path = folder / version.file_name
    written = path.is_file() and path.read_bytes() == data
    where = f"{slug}/{archive.CHAIN}" if line is not None else f"{slug}/{version.file_name}"
    if line is not None and line.file_hash == archive.sha256_hex(data):
        state = _(
            "its file is written and chained, but the database does not say it is published yet: the next "
            "start of Tavoli marks it published."
        )
    elif line is not None:
        state = _("the chain names its file with other bytes: the next start of Tavoli rolls the publication back.")
    elif written:
        state = _("its file is written but not chained: the next start of Tavoli appends its line and marks it.")
    else:
        state = _(
            "its file is not written: the next start of Tavoli writes it, appends its line and marks it published."
        )
    message = _("Version {number} ({name}) was left publishing by a publication cut short; {state}").format(
        number=version.number, name=version.file_name, state=state
    )
    return archive.Finding(where, line.number if line is not None else None, message)
