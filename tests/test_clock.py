"""The clock is an input: the collector and the server take "now" from one place, which
``PROMPTPULSE_NOW`` (or a test's clock) sets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from logtree import response, write

from promptpulse import clock
from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings, SettingsError
from serving import Server
from test_cli import run
from testclock import NOW, FakeClock, iso

pytestmark = pytest.mark.dates

UTC = dt.UTC


def test_parse_instant_takes_iso_8601_with_an_offset() -> None:
    assert clock.parse_instant("2026-11-22T23:59:58Z") == dt.datetime(
        2026, 11, 22, 23, 59, 58, tzinfo=UTC
    )
    assert clock.parse_instant("2026-11-22T05:30:00+05:30") == dt.datetime(
        2026, 11, 22, 0, 0, tzinfo=UTC
    )
    for bad in ("2026-11-22T10:00:00", "yesterday", ""):
        with pytest.raises(clock.ClockError, match="PROMPTPULSE_NOW"):
            clock.parse_instant(bad)


def test_from_env_is_fixed_at_the_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTPULSE_NOW", "2001-02-03T04:05:06+01:00")
    now = clock.from_env()
    assert now() == now() == dt.datetime(2001, 2, 3, 3, 5, 6, tzinfo=UTC)
    monkeypatch.delenv("PROMPTPULSE_NOW")
    assert clock.from_env() is clock.system_now


def test_the_server_reads_its_clock_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 's.sqlite3'}")
    monkeypatch.setenv("PROMPTPULSE_NOW", "2001-02-03T04:05:06Z")
    assert Settings.from_env().clock().year == 2001
    monkeypatch.setenv("PROMPTPULSE_NOW", "soon")
    with pytest.raises(SettingsError, match="PROMPTPULSE_NOW"):
        Settings.from_env()


def test_every_server_timestamp_comes_from_the_apps_clock(database: str) -> None:
    moment = FakeClock(dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC))
    settings = Settings(database_url=database, signup_per_minute=100, clock=moment)
    with TestClient(create_app(settings)) as c:
        key = {"X-API-Key": c.post("/api/users", json={"username": "ann"}).json()["apiKey"]}
        assert c.get("/api/users/me", headers=key).json()["createdAt"].startswith("2030-05-06T07")
        link = c.post("/api/login-links", headers=key).json()
        assert link["expiresAt"].startswith("2030-05-06T07:10:09")  # 120 s later
        body: dict[str, Any] = {
            "batchId": "b",
            "generatedAt": "2030-05-06T07:00:00Z",
            "machine": {"id": "m", "hostname": "h"},
            "daily": [],
            "blocks": [
                {
                    "startTime": "2030-05-06T05:00:00Z",
                    "endTime": "2030-05-06T10:00:00Z",
                    "actualEndTime": "2030-05-06T07:00:00Z",
                    "entries": 1,
                    "costUSD": 1.0,
                    "models": ["claude-opus-4-6"],
                }
            ],
        }
        assert c.post("/api/v1/uploads", headers=key, json=body).status_code == 201
        [machine] = c.get("/api/machines", headers=key).json()["machines"]
        assert machine["firstSeen"].startswith("2030-05-06T07:08:09")
        active = c.get("/api/usage/blocks", headers=key, params={"activeOnly": "true"}).json()
        assert [b["isActive"] for b in active["blocks"]] == [True]
        moment.advance(hours=3)  # 10:08: the block is over
        active = c.get("/api/usage/blocks", headers=key, params={"activeOnly": "true"}).json()
        assert active["blocks"] == []
        moment.advance(days=1)
        assert c.get(link["path"]).status_code == 410  # the link expired on the app's clock


def test_the_collectors_blocks_are_active_as_of_promptpulse_now(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    start = dt.datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    write(
        root / "projects" / "-p" / "s.jsonl",
        [
            *response(start, "m1", "r1", input=5, output=5),
            *response(start + dt.timedelta(minutes=20), "m2", "r2", input=5, output=5),
        ],
    )
    during = run(
        "report",
        "blocks",
        "--active",
        "--json",
        root=root,
        env={"PROMPTPULSE_NOW": "2026-03-01T11:00:00Z"},
    )
    assert during.returncode == 0, during.stderr
    [block] = json.loads(during.stdout)["blocks"]
    assert block["isActive"] and block["projection"]["remainingMinutes"] == 240
    after = run("report", "blocks", "--active", "--json", root=root)  # the tests' NOW: later
    assert json.loads(after.stdout)["blocks"] == []
    bad = run("report", "blocks", root=root, env={"PROMPTPULSE_NOW": "teatime"})
    assert bad.returncode == 2 and "PROMPTPULSE_NOW" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_server_process_runs_on_the_instant_it_is_given(database: str, tmp_path: Path) -> None:
    server = Server(database, tmp_path / "home")  # inherits PROMPTPULSE_NOW from the tests
    server.start()
    try:
        created = httpx.post(f"{server.base}/api/users", json={"username": "zed"}).json()
        me = httpx.get(f"{server.base}/api/users/me", headers={"X-API-Key": created["apiKey"]})
        started = dt.datetime.fromisoformat(me.json()["createdAt"].replace("Z", "+00:00"))
        assert started == NOW, (iso(started), iso(NOW))
    finally:
        server.stop()
