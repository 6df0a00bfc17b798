"""The `tavoli` command against a real database, including its errors."""

import json
import sqlite3

import pytest
from click.testing import CliRunner

from server.cli import cli
from tests.support import PASSWORD


@pytest.fixture
def tavoli(database_url):
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(
            cli, list(args), input=input, env={"TAVOLI_DATABASE_URL": database_url, "TAVOLI_DEFAULT_LOCALE": "it"}
        )

    return run


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def failed(result):
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Errore: ")
    assert len(result.output.strip().splitlines()) == 1, "one line, no traceback"
    return result.output


@pytest.fixture
def populated(tavoli):
    ok(tavoli("org", "add", "CGIL Bologna", "--slug", "cgil"))
    ok(tavoli("org", "add", "Confcommercio Ascom Bologna"))
    ok(
        tavoli(
            "table",
            "add",
            "commercio-turismo",
            "Tavolo per il commercio e le attività turistiche",
            "--established",
            "Febbraio 2021",
            "--public",
        )
    )
    ok(
        tavoli(
            "user",
            "add",
            "anna@example.org",
            "--name",
            "Anna Bianchi",
            "--organisation",
            "cgil",
            "--password-stdin",
            input=PASSWORD + "\n",
        )
    )
    ok(
        tavoli(
            "user",
            "add",
            "staff@cittametropolitana.bo.it",
            "--name",
            "Staff",
            "--admin",
            "--password-stdin",
            input=PASSWORD + "\n",
        )
    )
    return tavoli


def test_org_add_makes_a_short_name_from_the_name(tavoli):
    assert "confcommercio-ascom-bologna" in ok(tavoli("org", "add", "Confcommercio Ascom Bologna"))


def test_user_add_and_add_member_show_up_in_user_list_json(populated):
    out = ok(
        populated(
            "table", "add-member", "commercio-turismo", "anna@example.org", "member", "--organisation", "CGIL Bologna"
        )
    )
    assert "Anna Bianchi" in out
    accounts = {a["email"]: a for a in json.loads(ok(populated("user", "list", "--json")))}
    assert accounts["anna@example.org"] == {
        "email": "anna@example.org",
        "name": "Anna Bianchi",
        "is_admin": False,
        "is_active": True,
        "organisation": "CGIL Bologna",
        "roles": [{"table": "commercio-turismo", "role": "member", "organisation": "CGIL Bologna"}],
    }
    assert accounts["staff@cittametropolitana.bo.it"]["is_admin"] is True
    assert accounts["staff@cittametropolitana.bo.it"]["roles"] == []


def test_user_list_never_prints_password_hashes(populated):
    assert "argon2" not in ok(populated("user", "list", "--json"))
    assert "argon2" not in ok(populated("user", "list"))


def test_the_new_account_can_log_in(populated, client):
    from tests.support import login

    assert login(client, "anna@example.org").status_code == 303


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("org", "add", "CGIL Bologna"), "esiste già"),
        (("org", "add", "Another", "--slug", "cgil"), "esiste già"),
        (("org", "add", "  "), "nome"),
        (("table", "add", "commercio-turismo", "Altro nome"), "Esiste già un tavolo"),
        (("table", "add", "Not A Slug", "Nome"), "lettere minuscole"),
        (("table", "add-member", "nessun-tavolo", "anna@example.org", "member"), "Non esiste un tavolo"),
        (("table", "add-member", "commercio-turismo", "nobody@example.org", "member"), "Non esiste un account"),
        (
            ("table", "add-member", "commercio-turismo", "anna@example.org", "member", "--organisation", "UIL"),
            "Non esiste un ente",
        ),
    ],
)
def test_unknown_names_and_duplicates_are_clear_errors(populated, args, message):
    assert message in failed(populated(*args))


def test_a_person_cannot_get_a_second_role_on_the_same_table(populated):
    ok(populated("table", "add-member", "commercio-turismo", "anna@example.org", "member"))
    assert "ha già un ruolo" in failed(
        populated("table", "add-member", "commercio-turismo", "anna@example.org", "chair")
    )


def test_unknown_role_is_refused_by_name(populated):
    result = populated("table", "add-member", "commercio-turismo", "anna@example.org", "king")
    assert result.exit_code == 2
    assert "chair" in result.output


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("anna@example.org", PASSWORD, "Esiste già un account"),
        ("ANNA@example.org ", PASSWORD, "Esiste già un account"),
        ("not-an-email", PASSWORD, "email valido"),
        ("new@example.org", "short", "almeno 12"),
    ],
)
def test_user_add_errors(populated, email, password, message):
    result = populated("user", "add", email, "--name", "X", "--password-stdin", input=password + "\n")
    assert message in failed(result)


def test_unsafe_settings_stop_the_command_with_the_reason(database_url):
    result = CliRunner().invoke(
        cli, ["migrate"], env={"TAVOLI_DATABASE_URL": database_url, "TAVOLI_BASE_URL": "https://tavoli.example.org"}
    )
    assert result.exit_code == 1
    assert "TAVOLI_SECRET_KEY" in result.output


def test_migrate_is_idempotent(tavoli):
    assert "aggiornato" in ok(tavoli("migrate"))
    assert "aggiornato" in ok(tavoli("migrate"))


def _run_with(url, *args):
    env = {"TAVOLI_DATABASE_URL": url, "TAVOLI_DEFAULT_LOCALE": "it"}
    return CliRunner().invoke(cli, list(args), env=env)


def test_cli_on_a_missing_sqlite_file_says_so_in_one_line_and_creates_nothing(tmp_path):
    path = tmp_path / "nuovo.db"
    result = _run_with(f"sqlite+aiosqlite:///{path}", "user", "list")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"Errore: Il database {path} non è inizializzato: esegui `tavoli migrate`."
    ]
    assert not path.exists()


def test_cli_on_a_database_without_schema_says_so_and_leaves_it(tmp_path):
    path = tmp_path / "vuoto.db"
    sqlite3.connect(path).close()  # an empty file, as a mistyped address would have made
    result = _run_with(f"sqlite+aiosqlite:///{path}", "demo")
    assert result.exit_code == 2, result.output
    assert "non è inizializzato" in result.output
    assert path.stat().st_size == 0


def test_cli_unexpected_error_is_one_line_and_debug_shows_it_whole():
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:1/tavoli"
    result = _run_with(unreachable, "user", "list")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Errore: Errore imprevisto: ConnectionRefusedError")
    assert "--debug" in lines[0]
    debugged = _run_with(unreachable, "--debug", "user", "list")
    assert isinstance(debugged.exception, ConnectionRefusedError)
