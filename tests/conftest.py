from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import testclock

CCUSAGE_VERSION = "20.0.24"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own promptpulse home and no real Claude logs."""
    home = tmp_path / "pp-home"
    monkeypatch.setenv("PROMPTPULSE_HOME", str(home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-claude-here"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    # every collector and server process a test starts runs at the test instant
    monkeypatch.setenv("PROMPTPULSE_NOW", testclock.iso(testclock.NOW))
    # servers that tests start let anyone sign up, unless a test is about sign-up itself
    monkeypatch.setenv("PROMPTPULSE_SIGNUP", "open")
    from promptpulse import pricing

    pricing.reload()  # the price files are read from this test's home
    return home


@pytest.fixture(autouse=True, scope="session")
def _system_clock_at_test_instant() -> Iterator[None]:
    """With PROMPTPULSE_TEST_NOW set, this process's system clock runs from that instant too."""
    if not os.environ.get(testclock.ENV):
        yield
        return
    import time_machine

    with time_machine.travel(testclock.NOW, tick=True):
        yield


@pytest.fixture(scope="session")
def ccusage() -> str:
    """The real ccusage v20 binary, installed from the npm registry on first use."""
    exe = os.environ.get("PROMPTPULSE_CCUSAGE")
    if exe:
        return exe
    cache = Path.home() / ".cache" / "promptpulse-dev" / "ccusage"
    exe_path = cache / "node_modules" / ".bin" / "ccusage"
    cache.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(cache.parent / "ccusage.lock"):  # parallel test workers install it once
        _install_ccusage(cache, exe_path)
    return str(exe_path)


def _install_ccusage(cache: Path, exe_path: Path) -> None:
    if not exe_path.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("ccusage comparison needs npm (Node 20) to install ccusage")
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "package.json").write_text('{"name":"ccusage-ref","private":true}')
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", f"ccusage@{CCUSAGE_VERSION}"],
            cwd=cache,
            check=True,
            capture_output=True,
        )


# --- server databases: every API test runs on SQLite and on a real PostgreSQL ------------------

SERVER_TABLES = [
    "audit_entry",
    "rate_limit_count",
    "delivery",
    "alert",
    "budget",
    "limit_reading",
    "invite",
    "membership",
    "team",
    "upload",
    "block_usage",
    "session_usage",
    "daily_usage",
    "machine",
    "api_key",
    "user_account",
]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("PROMPTPULSE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(
                "CI must run the PostgreSQL tests: scripts/test sets PROMPTPULSE_TEST_POSTGRES_URL"
            )
        pytest.skip("no PostgreSQL: run scripts/test, or set PROMPTPULSE_TEST_POSTGRES_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _worker_database(url, worker) if worker else url


def _worker_database(url: str, worker: str) -> str:
    """Each parallel test worker (pytest-xdist) gets a database of its own, made on first use:
    promptpulse_test_gw0, promptpulse_test_gw1, …"""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from promptpulse_server.settings import database_url

    own = make_url(database_url(url))
    own = own.set(database=f"{own.database}_{worker}")
    engine = create_engine(database_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}
        ).scalar()
        if not found:
            conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    engine.dispose()
    return own.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _migrated_postgres(postgres_url: str) -> str:
    from sqlalchemy import text

    from promptpulse_server import db
    from promptpulse_server.settings import database_url

    url = database_url(postgres_url)
    engine = db.make_engine(url)
    with engine.begin() as conn:  # start from nothing: the migrations build it all
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.migrate(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite server database the migrations built, once per test process, for tests to copy
    (building one from nothing runs every migration: about 0.2 s a test)."""
    from promptpulse_server import db

    path = tmp_path_factory.mktemp("migrated") / "server.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    db.migrate(engine)
    engine.dispose()  # the last connection closes: the write-ahead log is folded into the file
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty server database URL."""
    if request.param == "sqlite":
        path = tmp_path / "server.sqlite3"
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("_migrated_postgres")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(SERVER_TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url
