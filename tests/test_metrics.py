"""``/metrics``: scraped through the real app and read with prometheus-client's own parser."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_api import batch, signup
from test_server_process import SERVER, free_port
from testclock import FakeClock

TOKEN = "scrape-me-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def client(database: str) -> Iterator[TestClient[Any]]:
    settings = Settings(
        database_url=database,
        signup_per_minute=1000,
        uploads_per_minute=1000,
        signup_mode="open",
        metrics_token=TOKEN,
        clock=FakeClock(),
    )
    with TestClient(create_app(settings)) as c:
        yield c


def scrape(client: TestClient[Any]) -> Samples:
    r = client.get("/metrics", headers=BEARER)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return parse(r.text)


def test_counters_move_with_requests_and_uploads(client: TestClient[Any]) -> None:
    before = scrape(client)
    key = signup(client, "metered")
    for _ in range(3):
        assert client.get("/api/users/me", headers=key).status_code == 200
    assert client.get("/api/teams/999999", headers=key).status_code == 404
    assert client.get("/no/such/page/" + "x" * 50).status_code == 404
    one = batch("m-b1", sessions=[], blocks=[])
    assert client.post("/api/v1/uploads", json=one, headers=key).status_code == 201
    assert client.post("/api/v1/uploads", json=one, headers=key).status_code == 201
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "promptpulse_http_requests_total"
    assert moved(requests, method="GET", route="/api/users/me", status="200") == 3
    assert moved(requests, method="POST", route="/api/users", status="201") == 1
    # a route's template, never the path as sent
    assert moved(requests, method="GET", route="/api/teams/{team_id}", status="404") == 1
    assert moved(requests, method="GET", route="unmatched", status="404") == 1
    assert moved(requests, method="POST", route="/api/v1/uploads", status="201") == 2
    latency = "promptpulse_http_request_duration_seconds"
    assert moved(f"{latency}_count", method="GET", route="/api/users/me") == 3
    assert moved(f"{latency}_bucket", method="GET", route="/api/users/me", le="+Inf") == 3
    assert moved(f"{latency}_sum", method="GET", route="/api/users/me") > 0
    assert moved("promptpulse_uploads_total", source="collector") == 1
    assert moved("promptpulse_upload_duplicates_total", source="collector") == 1
    assert moved("promptpulse_rows_ingested_total", kind="daily") == 2  # two days in batch()
    # the scrape before this one is counted too, and the pool is there and not negative
    assert moved(requests, method="GET", route="/metrics", status="200") == 1
    assert value(after, "promptpulse_db_pool_checked_out") >= 0
    assert value(after, "promptpulse_db_pool_size") >= 1
    # nothing names a user, a key or a machine
    labels = {v for _, ls in after for _, v in ls}
    assert not any("metered" in v or "m-b1" in v or "pp_" in v for v in labels)


def test_the_token_guards_metrics(client: TestClient[Any], database: str) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    r = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/metrics", headers=BEARER).status_code == 200
    # without a token configured there is no /metrics at all
    settings = Settings(database_url=database, clock=FakeClock())
    with TestClient(create_app(settings)) as open_client:
        assert open_client.get("/metrics").status_code == 404
        assert open_client.get("/metrics", headers=BEARER).status_code == 404


def test_workers_sum_their_figures(tmp_path: Path) -> None:
    """``serve --workers 2``: whichever worker answers a scrape, it counts every worker's."""
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 's.sqlite3'}",
        PORT=str(port),
        PROMPTPULSE_HOME=str(tmp_path / "home"),
        PROMPTPULSE_METRICS_TOKEN=TOKEN,
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [*SERVER, "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        time.sleep(1)  # both workers up
        for _ in range(40):  # new connections: the kernel spreads them over both workers
            assert httpx.get(f"{base}/health").status_code == 200
        totals = set()
        for _ in range(6):
            text = httpx.get(f"{base}/metrics", headers=BEARER).text
            totals.add(
                value(
                    parse(text),
                    "promptpulse_http_requests_total",
                    method="GET",
                    route="/health",
                    status="200",
                )
            )
        # every scrape, whichever worker answers, sees all 40 (and the start-up checks)
        assert len(totals) == 1 and totals.pop() >= 40
    finally:
        proc.terminate()
        proc.wait(timeout=20)
