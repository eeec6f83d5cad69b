"""The HTTP API through the in-process client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from testclock import NOW, TODAY, FakeClock, iso

pytestmark = pytest.mark.dates


@pytest.fixture
def settings(database: str) -> Settings:
    return Settings(
        database_url=database,
        signup_per_minute=1000,
        uploads_per_minute=1000,
        signup_mode="open",
        clock=FakeClock(),
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(settings)) as c:
        yield c


def signup(client: TestClient[Any], name: str = "alice") -> dict[str, str]:
    r = client.post("/api/users", json={"username": name})
    assert r.status_code == 201, r.text
    return {"X-API-Key": r.json()["apiKey"]}


def breakdown(
    model: str, i: int = 10, o: int = 20, cw: int = 30, cr: int = 40, cost: float = 1.5
) -> dict[str, Any]:
    return {
        "modelName": model,
        "inputTokens": i,
        "outputTokens": o,
        "cacheCreationTokens": cw,
        "cacheReadTokens": cr,
        "cost": cost,
    }


def batch(
    batch_id: str = "b1",
    machine: str = "m1",
    generated: str = "2026-03-05T10:00:00Z",
    days: dict[str, list[dict[str, Any]]] | None = None,
    sessions: Any = (),
    blocks: Any = (),
) -> dict[str, Any]:
    days = (
        days
        if days is not None
        else {
            "2026-03-01": [breakdown("claude-opus-4-6", cost=2.0), breakdown("claude-haiku-4-5")],
            "2026-03-02": [breakdown("claude-opus-4-6", 1, 2, 3, 4, 0.25)],
        }
    )
    return {
        "batchId": batch_id,
        "generatedAt": generated,
        "machine": {"id": machine, "hostname": f"{machine}.local"},
        "daily": [{"date": d, "modelBreakdowns": m} for d, m in days.items()],
        "sessions": list(sessions),
        "blocks": list(blocks),
    }


def aggregate(client: TestClient[Any], key: dict[str, str], **params: str) -> dict[str, Any]:
    r = client.get("/api/usage/aggregate", headers=key, params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_health_touches_the_database(client: TestClient[Any], database: str) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "database": "sqlite" if database.startswith("sqlite") else "postgresql",
    }


def test_accounts_and_keys(client: TestClient[Any]) -> None:
    key = signup(client)
    assert key["X-API-Key"].startswith("pp_")
    taken = client.post("/api/users", json={"username": "ALICE"})
    assert taken.status_code == 409 and "taken" in taken.json()["detail"]
    bad = client.post("/api/users", json={"username": "a b"})
    assert bad.status_code == 400 and bad.json()["extra"][0]["key"] == "username"
    assert client.get("/api/users").status_code == 401
    users = client.get("/api/users", headers=key).json()
    assert [u["username"] for u in users] == ["alice"]
    assert "apiKey" not in users[0] and "keyHash" not in users[0]
    second = client.post("/api/keys", headers=key, json={"label": "laptop"}).json()
    listed = client.get("/api/keys", headers=key).json()
    assert [k["label"] for k in listed] == ["first key", "laptop"]
    assert all("apiKey" not in k for k in listed)
    assert client.delete(f"/api/keys/{second['id']}", headers=key).status_code == 204
    revoked = {"X-API-Key": second["apiKey"]}
    assert client.get("/api/users/me", headers=revoked).status_code == 401
    assert (
        client.get("/api/users/me", headers={"X-API-Key": "pp_wrong" + "x" * 30}).status_code == 401
    )
    assert client.get("/api/users/me", headers=key).json()["username"] == "alice"


def test_upload_then_aggregate_in_ccusage_shape(client: TestClient[Any]) -> None:
    key = signup(client)
    r = client.post("/api/v1/uploads", headers=key, json=batch())
    assert r.status_code == 201, r.text
    assert r.json() == {
        "batchId": "b1",
        "duplicate": False,
        "daily": 2,
        "sessions": 0,
        "blocks": 0,
        "limits": 0,
        "budgets": [],  # none past a threshold (test_budgets.py)
    }
    doc = aggregate(client, key)
    first = doc["daily"][0]
    assert first["date"] == "2026-03-01"
    assert (
        first["inputTokens"],
        first["outputTokens"],
        first["cacheCreationTokens"],
        first["cacheReadTokens"],
        first["totalTokens"],
    ) == (20, 40, 60, 80, 200)
    assert first["totalCost"] == 3.5
    assert [m["modelName"] for m in first["modelBreakdowns"]] == [
        "claude-opus-4-6",
        "claude-haiku-4-5",
    ]
    assert doc["totals"]["totalTokens"] == 200 + 10
    assert doc["totals"]["totalCost"] == 3.75


def test_web_searches_are_stored_and_shown_and_count_in_the_cost(client: TestClient[Any]) -> None:
    """A cost includes its web search cost, as the collector sends it; a row without the
    fields (an older collector) has none."""
    key = signup(client)
    searched = breakdown("claude-opus-4-6", cost=2.05) | {
        "webSearchRequests": 5,
        "webSearchCost": 0.05,
    }
    days = {"2026-03-01": [searched, breakdown("claude-haiku-4-5")]}
    sessions = [session("s1", "alpha", "2026-03-01T10:00:00Z")]
    sessions[0]["modelBreakdowns"][0] |= {"webSearchRequests": 2, "webSearchCost": 0.02}
    block = {
        "startTime": "2026-03-01T09:00:00Z",
        "endTime": "2026-03-01T14:00:00Z",
        "entries": 3,
        "costUSD": 2.0,
        "webSearchRequests": 3,
        "webSearchCost": 0.03,
    }
    r = client.post(
        "/api/v1/uploads", headers=key, json=batch(days=days, sessions=sessions, blocks=[block])
    )
    assert r.status_code == 201, r.text
    doc = aggregate(client, key)
    (day,) = doc["daily"]
    assert (day["webSearchRequests"], day["webSearchCost"], day["totalCost"]) == (5, 0.05, 3.55)
    opus, haiku = day["modelBreakdowns"]
    assert (opus["webSearchRequests"], opus["webSearchCost"]) == (5, 0.05)
    assert (haiku["webSearchRequests"], haiku["webSearchCost"]) == (0, 0.0)
    assert (doc["totals"]["webSearchRequests"], doc["totals"]["webSearchCost"]) == (5, 0.05)
    assert doc["totals"]["totalCost"] == 3.55
    (got,) = client.get("/api/usage/sessions", headers=key).json()["sessions"]
    assert (got["webSearchRequests"], got["webSearchCost"]) == (2, 0.02)
    (b,) = client.get("/api/usage/blocks", headers=key).json()["blocks"]
    assert (b["webSearchRequests"], b["webSearchCost"], b["costUSD"]) == (3, 0.03, 2.0)
    # an older collector's row: no fields, none stored
    old = batch("b2", days={"2026-03-02": [breakdown("claude-opus-4-6")]})
    assert client.post("/api/v1/uploads", headers=key, json=old).status_code == 201
    day2 = aggregate(client, key, since="2026-03-02")["daily"][0]
    assert (day2["webSearchRequests"], day2["webSearchCost"]) == (0, 0.0)
    # bounded like every count and cost
    for field, value in [("webSearchRequests", -1), ("webSearchCost", 1e10)]:
        bad_days = {"2026-03-03": [breakdown("claude-opus-4-6") | {field: value}]}
        bad = client.post("/api/v1/uploads", headers=key, json=batch("b3", days=bad_days))
        assert bad.status_code == 400 and field in bad.text, bad.text


def test_same_batch_twice_changes_nothing(client: TestClient[Any]) -> None:
    key = signup(client)
    client.post("/api/v1/uploads", headers=key, json=batch())
    before = aggregate(client, key)
    again = client.post("/api/v1/uploads", headers=key, json=batch())
    assert again.json()["duplicate"] is True
    assert aggregate(client, key) == before


def test_newer_batch_replaces_a_day_older_does_not(client: TestClient[Any]) -> None:
    key = signup(client)
    client.post("/api/v1/uploads", headers=key, json=batch())
    newer = batch(
        "b2",
        generated="2026-03-06T10:00:00Z",
        days={"2026-03-02": [breakdown("claude-opus-4-6", 5, 5, 5, 5, 1.0)]},
    )
    client.post("/api/v1/uploads", headers=key, json=newer)
    older = batch(
        "b0",
        generated="2026-03-01T10:00:00Z",
        days={"2026-03-02": [breakdown("claude-opus-4-6", 9, 9, 9, 9, 9.0)]},
    )
    assert client.post("/api/v1/uploads", headers=key, json=older).json()["daily"] == 0
    days = {d["date"]: d for d in aggregate(client, key)["daily"]}
    assert days["2026-03-02"]["totalTokens"] == 20  # the newer batch's
    assert days["2026-03-01"]["totalTokens"] == 200  # untouched


def test_a_replaced_day_loses_the_models_the_newer_batch_no_longer_has(
    client: TestClient[Any],
) -> None:
    """The bulk upsert replaces a day as a whole, also from a batch of the same time."""
    key = signup(client)
    client.post("/api/v1/uploads", headers=key, json=batch())
    same_time = batch("b2", days={"2026-03-01": [breakdown("claude-sonnet-4-5", 1, 1, 1, 1, 0.5)]})
    assert client.post("/api/v1/uploads", headers=key, json=same_time).json()["daily"] == 1
    days = {d["date"]: d for d in aggregate(client, key)["daily"]}
    assert [m["modelName"] for m in days["2026-03-01"]["modelBreakdowns"]] == ["claude-sonnet-4-5"]
    assert days["2026-03-01"]["totalTokens"] == 4
    assert days["2026-03-02"]["totalTokens"] == 10  # not in the batch: untouched
    # an older batch with more models adds none of them, and counts the day as not stored
    older = batch("b0", generated="2026-03-04T00:00:00Z")
    assert client.post("/api/v1/uploads", headers=key, json=older).json()["daily"] == 0
    assert aggregate(client, key)["daily"] == list(days.values())


def test_concurrent_uploads_of_one_machine_end_at_the_newest_batch(
    client: TestClient[Any],
) -> None:
    """Eight batches of one machine (and each sent twice) race; whatever the order, each day
    holds the newest batch's rows and every batch id is stored once."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    key = signup(client)
    bodies = [
        batch(
            f"race-{n}",
            generated=f"2026-03-05T10:00:0{n}Z",
            days={
                "2026-03-01": [breakdown("claude-opus-4-6", n, n, n, n, float(n))],
                "2026-03-02": [breakdown(f"model-{n}", n, 0, 0, 0, 0.0)],
            },
        )
        for n in range(8)
    ] * 2
    random.Random(3).shuffle(bodies)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda b: client.post("/api/v1/uploads", headers=key, json=b), bodies)
        )
    assert {a.status_code for a in answers} == {201}
    assert sum(not a.json()["duplicate"] for a in answers) == 8
    days = {d["date"]: d for d in aggregate(client, key)["daily"]}
    assert days["2026-03-01"]["totalTokens"] == 4 * 7 and days["2026-03-01"]["totalCost"] == 7
    assert [m["modelName"] for m in days["2026-03-02"]["modelBreakdowns"]] == ["model-7"]


def test_machines_are_kept_apart_and_summed(client: TestClient[Any]) -> None:
    key = signup(client)
    client.post("/api/v1/uploads", headers=key, json=batch("a", "m1"))
    client.post("/api/v1/uploads", headers=key, json=batch("b", "m2"))
    client.post(
        "/api/v1/uploads",
        headers=key,
        json=batch(
            "c",
            "m2",
            generated="2026-03-07T00:00:00Z",
            days={"2026-03-01": [breakdown("claude-haiku-4-5", 1, 1, 1, 1, 0.1)]},
        ),
    )
    total = aggregate(client, key)["totals"]["totalTokens"]
    assert total == 210 + 4 + 10
    assert aggregate(client, key, machine="m1")["totals"]["totalTokens"] == 210
    assert aggregate(client, key, model="claude-haiku-4-5")["totals"]["totalTokens"] == 100 + 4
    assert [d["date"] for d in aggregate(client, key, since="20260302")["daily"]] == ["2026-03-02"]
    machines = client.get("/api/machines", headers=key).json()["machines"]
    assert sorted((m["id"], m["totalTokens"]) for m in machines) == [("m1", 210), ("m2", 14)]


def test_users_see_only_their_own_usage(client: TestClient[Any]) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob")
    client.post("/api/v1/uploads", headers=alice, json=batch())
    assert aggregate(client, bob)["daily"] == []
    assert client.get("/api/machines", headers=bob).json()["machines"] == []


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (
            lambda b: b["daily"][0]["modelBreakdowns"][0].__setitem__("inputTokens", -1),
            400,
            "daily[0].modelBreakdowns[0].inputTokens",
        ),
        (
            lambda b: b["daily"][0]["modelBreakdowns"][0].__setitem__("outputTokens", 1.5),
            400,
            "daily[0].modelBreakdowns[0].outputTokens",
        ),
        (lambda b: b["daily"][0].__setitem__("date", "March 1st"), 400, "daily[0].date"),
        (lambda b: b.pop("machine"), 400, "machine"),
        (lambda b: b.__setitem__("generatedAt", "2026-03-05T10:00:00"), 400, "generatedAt"),
        (
            lambda b: b.__setitem__(
                "blocks", [{"startTime": "2026-03-01T10:00:00Z", "endTime": "2026-03-01T09:00:00Z"}]
            ),
            400,
            "blocks[0]",
        ),
    ],
)
def test_bad_bodies_name_the_field_and_store_nothing(
    client: TestClient[Any], change: Any, status: int, field: str
) -> None:
    key = signup(client)
    body = copy.deepcopy(batch())
    change(body)
    r = client.post("/api/v1/uploads", headers=key, json=body)
    assert r.status_code == status, r.text
    assert field in str(r.json()["extra"])
    assert "Traceback" not in r.text
    assert aggregate(client, key)["daily"] == []
    assert client.get("/api/machines", headers=key).json()["machines"] == []


def test_a_row_past_a_bound_is_named_by_its_field(client: TestClient[Any]) -> None:
    """The batch's rows are checked a column at a time; the answer still names the row and
    field at fault (not the first row, not the whole body), and nothing of the batch is kept."""
    key = signup(client)
    days = {d: [breakdown("claude-opus-4-6")] for d in ("2026-03-01", "2026-03-02", "1999-12-31")}
    twice = [breakdown("claude-opus-4-6"), breakdown("claude-opus-4-6")]
    for body, field, message in [
        (batch(days=days), "daily[2].date", "1999-12-31 is not between 2000-01-01 and 2100-12-31"),
        (
            batch(days={"2026-03-01": [breakdown("m")], "2026-03-02": twice}),
            "daily[1].modelBreakdowns",
            "'claude-opus-4-6' listed more than once",
        ),
    ]:
        r = client.post("/api/v1/uploads", headers=key, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["extra"] == [{"message": message, "key": field, "source": "body"}]
    assert aggregate(client, key)["daily"] == []


def test_invalid_json_missing_key_and_oversized_bodies(settings: Settings) -> None:
    small = replace(settings, max_body_bytes=2000)
    with TestClient(create_app(small)) as client:
        key = signup(client)
        r = client.post(
            "/api/v1/uploads",
            headers={**key, "Content-Type": "application/json"},
            content=b'{"batchId": ',
        )
        assert r.status_code == 400
        assert client.post("/api/v1/uploads", json=batch()).status_code == 401
        big = batch(days={f"2026-01-{d:02d}": [breakdown("m")] for d in range(1, 29)})
        r = client.post("/api/v1/uploads", headers=key, json=big)
        assert r.status_code == 413
        assert aggregate(client, key)["daily"] == []


def test_rate_limits_on_signup(settings: Settings) -> None:
    strict = replace(settings, signup_per_minute=2)
    with TestClient(create_app(strict)) as client:
        key = signup(client, "user1")
        assert client.post("/api/users", json={"username": "user2"}).status_code == 201
        r = client.post("/api/users", json={"username": "user3"})
        assert r.status_code == 429
        # uploads have a budget of their own
        assert client.post("/api/v1/uploads", headers=key, json=batch()).status_code == 201


def test_ccusage_daily_json_for_the_keys_own_user(client: TestClient[Any]) -> None:
    key = signup(client)
    v20 = {
        "daily": [
            {
                "date": "2026-03-01",
                "inputTokens": 10,
                "outputTokens": 20,
                "cacheCreationTokens": 30,
                "cacheReadTokens": 40,
                "totalTokens": 100,
                "totalCost": 1.5,
                "modelsUsed": ["claude-opus-4-6"],
                "modelBreakdowns": [breakdown("claude-opus-4-6")],
            }
        ],
        "totals": {
            "inputTokens": 10,
            "outputTokens": 20,
            "cacheCreationTokens": 30,
            "cacheReadTokens": 40,
            "totalTokens": 100,
            "totalCost": 1.5,
        },
    }
    url = "/claude-code-stats?username=alice&machine=work"
    assert client.post(url, headers=key, json=v20).status_code == 201
    assert client.post(url, headers=key, json=v20).json()["duplicate"] is True
    old = {
        "daily": [
            {
                "date": "2026-03-02",
                "inputTokens": 1,
                "outputTokens": 2,
                "cacheCreationTokens": 0,
                "cacheReadTokens": 0,
                "totalTokens": 3,
                "totalCost": 0.01,
            }
        ]
    }
    assert client.post(url, headers=key, json=old).status_code == 201
    doc = aggregate(client, key)
    assert [(d["date"], d["totalTokens"]) for d in doc["daily"]] == [
        ("2026-03-01", 100),
        ("2026-03-02", 3),
    ]
    assert doc["daily"][1]["modelsUsed"] == ["unknown"]
    other = client.post("/claude-code-stats?username=bob&machine=work", headers=key, json=v20)
    assert other.status_code == 403 and "username" in other.json()["detail"]
    assert client.post("/claude-code-stats?machine=work", headers=key, json=v20).status_code == 400


def session(sid: str, project: str, last: str, cost: float = 1.0) -> dict[str, Any]:
    return {
        "sessionId": sid,
        "projectPath": project,
        "firstActivity": "2026-03-01T09:00:00Z",
        "lastActivity": last,
        "modelBreakdowns": [
            breakdown("claude-opus-4-6", cost=cost),
            breakdown("claude-haiku-4-5", cost=0.5),
        ],
    }


def test_sessions_blocks_patterns_and_costs(client: TestClient[Any]) -> None:
    key = signup(client)
    now = NOW.replace(minute=0, second=0, microsecond=0)
    blocks = [
        {
            "startTime": "2026-03-01T09:00:00Z",
            "endTime": "2026-03-01T14:00:00Z",
            "actualEndTime": "2026-03-01T10:00:00Z",
            "entries": 3,
            "costUSD": 2.0,
            "tokenCounts": {
                "inputTokens": 1,
                "outputTokens": 2,
                "cacheCreationInputTokens": 3,
                "cacheReadInputTokens": 4,
            },
            "models": ["claude-opus-4-6"],
        },
        {
            "startTime": iso(now),
            "endTime": iso(now + dt.timedelta(hours=5)),
            "actualEndTime": iso(now),
            "entries": 1,
            "costUSD": 1.0,
            "models": [],
        },
        {"startTime": "2026-03-01T14:00:00Z", "endTime": "2026-03-01T16:00:00Z", "isGap": True},
    ]
    sessions = [
        session("s1", "alpha", "2026-03-01T10:00:00Z", 3.0),
        session("s2", "beta", "2026-03-02T10:00:00Z"),
    ]
    r = client.post("/api/v1/uploads", headers=key, json=batch(sessions=sessions, blocks=blocks))
    assert r.json()["sessions"] == 2 and r.json()["blocks"] == 2
    got = client.get("/api/usage/sessions", headers=key).json()["sessions"]
    assert [s["sessionId"] for s in got] == ["s2", "s1"]
    assert got[1]["totalCost"] == 3.5 and got[1]["totalTokens"] == 200
    assert [
        s["sessionId"]
        for s in client.get(
            "/api/usage/sessions", headers=key, params={"projectPath": "alpha"}
        ).json()["sessions"]
    ] == ["s1"]
    assert (
        len(client.get("/api/usage/sessions", headers=key, params={"limit": 1}).json()["sessions"])
        == 1
    )
    assert client.get("/api/usage/sessions", headers=key, params={"limit": 0}).status_code == 400
    all_blocks = client.get("/api/usage/blocks", headers=key).json()["blocks"]
    assert len(all_blocks) == 2
    active = client.get("/api/usage/blocks", headers=key, params={"activeOnly": "true"}).json()[
        "blocks"
    ]
    assert [b["isActive"] for b in active] == [True]
    hours = client.get("/api/usage/analytics/patterns", headers=key).json()["points"]
    assert hours[9]["totalTokens"] == 10 and len(hours) == 24
    week = client.get(
        "/api/usage/analytics/patterns",
        headers=key,
        params={"period": "week", "timezone": "Asia/Kolkata"},
    ).json()
    expected = [0.0] * 7
    expected[6] += 2.0  # 2026-03-01 09:00 UTC is a Sunday in India
    expected[now.astimezone(ZoneInfo("Asia/Kolkata")).weekday()] += 1.0  # the running block
    assert [p["totalCost"] for p in week["points"]] == expected
    by_project = client.get(
        "/api/usage/analytics/costs", headers=key, params={"groupBy": "project"}
    ).json()["items"]
    assert [(i["key"], i["totalCost"]) for i in by_project] == [("alpha", 3.5), ("beta", 1.5)]
    by_model = client.get(
        "/api/usage/analytics/costs", headers=key, params={"groupBy": "model"}
    ).json()["items"]
    assert by_model[0] == {"key": "claude-opus-4-6", "totalTokens": 110, "totalCost": 2.25}
    bad = client.get("/api/usage/analytics/costs", headers=key, params={"groupBy": "color"})
    assert bad.status_code == 400


def test_leaderboard_shows_only_users_who_opted_in(client: TestClient[Any]) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob")
    today = TODAY.isoformat()  # both users count their days in UTC
    for key, cost in [(alice, 2.0), (bob, 5.0)]:
        client.post(
            "/api/v1/uploads",
            headers=key,
            json=batch(
                days={
                    today: [breakdown("claude-opus-4-6", cost=cost)],
                    "2020-01-01": [breakdown("claude-opus-4-6", cost=100.0)],
                }
            ),
        )
    assert client.get("/api/leaderboard/week", headers=alice).json()["entries"] == []
    r = client.patch(
        "/api/users/me", headers=alice, json={"leaderboardOptIn": True, "displayName": "Alice A."}
    )
    assert r.json()["leaderboardOptIn"] is True
    client.patch("/api/users/me", headers=bob, json={"leaderboardOptIn": True})
    board = client.get("/api/leaderboard/today", headers=alice).json()["entries"]
    assert [(e["rank"], e["displayName"], e["totalCost"]) for e in board] == [
        (1, "bob", 5.0),
        (2, "Alice A.", 2.0),
    ]
    all_time = client.get("/api/leaderboard/all", headers=alice).json()["entries"]
    assert all_time[0]["totalCost"] == 105.0
    assert client.get("/api/leaderboard/decade", headers=alice).status_code == 400
    tz = client.patch("/api/users/me", headers=alice, json={"timezone": "Mars/Base"})
    assert tz.status_code == 400 and "timezone" in tz.json()["detail"]


def test_deleting_an_account_deletes_its_data(client: TestClient[Any]) -> None:
    key = signup(client)
    client.post(
        "/api/v1/uploads",
        headers=key,
        json=batch(sessions=[session("s1", "p", "2026-03-01T10:00:00Z")]),
    )
    assert client.delete("/api/users/me", headers=key).status_code == 204
    assert client.get("/api/users/me", headers=key).status_code == 401
    again = signup(client)
    assert aggregate(client, again)["daily"] == []


def test_openapi_schema_types_every_endpoint(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    for path in [
        "/health",
        "/api/users",
        "/api/v1/uploads",
        "/claude-code-stats",
        "/api/usage/aggregate",
        "/api/machines",
        "/api/usage/sessions",
        "/api/usage/blocks",
        "/api/usage/analytics/patterns",
        "/api/usage/analytics/costs",
        "/api/leaderboard/{period}",
        "/api/keys",
    ]:
        assert path in schema["paths"], path
    assert "UploadBatch" in str(schema["components"]["schemas"])


def test_gzip_bodies_are_accepted_and_limited(settings: Settings) -> None:
    import json

    small = replace(settings, max_body_bytes=20_000)
    with TestClient(create_app(small)) as client:
        key = signup(client)
        headers = {**key, "Content-Type": "application/json", "Content-Encoding": "gzip"}
        body = gzip.compress(json.dumps(batch()).encode())
        r = client.post("/api/v1/uploads", headers=headers, content=body)
        assert r.status_code == 201, r.text
        assert aggregate(client, key)["totals"]["totalTokens"] == 210
        assert (
            client.post("/api/v1/uploads", headers=headers, content=b"not gzip").status_code == 400
        )
        bomb = gzip.compress(b" " * 1_000_000)  # small compressed, large inflated
        assert len(bomb) < 20_000
        assert client.post("/api/v1/uploads", headers=headers, content=bomb).status_code == 413
