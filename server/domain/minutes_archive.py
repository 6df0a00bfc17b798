"""The minutes archive: plain files in `<minutes dir>/<table-slug>/`, one hash chain per table.

Each published version's public copy is a Markdown file with a YAML front matter,
`<YYYY-MM-DD>-<meeting-slug>[-vN].md` (the meeting's day in Europe/Rome; `-vN` from the second
version on). The folder's `CHAIN` has one line per file, in the order of publication:

    <sha256 of the file> <sha256 of the previous CHAIN line (its bytes without the newline), or 64 zeros> <file name>

Its first line chains the file `IDENTITY`, which names the database the archive belongs to (an
archive is never appended to by another database); the SHA-256 of the last line is the chain
head. So the same three-field loop of `sha256sum` and `sh` checks every line, the first included
(`verify_script`).

Everything here works on files only (no database): the publish protocol and the checks against
the database are in server/domain/minutes_publishing.py. These functions block (fsync): async
callers run them in a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shlex
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from slugify import slugify

from server.domain.errors import DomainError
from server.domain.minutes_record import MinutesRecord
from server.i18n import TIMEZONE, _

CHAIN = "CHAIN"
IDENTITY = "IDENTITY"
LOCK = ".lock"
TEMP_PREFIX = ".tmp-"
# The folder, inside the minutes folder, where `tavoli demo` moves the archives of another database
# (a table's short name never has a dot, so it is never taken for a table's folder).
ASIDE_PREFIX = "minutes.old-"
ZEROS = "0" * 64
OMISSIS = "[omissis]"
_HEX = re.compile(r"^[0-9a-f]{64}$")
FILE_NAME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}-[a-z0-9]+(?:-[a-z0-9]+)*\.md$")
_TABLE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ForeignArchive(DomainError):
    """The table's folder belongs to another database (its IDENTITY names another one)."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- The file of one version ---------------------------------------------------------------------


def file_name(record: MinutesRecord, number: int) -> str:
    """`2026-03-12-seduta-di-marzo.md`, `…-v2.md` for the first erratum: the day in Europe/Rome."""
    starts = record.starts_at if record.starts_at.tzinfo else record.starts_at.replace(tzinfo=UTC)
    day = starts.astimezone(TIMEZONE).date()
    slug = slugify(record.meeting_slug, max_length=120) or "seduta"
    suffix = f"-v{number}" if number >= 2 else ""
    return f"{day:%Y-%m-%d}-{slug}{suffix}.md"


def normalise_body(body: str) -> str:
    """The body as the file holds it: LF line ends, no trailing blank lines, one final newline."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return text + "\n"


def body_sha256(body: str) -> str:
    """The SHA-256 of the body as the file holds it (`normalise_body`), UTF-8."""
    return sha256_hex(normalise_body(body).encode("utf-8"))


def front_matter(
    record: MinutesRecord,
    *,
    number: int,
    supersedes_file: str | None,
    body_sha256: str,
    redactions: Sequence[str] = (),
) -> dict[str, Any]:
    """The front matter of a version's public file, from the records (JSON- and YAML-safe values only).

    `redactions`: the passages replaced by "[omissis]" in the public copy, replaced here too (a
    delegate's name, a passage of a decision's text).
    """
    starts = record.starts_at if record.starts_at.tzinfo else record.starts_at.replace(tzinfo=UTC)
    local = starts.astimezone(TIMEZONE)
    decisions: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for item in record.items:
        heading = f"{item.number}. {item.title}"
        if item.decision is not None:
            decisions.append(
                {
                    "item": heading,
                    "kind": item.decision.kind,
                    "text": item.decision.text,
                    "positions": [
                        {
                            "organisation": p.organisation,
                            "position": p.kind,
                            "reservation": p.reservation,
                            "delegate": p.delegate,
                        }
                        for p in item.decision.positions
                    ],
                }
            )
        actions.extend(
            {
                "item": heading,
                "title": a.title,
                "owner": a.owner,
                "due_on": a.due_on.isoformat() if a.due_on else None,
                "status": a.status,
            }
            for a in item.actions
        )
    front: dict[str, Any] = {
        "table": record.table_name,
        "table_slug": record.table_slug,
        "meeting": record.meeting_title,
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "place": record.place,
        "attendance": {
            "present": [{"organisation": p.organisation, "delegates": list(p.delegates)} for p in record.present],
            "absent": list(record.absent),
        },
        "decisions": decisions,
        "action_items": actions,
        "version": number,
        "supersedes": supersedes_file,
        "body_sha256": body_sha256,
    }
    passages = sorted((p for p in redactions if p), key=len, reverse=True)
    return _redacted(front, passages) if passages else front


def _redacted(value: Any, passages: Sequence[str]) -> Any:
    if isinstance(value, str):
        for passage in passages:
            value = value.replace(passage, OMISSIS)
        return value
    if isinstance(value, dict):
        return {key: _redacted(item, passages) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, passages) for item in value]
    return value


def dump_front_matter(front: Mapping[str, Any]) -> str:
    text: str = yaml.safe_dump(dict(front), allow_unicode=True, sort_keys=False, width=100)
    return text


def compose_file(front: Mapping[str, Any], body: str) -> bytes:
    """The archive file: `---`, the YAML front matter, `---`, a blank line, the body; UTF-8, LF, one final newline."""
    return f"---\n{dump_front_matter(front)}---\n\n{normalise_body(body)}".encode()


def split_file(data: bytes) -> tuple[dict[str, Any], str]:
    """The front matter and the body of an archive file; ValueError when it is not one."""
    text = data.decode("utf-8")
    if not text.startswith("---\n"):
        raise ValueError("no front matter")
    end = text.find("\n---\n", 3)
    if end < 0:
        raise ValueError("no end of the front matter")
    front = yaml.safe_load(text[4 : end + 1])
    if not isinstance(front, dict):
        raise ValueError("the front matter is not a mapping")
    body = text[end + 5 :]
    if not body.startswith("\n"):
        raise ValueError("no blank line after the front matter")
    return front, body[1:]


# --- The chain --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainLine:
    """One line of a CHAIN (its text without the newline); the fields are None when it is malformed."""

    number: int
    text: str
    file_hash: str | None
    previous: str | None
    name: str | None

    @property
    def line_hash(self) -> str:
        return sha256_hex(self.text.encode("utf-8"))


def chain_line(file_hash: str, previous: str, name: str) -> str:
    return f"{file_hash} {previous} {name}"


def parse_chain(data: bytes) -> list[ChainLine]:
    """The lines of a CHAIN's bytes (a last line without its newline included)."""
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    parsed = []
    for number, line in enumerate(lines, start=1):
        fields = line.split(" ")
        if len(fields) == 3 and _HEX.match(fields[0]) and _HEX.match(fields[1]) and fields[2]:
            parsed.append(ChainLine(number, line, fields[0], fields[1], fields[2]))
        else:
            parsed.append(ChainLine(number, line, None, None, None))
    return parsed


def read_chain(folder: Path) -> list[ChainLine]:
    path = folder / CHAIN
    return parse_chain(path.read_bytes()) if path.exists() else []


def chain_head(directory: str | os.PathLike[str], slug: str) -> str | None:
    """The SHA-256 of the last line of the table's CHAIN (None without one)."""
    lines = read_chain(table_folder(directory, slug))
    return lines[-1].line_hash if lines else None


def table_folder(directory: str | os.PathLike[str], slug: str) -> Path:
    if not _TABLE.match(slug):
        raise ValueError(f"not a table's short name: {slug!r}")
    return Path(directory) / slug


def table_folders(directory: str | os.PathLike[str]) -> list[Path]:
    """The tables' folders of a minutes folder (those moved aside and hidden ones left out)."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _TABLE.match(p.name))


# --- The identity ---------------------------------------------------------------------------------


def identity_file(identity: str, slug: str) -> bytes:
    return (
        f"# Tavoli minutes archive: the first line of CHAIN chains this file.\ndatabase: {identity}\ntable: {slug}\n"
    ).encode()


def read_identity(folder: Path) -> str | None:
    """The database named by the folder's IDENTITY (None when it has none, or none readable)."""
    path = folder / IDENTITY
    if not path.exists():
        return None
    for line in path.read_text("utf-8", errors="replace").splitlines():
        if line.startswith("database: "):
            return line.removeprefix("database: ").strip()
    return None


def foreign_message(slug: str) -> str:
    return _(
        "The minutes folder of the table {slug} belongs to another database: move it aside "
        "(`tavoli demo` does it) or set TAVOLI_MINUTES_DIR to another folder."
    ).format(slug=slug)


def ensure_chain(folder: Path, identity: str, slug: str) -> None:
    """Start the table's archive (IDENTITY, chained as line 1) unless it is there; refuse another database's."""
    folder.mkdir(parents=True, exist_ok=True)
    found = read_identity(folder)
    if found is not None and found != identity:
        raise ForeignArchive(foreign_message(slug))
    if not (folder / IDENTITY).exists():
        if read_chain(folder):
            raise ForeignArchive(foreign_message(slug))  # a chain without its identity: not ours to extend
        write_atomically(folder, IDENTITY, identity_file(identity, slug))
    if not read_chain(folder):
        append_line(folder, sha256_hex((folder / IDENTITY).read_bytes()), IDENTITY)


# --- Writing, durably ------------------------------------------------------------------------------


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(folder: Path, name: str, data: bytes) -> None:
    """Write a temporary file, fsync it, rename it to `name`, fsync the folder."""
    temporary = folder / f"{TEMP_PREFIX}{name}-{secrets.token_hex(4)}"
    with temporary.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / name)
    fsync_folder(folder)


def trim_unfinished_line(folder: Path) -> bool:
    """Cut a last CHAIN line that lacks its newline (a write cut short); whether there was one."""
    path = folder / CHAIN
    if not path.exists():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    with path.open("r+b") as handle:
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def append_line(folder: Path, file_hash: str, name: str) -> str:
    """Append the line of `name` to CHAIN after its last line, fsync; the new line's hash."""
    path = folder / CHAIN
    created = not path.exists()
    lines = read_chain(folder)
    line = chain_line(file_hash, lines[-1].line_hash if lines else ZEROS, name)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_folder(folder)
    return sha256_hex(line.encode("utf-8"))


def stray_temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{TEMP_PREFIX}*")) if folder.is_dir() else []


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[int]:
    """Hold the table folder's lock (`flock` on `.lock`), blocking until it is free; yields its descriptor."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def open_lock(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    return os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)


# --- Checking a folder against what the database says ----------------------------------------------


@dataclass(frozen=True)
class Finding:
    """Something wrong in the archive: where (a path relative to the minutes folder, a line) and what."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Expected:
    """What the database says of a version whose file is in the folder."""

    version_id: int
    published: bool
    chain_hash: str | None
    file_sha256: str | None
    front_matter: Mapping[str, Any]


def check_folder(
    folder: Path, identity: str | None, expected: Mapping[str, Expected], *, root: Path | None = None
) -> list[Finding]:
    """Every problem of one table's folder: its chain line by line, every file's hash and front matter
    against the database (`expected`, by file name), files that the chain does not name."""
    root = root or folder.parent
    where = folder.relative_to(root).as_posix()
    chain = f"{where}/{CHAIN}"
    findings: list[Finding] = []

    def found(path: str, line: int | None, message: str) -> None:
        findings.append(Finding(path, line, message))

    if not (folder / CHAIN).exists():
        found(chain, None, _("The CHAIN file is missing."))
        return findings
    data = (folder / CHAIN).read_bytes()
    lines = parse_chain(data)
    if data and not data.endswith(b"\n"):
        found(chain, len(lines), _("The last line has no newline: it was cut short."))
    previous = ZEROS
    named: dict[str, int] = {}
    for line in lines:
        if line.file_hash is None or line.previous is None or line.name is None:
            found(chain, line.number, _("Not a CHAIN line (<file hash> <previous line's hash> <file name>)."))
            previous = line.line_hash
            continue
        if line.previous != previous:
            found(
                chain,
                line.number,
                _("The previous line's hash is wrong: a line before it was removed, changed or moved.")
                if line.number > 1
                else _("The first line must have 64 zeros as its previous hash."),
            )
        previous = line.line_hash
        if line.number == 1 and line.name != IDENTITY:
            found(chain, 1, _("The first line must chain the IDENTITY file."))
        if line.number > 1 and line.name == IDENTITY:
            found(chain, line.number, _("The IDENTITY file is chained only by the first line."))
        if line.name in named:
            found(
                chain,
                line.number,
                _("The file {name} is already on line {line}.").format(name=line.name, line=named[line.name]),
            )
            continue
        named[line.name] = line.number
        if line.name != IDENTITY and not FILE_NAME.match(line.name):
            found(chain, line.number, _("Not the name of a minutes file: {name}.").format(name=line.name))
            continue
        path = folder / line.name
        if not path.is_file():
            found(chain, line.number, _("The file {name} is missing.").format(name=line.name))
            continue
        content = path.read_bytes()
        if sha256_hex(content) != line.file_hash:
            found(
                f"{where}/{line.name}",
                None,
                _("Its SHA-256 is {actual}, not {expected} as CHAIN line {line} says: the file was changed.").format(
                    actual=sha256_hex(content), expected=line.file_hash, line=line.number
                ),
            )
        if line.name == IDENTITY:
            if identity is not None and read_identity(folder) != identity:
                found(f"{where}/{IDENTITY}", None, _("This archive belongs to another database."))
            continue
        findings.extend(_check_file(where, line, content, expected.get(line.name)))
    for name, facts in expected.items():
        if facts.published and name not in named:
            found(
                chain,
                None,
                _("The published version {name} is not in the chain: its line was removed.").format(name=name),
            )
    for path in sorted(folder.iterdir()):
        if path.name in (CHAIN, IDENTITY, LOCK) or path.name in named:
            continue
        if path.name.startswith(TEMP_PREFIX) or (path.name in expected and not expected[path.name].published):
            continue  # a publication's leftovers: the caller explains them
        found(f"{where}/{path.name}", None, _("This file is not in the chain."))
    return findings


def _check_file(where: str, line: ChainLine, content: bytes, facts: Expected | None) -> list[Finding]:
    path = f"{where}/{line.name}"
    findings: list[Finding] = []
    try:
        front, body = split_file(content)
    except (ValueError, yaml.YAMLError):
        return [Finding(path, None, _("It has no readable front matter."))]
    if front.get("body_sha256") != sha256_hex(body.encode("utf-8")):
        findings.append(Finding(path, None, _("The text's SHA-256 differs from body_sha256 in its front matter.")))
    if facts is None:
        findings.append(Finding(path, None, _("The database has no published version with this file name.")))
        return findings
    if dict(front) != dict(facts.front_matter):
        keys = sorted(k for k in {*front, *facts.front_matter} if front.get(k) != facts.front_matter.get(k))
        findings.append(
            Finding(
                path,
                None,
                _("Its front matter differs from the database in: {keys}.").format(keys=", ".join(map(str, keys))),
            )
        )
    if facts.file_sha256 is not None and facts.file_sha256 != line.file_hash:
        findings.append(Finding(f"{where}/{CHAIN}", line.number, _("The database has another SHA-256 for this file.")))
    if facts.published and facts.chain_hash != line.line_hash:
        findings.append(
            Finding(f"{where}/{CHAIN}", line.number, _("The database recorded another hash for this line."))
        )
    return findings


# --- Export, and checking without Tavoli ----------------------------------------------------------


def export(folder: Path, out: Path) -> str:
    """Copy the table's chained files, CHAIN and a VERIFY.md to `out` (new or empty); the chain head."""
    lines = read_chain(folder)
    if not lines:
        raise FileNotFoundError(folder / CHAIN)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(out)
    for line in lines:
        if line.name and (line.name == IDENTITY or FILE_NAME.match(line.name)) and (folder / line.name).is_file():
            shutil.copyfile(folder / line.name, out / line.name)
    shutil.copyfile(folder / CHAIN, out / CHAIN)
    head = lines[-1].line_hash
    (out / "VERIFY.md").write_text(verify_document(folder.name, head, len(lines)), encoding="utf-8")
    return head


def verify_script() -> str:
    """The POSIX shell loop that checks a table's folder with sha256sum alone (run in the folder)."""

    def say(text: str) -> str:
        return shlex.quote(text)

    fail = say(_("ERROR"))
    previous_differs = say(_("the hash of the previous line differs"))
    not_a_name = say(_("not a file name of this folder"))
    file_differs = say(_("missing, or its SHA-256 differs"))
    whole = say(_("The chain is whole; its head is"))
    return "\n".join(
        [
            f"zeros={ZEROS}",
            "previous=$zeros; n=0; bad=0",
            'while IFS= read -r line || [ -n "$line" ]; do',
            "  n=$((n + 1))",
            "  hash=${line%% *}; rest=${line#* }; before=${rest%% *}; name=${rest#* }",
            '  if [ "$before" != "$previous" ]; then',
            f'    echo {fail} "CHAIN:$n:" {previous_differs}; bad=1',
            "  fi",
            "  case $name in",
            f'    */*|.*|"") echo {fail} "CHAIN:$n:" {not_a_name}; bad=1 ;;',
            "    *)",
            '      actual=$(sha256sum < "$name") || actual=missing',
            '      if [ "${actual%% *}" != "$hash" ]; then',
            f'        echo {fail} "$name" "(CHAIN:$n):" {file_differs}; bad=1',
            "      fi ;;",
            "  esac",
            "  previous=$(printf '%s' \"$line\" | sha256sum); previous=${previous%% *}",
            "done < CHAIN",
            'if [ "$n" -eq 0 ]; then bad=1; fi',
            f'if [ "$bad" -eq 0 ]; then echo {whole} "$previous"; else exit 1; fi',
        ]
    )


def verify_document(slug: str, head: str, lines: int) -> str:
    """VERIFY.md: how anyone checks this folder with `sha256sum` and a shell, without Tavoli."""
    return "\n".join(
        [
            "# " + _("Checking the minutes of {slug}").format(slug=slug),
            "",
            _(
                "Every published version of the minutes is a Markdown file here. CHAIN has one line per file, "
                "in the order of publication: the file's SHA-256, the SHA-256 of the previous line (64 zeros "
                "for the first) and the file's name. The first line chains IDENTITY, which names the database "
                "the archive comes from. Changing, removing or moving a file or a line breaks the chain."
            ),
            "",
            _(
                "In this folder, run the commands below with any POSIX shell (sh, bash) and sha256sum: they "
                "print the chain head and exit with 0 when everything matches, and name the line or the file "
                "and exit with 1 otherwise."
            ),
            "",
            "```sh",
            verify_script(),
            "```",
            "",
            _(
                "When this folder was exported the chain had {lines} lines and its head was {head}. Compare it "
                "with the head shown on the table's public pages, or with one you noted earlier: a shorter or "
                "rewritten chain has another head."
            ).format(lines=lines, head=head),
            "",
        ]
    )


# --- An archive of another database ---------------------------------------------------------------


def set_aside(directory: str | os.PathLike[str], identity: str, *, now: datetime | None = None) -> Path | None:
    """Move the tables' folders that belong to another database into `minutes.old-<timestamp>/` inside
    the minutes folder (which git ignores); the folder they went to, or None when there were none."""
    root = Path(directory)
    foreign = [
        folder
        for folder in table_folders(root)
        if ((folder / IDENTITY).exists() or (folder / CHAIN).exists()) and read_identity(folder) != identity
    ]
    if not foreign:
        return None
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = root / f"{ASIDE_PREFIX}{stamp}"
    aside.mkdir()
    for folder in foreign:
        with locked(folder):
            os.replace(folder, aside / folder.name)
    fsync_folder(root)
    return aside
