"""``promptpulse-server copy-db``: a SQLite server's database, copied to PostgreSQL, answers the
API exactly as before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from promptpulse_server import copy_db, db
from promptpulse_server.app import create_app
from promptpulse_server.settings import database_url
from serving import SERVER
from test_api import batch, breakdown, session
from test_teams import Key, account, create_team, invite, join, make_settings, ok, upload
from testclock import FakeClock

pytestmark = [pytest.mark.postgres, pytest.mark.dates]

READS = [
    "/api/users/me",
    "/api/users",
    "/api/keys",
    "/api/machines",
    "/api/usage/aggregate",
    "/api/usage/sessions",
    "/api/usage/blocks",
    "/api/usage/analytics/costs?groupBy=model",
    "/api/teams",
    "/api/leaderboard/all?by=cost",
]


@pytest.fixture
def copy_target(postgres_url: str) -> str:
    """A fresh, empty PostgreSQL database: promptpulse_wtops_copy (after the test URL's)."""
    base = make_url(database_url(os.environ["PROMPTPULSE_TEST_POSTGRES_URL"]))
    own = f"{base.database}_copy"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{own}"'))
    admin.dispose()
    return base.set(database=own).render_as_string(hide_password=False)


def fill(client: TestClient[Any], clock: FakeClock) -> dict[str, Key]:
    """Users (the first an admin), extra keys, machines, uploads of every kind, a team."""
    keys = {name: account(client, name) for name in ("ann", "bob", "cyd")}
    ok(client.post("/api/keys", json={"label": "laptop"}, headers=keys["ann"]), 201)
    revoked = ok(client.post("/api/keys", json={"label": "old"}, headers=keys["bob"]), 201)
    ok(client.delete(f"/api/keys/{revoked['id']}", headers=keys["bob"]), 204)
    for name, key in keys.items():
        upload(client, key, f"{name}-desk", cost=1.25)
    clock.advance(minutes=1)  # machines are listed by last upload: one each
    days = {"2026-03-01": [breakdown("claude-opus-4-6", 7, 8, 9, 10, 0.1)]}
    second = batch(
        "b2", "ann-laptop", days=days, sessions=[session("s1", "api", "2026-03-01T10:00:00Z")]
    )
    ok(client.post("/api/v1/uploads", json=second, headers=keys["ann"]), 201)
    ok(client.post("/api/v1/uploads", json=second, headers=keys["ann"]), 201)  # a duplicate
    ok(client.patch("/api/users/me", json={"leaderboardOptIn": True}, headers=keys["bob"]))
    team = create_team(client, keys["ann"], "Platform")
    join(client, keys["bob"], invite(client, keys["ann"], team["id"])["code"])
    invite(client, keys["ann"], team["id"], maxUses=3)  # an unused one
    return keys


def answers(client: TestClient[Any], keys: dict[str, Key]) -> dict[tuple[str, str], Any]:
    seen = {
        (name, url): ok(client.get(url, headers=key)) for name, key in keys.items() for url in READS
    }
    for name, key in keys.items():
        for team in ok(client.get("/api/teams", headers=key))["teams"]:
            for part in ("", "/members", "/leaderboard/all"):
                url = f"/api/teams/{team['id']}{part}"
                seen[(name, url)] = ok(client.get(url, headers=key))
    return seen


def test_a_sqlite_server_moves_to_postgresql(tmp_path: Path, copy_target: str) -> None:
    sqlite = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    clock = FakeClock()
    with TestClient(create_app(make_settings(sqlite, clock, signup_mode="open"))) as client:
        keys = fill(client, clock)
        before = answers(client, keys)

    env = dict(os.environ, DATABASE_URL=sqlite, PROMPTPULSE_HOME=str(tmp_path / "home"))
    platform = copy_target.replace("postgresql+psycopg://", "postgres://")
    out = subprocess.run(
        [*SERVER, "copy-db", "--to", platform, "--batch-size", "2"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "copied and checked" in out.stdout and "row counts and usage sums match" in out.stdout
    assert "postgres:***@" in out.stdout  # the password is not printed
    printed = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()[2:-1]}
    assert printed["user_account"] == ["3"] and printed["team"] == ["1"]
    assert printed["daily_usage"][:3] == ["4", "input_tokens", str(3 * 10 + 7)]

    with TestClient(create_app(make_settings(copy_target, clock, signup_mode="open"))) as client:
        after = answers(client, keys)
        assert after == before
        # sequences continue after the copied ids: new rows of every kind get new ids
        dee = account(client, "dee")
        upload(client, dee, "dee-desk")
        ok(client.post("/api/keys", json={"label": "more"}, headers=dee), 201)
        ids = [u["id"] for u in ok(client.get("/api/admin/users", headers=keys["ann"]))["users"]]
        assert sorted(ids) == [1, 2, 3, 4]

    again = subprocess.run(
        [*SERVER, "copy-db", "--to", platform], env=env, capture_output=True, text=True
    )
    assert again.returncode == 2
    assert again.stderr.startswith("error: the target database is not empty (rows in ")
    assert again.stderr.count("\n") == 1


def test_a_copy_that_does_not_check_out_leaves_the_target_empty(
    tmp_path: Path, copy_target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    clock = FakeClock()
    with TestClient(create_app(make_settings(sqlite, clock, signup_mode="open"))) as client:
        fill(client, clock)
    real = copy_db._check

    def off_by_one(src: Any, dst: Any, table: Any) -> copy_db.TableCheck:
        check = real(src, dst, table)
        return check._replace(target_rows=check.target_rows + (table.name == "daily_usage"))

    monkeypatch.setattr(copy_db, "_check", off_by_one)
    source, target = db.make_engine(sqlite), db.make_engine(copy_target)
    try:
        with pytest.raises(copy_db.CopyError, match="does not match the source in daily_usage"):
            copy_db.copy_database(source, target)
        with target.connect() as conn:
            for table in copy_db.tables():
                assert conn.execute(text(f'SELECT count(*) FROM "{table.name}"')).scalar() == 0
    finally:
        source.dispose()
        target.dispose()


def test_copy_db_refuses_a_target_that_is_not_postgresql(tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 's.sqlite3'}")
    out = subprocess.run(
        [*SERVER, "copy-db", "--to", f"sqlite:///{tmp_path / 'other.sqlite3'}"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert (
        out.stderr == "error: --to must be a PostgreSQL database (postgres://… or postgresql://…)\n"
    )
