"""Digests, on SQLite and PostgreSQL: ``/api/digests``, and ``promptpulse-server
send-digests`` (the real command, in its own process) to a real HTTP receiver on 127.0.0.1:
run twice, it sends each digest once; its figures are the API's for that period."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from promptpulse_server.app import create_app
from serving import SERVER
from test_api import batch, breakdown, signup
from test_budgets import Receiver, receiver, settings_for  # noqa: F401  (the fixture)
from testclock import NOW, TODAY, FakeClock, iso

pytestmark = pytest.mark.dates

YESTERDAY = TODAY - dt.timedelta(days=1)
BEFORE = TODAY - dt.timedelta(days=2)


@pytest.fixture
def client(database: str) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(settings_for(database, FakeClock()))) as c:
        yield c


def uploaded(client: TestClient[Any], key: dict[str, str]) -> None:
    days = {
        BEFORE.isoformat(): [breakdown("claude-opus-4-6", cost=4.0)],
        YESTERDAY.isoformat(): [
            breakdown("claude-opus-4-6", cost=6.5),
            breakdown("claude-sonnet-4-5", cost=1.5, i=100),
        ],
        TODAY.isoformat(): [breakdown("claude-opus-4-6", cost=9.0)],
    }
    r = client.post("/api/v1/uploads", headers=key, json=batch("d1", "m1", iso(NOW), days=days))
    assert r.status_code == 201, r.text


def send_digests(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        DATABASE_URL=database,
        PROMPTPULSE_NOW=iso(NOW),
        PROMPTPULSE_ALLOW_PRIVATE_WEBHOOKS="1",
    )
    return subprocess.run(
        [*SERVER, "send-digests", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_send_digests_twice_sends_once_with_the_apis_figures(
    client: TestClient[Any],
    database: str,
    receiver: Receiver,  # noqa: F811
) -> None:
    key = signup(client)  # time zone UTC
    uploaded(client, key)
    channel = {"type": "webhook", "url": receiver.url, "format": "json"}
    made = client.post("/api/digests", headers=key, json={"period": "daily", "channel": channel})
    assert made.status_code == 201, made.text
    digest = made.json()
    assert digest["lastSent"] is None and digest["channel"]["url"] == receiver.url
    bad = client.post("/api/digests", headers=key, json={"period": "hourly", "channel": channel})
    assert bad.status_code == 400

    first = send_digests(database, "--period", "daily")
    assert first.returncode == 0, first.stderr
    assert "1 sent, 0 failed" in first.stdout
    again = send_digests(database, "--period", "daily")
    assert again.returncode == 0, again.stderr
    assert "0 sent, 0 failed" in again.stdout
    weekly = send_digests(database, "--period", "weekly")  # no weekly digest here
    assert "0 sent" in weekly.stdout
    assert len(receiver.got) == 1
    body = receiver.bodies()[0]

    # the figures are the API's for yesterday
    day = YESTERDAY.isoformat()
    agg = client.get(
        "/api/usage/aggregate", headers=key, params={"since": day, "until": day}
    ).json()
    assert body["firstDay"] == body["lastDay"] == day
    assert body["cost"] == pytest.approx(agg["totals"]["totalCost"])
    assert body["tokens"] == agg["totals"]["totalTokens"]
    models = client.get(
        "/api/usage/analytics/costs",
        headers=key,
        params={"groupBy": "model", "since": day, "until": day},
    ).json()["items"]
    assert [(m["key"], m["totalCost"]) for m in models] == [
        (m["key"], m["cost"]) for m in body["topModels"]
    ]
    assert body["previousCost"] == pytest.approx(4.0)
    assert body["changePercent"] == pytest.approx(100.0)  # 8 dollars against 4
    assert "daily digest" in body["text"] and "$8.00" in body["text"]

    listed = client.get("/api/digests", headers=key).json()["digests"]
    assert [d["lastSent"] for d in listed] == [day]
    [logged] = [d for d in listed if d["id"] == digest["id"]]
    assert [(d["attempt"], d["status"]) for d in logged["deliveries"]] == [(1, "ok")]
    # the delivery log has the digest's attempt, told apart from alerts by its kind
    log = client.get("/api/alerts", headers=key).json()["deliveries"]
    assert [(d["kind"], d["digestId"], d["budgetId"], d["status"]) for d in log] == [
        ("digest", digest["id"], None, "ok")
    ]
    # someone else cannot delete it; its owner can
    other = signup(client, "bob")
    assert client.delete(f"/api/digests/{digest['id']}", headers=other).status_code == 404
    assert client.get("/api/digests", headers=other).json()["digests"] == []
    assert client.delete(f"/api/digests/{logged['id']}", headers=key).status_code == 204
    assert client.get("/api/digests", headers=key).json()["digests"] == []


def test_a_failed_digest_is_logged_and_not_sent_again(
    client: TestClient[Any], database: str
) -> None:
    key = signup(client)
    uploaded(client, key)
    closed = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "format": "slack"}
    r = client.post("/api/digests", headers=key, json={"period": "daily", "channel": closed})
    assert r.status_code == 201, r.text
    failed = send_digests(database)
    assert failed.returncode == 1 and "0 sent, 1 failed" in failed.stdout
    assert "0 sent, 0 failed" in send_digests(database).stdout  # a period is tried once
    [digest] = client.get("/api/digests", headers=key).json()["digests"]
    assert digest["lastSent"] is None
    # the first attempt and two retries (the default delays), newest first
    assert [d["attempt"] for d in digest["deliveries"]] == [3, 2, 1]
    for d in digest["deliveries"]:
        assert d["status"] == "error" and "127.0.0.1:9" in d["error"]
    # every attempt is in the delivery log, beside a budget's test, each with its kind
    budget = {
        "kind": "cost",
        "period": "day",
        "amountUsd": 50,
        "thresholds": [100],
        "channel": closed,
    }
    bid = client.post("/api/budgets", headers=key, json=budget).json()["id"]
    client.post(f"/api/budgets/{bid}/test", headers=key)
    log = client.get("/api/alerts", headers=key).json()["deliveries"]
    kinds = sorted((d["kind"], d["attempt"], d["status"]) for d in log)
    assert kinds == [
        ("digest", 1, "error"),
        ("digest", 2, "error"),
        ("digest", 3, "error"),
        ("test", 1, "error"),
    ]
    # nobody else sees them
    assert client.get("/api/alerts", headers=signup(client, "bob")).json()["deliveries"] == []


def test_a_teams_digest_is_its_managers_to_set_and_its_members_to_see(
    client: TestClient[Any],
) -> None:
    owner, member, outsider = signup(client, "olga"), signup(client, "mona"), signup(client, "otto")
    team = client.post("/api/teams", headers=owner, json={"name": "Ops"}).json()
    code = client.post(
        f"/api/teams/{team['id']}/invites", headers=owner, json={"maxUses": 2}
    ).json()["code"]
    assert client.post(f"/api/teams/join/{code}", headers=member).status_code in (200, 201)
    body = {
        "period": "weekly",
        "teamId": team["id"],
        "channel": {"type": "webhook", "url": "http://127.0.0.1:9/hook", "format": "slack"},
    }
    assert client.post("/api/digests", headers=member, json=body).status_code == 403
    assert client.post("/api/digests", headers=outsider, json=body).status_code == 404
    made = client.post("/api/digests", headers=owner, json=body)
    assert made.status_code == 201, made.text
    [seen] = client.get("/api/digests", headers=member).json()["digests"]
    assert seen["teamId"] == team["id"] and "url" not in seen["channel"]
    assert client.delete(f"/api/digests/{seen['id']}", headers=member).status_code == 403
    assert client.delete(f"/api/digests/{seen['id']}", headers=outsider).status_code == 404
    assert client.get("/api/digests", headers=outsider).json()["digests"] == []
    # the team digest's attempts are in its members' delivery log, not the outsider's
    sent = send_digests(client.app.state.settings.database_url, "--period", "weekly")
    assert "0 sent, 1 failed" in sent.stdout
    for who, count in ((owner, 3), (member, 3), (outsider, 0)):
        log = client.get("/api/alerts", headers=who).json()["deliveries"]
        assert [d["kind"] for d in log] == ["digest"] * count
