"""``promptpulse-server``: serve the API, migrate the database, create users."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from promptpulse_server.settings import Settings

app = typer.Typer(
    name="promptpulse-server",
    help="The promptpulse server. Settings come from the environment: DATABASE_URL (default: a "
    "SQLite file in the user data dir), HOST, PORT and PROMPTPULSE_* (see the README), among "
    "them PROMPTPULSE_TRUSTED_PROXIES, the proxies whose X-Forwarded-For is believed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    from promptpulse_server.settings import Settings

    return Settings.from_env()


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: $HOST or 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: $PORT or 8000].")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Migrate the database if needed, then serve the API."""
    import logging.config

    import uvicorn

    from promptpulse_server import db, logs

    settings = _settings()
    engine = db.engine_for(settings)
    db.migrate(engine)
    json_out = logs.json_lines(settings.log_format)
    logging.config.dictConfig(logs.process_config(settings.log_level, json_out))
    logging.getLogger("promptpulse_server").info(_greeting(engine, settings))
    engine.dispose()
    os.environ["PROMPTPULSE_MIGRATE_ON_START"] = "0"  # done once here, not in every worker
    made = _metrics_dir() if workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR") else None
    try:
        _run(uvicorn, settings, host, port, workers)
    finally:
        if made:
            import shutil

            shutil.rmtree(made, ignore_errors=True)


def _run(
    uvicorn: Any, settings: Settings, host: str | None, port: int | None, workers: int
) -> None:
    from promptpulse_server import logs

    uvicorn.run(
        "promptpulse_server.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # X-Forwarded-For/-Proto only from the proxies the operator names, never from anyone
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        log_config=logs.process_config(settings.log_level, logs.json_lines(settings.log_format)),
        log_level=settings.log_level,
    )


def _metrics_dir() -> str | None:
    """Worker processes share their /metrics figures through files in PROMETHEUS_MULTIPROC_DIR
    (prometheus-client's multi-process mode): a new directory unless one is set, whose old
    files (from a previous run) are removed."""
    import tempfile
    from pathlib import Path

    where = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not where:
        made = tempfile.mkdtemp(prefix="promptpulse-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
        return made
    path = Path(where)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    return None


def _greeting(engine: Any, settings: Settings) -> str:
    """The start-up message: who may sign up, and how the first admin is made."""
    from promptpulse_server import db, queries

    with db.session_factory(engine)() as s:
        empty = queries.teams.count_users(s) == 0
    mode = f"sign-up: {settings.signup_mode} (PROMPTPULSE_SIGNUP)"
    if empty:
        return (
            f"promptpulse-server: no account yet; the first one made becomes the server admin "
            f"(/signup in the browser, promptpulse login, or promptpulse-server create-user "
            f"NAME --admin); {mode}"
        )
    return f"promptpulse-server: {mode}"


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema, then exit."""
    from promptpulse_server import db

    settings = _settings()
    engine = db.engine_for(settings)
    db.migrate(engine)
    typer.echo(f"database at revision {db.current_revision(engine)}")


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Argument(help="3 to 50 letters, digits, _ or -.")],
    display_name: Annotated[str | None, typer.Option(help="Name shown on the dashboard.")] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="Make them a server admin (the first account is one).")
    ] = False,
) -> None:
    """Create a user and print their API key (shown once). Works in every sign-up mode."""
    import msgspec

    from promptpulse_server import audit, auth, db, queries, schemas

    try:
        msgspec.convert({"username": username}, schemas.NewUser)
    except msgspec.ValidationError as exc:
        raise _Fail(f"username {username!r}: 3 to 50 letters, digits, _ or - ({exc})") from exc
    settings = _settings()
    engine = db.engine_for(settings)
    db.migrate(engine)
    with db.session_factory(engine)() as s:
        if queries.user_by_name(s, username) is not None:
            raise _Fail(f"username {username!r} is taken")
        key = auth.new_key()
        now = settings.clock()
        first = queries.teams.count_users(s) == 0
        user = queries.create_user(s, username, display_name, now, admin=admin or first)
        queries.add_key(s, user, "first key", auth.key_hash(key), auth.shown_prefix(key), now)
        audit.record(s, now, "account_created", None, subject=user, detail="create-user")
        s.commit()
    typer.echo(key)


class _Fail(Exception):
    pass


@app.command("copy-db")
def copy_db(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The PostgreSQL database to copy into (postgres://… or postgresql://…); it is "
            "migrated, and must have no rows.",
        ),
    ],
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows read and written at a time.")
    ] = 1000,
) -> None:
    """Copy the configured database (DATABASE_URL, by default the SQLite file) to an empty
    PostgreSQL database: every table, ids kept, in one transaction; then compare row counts and
    usage sums, and print them. Point DATABASE_URL at the new database afterwards."""
    from sqlalchemy.engine import make_url

    from promptpulse_server import copy_db as copying
    from promptpulse_server import db
    from promptpulse_server.settings import database_url

    settings = _settings()
    target_url = database_url(to.strip())
    if not target_url.startswith("postgresql"):
        raise _Fail("--to must be a PostgreSQL database (postgres://… or postgresql://…)")
    source = _engine(settings)
    target = db.make_engine(target_url)
    shown = make_url(target_url).render_as_string(hide_password=True)
    typer.echo(f"copying {make_url(settings.database_url).render_as_string()} to {shown}")
    try:
        checks = copying.copy_database(
            source,
            target,
            batch_size,
            progress=lambda table, rows: typer.echo(f"  {table}: {rows} rows", err=True),
        )
    except copying.CopyError as exc:
        raise _Fail(str(exc)) from exc
    finally:
        source.dispose()
        target.dispose()
    width = max(len(c.table) for c in checks)
    typer.echo(f"{'table':<{width}}  {'rows':>10}  usage sums (source = target)")
    for check in checks:
        sums = "  ".join(f"{name} {_figure(a)}" for name, (a, _) in check.sums.items())
        typer.echo(f"{check.table:<{width}}  {check.target_rows:>10}  {sums}".rstrip())
    typer.echo(f"copied and checked {len(checks)} tables: row counts and usage sums match")


def _figure(value: float) -> str:
    return f"{value}" if isinstance(value, int) else f"{value:.6f}"


users_app = typer.Typer(help="List and manage accounts (as a server admin would).")
app.add_typer(users_app, name="users")


@users_app.command("list")
def users_list() -> None:
    """Every account: admin or not, disabled or not, created, last active."""
    from promptpulse_server import db, queries

    engine = _engine()
    with db.session_factory(engine)() as s:
        rows = queries.teams.accounts(s)
    for user, last in rows:
        flags = ",".join(
            f for f, on in (("admin", user.is_admin), ("disabled", user.disabled_at)) if on
        )
        seen = last.strftime("%Y-%m-%d %H:%M") if last else "never"
        typer.echo(
            f"{user.id}\t{user.username}\t{flags or '-'}\t"
            f"created {user.created_at:%Y-%m-%d}\tlast active {seen}"
        )


def _change(username: str, action: str) -> None:
    from promptpulse_server import audit, db, queries

    settings = _settings()
    engine = _engine(settings)
    with db.session_factory(engine)() as s:
        user = queries.user_by_name(s, username)
        if user is None:
            raise _Fail(f"no user {username!r}")
        if action in ("disable", "demote") and queries.teams.is_last_admin(s, user):
            raise _Fail(f"{username!r} is the only server admin: promote someone else first")
        if action in ("disable", "enable"):
            queries.teams.set_disabled(s, user, settings.clock() if action == "disable" else None)
        else:
            queries.teams.set_admin(s, user, action == "promote")
        audit.record(s, settings.clock(), audit.ADMIN_ACTIONS[action], None, subject=user)
        s.commit()
    typer.echo(f"{username}: {action}d")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Stop an account at once: its keys and dashboard sessions no longer work."""
    _change(username, "disable")


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument()]) -> None:
    """Let a disabled account in again."""
    _change(username, "enable")


@users_app.command("promote")
def users_promote(username: Annotated[str, typer.Argument()]) -> None:
    """Make an account a server admin."""
    _change(username, "promote")


@users_app.command("demote")
def users_demote(username: Annotated[str, typer.Argument()]) -> None:
    """Make a server admin an ordinary account again."""
    _change(username, "demote")


@app.command("send-digests")
def send_digests(
    period: Annotated[
        str, typer.Option(help="Which digests: daily (yesterday) or weekly (last week).")
    ] = "daily",
) -> None:
    """Send the daily or weekly digests of the last complete period, each once: run it from
    cron (see the README). A period already sent, by this run or another, is not sent again."""
    from promptpulse_server import db, digests

    if period not in ("daily", "weekly"):
        raise _Fail("--period: daily or weekly")
    settings = _settings()
    engine = _engine(settings)
    try:
        sent, failed = digests.send_digests(
            db.session_factory(engine), settings, "daily" if period == "daily" else "weekly"
        )
    finally:
        engine.dispose()
    typer.echo(f"{period} digests: {sent} sent, {failed} failed")
    if failed:
        raise typer.Exit(1)


def _engine(settings: Settings | None = None) -> Any:
    from promptpulse_server import db

    engine = db.engine_for(settings or _settings())
    db.migrate(engine)
    return engine


SERVER_EXTRA = ("alembic", "litestar", "sqlalchemy", "uvicorn")


def _needs_the_server_extra(name: str) -> NoReturn:
    print(
        f"promptpulse-server needs the server extra ({name} is missing):\n"
        "    pip install 'promptpulse[server]'",
        file=sys.stderr,
    )
    sys.exit(1)


def main() -> None:
    from importlib.util import find_spec

    # found, not imported: each command imports only what it uses
    for name in SERVER_EXTRA:
        if not find_spec(name):
            _needs_the_server_extra(name)
    from sqlalchemy.exc import SQLAlchemyError

    from promptpulse_server.settings import SettingsError

    try:
        app()
    except ImportError as exc:  # installed, but broken
        if (exc.name or "").split(".")[0] not in SERVER_EXTRA:
            raise
        _needs_the_server_extra(exc.name or "")
    except (_Fail, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except SQLAlchemyError as exc:
        print(
            f"error: database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        sys.exit(1)
