"""Rate limits are counted in the database: every server process on it grants one budget
between them, a minute's budget comes back the next minute, and spent windows are deleted."""

from __future__ import annotations

import math
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, text

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_server_process import SERVER, free_port
from testclock import NOW, FakeClock

pytestmark = pytest.mark.dates

SECONDS_LEFT = math.ceil(60 - NOW.second - NOW.microsecond / 1e6)  # of the test instant's minute


@contextmanager
def serving(database: str, home: Path, **settings: str) -> Iterator[str]:
    """``promptpulse-server serve`` on ``database``; its base URL."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database, HOST="127.0.0.1", PORT=str(port), **settings)
    env["PROMPTPULSE_HOME"] = str(home)
    log = home.with_suffix(".log")
    home.mkdir(parents=True)
    with log.open("w") as out:
        proc = subprocess.Popen([*SERVER, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"server did not start:\n{log.read_text()}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "Traceback" not in log.read_text(), log.read_text()


def test_two_server_processes_share_one_budget(database: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        bases = [
            stack.enter_context(
                serving(database, tmp_path / f"server{n}", PROMPTPULSE_SIGNUPS_PER_MINUTE="5")
            )
            for n in range(2)
        ]

        def sign_up(n: int) -> httpx.Response:
            return httpx.post(
                f"{bases[n % 2]}/api/users", json={"username": f"user{n}"}, timeout=60
            )

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(sign_up, range(16)))
    codes = Counter(a.status_code for a in answers)
    assert codes == {201: 5, 429: 11}, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 429:
            assert answer.headers["Retry-After"] == str(SECONDS_LEFT)
            assert answer.headers["RateLimit-Remaining"] == "0"
    # both processes let some through, or both refused some: the budget was theirs together
    by_server = Counter((n % 2, a.status_code) for n, a in enumerate(answers))
    assert by_server[(0, 201)] + by_server[(1, 201)] == 5
    assert by_server[(0, 429)] > 0 and by_server[(1, 429)] > 0


def _client(database: str, clock: FakeClock, **limits: Any) -> TestClient[Any]:
    settings = Settings(
        database_url=database, secret_key="s", signup_mode="open", clock=clock, **limits
    )
    return TestClient(create_app(settings))


def _counters(database: str) -> int:
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM rate_limit_count")).scalar_one())
    finally:
        engine.dispose()


def test_the_budget_comes_back_next_minute_and_spent_windows_go(database: str) -> None:
    clock = FakeClock()
    with _client(database, clock, signup_per_minute=2) as client:
        first = client.post("/api/users", json={"username": "ann"})
        assert first.status_code == 201
        assert first.headers["RateLimit-Limit"] == "2"
        assert first.headers["RateLimit-Remaining"] == "1"
        assert client.post("/api/users", json={"username": "bob"}).status_code == 201
        refused = client.post("/api/users", json={"username": "cat"})
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == str(SECONDS_LEFT)
        assert f"try again in {SECONDS_LEFT} seconds" in refused.json()["detail"]
        assert _counters(database) == 1
        clock.advance(seconds=SECONDS_LEFT)  # the next minute
        assert client.post("/api/users", json={"username": "cat"}).status_code == 201
        assert _counters(database) == 1  # the spent minute's counter was deleted
        # routes without a limit are not counted
        assert client.get("/api/signup").status_code == 200
        assert _counters(database) == 1


def test_a_second_app_on_the_same_database_sees_the_first_ones_count(database: str) -> None:
    clock = FakeClock()
    with _client(database, clock, signup_per_minute=1) as one:
        assert one.post("/api/users", json={"username": "ann"}).status_code == 201
        with _client(database, clock, signup_per_minute=1) as two:
            assert two.post("/api/users", json={"username": "bob"}).status_code == 429
            # each kind has its own budget
            key = {"X-API-Key": "pp_nothing"}
            assert two.post("/api/v1/uploads", headers=key, json={}).status_code != 429
