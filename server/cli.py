"""The `tavoli` command: serve, migrate, and manage organisations, tables and accounts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import inspect, make_url
from sqlalchemy.ext.asyncio import AsyncSession

from server import i18n
from server.config import Settings, SettingsError, env_example
from server.db import migrations
from server.db.models import Role
from server.db.session import Database
from server.demo import DemoReport, load_demo
from server.demo import minutes as demo_minutes
from server.domain import accounts, minutes_archive, minutes_publishing, protocol_keys, signatures, tables, texts
from server.domain.errors import DomainError
from server.i18n import _
from server.views.labels import role_label

T = TypeVar("T")


class Failure(click.ClickException):
    """An error said in one line, in the interface's language."""

    def show(self, file: Any = None) -> None:
        click.echo(_("Error: {message}").format(message=self.format_message()), err=True, file=file)


class NotInitialised(Failure):
    """The database has no schema: a command other than `migrate` would fail on every query."""

    exit_code = 2


class _Commands(click.Group):
    """Every error is one clear line; the traceback only under `tavoli --debug`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (Failure, click.UsageError, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as exc:
            raise Failure(exc.format_message()) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            message = _("Unexpected error: {error} (run with --debug to see the details).")
            raise Failure(message.format(error=f"{type(exc).__name__}: {exc}")) from None


def _not_initialised(url: str) -> NotInitialised:
    name = make_url(url).database or url
    return NotInitialised(_("The database {name} is not initialised: run `tavoli migrate`.").format(name=name))


def _require_file(url: str) -> None:
    """Refuse an SQLite file without the schema, reading it only (connecting would create or change it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(str(parsed.database))
    if not path.exists():
        raise _not_initialised(url)
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        found = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone()
    if found is None:
        raise _not_initialised(url)


async def _require_schema(url: str) -> None:
    """Refuse a database without its schema: every command but `migrate` would fail on its first query."""
    if make_url(url).get_backend_name() == "sqlite":
        return  # checked by _require_file, without writing to it
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            ready = await connection.run_sync(lambda sync: inspect(sync).has_table("alembic_version"))
    finally:
        await database.dispose()
    if not ready:
        raise _not_initialised(url)


def _settings() -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    i18n.set_locale(settings.default_locale)
    return settings


def _run(change: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `change` in one write transaction on the configured database; domain errors become messages."""
    settings = _settings()

    async def go() -> T:
        await _require_schema(settings.database_url)
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                return await change(session)
        finally:
            await database.dispose()

    _require_file(settings.database_url)
    try:
        return asyncio.run(go())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands)
@click.option("--debug", is_flag=True, help="Show the whole traceback of an unexpected error.")
def cli(debug: bool) -> None:
    """Tavoli: the co-design workspace of the metropolitan tables of Bologna."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes; more than one needs a shared broker (Redis or PostgreSQL).",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the application with uvicorn."""
    import uvicorn

    if not os.environ.get("TAVOLI_BASE_URL") and host in ("127.0.0.1", "localhost", "::1"):
        # Local use on another port: the browser's Origin is this address, not the default one.
        os.environ["TAVOLI_BASE_URL"] = f"http://{host}:{port}"
    settings = _settings()
    if workers > 1 and settings.broker_url.startswith("memory:"):
        raise click.ClickException(
            "Several workers need a broker they share: set TAVOLI_BROKER_URL to redis://… or postgresql://… "
            "(with memory:// each worker would only see its own changes)."
        )
    uvicorn.run(
        "server.app:create_app", factory=True, host=host, port=port, workers=workers, **server_options(settings)
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves Tavoli (`tavoli serve`, and the benchmarks, which measure the same server)."""
    return {
        "ws": "websockets-sansio",
        # The largest message of any socket: a document socket takes a whole document at once (a
        # client back from offline sends all its edits in one message); the table sockets keep
        # their own small limit (server/app.py, TABLE_SOCKET_MESSAGE_LIMIT).
        "ws_max_size": max(settings.ws_max_bytes, settings.doc_max_bytes),
        "ws_per_message_deflate": False,  # ~45 KiB per connection, and an invitation to decompression bombs
        "ws_ping_interval": 20,
        "ws_ping_timeout": 20,
        "proxy_headers": True,
        "log_level": settings.log_level.lower(),
    }


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade head), then render again the Markdown
    texts that another version of the renderer rendered (server/markdown.py)."""
    settings = _settings()
    migrations.upgrade(settings.database_url)
    rendered = asyncio.run(rerender_markdown(settings.database_url))
    if rendered:
        click.echo(_("Markdown texts rendered again: {count}.").format(count=rendered))
    click.echo(_("Database up to date."))


async def rerender_markdown(database_url: str) -> int:
    """Render again every row of another renderer version, a batch per transaction; how many there were."""
    database = Database(database_url)
    try:
        total = 0
        while True:
            async with database.transaction() as session:
                count = await texts.rerender_stale(session)
            if not count:
                return total
            total += count
    finally:
        await database.dispose()


@cli.command()
def demo() -> None:
    """Fill the database with the four demo tables (idempotent) and print the logins."""
    settings = _settings()

    async def go() -> DemoReport:
        await _require_schema(settings.database_url)
        # The demo's protocols are signed: they need the server's key.
        key, created = protocol_keys.ensure_key_file(settings.signing_key_file)
        if created:
            click.echo(_("Signing key created in {path}.").format(path=key.path))
        database = Database(settings.database_url)
        try:
            # An archive belongs to one database: a fresh database never appends to an older one.
            aside = await minutes_publishing.set_aside_foreign(database, settings.minutes_dir)
            if aside is not None:
                click.echo(_("The minutes archive of another database was moved aside to {path}.").format(path=aside))
            report = await load_demo(database, settings.demo_password)
            # The demo's minutes are seeded as publishing records: write them into the archive.
            await minutes_publishing.repair(database, settings.minutes_dir)
            await demo_minutes.publish_errata(database, settings.minutes_dir, report.created_tables)
            return report
        finally:
            await database.dispose()

    _require_file(settings.database_url)
    try:
        report = asyncio.run(go())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if report.created_tables:
        click.echo(_("Demo tables created: {tables}.").format(tables=", ".join(report.created_tables)))
    if report.kept_tables:
        click.echo(
            _("Demo tables already there, left as they are: {tables}.").format(tables=", ".join(report.kept_tables))
        )
    click.echo("")
    click.echo(_("Demo logins (password: {password}):").format(password=settings.demo_password))
    click.echo("  " + _("Administrator") + ": " + report.admin)
    for slug, logins in report.logins.items():
        click.echo(f"  {slug}")
        for role, address in logins.items():
            click.echo(f"    {role_label(role):<14} {address}")
    click.echo("")


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="The minutes folder (default: TAVOLI_MINUTES_DIR).",
)
def verify(directory: Path | None) -> None:
    """Check the minutes archive offline: every table's chain, every file's hash, each file's front
    matter against the database, and publications cut short; and every protocol: each frozen
    version's text and annexes against their hashes, each signature's seal and hashes. Exits with 1
    when something is wrong."""
    settings = _settings()
    folder = directory or Path(settings.minutes_dir)

    async def go() -> tuple[minutes_publishing.Verification, signatures.ProtocolVerification]:
        await _require_schema(settings.database_url)
        database = Database(settings.database_url)
        try:
            found = await minutes_publishing.verify(database, folder)
            async with database.read() as session:
                return found, await signatures.verify_protocols(session)
        finally:
            await database.dispose()

    _require_file(settings.database_url)
    result, protocols = asyncio.run(go())
    for finding in result.findings:
        click.echo(str(finding))
    for problem in protocols.findings:
        click.echo(str(problem))
    if result.findings:
        click.echo(
            _("{count} problems in the minutes archive {folder}.").format(count=len(result.findings), folder=folder),
            err=True,
        )
    if protocols.findings:
        click.echo(_("{count} problems in the protocols.").format(count=len(protocols.findings)), err=True)
    if result.findings or protocols.findings:
        raise click.exceptions.Exit(1)
    for slug, head in result.heads.items():
        click.echo(_("{table}: chain head {head}").format(table=slug, head=head or "-"))
    click.echo(
        _("The minutes archive {folder} is whole: {tables} tables, {files} files.").format(
            folder=folder, tables=len(result.heads), files=result.files
        )
    )
    click.echo(
        _(
            "The protocols hold: {protocols} protocols, {versions} frozen versions, {signatures} valid signatures."
        ).format(protocols=protocols.protocols, versions=protocols.versions, signatures=protocols.signatures)
    )


@cli.group()
def keys() -> None:
    """The server's Ed25519 key that seals the protocols' signatures (TAVOLI_SIGNING_KEY_FILE)."""


@keys.command("init")
def keys_init() -> None:
    """Create the signing key file (mode 0600); an existing one is left as it is."""
    settings = _settings()
    try:
        key = protocol_keys.create_key_file(settings.signing_key_file)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("Signing key created in {path}.").format(path=key.path))
    _show_key(key)


def _show_key(key: protocol_keys.ServerKey) -> None:
    click.echo(f"kid: {key.kid}")
    click.echo(f"x: {key.x}")


@keys.command("show")
@click.option("--jwk", "as_jwk", is_flag=True, help="Print the public key as a JWK (JSON) instead.")
def keys_show(as_jwk: bool) -> None:
    """Print the current key's kid (its RFC 7638 thumbprint) and x (the public key, base64url), as
    published in /.well-known/jwks.json."""
    try:
        key = protocol_keys.load_key(_settings().signing_key_file)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if as_jwk:
        click.echo(json.dumps(protocol_keys.jwk(key.public), indent=2))
        return
    _show_key(key)


@keys.command("rotate")
def keys_rotate() -> None:
    """Replace the signing key with a new one: the old key file is moved aside, its public key stays
    in the published set (retired), so that the signatures it sealed stay verifiable."""
    settings = _settings()
    path = settings.signing_key_file
    made: list[Path] = []

    async def change(session: AsyncSession) -> tuple[protocol_keys.ServerKey, protocol_keys.ServerKey]:
        old, new, fresh = await protocol_keys.rotate(session, path)
        made.append(fresh)
        return old, new

    try:
        old, new = _run(change)
    except BaseException:
        for fresh in made:
            fresh.unlink(missing_ok=True)
        raise
    aside = protocol_keys.finish_rotation(path, old, made[0])
    click.echo(_("The key {kid} is retired; its file was moved to {path}.").format(kid=old.kid, path=aside))
    click.echo(_("New signing key in {path}.").format(path=path))
    _show_key(new)


@cli.group()
def minutes() -> None:
    """The archive of published minutes."""


@minutes.command("export")
@click.argument("table_slug", metavar="TABLE")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="The minutes folder (default: TAVOLI_MINUTES_DIR).",
)
def minutes_export(table_slug: str, out_dir: Path, directory: Path | None) -> None:
    """Write TABLE's archive to OUT_DIR (new or empty), with a VERIFY.md that checks it with sha256sum
    and a shell alone: a folder to commit to git or serve as static files."""
    settings = _settings()
    root = directory or Path(settings.minutes_dir)
    try:
        folder = minutes_archive.table_folder(root, table_slug)
    except ValueError:
        raise click.ClickException(_("{slug} is not a table's short name.").format(slug=table_slug)) from None
    if not (folder / minutes_archive.CHAIN).is_file():
        raise click.ClickException(
            _("The table {slug} has no minutes archive in {folder}.").format(slug=table_slug, folder=root)
        )
    try:
        with minutes_archive.locked(folder):
            head = minutes_archive.export(folder, out_dir)
    except FileExistsError:
        raise click.ClickException(_("{folder} is not empty.").format(folder=out_dir)) from None
    click.echo(
        _("Archive of {slug} written to {folder}; chain head {head}.").format(
            slug=table_slug, folder=out_dir, head=head
        )
    )


@cli.group()
def config() -> None:
    """Settings."""


@config.command("example")
def config_example() -> None:
    """Print the text of .env.example: every setting, its help and its default."""
    click.echo(env_example(), nl=False)


@cli.group()
def org() -> None:
    """Organisations (trade unions, employer associations, municipalities' unions…)."""


@org.command("add")
@click.argument("name")
@click.option("--slug", help="Short name used on the command line (default: made from the name).")
def org_add(name: str, slug: str | None) -> None:
    """Add an organisation."""
    created = _run(lambda s: tables.create_organisation(s, name, slug=slug))
    click.echo(_("Organisation {name} ({slug}) added.").format(name=created.name, slug=created.slug))


@cli.group()
def table() -> None:
    """Metropolitan tables and their members."""


@table.command("add")
@click.argument("slug")
@click.argument("name")
@click.option("--purpose", default="", help="What the table is for (Markdown).")
@click.option("--established", default="", help="When and how it was established, e.g. 'Febbraio 2021'.")
@click.option(
    "--public/--private",
    default=False,
    show_default=True,
    help="Public tables show their published minutes and protocols to everyone.",
)
def table_add(slug: str, name: str, purpose: str, established: str, public: bool) -> None:
    """Add a table with its short name (used in addresses) and its name."""
    created = _run(
        lambda s: tables.create_table(
            s, slug=slug, name=name, purpose=purpose, established=established, is_public=public
        )
    )
    click.echo(_("Table {name} ({slug}) added.").format(name=created.name, slug=created.slug))


@table.command("add-member")
@click.argument("table_slug", metavar="TABLE")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.option("--organisation", "organisation_ref", help="The organisation the person represents there.")
def table_add_member(table_slug: str, email: str, role: str, organisation_ref: str | None) -> None:
    """Give the account EMAIL the ROLE on TABLE."""

    async def change(session: AsyncSession) -> str:
        found = await tables.get_table(session, table_slug)
        user = await tables.get_user(session, email)
        organisation = await tables.find_organisation(session, organisation_ref) if organisation_ref else None
        await tables.add_member(session, found, user, Role(role), organisation=organisation)
        if organisation:
            return _("{name} is now {role} of {table} for {organisation}.").format(
                name=user.name, role=role_label(role), table=found.slug, organisation=organisation.name
            )
        return _("{name} is now {role} of {table}.").format(name=user.name, role=role_label(role), table=found.slug)

    click.echo(_run(change))


@cli.group()
def user() -> None:
    """Accounts."""


@user.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Full name, as other people will see it.")
@click.option("--admin", is_flag=True, help="Administrator of the Metropolitan City (creates tables and accounts).")
@click.option("--organisation", "organisation_ref", help="The organisation the person belongs to.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of asking.")
def user_add(email: str, name: str, admin: bool, organisation_ref: str | None, password_stdin: bool) -> None:
    """Add an account (the password is asked for, or read from standard input)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def change(session: AsyncSession) -> str:
        organisation = await tables.find_organisation(session, organisation_ref) if organisation_ref else None
        created = await accounts.create_user(
            session, email=email, name=name, password=password, is_admin=admin, organisation=organisation
        )
        if admin:
            return _("Administrator account {email} added.").format(email=created.email)
        return _("Account {email} added.").format(email=created.email)

    click.echo(_run(change))


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document with every account and its roles.")
def user_list(as_json: bool) -> None:
    """List the accounts with their roles and organisation on each table."""
    listed = _run(tables.list_accounts)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(a) for a in listed], ensure_ascii=False, indent=2))
        return
    for account in listed:
        flags = " [admin]" if account.is_admin else ""
        click.echo(f"{account.email}  {account.name}{flags}")
        for role in account.roles:
            suffix = f" for {role['organisation']}" if role["organisation"] else ""
            click.echo(f"    {role['table']}: {role['role']}{suffix}")


def main() -> None:
    """Entry point of the `tavoli` console script; reads a .env file in the current folder first."""
    from dotenv import load_dotenv

    load_dotenv(".env", override=False)
    cli()
