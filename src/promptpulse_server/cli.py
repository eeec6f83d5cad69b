"""``promptpulse-server``: serve the API, migrate the database, create users."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

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
    import uvicorn

    from promptpulse_server import db

    settings = _settings()
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    engine.dispose()
    os.environ["PROMPTPULSE_MIGRATE_ON_START"] = "0"  # done once here, not in every worker
    uvicorn.run(
        "promptpulse_server.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # X-Forwarded-For/-Proto only from the proxies the operator names, never from anyone
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        log_level="info",
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema, then exit."""
    from promptpulse_server import db

    settings = _settings()
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    typer.echo(f"database at revision {db.current_revision(engine)}")


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Argument(help="3 to 50 letters, digits, _ or -.")],
    display_name: Annotated[str | None, typer.Option(help="Name shown on the dashboard.")] = None,
) -> None:
    """Create a user and print their API key (shown once)."""
    import msgspec

    from promptpulse_server import auth, db, queries, schemas

    try:
        msgspec.convert({"username": username}, schemas.NewUser)
    except msgspec.ValidationError as exc:
        raise _Fail(f"username {username!r}: 3 to 50 letters, digits, _ or - ({exc})") from exc
    settings = _settings()
    engine = db.make_engine(settings.database_url)
    db.migrate(engine)
    with db.session_factory(engine)() as s:
        if queries.user_by_name(s, username) is not None:
            raise _Fail(f"username {username!r} is taken")
        key = auth.new_key()
        now = settings.clock()
        user = queries.create_user(s, username, display_name, now)
        queries.add_key(s, user, "first key", auth.key_hash(key), auth.shown_prefix(key), now)
        s.commit()
    typer.echo(key)


class _Fail(Exception):
    pass


def main() -> None:
    try:
        import alembic  # noqa: F401
        import litestar  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        print(
            f"promptpulse-server needs the server extra ({exc.name} is missing):\n"
            "    pip install 'promptpulse[server]'",
            file=sys.stderr,
        )
        sys.exit(1)
    from sqlalchemy.exc import SQLAlchemyError

    from promptpulse_server.settings import SettingsError

    try:
        app()
    except (_Fail, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except SQLAlchemyError as exc:
        print(
            f"error: database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        sys.exit(1)
