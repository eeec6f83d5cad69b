"""Plan limits on the server: the collector's readings and plan in the upload, the API that gives
them back (``/api/usage/limits``, ``/api/usage/limits/current``), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from promptpulse.clock import to_ms
from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_api import batch, breakdown, signup
from test_dashboard import log_in
from testclock import NOW, TODAY, FakeClock, iso

pytestmark = pytest.mark.dates

Key = dict[str, str]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(database: str, clock: FakeClock) -> Iterator[TestClient[Any]]:
    settings = Settings(
        database_url=database,
        signup_per_minute=1000,
        uploads_per_minute=1000,
        signup_mode="open",
        clock=clock,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def reading(
    at: dt.datetime,
    five: tuple[float, dt.datetime] | None = None,
    seven: tuple[float, dt.datetime] | None = None,
    session: str | None = "s-1",
    model: str | None = "claude-opus-4-6",
) -> dict[str, Any]:
    out: dict[str, Any] = {"recordedAt": iso(at), "sessionId": session, "model": model}
    if five:
        out["fiveHour"] = {"usedPercentage": five[0], "resetsAt": iso(five[1])}
    if seven:
        out["sevenDay"] = {"usedPercentage": seven[0], "resetsAt": iso(seven[1])}
    return out


H = dt.timedelta(hours=1)
FIVE_RESETS = NOW + 3 * H  # 2 of its 5 hours passed
SEVEN_RESETS = NOW + 48 * H  # 5 of its 7 days passed


def stamp(moment: dt.datetime) -> str:
    """An instant as the API answers it (RFC 3339, UTC, no fraction when there is none)."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def window(pct: float, resets: dt.datetime) -> dict[str, Any]:
    return {"usedPercentage": pct, "resetsAt": stamp(resets)}


def send(
    client: TestClient[Any],
    key: Key,
    batch_id: str,
    machine: str = "m1",
    limits: list[dict[str, Any]] | None = None,
    plan: dict[str, Any] | None = None,
    generated: dt.datetime = NOW,
) -> dict[str, Any]:
    body = batch(batch_id, machine, iso(generated), days={})
    if limits is not None:
        body["limits"] = limits
    if plan is not None:
        body["plan"] = plan
    r = client.post("/api/v1/uploads", headers=key, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def readings(client: TestClient[Any], key: Key, **params: str) -> dict[str, Any]:
    r = client.get("/api/usage/limits", headers=key, params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def current(client: TestClient[Any], key: Key, **params: Any) -> dict[str, Any]:
    r = client.get("/api/usage/limits/current", headers=key, params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_readings_are_stored_once_across_retries_and_machines(client: TestClient[Any]) -> None:
    key = signup(client)
    first = reading(NOW - 2 * H, five=(10.0, FIVE_RESETS), seven=(5.0, SEVEN_RESETS))
    second = reading(NOW - H, five=(30.0, FIVE_RESETS), seven=(9.5, SEVEN_RESETS))
    third = reading(NOW - 0.5 * H, five=(42.0, FIVE_RESETS), session=None, model=None)
    assert send(client, key, "b1", "laptop", [first, second])["limits"] == 2
    again = send(client, key, "b1", "laptop", [first, second])
    assert again["duplicate"] is True and again["limits"] == 0
    # the same account on another machine: the reading it shares is the same reading
    assert send(client, key, "d1", "desktop", [second, third])["limits"] == 1
    # and a new batch that repeats one, with its copy within the batch, stores nothing
    assert send(client, key, "b2", "laptop", [third, third])["limits"] == 0
    got = readings(client, key)["readings"]
    assert got == [
        {
            "recordedAt": stamp(NOW - 2 * H),
            "fiveHour": window(10.0, FIVE_RESETS),
            "sevenDay": window(5.0, SEVEN_RESETS),
            "sessionId": "s-1",
            "model": "claude-opus-4-6",
        },
        {
            "recordedAt": stamp(NOW - H),
            "fiveHour": window(30.0, FIVE_RESETS),
            "sevenDay": window(9.5, SEVEN_RESETS),
            "sessionId": "s-1",
            "model": "claude-opus-4-6",
        },
        {
            "recordedAt": stamp(NOW - 0.5 * H),
            "fiveHour": window(42.0, FIVE_RESETS),
            "sevenDay": None,
            "sessionId": None,
            "model": None,
        },
    ]
    # another user's readings are theirs
    other = signup(client, "bob")
    assert readings(client, other) == {"plan": None, "readings": []}
    assert current(client, other) == {"plan": None, "fiveHour": None, "sevenDay": None}


def test_a_batch_without_plan_or_limits_is_as_before(client: TestClient[Any]) -> None:
    key = signup(client)
    r = client.post("/api/v1/uploads", headers=key, json=batch())
    assert r.status_code == 201, r.text
    assert r.json()["limits"] == 0
    assert readings(client, key) == {"plan": None, "readings": []}
    # a reading of neither window says nothing, and is not kept
    assert send(client, key, "b2", limits=[reading(NOW)])["limits"] == 0


def test_the_plan_is_the_newest_batchs(client: TestClient[Any]) -> None:
    key = signup(client)
    send(client, key, "b1", plan={"name": "max5", "monthlyUsd": 100.0})
    assert readings(client, key)["plan"] == {"name": "max5", "monthlyUsd": 100.0}
    # a batch generated before that one, sent late, does not undo it
    send(client, key, "b0", plan={"name": "pro", "monthlyUsd": 20.0}, generated=NOW - H)
    assert current(client, key)["plan"] == {"name": "max5", "monthlyUsd": 100.0}
    # without a price: the plan's list price; the API is pay as you go
    send(client, key, "b2", plan={"name": "max20"}, generated=NOW + H)
    assert current(client, key)["plan"] == {"name": "max20", "monthlyUsd": 200.0}
    send(client, key, "b3", plan={"name": "api", "monthlyUsd": None}, generated=NOW + 2 * H)
    assert current(client, key)["plan"] == {"name": "api", "monthlyUsd": None}
    # a batch without a plan leaves it
    send(client, key, "b4", generated=NOW + 3 * H)
    assert current(client, key)["plan"] == {"name": "api", "monthlyUsd": None}


def test_current_windows_at_the_clocks_now(client: TestClient[Any], clock: FakeClock) -> None:
    key = signup(client)
    older = reading(NOW - 2 * H, five=(80.0, NOW - H), seven=(11.0, SEVEN_RESETS))
    latest = reading(NOW - 10 * dt.timedelta(minutes=1), five=(42.0, FIVE_RESETS))
    send(client, key, "b1", limits=[older, latest])
    doc = current(client, key)
    five, seven = doc["fiveHour"], doc["sevenDay"]
    assert five["usedPercentage"] == 42.0
    assert five["resetsAt"] == stamp(FIVE_RESETS)
    assert five["recordedAt"] == stamp(NOW - 10 * dt.timedelta(minutes=1))
    assert five["elapsedPercentage"] == pytest.approx(40.0)
    assert five["pace"] == pytest.approx(42 / 40)
    assert five["timeLeftSeconds"] == 3 * 3600
    assert (five["expired"], five["level"]) == (False, "warn")  # ahead of pace
    # the 7-day figure comes from the latest reading that has it
    assert seven["usedPercentage"] == 11.0 and seven["recordedAt"] == stamp(NOW - 2 * H)
    assert seven["elapsedPercentage"] == pytest.approx(100 * 5 / 7)
    assert seven["pace"] == pytest.approx(11 / (100 * 5 / 7))
    assert seven["timeLeftSeconds"] == 48 * 3600
    assert (seven["expired"], seven["level"]) == (False, "ok")
    clock.advance(hours=3, seconds=1)  # past the 5-hour reset
    five = current(client, key)["fiveHour"]
    assert (five["expired"], five["usedPercentage"], five["level"]) == (True, 0.0, "ok")
    assert five["timeLeftSeconds"] == 0 and five["pace"] is None


def test_readings_between_days(client: TestClient[Any]) -> None:
    key = signup(client)
    days = [NOW - dt.timedelta(days=n) for n in (3, 2, 1, 0)]
    send(
        client,
        key,
        "b1",
        limits=[reading(d, five=(float(n), FIVE_RESETS)) for n, d in enumerate(days)],
    )
    since, until = days[1].date().isoformat(), days[2].date().isoformat()
    got = readings(client, key, since=since, until=until)["readings"]
    assert [r["recordedAt"] for r in got] == [stamp(days[1]), stamp(days[2])]
    assert [r["recordedAt"] for r in readings(client, key, limit="2")["readings"]] == [
        stamp(days[2]),
        stamp(days[3]),
    ]
    r = client.get("/api/usage/limits", headers=key, params={"since": until, "until": since})
    assert r.status_code == 400 and "since" in r.json()["detail"]


def _team(client: TestClient[Any], owner: Key, *members: Key) -> int:
    made = client.post("/api/teams", json={"name": "Crew"}, headers=owner)
    assert made.status_code == 201, made.text
    team_id: int = made.json()["id"]
    invite = client.post(f"/api/teams/{team_id}/invites", json={}, headers=owner)
    for key in members:
        joined = client.post(f"/api/teams/join/{invite.json()['code']}", headers=key)
        assert joined.status_code in (200, 201), joined.text
    return team_id


def test_team_members_current_figures_follow_the_team_rules(client: TestClient[Any]) -> None:
    alice = signup(client, "alice")  # the server's first account: its admin
    bob, carol, dave = signup(client, "bob"), signup(client, "carol"), signup(client, "dave")
    team_id = _team(client, bob, carol, dave)
    for n, key in enumerate((alice, bob, carol, dave)):
        send(client, key, "b1", limits=[reading(NOW - H, five=(10.0 * (n + 1), FIVE_RESETS))])
    r = client.patch("/api/users/me", json={"shareWithTeam": False}, headers=dave)
    assert r.status_code == 200
    doc = current(client, carol, team=team_id)
    assert doc["team"]["id"] == team_id and doc["team"]["slug"] == "crew"
    seen = {m["username"]: m["fiveHour"]["usedPercentage"] for m in doc["members"]}
    assert seen == {"bob": 20.0, "carol": 30.0}  # dave does not share; alice is not in it
    # the server admin sees the team as its members do; dave sees himself
    assert {m["username"] for m in current(client, alice, team=team_id)["members"]} == {
        "bob",
        "carol",
    }
    assert {m["username"] for m in current(client, dave, team=team_id)["members"]} == {
        "bob",
        "carol",
        "dave",
    }
    outsider = signup(client, "erin")
    for team in (team_id, 999):
        r = client.get("/api/usage/limits/current", headers=outsider, params={"team": team})
        assert r.status_code == 404, r.text
    assert client.get("/api/usage/limits/current").status_code == 401
    assert client.get("/api/usage/limits").status_code == 401


def test_deleting_an_account_deletes_its_readings(client: TestClient[Any]) -> None:
    key = signup(client)
    other = signup(client, "bob")
    send(client, key, "b1", limits=[reading(NOW, five=(1.0, FIVE_RESETS))])
    send(client, other, "b1", limits=[reading(NOW, five=(2.0, FIVE_RESETS))])
    assert client.delete("/api/users/me", headers=other).status_code == 204
    assert len(readings(client, key)["readings"]) == 1


def _body(**change: Any) -> dict[str, Any]:
    body = batch("hostile", "m1", iso(NOW), days={})
    body["plan"] = {"name": "max5", "monthlyUsd": 100.0}
    body["limits"] = [reading(NOW, five=(42.0, FIVE_RESETS), seven=(12.5, SEVEN_RESETS))]
    body.update(change)
    return body


def _limit(**change: Any) -> list[dict[str, Any]]:
    one = reading(NOW, five=(42.0, FIVE_RESETS), seven=(12.5, SEVEN_RESETS))
    for where, value in change.items():
        *parents, last = where.split("__")
        node = one
        for p in parents:
            node = node[p]
        node[last] = value
    return [one]


HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    (
        "percent 1e9",
        {"limits": _limit(fiveHour__usedPercentage=1e9)},
        "limits[0].fiveHour.usedPercentage",
    ),
    (
        "percent below 0",
        {"limits": _limit(sevenDay__usedPercentage=-1)},
        "limits[0].sevenDay.usedPercentage",
    ),
    (
        "percent as text",
        {"limits": _limit(fiveHour__usedPercentage="42")},
        "limits[0].fiveHour.usedPercentage",
    ),
    ("reset after 2100", {"limits": _limit(fiveHour__resetsAt="2101-01-01T00:00:00Z")}, "resetsAt"),
    (
        "reset without a zone",
        {"limits": _limit(sevenDay__resetsAt="2026-09-20T00:00:00")},
        "limits[0].sevenDay.resetsAt",
    ),
    ("recorded before 2000", {"limits": _limit(recordedAt="1999-12-31T23:59:59Z")}, "recordedAt"),
    ("NUL in model", {"limits": _limit(model="claude\x00opus")}, "limits[0].model"),
    ("NUL in session", {"limits": _limit(sessionId="s\x00")}, "limits[0].sessionId"),
    ("model too long", {"limits": _limit(model="m" * 201)}, "limits[0].model"),
    ("a huge list", {"limits": _limit() * 10_001}, "limits"),
    ("an unknown plan", {"plan": {"name": "free", "monthlyUsd": 0}}, "plan.name"),
    ("a plan price below 0", {"plan": {"name": "pro", "monthlyUsd": -1}}, "plan.monthlyUsd"),
    (
        "a plan price past the bound",
        {"plan": {"name": "pro", "monthlyUsd": 1e6}},
        "plan.monthlyUsd",
    ),
]


@pytest.mark.parametrize(("what", "change", "field"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_limits_are_refused_naming_the_field(
    client: TestClient[Any], what: str, change: dict[str, Any], field: str
) -> None:
    key = signup(client)
    r = client.post("/api/v1/uploads", headers=key, json=_body(**change))
    assert r.status_code == 400, r.text
    assert field in r.text, r.text
    assert readings(client, key) == {"plan": None, "readings": []}


def test_nan_is_no_percentage(client: TestClient[Any]) -> None:
    key = signup(client)
    raw = json.dumps(_body()).replace("42.0", "NaN", 1)
    assert "NaN" in raw
    r = client.post(
        "/api/v1/uploads", content=raw.encode(), headers={**key, "Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert readings(client, key) == {"plan": None, "readings": []}
    ok = client.post("/api/v1/uploads", headers=key, json=_body())
    assert ok.status_code == 201 and ok.json()["limits"] == 1


# --- the pages ------------------------------------------------------------------------------------

EVIL = '<img src=x onerror="window.__pwned=1">'


def _usage_and_readings(client: TestClient[Any], key: Key, pct: float, model: str) -> None:
    body = batch(
        "pages", "m1", iso(NOW), days={TODAY.isoformat(): [breakdown("claude-opus-4-6", cost=250)]}
    )
    body["plan"] = {"name": "max5", "monthlyUsd": 100.0}
    body["limits"] = [
        reading(NOW - 2 * H, seven=(10.0, SEVEN_RESETS)),
        reading(NOW - H, five=(pct, FIVE_RESETS), seven=(12.5, SEVEN_RESETS), model=model),
    ]
    r = client.post("/api/v1/uploads", headers=key, json=body)
    assert r.status_code == 201, r.text


def test_the_overview_card(client: TestClient[Any]) -> None:
    key = signup(client)
    _usage_and_readings(client, key, 42.0, EVIL)
    log_in(client, key)
    html = client.get("/").text
    card = html[html.index('id="limits"') : html.index("</section>", html.index('id="limits"'))]
    assert "Max 5× plan, $100.00 a month" in card
    assert '<span class="level-warn" data-level="warn">42.0%</span>' in card  # ahead of pace
    assert '<span class="level-ok" data-level="ok">12.5%</span>' in card
    resets = to_ms(FIVE_RESETS)
    assert f'resets in <span data-countdown="{resets}" data-now="{to_ms(NOW)}">3h00m</span>' in card
    assert "pace 1.05× (42% used, 40% of the window gone)" in card
    assert "resets in <span" in card and ">2d0h</span>" in card
    month = TODAY.strftime("%b %Y")
    assert f"{month}: $250.00 at API prices = 2.5× the Max 5× plan ($100.00)" in card
    # the model of the last reading shows, as text
    assert EVIL not in html and "&lt;img src=x onerror=" in card
    charts = json.loads(html.split('id="charts">')[1].split("</script>")[0])
    (weekly,) = [c for c in charts if c["id"] == "limits-7d"]
    assert weekly["data"][0]["y"] == [10.0, 12.5]
    assert 'id="limits-7d"' in card


def test_the_overview_says_how_to_get_readings(client: TestClient[Any]) -> None:
    key = signup(client)
    client.post("/api/v1/uploads", headers=key, json=batch())
    log_in(client, key)
    html = client.get("/").text
    assert "No official limit readings yet" in html
    assert "promptpulse setup --statusline" in html
    assert "limits-7d" not in html


def test_the_overview_shows_the_limits_of_whom_it_shows(client: TestClient[Any]) -> None:
    alice, bob, carol = signup(client, "alice"), signup(client, "bob"), signup(client, "carol")
    _team(client, bob, carol)
    _usage_and_readings(client, alice, 95.0, "m")
    _usage_and_readings(client, bob, 20.0, "m")
    _usage_and_readings(client, carol, 30.0, "m")
    log_in(client, carol)
    html = client.get("/?user=bob").text
    assert "20.0%" in html and "30.0%" not in html  # bob's card
    everyone = client.get("/?user=all").text
    assert '<tr data-user="carol">' in everyone and '<tr data-user="bob">' in everyone
    assert "alice" not in everyone and "95.0%" not in everyone  # in no team of carol's
    assert client.get("/?user=alice", headers={"Accept": "text/html"}).status_code == 404


def test_the_team_page_lists_each_members_limits(client: TestClient[Any]) -> None:
    bob, carol, dave = signup(client, "bob"), signup(client, "carol"), signup(client, "dave")
    _team(client, bob, carol, dave)
    for key, pct in ((bob, 20.0), (carol, 91.0)):
        _usage_and_readings(client, key, pct, "m")
    r = client.patch("/api/users/me", json={"displayName": EVIL}, headers=carol)
    assert r.status_code == 200
    _usage_and_readings(client, dave, 50.0, "m")
    assert client.patch("/api/users/me", json={"shareWithTeam": False}, headers=dave).is_success
    log_in(client, bob)
    html = client.get("/teams/crew").text
    table = html[
        html.index('id="member-limits"') : html.index("</table>", html.index('id="member-limits"'))
    ]
    rows = re.findall(r'<tr data-user="([^"]+)">', table)
    assert rows == ["carol", "bob"]  # the closest to a limit first; dave does not share
    assert '<td class="n" data-value="91.0"><span class="level-high"' in table
    assert EVIL not in html and "&lt;img src=x" in table
    assert 'data-sort="num"' in table


def test_the_server_knows_the_collectors_plans() -> None:
    from typing import get_args

    from promptpulse import limits
    from promptpulse_server import schemas

    assert get_args(schemas.PlanName) == limits.PLANS
