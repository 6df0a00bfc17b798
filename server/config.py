"""Settings: one frozen object read from the `TAVOLI_*` environment variables."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# Refused by Settings.check() anywhere but a loopback http address.
DEFAULT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
LOCALES = ("it", "en")


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe; the message says how to fix it."""


def _setting(env: str, default: Any, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """Every knob of Tavoli, each with a safe default for the embedded mode."""

    base_url: str = _setting(
        "TAVOLI_BASE_URL",
        "http://127.0.0.1:8000",
        "Public address of the service. It decides the allowed websocket Origin, whether cookies "
        "are Secure with the __Host- prefix (https), and whether the default secret key is refused "
        "(anything but a loopback http address refuses it).",
    )
    database_url: str = _setting(
        "TAVOLI_DATABASE_URL",
        "sqlite+aiosqlite:///./tavoli.db",
        "SQLAlchemy URL of the database: SQLite (embedded default, WAL mode) or PostgreSQL, "
        "e.g. postgresql+asyncpg://user@127.0.0.1:5432/tavoli.",
    )
    secret_key: str = _setting(
        "TAVOLI_SECRET_KEY",
        DEFAULT_SECRET_KEY,
        "Key that derives the CSRF tokens. Required (32 characters or more) whenever the base URL "
        "is not a loopback http address.",
    )
    session_hours: int = _setting(
        "TAVOLI_SESSION_HOURS",
        12,
        "Lifetime of a login session in hours; the session row is deleted when it expires.",
    )
    default_locale: str = _setting(
        "TAVOLI_DEFAULT_LOCALE",
        "it",
        "Language of the interface for people who have not chosen one: it or en.",
    )
    minutes_dir: str = _setting(
        "TAVOLI_MINUTES_DIR",
        "./minutes",
        "Folder of the archive of published minutes (plain files, a hash chain per table).",
    )
    signing_key_file: str = _setting(
        "TAVOLI_SIGNING_KEY_FILE",
        "./tavoli-signing.key",
        "The server's Ed25519 private key (PEM, PKCS#8, mode 0600) that seals the protocols' "
        "signature statements; `tavoli keys init` creates it, `tavoli keys rotate` replaces it and "
        "keeps the old public key in the published JWK set. Keep it secret and back it up.",
    )
    trust_dir: str = _setting(
        "TAVOLI_TRUST_DIR",
        "./trust",
        "Folder of the trust roots (PEM or DER certificates) that a party's qualified signature "
        "(firma digitale, PAdES or CAdES) must chain to: the Italian qualified certification "
        "authorities of the EU trusted list (see trust/README.md). Without them every qualified "
        "signature is refused as untrusted.",
    )
    login_failures_per_address: int = _setting(
        "TAVOLI_LOGIN_FAILURES_PER_ADDRESS",
        100,
        "Failed logins accepted from one network address per window before it is refused; "
        "generous because a whole office often shares one address.",
    )
    login_window_minutes: int = _setting(
        "TAVOLI_LOGIN_WINDOW_MINUTES",
        15,
        "Window, in minutes, over which failed logins are counted.",
    )
    broker_url: str = _setting(
        "TAVOLI_BROKER_URL",
        "memory://",
        "Where the instances tell each other about changes: memory:// (one process, no service), "
        "redis://host:6379/0 or postgresql://user@host:5432/db (LISTEN/NOTIFY).",
    )
    ws_max_bytes: int = _setting(
        "TAVOLI_WS_MAX_BYTES",
        65_536,
        "Largest websocket message accepted from a browser; larger ones close the socket (1009).",
    )
    doc_max_bytes: int = _setting(
        "TAVOLI_DOC_MAX_BYTES",
        4_194_304,
        "Largest size of a collaborative document (a proposal's text), in bytes of its stored "
        "edits, and of one message on its websocket: a client back from offline sends all its "
        "edits at once. An edit past it is refused (the socket closes with 1009) and the editor "
        "says that the text is at its maximum size.",
    )
    max_sockets_per_session: int = _setting(
        "TAVOLI_MAX_SOCKETS_PER_SESSION",
        20,
        "Live table pages (one websocket each) that one login session may keep open at once on "
        "an instance; the socket of the next one is closed with 4429 and that page stops "
        "following changes.",
    )
    max_body_bytes: int = _setting(
        "TAVOLI_MAX_BODY_BYTES",
        1_048_576,
        "Largest request body accepted, in bytes; larger requests get 413.",
    )
    upload_max_bytes: int = _setting(
        "TAVOLI_UPLOAD_MAX_BYTES",
        20_971_520,
        "Largest file upload accepted (a protocol's PDF annex), in bytes: the upload routes take "
        "bodies up to this size instead of TAVOLI_MAX_BODY_BYTES, counted while they arrive (413 "
        "past it). A reverse proxy in front must let them through (nginx: client_max_body_size).",
    )
    seal_p12: str = _setting(
        "TAVOLI_SEAL_P12",
        "",
        "PKCS#12 file (.p12/.pfx) of the Città metropolitana's electronic seal certificate and its key: "
        "with it, the PDF of a protocol in force is sealed (PAdES). Empty: no seal, and the PDF says "
        "plainly that it is not sealed. Keep the file readable by the service only.",
    )
    seal_password: str = _setting(
        "TAVOLI_SEAL_PASSWORD",
        "",
        "Password of the TAVOLI_SEAL_P12 file.",
    )
    tsa_url: str = _setting(
        "TAVOLI_TSA_URL",
        "",
        "Address of an RFC 3161 timestamping service (http or https) whose timestamp goes into the "
        "seal; empty: the seal carries no timestamp.",
    )
    demo_password: str = _setting(
        "TAVOLI_DEMO_PASSWORD",
        "tavoli-demo-bologna",
        "Password of every account that `tavoli demo` creates (at least 12 characters).",
    )
    log_level: str = _setting(
        "TAVOLI_LOG_LEVEL",
        "INFO",
        "Logging level: DEBUG, INFO, WARNING or ERROR.",
    )
    db_echo: bool = _setting(
        "TAVOLI_DB_ECHO",
        False,
        "Log every SQL statement (for debugging only).",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the settings from `environ` (default: the process environment) and check them."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw.strip() != "":
                values[f.name] = _parse(f, raw.strip())
        values.update(overrides)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse unsafe or malformed settings with a message that says what to do."""
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"TAVOLI_BASE_URL must be an absolute http(s) address, not {self.base_url!r}.")
        if not self.is_local_development:
            if self.secret_key == DEFAULT_SECRET_KEY:
                raise SettingsError(
                    "TAVOLI_SECRET_KEY still has its development default, which is refused for "
                    f"{self.base_url}. Set it to a long random value, for example the output of: "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            if len(self.secret_key) < 32:
                raise SettingsError("TAVOLI_SECRET_KEY must be at least 32 characters long.")
        if self.default_locale not in LOCALES:
            raise SettingsError(f"TAVOLI_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}.")
        if urlsplit(self.broker_url).scheme.split("+")[0] not in (
            "memory",
            "redis",
            "rediss",
            "postgresql",
            "postgres",
        ):
            raise SettingsError("TAVOLI_BROKER_URL must start with memory://, redis:// or postgresql://.")
        if self.tsa_url and (
            urlsplit(self.tsa_url).scheme not in ("http", "https") or not urlsplit(self.tsa_url).hostname
        ):
            raise SettingsError(f"TAVOLI_TSA_URL must be an absolute http(s) address, not {self.tsa_url!r}.")
        for name in (
            "session_hours",
            "login_failures_per_address",
            "login_window_minutes",
            "max_body_bytes",
            "upload_max_bytes",
            "ws_max_bytes",
            "doc_max_bytes",
            "max_sockets_per_session",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_env_name(name)} must be a positive number.")

    @property
    def origin(self) -> str:
        """The scheme://host[:port] that browsers send as Origin for our own pages."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def https(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @property
    def is_local_development(self) -> bool:
        """True for a plain-http loopback address, the only place the default key is allowed."""
        parts = urlsplit(self.base_url)
        return parts.scheme == "http" and _is_loopback(parts.hostname or "")


def _env_name(attribute: str) -> str:
    return str(next(f.metadata["env"] for f in dataclasses.fields(Settings) if f.name == attribute))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(f: dataclasses.Field[Any], raw: str) -> Any:
    kind = f.type if isinstance(f.type, type) else {"int": int, "bool": bool}.get(str(f.type), str)
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{f.metadata['env']} must be true or false, not {raw!r}.")
    if kind is int:
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            raise SettingsError(f"{f.metadata['env']} must be a whole number, not {raw!r}.") from None
    return raw


def env_example() -> str:
    """The text of `.env.example`: every setting with its help line and its default."""
    lines = [
        "# Tavoli settings. Copy to .env (read by the `tavoli` command) or export them.",
        "# Every line shows the default; uncomment and change what you need.",
    ]
    for f in dataclasses.fields(Settings):
        default = f.default
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        lines += ["", *_wrap_comment(f.metadata["help"]), f"# {f.metadata['env']}={shown}"]
    return "\n".join(lines) + "\n"


def _wrap_comment(text: str, width: int = 98) -> list[str]:
    out: list[str] = []
    line = "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width:
            out.append(line)
            line = "#"
        line += " " + word
    out.append(line)
    return out
