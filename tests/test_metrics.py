"""``/metrics``: scraped through the real app and read with prometheus-client's own parser."""

from __future__ import annotations

import datetime as dt
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

from promptpulse_server import db, digests
from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from serving import SERVER, free_port
from test_api import batch, breakdown, signup
from test_budgets import Receiver, add, cost_budget, receiver, spend  # noqa: F401  (the fixture)
from testclock import NOW, TODAY, FakeClock

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


def metered(database: str, **more: Any) -> Settings:
    return Settings(
        database_url=database,
        signup_per_minute=1000,
        uploads_per_minute=1000,
        signup_mode="open",
        metrics_token=TOKEN,
        clock=FakeClock(),
        allow_private_webhooks=True,
        alert_retry_delays=(0.0, 0.0),
        **more,
    )


@pytest.fixture
def client(database: str) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(metered(database))) as c:
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


@pytest.mark.dates  # the alert's day, and the digest's
def test_deliveries_are_counted_by_kind_channel_and_outcome(
    client: TestClient[Any],
    database: str,
    receiver: Receiver,  # noqa: F811
) -> None:
    before = scrape(client)
    key = signup(client, "alerted")
    receiver.fail = 1  # the first attempt fails, the retry gets through
    budget = add(client, key, cost_budget(receiver.url, thresholds=[50]))
    spend(client, key, "b1", 30.0)  # 60% of the day's $50: one alert
    tested = client.post(f"/api/budgets/{budget['id']}/test", headers=key)
    assert tested.status_code in (200, 201), tested.text
    channel = {"type": "webhook", "url": receiver.url, "format": "json"}
    made = client.post("/api/digests", headers=key, json={"period": "daily", "channel": channel})
    assert made.status_code == 201, made.text
    settings = metered(database)
    engine = db.make_engine(database)
    try:
        assert digests.send_digests(db.session_factory(engine), settings, "daily") == (1, 0)
    finally:
        engine.dispose()
    after = scrape(client)

    def moved(**labels: str) -> float:
        name = "promptpulse_deliveries_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(kind="alert", channel="webhook", outcome="error") == 1
    assert moved(kind="alert", channel="webhook", outcome="ok") == 1
    assert moved(kind="test", channel="webhook", outcome="ok") == 1
    assert moved(kind="digest", channel="webhook", outcome="ok") == 1
    assert moved(kind="digest", channel="email", outcome="ok") == 0


@pytest.mark.dates  # the last 30 days
def test_usage_per_user_only_when_the_admin_turns_it_on(database: str) -> None:
    old = (TODAY - dt.timedelta(days=40)).isoformat()
    days = {TODAY.isoformat(): [breakdown("m", cost=2.5)], old: [breakdown("m", cost=99.0)]}
    with TestClient(create_app(metered(database))) as off:
        key = signup(off, "counted")
        signup(off, "idle")
        body = batch("u1", days=days, sessions=[], blocks=[])
        assert off.post("/api/v1/uploads", json=body, headers=key).status_code == 201
        assert not [name for name, _ in scrape(off) if name.startswith("promptpulse_user_")]
    with TestClient(create_app(metered(database, metrics_per_user=True))) as on:
        samples = scrape(on)
    assert value(samples, "promptpulse_user_cost_usd", user="counted") == 2.5  # not 40 days ago
    assert value(samples, "promptpulse_user_tokens", user="counted") == 100
    last = value(samples, "promptpulse_user_last_upload_timestamp_seconds", user="counted")
    assert last == NOW.timestamp()
    assert value(samples, "promptpulse_user_cost_usd", user="idle") == 0
    assert ("promptpulse_user_cost_usd", frozenset({("user", "idle")})) in samples
    assert value(samples, "promptpulse_user_last_upload_timestamp_seconds", user="idle") == 0


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
