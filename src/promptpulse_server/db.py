"""The database connection and its migrations (Alembic, shipped inside the package)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from promptpulse_server.settings import Settings


def engine_for(settings: Settings) -> Engine:
    """The engine of the configured database, with the configured pool."""
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
    )


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 30.0
) -> Engine:
    """SQLite keeps SQLAlchemy's own pooling for it; PostgreSQL gets a pool of ``pool_size``
    connections per process, ``max_overflow`` more at busy times, and a request waits at most
    ``pool_timeout`` seconds for one."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )


class UploadGate:
    """How many uploads one process decodes and stores at once; the others wait their turn,
    their bodies read but not yet decoded.

    An upload of a year is a large share of a second of CPU in one thread: without a bound, 24
    of them take every worker thread and the GIL, and a dashboard read waits behind all of
    them. With ``size``
    (``PROMPTPULSE_UPLOAD_CONCURRENCY``) at a time, reads keep a thread. On SQLite, which has
    one writer at a time anyway, the size is 1 and uploads also queue across the processes of
    ``serve --workers N`` on a lock file next to the database, instead of piling up on the busy
    timeout."""

    def __init__(self, engine: Engine, size: int) -> None:
        sqlite = engine.dialect.name == "sqlite"
        self.size = 1 if sqlite else max(1, size)
        self._slots = threading.BoundedSemaphore(self.size)
        database = engine.url.database
        self._lock_path = (
            f"{database}.write-lock" if sqlite and database and database != ":memory:" else None
        )

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._slots:
            if self._lock_path is None:
                yield
                return
            import fcntl

            with open(self._lock_path, "a") as lock:  # kept: deleting it would race
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def migrations_dir() -> Path:
    """Inside an installed wheel, ``promptpulse_server/migrations``; in a checkout, the
    repository's ``migrations/``."""
    packaged = Path(__file__).parent / "migrations"
    if (packaged / "env.py").exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


# pg_advisory_lock's key for migrations: any fixed number, the same in every instance
MIGRATION_LOCK = 0x70726F6D7074  # "prompt"


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (a fresh database is created from nothing).

    Instances that start at once take turns: on PostgreSQL behind an advisory lock, on SQLite
    behind a lock on a file next to the database. The first migrates; the others then find the
    schema at ``revision`` and change nothing."""
    from alembic import command

    cfg = alembic_config(engine)
    if engine.dialect.name != "postgresql":
        with _file_lock(engine):
            command.upgrade(cfg, revision)
        return
    # a session-level lock, on the one connection Alembic then migrates with (a pool of one
    # connection is enough), released when the migration is over
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        finally:
            conn.rollback()  # whatever a failed migration left open
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """A lock on ``<database>.migrate-lock`` next to a SQLite file (none for :memory:)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrate-lock", "a") as lock:  # kept: deleting it would race
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def current_head() -> str:
    """The newest revision the shipped migrations know."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
