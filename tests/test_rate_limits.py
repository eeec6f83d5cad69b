"""Rate limits are counted in the database: every server process on it grants one budget
between them, a minute's budget comes back the next minute, and spent windows are deleted."""

from __future__ import annotations

import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, text

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from serving import Server
from testclock import NOW, FakeClock

pytestmark = pytest.mark.dates

SECONDS_LEFT = math.ceil(60 - NOW.second - NOW.microsecond / 1e6)  # of the test instant's minute


def test_two_server_processes_share_one_budget(database: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                Server(
                    database,
                    tmp_path / f"server{n}",
                    log=tmp_path / f"server{n}.log",
                    PROMPTPULSE_SIGNUPS_PER_MINUTE="5",
                )
            )
            for n in range(2)
        ]
        bases = [server.base for server in servers]

        def sign_up(n: int) -> httpx.Response:
            return httpx.post(
                f"{bases[n % 2]}/api/users", json={"username": f"user{n}"}, timeout=60
            )

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(sign_up, range(16)))
    for server in servers:
        assert "Traceback" not in server.log_text(), server.log_text()
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
