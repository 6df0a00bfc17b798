from pathlib import Path

import pytest

from server.config import DEFAULT_SECRET_KEY, Settings, SettingsError, env_example

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_run_the_embedded_mode_on_loopback():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///./tavoli.db"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.secret_key == DEFAULT_SECRET_KEY
    assert settings.default_locale == "it"
    assert settings.origin == "http://127.0.0.1:8000"
    assert not settings.https


@pytest.mark.parametrize(
    "base_url",
    [
        "https://tavoli.cittametropolitana.bo.it",
        "http://10.0.0.5:8000",
        "https://127.0.0.1:8443",
        "http://tavoli.example.org",
    ],
)
def test_default_secret_key_is_refused_off_loopback_http(base_url):
    with pytest.raises(SettingsError, match="TAVOLI_SECRET_KEY") as info:
        Settings.from_env({"TAVOLI_BASE_URL": base_url})
    assert "secrets.token_urlsafe" in str(info.value)


@pytest.mark.parametrize("base_url", ["http://localhost:8000", "http://127.0.0.1:9000", "http://[::1]:8000"])
def test_default_secret_key_is_accepted_on_loopback_http(base_url):
    assert Settings.from_env({"TAVOLI_BASE_URL": base_url}).is_local_development


def test_https_base_url_with_a_real_key_makes_secure_cookies():
    settings = Settings.from_env({"TAVOLI_BASE_URL": "https://tavoli.example.org", "TAVOLI_SECRET_KEY": "k" * 40})
    assert settings.https
    assert settings.origin == "https://tavoli.example.org"


def test_short_secret_key_is_refused_in_production():
    with pytest.raises(SettingsError, match="32"):
        Settings.from_env({"TAVOLI_BASE_URL": "https://tavoli.example.org", "TAVOLI_SECRET_KEY": "short"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TAVOLI_SESSION_HOURS", "twelve", "whole number"),
        ("TAVOLI_SESSION_HOURS", "0", "positive"),
        ("TAVOLI_DB_ECHO", "maybe", "true or false"),
        ("TAVOLI_DEFAULT_LOCALE", "fr", "it, en"),
        ("TAVOLI_BASE_URL", "tavoli.example.org", "absolute"),
    ],
)
def test_malformed_settings_are_refused_with_the_variable_named(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})


def test_values_are_read_from_the_environment():
    settings = Settings.from_env({"TAVOLI_SESSION_HOURS": "8", "TAVOLI_DB_ECHO": "true", "TAVOLI_DEFAULT_LOCALE": "en"})
    assert (settings.session_hours, settings.db_echo, settings.default_locale) == (8, True, "en")


def test_env_example_lists_every_setting_with_its_help():
    committed = (ROOT / ".env.example").read_text()
    assert committed == env_example(), "regenerate it: tavoli config example > .env.example"
    for field in Settings.__dataclass_fields__.values():
        assert f"# {field.metadata['env']}=" in committed
        assert field.metadata["help"].split()[0] in committed
