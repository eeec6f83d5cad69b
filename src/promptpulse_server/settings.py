"""Settings, read from the environment once at start.

Every problem with a setting is a ``SettingsError`` whose message is one line that names the
variable (or the directory) and says what to do: the command line prints it as it is. That
includes a data dir the server cannot write, a PostgreSQL URL without the ``[postgres]`` extra
installed, and a database URL of a kind the server does not support.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from promptpulse import clock, config

SUPPORTED_DATABASES = "sqlite:///PATH, postgres://… or postgresql://…"
_ELSEWHERE = "set PROMPTPULSE_HOME to a writable directory or mount a writable volume there"
_POSTGRES_PREFIXES = ("postgres://", "postgresql://")
_SCHEMES = {"sqlite", "sqlite+pysqlite", "postgres", "postgresql", "postgresql+psycopg"}


class SettingsError(Exception):
    """A setting in the environment has a value that cannot be used."""


def database_url(raw: str | None) -> str:
    """A SQLAlchemy URL from what hosting platforms give (``postgres://``, ``postgresql://``)
    or the default SQLite file in the user data dir, which must be writable."""
    if not raw:
        where = writable_dir(
            config.data_dir(),
            "the SQLite database",
            f"{_ELSEWHERE}, or set DATABASE_URL to a PostgreSQL database",
        )
        return f"sqlite:///{where / 'server.sqlite3'}"
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in _SCHEMES:
        what = f"{scheme}://" if scheme else "a value without a scheme"
        raise SettingsError(
            f"DATABASE_URL is {what}, which promptpulse-server does not support; "
            f"use {SUPPORTED_DATABASES}"
        )
    if scheme.startswith("postgres"):
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise SettingsError(
                "DATABASE_URL is a PostgreSQL database, which needs psycopg: "
                "pip install 'promptpulse[postgres]'"
            ) from exc
        for prefix in _POSTGRES_PREFIXES:
            if raw.startswith(prefix):
                return "postgresql+psycopg://" + raw[len(prefix) :]
        return raw
    path = _sqlite_path(raw)
    if path is not None:
        writable_dir(
            path.parent,
            "the SQLite file DATABASE_URL names",
            "point DATABASE_URL at a writable directory or mount a writable volume there",
        )
    return raw


def _sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL; None for an in-memory database."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def writable_dir(path: Path, keeps: str, fix: str) -> Path:
    """``path``, made if missing, once a file could be created in it; else a SettingsError that
    says what the directory keeps and how to give the server a writable one (``fix``)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise SettingsError(
            f"cannot write to {path} ({reason}), where the server keeps {keeps}: {fix}"
        ) from exc
    return path


def trusted_proxies(raw: str) -> tuple[str, ...]:
    """``PROMPTPULSE_TRUSTED_PROXIES``: comma-separated IP addresses and networks (CIDR) whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` headers are believed, or ``*`` for any
    address. Empty: nobody's. Entries come back normalised (``10.0.0.1/8`` → ``10.0.0.0/8``),
    as uvicorn matches them."""
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    if "*" in entries:
        return ("*",)
    normal = []
    for entry in entries:
        try:
            if "/" in entry:
                normal.append(str(ipaddress.ip_network(entry, strict=False)))
            else:
                normal.append(str(ipaddress.ip_address(entry)))
        except ValueError as exc:
            raise SettingsError(
                f"PROMPTPULSE_TRUSTED_PROXIES: {entry!r} is not an IP address or a network "
                "(such as 10.0.0.0/8); give a comma-separated list of them, or *"
            ) from exc
    return tuple(normal)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from exc


def _bounded_int(name: str, default: int, least: int) -> int:
    value = _int(name, default)
    if value < least:
        raise SettingsError(f"{name} must be {least} or more, not {value}")
    return value


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:  # also refuses nan and inf
        raise SettingsError(
            f"{name} must be a number of seconds above 0 (at most 3600), not {value!r}"
        )
    return seconds


def _dollars(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        dollars = float(value.removeprefix("$"))
    except ValueError:
        dollars = -1.0
    if not 0 <= dollars <= 1_000_000:  # also refuses nan and inf
        raise SettingsError(
            f"{name} must be an amount in US dollars from 0 to 1000000 (such as 5 or 12.50), "
            f"not {value!r}"
        )
    return dollars


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip().lower() or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


SIGNUP_MODES = ("invite", "open", "closed")
TEAM_CREATION = ("anyone", "admins")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("auto", "json", "text")


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 8 << 20
    signup_per_minute: int = 10
    uploads_per_minute: int = 120
    logins_per_minute: int = 10  # API-key guesses on the login form, per client address
    invite_guesses_per_minute: int = 20  # invite-code look-ups, per client address
    signup_mode: str = "invite"  # invite | open | closed
    team_creation: str = "anyone"  # anyone | admins
    migrate_on_start: bool = True
    secret_key: str = ""  # signs the dashboard's CSRF tokens
    login_link_seconds: int = 120
    session_days: int = 30
    # whose X-Forwarded-For/-Proto uvicorn believes (addresses, networks or "*"); () = nobody's
    trusted_proxies: tuple[str, ...] = ()
    # PostgreSQL's connection pool, per process (SQLite keeps SQLAlchemy's own pooling)
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout: float = 30.0
    # uploads each process stores at once (SQLite: always 1); the rest wait, reads keep threads
    upload_concurrency: int = 2
    log_level: str = "info"  # LOG_LEVEL
    log_format: str = "auto"  # auto (JSON lines unless stderr is a terminal) | json | text
    metrics_token: str = ""  # /metrics exists only with one, and answers only to it
    metrics_per_user: bool = False  # per-account usage gauges in /metrics (admin's choice)
    clock: clock.Clock = clock.system_now  # every "now" the server asks for comes from here
    # alerts: webhooks to private, loopback and link-local addresses on an open-sign-up server
    allow_private_webhooks: bool = False
    smtp_url: str = ""  # smtp://user:pass@host:port or smtps://…; empty: no e-mail alerts
    mail_from: str = ""
    alert_retry_delays: tuple[float, ...] = (1.0, 4.0)  # seconds before the 2nd, 3rd attempt
    # PROMPTPULSE_SPIKE_FLOOR_USD: a day under this cost is no spike, however unusual
    spike_floor_usd: float = 5.0
    # PROMPTPULSE_LIVE_CHECK_S: how often an open live page's stream says it is still there
    # and checks its viewer again (a logged-out session's stream ends at its next check)
    live_check_s: float = 20.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        try:
            now = clock.from_env()
        except clock.ClockError as exc:
            raise SettingsError(str(exc)) from exc
        return cls(
            database_url=database_url(env.get("DATABASE_URL", "").strip() or None),
            host=env.get("HOST", "").strip() or "127.0.0.1",
            port=_int("PORT", 8000),
            max_body_bytes=_int("PROMPTPULSE_MAX_BODY_BYTES", 8 << 20),
            signup_per_minute=_int("PROMPTPULSE_SIGNUPS_PER_MINUTE", 10),
            uploads_per_minute=_int("PROMPTPULSE_UPLOADS_PER_MINUTE", 120),
            logins_per_minute=_int("PROMPTPULSE_LOGINS_PER_MINUTE", 10),
            invite_guesses_per_minute=_int("PROMPTPULSE_INVITE_GUESSES_PER_MINUTE", 20),
            signup_mode=_choice("PROMPTPULSE_SIGNUP", "invite", SIGNUP_MODES),
            team_creation=_choice("PROMPTPULSE_TEAM_CREATION", "anyone", TEAM_CREATION),
            migrate_on_start=env.get("PROMPTPULSE_MIGRATE_ON_START", "1") != "0",
            secret_key=env.get("PROMPTPULSE_SECRET_KEY", "").strip() or stored_secret(),
            login_link_seconds=_int("PROMPTPULSE_LOGIN_LINK_SECONDS", 120),
            session_days=_int("PROMPTPULSE_SESSION_DAYS", 30),
            trusted_proxies=trusted_proxies(env.get("PROMPTPULSE_TRUSTED_PROXIES", "")),
            db_pool_size=_bounded_int("PROMPTPULSE_DB_POOL_SIZE", 10, 1),
            db_max_overflow=_bounded_int("PROMPTPULSE_DB_MAX_OVERFLOW", 10, 0),
            db_pool_timeout=_seconds("PROMPTPULSE_DB_POOL_TIMEOUT", 30.0),
            upload_concurrency=_bounded_int("PROMPTPULSE_UPLOAD_CONCURRENCY", 2, 1),
            log_level=_choice("LOG_LEVEL", "info", LOG_LEVELS),
            log_format=_choice("PROMPTPULSE_LOG_FORMAT", "auto", LOG_FORMATS),
            metrics_token=env.get("PROMPTPULSE_METRICS_TOKEN", "").strip(),
            metrics_per_user=env.get("PROMPTPULSE_METRICS_PER_USER", "0").strip() == "1",
            clock=now,
            allow_private_webhooks=env.get("PROMPTPULSE_ALLOW_PRIVATE_WEBHOOKS", "0") == "1",
            smtp_url=env.get("PROMPTPULSE_SMTP_URL", "").strip(),
            mail_from=env.get("PROMPTPULSE_MAIL_FROM", "").strip(),
            spike_floor_usd=_dollars("PROMPTPULSE_SPIKE_FLOOR_USD", 5.0),
            live_check_s=_seconds("PROMPTPULSE_LIVE_CHECK_S", 20.0),
        )


def stored_secret() -> str:
    """A random secret made once and kept (mode 0600) in the data dir: enough for one machine;
    servers that share a database set PROMPTPULSE_SECRET_KEY to the same value."""
    path = config.data_dir() / "server-secret"
    try:
        return _read_secret(path)
    except (FileNotFoundError, NotADirectoryError):
        pass
    writable_dir(path.parent, "its secret", f"{_ELSEWHERE}, or set PROMPTPULSE_SECRET_KEY")
    secret = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return _read_secret(path)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def _read_secret(path: Path) -> str:
    try:
        return path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        raise
    except OSError as exc:  # there, but not the server's to read
        raise SettingsError(
            f"cannot read {path} ({exc.strerror or exc.__class__.__name__}), the server's "
            "secret: make it readable by the user the server runs as, or set "
            "PROMPTPULSE_SECRET_KEY"
        ) from exc
