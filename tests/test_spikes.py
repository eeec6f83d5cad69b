"""Cost spikes, on SQLite and PostgreSQL: a day that costs more than 3× the median of the
previous 14 active days, and more than the floor ($5), alerts its user once (the alert table's
unique key, period ``spike:<day>``), through their budgets' channels, when an upload lands;
a user can turn it off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings, SettingsError
from test_api import batch, breakdown, signup
from test_budgets import Receiver, cost_budget, receiver, settings_for  # noqa: F401
from testclock import NOW, TODAY, FakeClock, iso

pytestmark = pytest.mark.dates


@pytest.fixture
def client(database: str) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(settings_for(database, FakeClock()))) as c:
        yield c


def upload(
    client: TestClient[Any], key: dict[str, str], batch_id: str, days: dict[Any, float]
) -> None:
    body = batch(
        batch_id,
        "m1",
        iso(NOW),
        days={d.isoformat(): [breakdown("claude-opus-4-6", cost=c)] for d, c in days.items()},
    )
    r = client.post("/api/v1/uploads", headers=key, json=body)
    assert r.status_code == 201, r.text


def history(daily: float) -> dict[dt.date, float]:
    """14 active days before today (with gaps), and an older, dearer one that no longer counts."""
    days = {TODAY - dt.timedelta(days=2 * i): daily for i in range(1, 15)}
    days[TODAY - dt.timedelta(days=40)] = 100.0
    return days


def spikes(rec: Receiver) -> list[dict[str, Any]]:
    return [b for b in rec.bodies() if b["kind"] == "spike"]


def user_with_budget(client: TestClient[Any], name: str, url: str) -> dict[str, str]:
    key = signup(client, name)
    budget = cost_budget(url, amount=100000.0, period="month", thresholds=[100])
    assert client.post("/api/budgets", headers=key, json=budget).status_code == 201
    return key


def test_a_spike_alerts_once(
    client: TestClient[Any],
    receiver: Receiver,  # noqa: F811
) -> None:
    key = user_with_budget(client, "alice", receiver.url)
    upload(client, key, "h", history(2.0))
    upload(client, key, "t1", {TODAY: 6.0})  # 3× the median exactly: not more
    assert spikes(receiver) == []
    upload(client, key, "t2", {TODAY: 7.0})
    [alert] = spikes(receiver)
    assert (alert["used"], alert["median"], alert["ratio"]) == (7.0, 2.0, 3.5)
    assert alert["periodKey"] == f"spike:{TODAY.isoformat()}" and "3.5×" in alert["text"]
    upload(client, key, "t2", {TODAY: 7.0})  # the same upload again
    upload(client, key, "t3", {TODAY: 30.0})  # and more that day
    assert len(spikes(receiver)) == 1
    log = client.get("/api/alerts", headers=key).json()["deliveries"]
    assert [(d["periodKey"], d["status"]) for d in log] == [(f"spike:{TODAY.isoformat()}", "ok")]


def test_no_spike_under_the_floor_without_history_or_when_turned_off(
    client: TestClient[Any],
    receiver: Receiver,  # noqa: F811
) -> None:
    low = user_with_budget(client, "lowe", receiver.url)
    upload(client, low, "h", history(1.0))
    upload(client, low, "t", {TODAY: 4.5})  # 4.5× the usual, under $5
    new = user_with_budget(client, "newt", receiver.url)
    upload(client, new, "h", {TODAY - dt.timedelta(days=1): 1.0, TODAY - dt.timedelta(days=3): 1.0})
    upload(client, new, "t", {TODAY: 50.0})  # two active days: no usual yet
    off = user_with_budget(client, "otis", receiver.url)
    r = client.patch("/api/users/me", headers=off, json={"spikeAlerts": False})
    assert r.status_code == 200 and r.json()["spikeAlerts"] is False
    upload(client, off, "h", history(2.0))
    upload(client, off, "t", {TODAY: 50.0})
    assert spikes(receiver) == []
    # turned on again, the next upload that day alerts
    client.patch("/api/users/me", headers=off, json={"spikeAlerts": True})
    upload(client, off, "t2", {TODAY: 51.0})
    assert len(spikes(receiver)) == 1


def test_a_user_without_budgets_hears_of_a_spike_through_their_digests_once(
    client: TestClient[Any],
    receiver: Receiver,  # noqa: F811
) -> None:
    key = signup(client, "dora")
    hook = {"type": "webhook", "url": receiver.url, "format": "json"}
    for period in ("daily", "weekly"):  # the same channel twice: told once
        made = client.post("/api/digests", headers=key, json={"period": period, "channel": hook})
        assert made.status_code == 201, made.text
    upload(client, key, "h", history(2.0))
    upload(client, key, "t1", {TODAY: 7.0})
    [alert] = spikes(receiver)
    assert (alert["used"], alert["median"], alert["budgetId"]) == (7.0, 2.0, None)
    assert alert["periodKey"] == f"spike:{TODAY.isoformat()}" and alert["digestId"] > 0
    upload(client, key, "t1", {TODAY: 7.0})  # the same upload again
    upload(client, key, "t2", {TODAY: 30.0})  # and more that day
    assert len(spikes(receiver)) == 1
    log = client.get("/api/alerts", headers=key).json()["deliveries"]
    assert [(d["kind"], d["periodKey"], d["digestId"], d["status"]) for d in log] == [
        ("spike", f"spike:{TODAY.isoformat()}", alert["digestId"], "ok")
    ]
    # the digests' own log is not the spike's
    listed = client.get("/api/digests", headers=key).json()["digests"]
    assert all(d["deliveries"] == [] for d in listed)


def test_no_spike_through_digests_when_turned_off_or_without_any_channel(
    client: TestClient[Any],
    receiver: Receiver,  # noqa: F811
) -> None:
    off = signup(client, "otto")
    hook = {"type": "webhook", "url": receiver.url, "format": "json"}
    client.post("/api/digests", headers=off, json={"period": "daily", "channel": hook})
    client.patch("/api/users/me", headers=off, json={"spikeAlerts": False})
    upload(client, off, "h", history(2.0))
    upload(client, off, "t", {TODAY: 50.0})
    nobody = signup(client, "nemo")  # no budget, no digest: nowhere to tell
    upload(client, nobody, "h", history(2.0))
    upload(client, nobody, "t", {TODAY: 50.0})
    assert spikes(receiver) == []
    client.patch("/api/users/me", headers=off, json={"spikeAlerts": True})
    upload(client, off, "t2", {TODAY: 51.0})
    assert len(spikes(receiver)) == 1


def test_the_spike_floor_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    database: str,
    receiver: Receiver,  # noqa: F811
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")
    assert Settings.from_env().spike_floor_usd == 5.0
    monkeypatch.setenv("PROMPTPULSE_SPIKE_FLOOR_USD", "12.50")
    assert Settings.from_env().spike_floor_usd == 12.5
    for bad in ("lots", "-1", "nan", "inf", "2000000"):
        monkeypatch.setenv("PROMPTPULSE_SPIKE_FLOOR_USD", bad)
        with pytest.raises(SettingsError) as caught:
            Settings.from_env()
        said = str(caught.value)
        assert said.startswith("PROMPTPULSE_SPIKE_FLOOR_USD must be") and "\n" not in said
        assert repr(bad) in said
    # the floor is the one the uploads are checked against: $7 is no spike over a $10 floor
    from dataclasses import replace

    settings = replace(settings_for(database, FakeClock()), spike_floor_usd=10.0)
    with TestClient(create_app(settings)) as c:
        key = user_with_budget(c, "fred", receiver.url)
        upload(c, key, "h", history(2.0))
        upload(c, key, "t", {TODAY: 7.0})
        assert spikes(receiver) == []
        upload(c, key, "t2", {TODAY: 10.5})
        assert len(spikes(receiver)) == 1
