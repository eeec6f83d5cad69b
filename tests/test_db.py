"""The database connection: pool settings from the environment, and migrations that several
instances may start at once."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from promptpulse_server import db
from promptpulse_server.settings import Settings, SettingsError, database_url
from serving import SERVER


def test_pool_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")
    defaults = Settings.from_env()
    assert (defaults.db_pool_size, defaults.db_max_overflow, defaults.db_pool_timeout) == (
        10,
        10,
        30.0,
    )
    monkeypatch.setenv("PROMPTPULSE_DB_POOL_SIZE", "3")
    monkeypatch.setenv("PROMPTPULSE_DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("PROMPTPULSE_DB_POOL_TIMEOUT", "2.5")
    s = Settings.from_env()
    assert (s.db_pool_size, s.db_max_overflow, s.db_pool_timeout) == (3, 0, 2.5)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PROMPTPULSE_DB_POOL_SIZE", "many", "must be a whole number, not 'many'"),
        ("PROMPTPULSE_DB_POOL_SIZE", "0", "must be 1 or more, not 0"),
        ("PROMPTPULSE_DB_MAX_OVERFLOW", "-1", "must be 0 or more, not -1"),
        ("PROMPTPULSE_DB_POOL_TIMEOUT", "soon", "must be a number of seconds above 0"),
        ("PROMPTPULSE_DB_POOL_TIMEOUT", "0", "must be a number of seconds above 0"),
        ("PROMPTPULSE_DB_POOL_TIMEOUT", "nan", "must be a number of seconds above 0"),
    ],
)
def test_a_bad_pool_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name} {says}"):
        Settings.from_env()


def test_a_bad_pool_setting_stops_the_server_in_one_line(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 's.sqlite3'}",
        PROMPTPULSE_DB_POOL_SIZE="-3",
    )
    out = subprocess.run([*SERVER, "migrate"], env=env, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr == "error: PROMPTPULSE_DB_POOL_SIZE must be 1 or more, not -3\n"


@pytest.mark.postgres
def test_postgresql_engines_use_the_pool_settings(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("PROMPTPULSE_DB_POOL_SIZE", "1")
    monkeypatch.setenv("PROMPTPULSE_DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("PROMPTPULSE_DB_POOL_TIMEOUT", "0.3")
    engine = db.engine_for(Settings.from_env())
    try:
        with engine.connect() as held:
            held.execute(text("SELECT 1"))
            started = time.monotonic()
            with pytest.raises(PoolTimeout), engine.connect():
                pass
            assert 0.25 < time.monotonic() - started < 5
        with engine.connect() as again:  # given back: there is one again
            assert again.execute(text("SELECT 1")).scalar() == 1
        db.migrate(engine)  # the migration and its lock need no more than one connection
    finally:
        engine.dispose()


# --- migrations started at once -----------------------------------------------------------------


def _fresh_postgres(postgres_url: str, name: str) -> str:
    """An empty database of this test's own, ``promptpulse_wtops_race`` and the like."""
    from sqlalchemy.engine import make_url

    admin = create_engine(database_url(postgres_url), isolation_level="AUTOCOMMIT")
    base = make_url(database_url(postgres_url))
    own = f"{base.database}_{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{own}"'))
    admin.dispose()
    return base.set(database=own).render_as_string(hide_password=False)


def _migrate_at_once(url: str, tmp_path: Path, instances: int) -> None:
    env = dict(os.environ, DATABASE_URL=url, PROMPTPULSE_HOME=str(tmp_path / "home"))
    procs = [
        subprocess.Popen(
            [*SERVER, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(instances)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    failed = [err.decode() for rc, _, err in results if rc != 0]
    assert not failed, failed[0]
    head = db.current_head()
    for _, out, _ in results:
        assert out.decode().strip() == f"database at revision {head}"


def _assert_one_schema(url: str) -> None:
    from promptpulse_server.models import Base

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = set(inspect(conn).get_table_names())
        assert versions == [(db.current_head(),)]
        assert tables == {*Base.metadata.tables, "alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_instances_starting_at_once_migrate_postgresql_once(
    postgres_url: str, tmp_path: Path
) -> None:
    url = _fresh_postgres(postgres_url, "race")  # per test worker: postgres_url is
    _migrate_at_once(url, tmp_path, 4)
    _assert_one_schema(url)


def test_instances_starting_at_once_migrate_sqlite_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    _migrate_at_once(url, tmp_path, 4)
    _assert_one_schema(url)
