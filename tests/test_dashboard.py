"""The dashboard's pages through the in-process client, on SQLite and on PostgreSQL: what a
person sees on each page equals what the API says."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from promptpulse_server import pages
from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_api import breakdown, signup
from testclock import NOW, TODAY, FakeClock

pytestmark = pytest.mark.dates


def day(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def upload(client: TestClient[Any], key: dict[str, str], machine: str, scale: float = 1) -> None:
    now = NOW.replace(microsecond=0)
    hour = now.replace(minute=0, second=0)
    sessions = [
        {
            "sessionId": f"{machine}-s{n}",
            "projectPath": "api" if n % 2 else "web",
            "firstActivity": iso(now - dt.timedelta(days=n % 20, hours=3)),
            "lastActivity": iso(now - dt.timedelta(days=n % 20, hours=3 - n % 3)),
            "modelBreakdowns": [breakdown("claude-opus-4-6", cost=0.5 * n * scale)],
        }
        for n in range(1, 61)
    ]
    blocks = [
        {
            "startTime": iso(hour - dt.timedelta(hours=1)),
            "endTime": iso(hour + dt.timedelta(hours=4)),
            "actualEndTime": iso(now),
            "entries": 12,
            "costUSD": 3.0 * scale,
            "models": ["claude-opus-4-6"],
            "tokenCounts": {
                "inputTokens": 100,
                "outputTokens": 200,
                "cacheCreationInputTokens": 300,
                "cacheReadInputTokens": 400,
            },
        },
        {
            "startTime": iso(hour - dt.timedelta(days=2)),
            "endTime": iso(hour - dt.timedelta(days=2) + dt.timedelta(hours=5)),
            "actualEndTime": iso(hour - dt.timedelta(days=2) + dt.timedelta(hours=2)),
            "entries": 5,
            "costUSD": 1.0,
            "models": ["claude-sonnet-4-5"],
            "tokenCounts": {
                "inputTokens": 1,
                "outputTokens": 2,
                "cacheCreationInputTokens": 3,
                "cacheReadInputTokens": 4,
            },
        },
    ]
    body = {
        "batchId": f"{machine}-1",
        "generatedAt": iso(now),
        "machine": {"id": machine, "hostname": f"{machine}.local"},
        "daily": [
            {
                "date": day(n),
                "modelBreakdowns": [
                    breakdown("claude-opus-4-6", 100 * n, 50, 10, 1000, 2.0 * scale),
                    breakdown("claude-sonnet-4-5", 10, 5, 1, 100, 0.25 * n),
                ],
            }
            for n in range(0, 40)
        ],
        "sessions": sessions,
        "blocks": blocks,
    }
    r = client.post("/api/v1/uploads", json=body, headers=key)
    assert r.status_code == 201, r.text


@pytest.fixture
def client(database: str) -> Iterator[TestClient[Any]]:
    settings = Settings(
        database_url=database,
        signup_per_minute=1000,
        uploads_per_minute=1000,
        secret_key="test-secret",
        logins_per_minute=1000,
        signup_mode="open",
        clock=FakeClock(),
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def team(client: TestClient[Any]) -> dict[str, dict[str, str]]:
    """alice, bob and carol in one team (alice owns it), and outsider dave, who shares his
    usage but is in no team of theirs. The server's first account, its admin, is root."""
    signup(client, "root")
    keys = {name: signup(client, name) for name in ("alice", "bob", "carol", "dave")}
    crew = client.post("/api/teams", json={"name": "Crew"}, headers=keys["alice"]).json()
    code = client.post(f"/api/teams/{crew['id']}/invites", headers=keys["alice"]).json()["code"]
    for name in ("bob", "carol"):
        assert client.post(f"/api/teams/join/{code}", headers=keys[name]).status_code == 200
    upload(client, keys["dave"], "davebox", scale=5)
    upload(client, keys["alice"], "laptop")
    upload(client, keys["alice"], "desktop", scale=0.5)
    upload(client, keys["bob"], "bobbox", scale=2)
    upload(client, keys["carol"], "carolbox", scale=3)
    client.patch("/api/users/me", json={"shareWithTeam": False}, headers=keys["carol"])
    client.patch(
        "/api/users/me",
        json={"leaderboardOptIn": True, "displayName": "Bob B."},
        headers=keys["bob"],
    )
    return keys


def csrf(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found.group(1)


def log_in(client: TestClient[Any], key: dict[str, str]) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"api_key": key["X-API-Key"], "next": "/", "_csrf_token": csrf(page.text)},
        follow_redirects=False,
    )
    assert r.status_code in (301, 302, 303), r.text
    cookie = r.headers["set-cookie"]
    assert "pp_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def text_of(html: str, attr: str) -> str:
    found = re.search(rf'data-stat="{attr}"[^>]*>([^<]+)<', html)
    assert found, attr
    return found.group(1)


def costs_in(html: str, table: str) -> list[float]:
    part = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [float(v) for v in re.findall(r'data-cost="([^"]+)"', part)]


def test_pages_need_a_login_and_come_back_after(client: TestClient[Any]) -> None:
    for path in ("/", "/team", "/sessions?page=2", "/settings", "/claude-code-stats"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code in (302, 303) and r.headers["location"].startswith("/login?next=")
    login = client.get("/login?next=//evil.example/x")
    assert 'value="/"' in login.text  # never sent to another site after logging in


def test_login_rejects_a_bad_key_and_a_missing_csrf_token(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    page = client.get("/login")
    bad = client.post(
        "/login", data={"api_key": "pp_not-a-real-key-at-all", "_csrf_token": csrf(page.text)}
    )
    assert bad.status_code == 401 and "not valid" in bad.text
    forged = client.post("/login", data={"api_key": team["alice"]["X-API-Key"]})
    assert forged.status_code == 403
    assert "pp_session" not in client.cookies


def test_overview_shows_what_the_api_says(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    html = client.get("/?period=month").text
    api = client.get(
        "/api/usage/aggregate", params={"since": day(29), "until": day(0)}, headers=team["alice"]
    ).json()
    assert text_of(html, "cost") == pages.money(api["totals"]["totalCost"])
    assert text_of(html, "tokens") == pages.tokens(api["totals"]["totalTokens"])
    shown = costs_in(html, "days")
    assert len(shown) == len(api["daily"]) == 30
    assert sorted(shown) == pytest.approx(sorted(d["totalCost"] for d in api["daily"]))
    t = api["totals"]
    rate = t["cacheReadTokens"] / (
        t["inputTokens"] + t["cacheCreationTokens"] + t["cacheReadTokens"]
    )
    assert text_of(html, "cache") == pages.percent(rate)
    # the active block: both machines' running blocks, 3.0 + 1.5
    assert text_of(html, "block") == "$4.50"
    for chart in ("cost-by-model", "daily-cost", "tokens-by-kind"):
        assert f'id="{chart}"' in html
    assert 'id="charts"' in html and "plotly.min.js" in html


def test_filters_are_in_the_url_and_change_the_numbers(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    html = client.get("/?period=week&model=claude-sonnet-4-5&machine=laptop").text
    api = client.get(
        "/api/usage/aggregate",
        params={"since": day(6), "model": "claude-sonnet-4-5", "machine": "laptop"},
        headers=team["alice"],
    ).json()
    assert text_of(html, "cost") == pages.money(api["totals"]["totalCost"])
    assert 'value="claude-sonnet-4-5" selected' in html
    custom = client.get(f"/?period=custom&since={day(3)}&until={day(2)}").text
    two_days = client.get(
        "/api/usage/aggregate", params={"since": day(3), "until": day(2)}, headers=team["alice"]
    ).json()
    assert text_of(custom, "cost") == pages.money(two_days["totals"]["totalCost"])
    everyone = client.get("/?user=all&period=month").text
    bob = client.get("/api/usage/aggregate", params={"since": day(29)}, headers=team["bob"]).json()
    alice = client.get(
        "/api/usage/aggregate", params={"since": day(29)}, headers=team["alice"]
    ).json()
    # carol does not share: everyone is alice and bob
    both = alice["totals"]["totalCost"] + bob["totals"]["totalCost"]
    assert text_of(everyone, "cost") == pages.money(both)
    assert client.get("/?user=carol").status_code == 404
    bad = client.get("/?since=yesterday&period=custom")
    assert bad.status_code == 400 and "since" in bad.text
    project = client.get("/?project=api&period=month").text
    assert "counted on the day it started" in project


def test_overview_exports_its_table(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    r = client.get("/?period=week&format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    api = client.get("/api/usage/aggregate", params={"since": day(6)}, headers=team["alice"]).json()
    assert {row["date"]: float(row["cost_usd"]) for row in rows} == pytest.approx(
        {d["date"]: d["totalCost"] for d in api["daily"]}
    )
    as_json = client.get("/?period=week&format=json").json()
    assert [r["date"] for r in as_json] == [row["date"] for row in rows]
    assert client.get("/?format=xml").status_code == 400


def test_team_view_and_the_seed_page(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    # the team view opens, as every page does, on the viewer's own usage by default
    mine = client.get("/claude-code-stats?period=week").text
    assert 'data-user="alice"' in mine and 'data-user="bob"' not in mine
    assert client.get("/?period=week").text.count('<option value="alice" selected>') == 1
    # chosen once, in the settings: everyone, on every page
    r = client.patch("/api/users/me", json={"defaultView": "all"}, headers=team["alice"])
    assert r.json()["defaultView"] == "all"
    overview = client.get("/?period=week").text
    assert '<option value="all" selected>' in overview
    html = client.get("/claude-code-stats?period=week").text
    assert 'data-user="alice"' in html and 'data-user="bob"' in html
    assert 'data-user="carol"' not in html  # carol does not share
    week = {
        name: client.get(
            "/api/usage/aggregate", params={"since": day(6)}, headers=team[name]
        ).json()["totals"]["totalCost"]
        for name in ("alice", "bob")
    }
    assert sorted(costs_in(html, "team")) == pytest.approx(sorted(week.values()))
    one = client.get("/claude-code-stats?period=month&user=bob").text
    assert 'data-user="bob"' in one and 'data-user="alice"' not in one
    assert client.get("/claude-code-stats?period=year").status_code == 400
    assert client.get("/team").status_code == 200


def test_sessions_sort_and_paginate(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    first = client.get("/sessions?period=month&sort=cost&order=desc").text
    assert "120 sessions" in first  # 60 on each of two machines
    costs = costs_in(first, "sessions")
    assert len(costs) == 50 and costs == sorted(costs, reverse=True)
    assert costs[0] == pytest.approx(30.0)  # the costliest: 0.5 x 60 on the laptop
    third = client.get("/sessions?period=month&sort=cost&order=desc&page=3").text
    assert len(costs_in(third, "sessions")) == 20 and "Page 3 of 3" in third
    cheap = costs_in(client.get("/sessions?period=month&sort=cost&order=asc").text, "sessions")
    assert cheap == sorted(cheap)
    assert client.get("/sessions?sort=nonsense").status_code == 400
    api = client.get("/sessions?project=api&period=month&format=json").json()
    assert api and {r["project"] for r in api} == {"api"}


def test_machines_projects_and_blocks(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    machines = client.get("/machines?period=all").text
    assert "laptop.local" in machines and "desktop.local" in machines
    assert "bobbox.local" not in machines
    api = {
        m["id"]: m["totalCost"]
        for m in client.get("/api/machines", headers=team["alice"]).json()["machines"]
    }
    exported = {
        r["machine_id"]: r["cost_usd"]
        for r in client.get("/machines?period=all&format=json").json()
    }
    assert exported == pytest.approx(api)
    projects = client.get("/projects?period=all&format=json").json()
    by_api = {
        i["key"]: i["totalCost"]
        for i in client.get(
            "/api/usage/analytics/costs", params={"groupBy": "project"}, headers=team["alice"]
        ).json()["items"]
    }
    assert {p["project"]: p["cost_usd"] for p in projects} == pytest.approx(by_api)
    assert 'id="project-cost"' in client.get("/projects?period=all").text
    blocks = client.get("/blocks?period=week")
    assert blocks.status_code == 200 and "<strong>now</strong>" in blocks.text
    assert len(client.get("/blocks?period=week&format=json").json()) == 4


def test_leaderboard_shows_only_who_opted_in(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    html = client.get("/leaderboard?period=week&by=tokens").text
    board = html.split('id="leaderboard"', 1)[1]
    assert "Bob B." in board and "alice" not in board
    assert "You are not on it" in html
    api = client.get("/api/leaderboard/week", params={"by": "tokens"}, headers=team["alice"]).json()
    assert [e["displayName"] for e in api["entries"]] == ["Bob B."]
    assert client.get("/leaderboard?period=decade").status_code == 400


def test_settings_keys_profile_export_and_deletion(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    page = client.get("/settings")
    token = csrf(page.text)
    made = client.post("/settings/keys", data={"label": "ci box", "_csrf_token": token})
    new_key = re.search(r'id="new-key">([^<]+)<', made.text)
    assert made.status_code == 200 and new_key
    assert client.get("/api/users/me", headers={"X-API-Key": new_key.group(1)}).status_code == 200
    key_id = re.findall(r'data-key="(\d+)"', made.text)[-1]
    revoked = client.post(f"/settings/keys/{key_id}/revoke", data={"_csrf_token": token})
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert client.get("/api/users/me", headers={"X-API-Key": new_key.group(1)}).status_code == 401
    assert client.post(f"/settings/keys/{key_id}/revoke").status_code == 403  # no CSRF token

    saved = client.post(
        "/settings/profile",
        data={
            "display_name": "Alice A.",
            "timezone": "Europe/Paris",
            "leaderboard_opt_in": "1",
            "_csrf_token": token,
        },
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    me = client.get("/api/users/me", headers=team["alice"]).json()
    assert (me["displayName"], me["timezone"], me["leaderboardOptIn"], me["shareWithTeam"]) == (
        "Alice A.",
        "Europe/Paris",
        True,
        False,
    )
    bad_zone = client.post(
        "/settings/profile",
        data={"display_name": "A", "timezone": "Mars/Olympus", "_csrf_token": token},
    )
    assert bad_zone.status_code == 400 and "Time zone" in bad_zone.text

    exported = client.get("/settings/export.json").json()
    assert len(exported["daily"]) == 2 * 40 * 2 and len(exported["sessions"]) == 120
    as_csv = list(csv.DictReader(io.StringIO(client.get("/settings/export.csv").text)))
    assert len(as_csv) == len(exported["daily"]) + len(exported["sessions"]) + 4

    refused = client.post("/settings/delete", data={"confirm": "bob", "_csrf_token": token})
    assert refused.status_code == 400
    gone = client.post(
        "/settings/delete", data={"confirm": "alice", "_csrf_token": token}, follow_redirects=False
    )
    assert gone.status_code in (302, 303)
    assert client.get("/api/users/me", headers=team["alice"]).status_code == 401


def test_a_login_link_works_once(client: TestClient[Any], team: dict[str, dict[str, str]]) -> None:
    r = client.post("/api/login-links", headers=team["bob"])
    assert r.status_code == 201
    path = r.json()["path"]
    assert team["bob"]["X-API-Key"] not in r.json()["url"]
    first = client.get(path, follow_redirects=False)
    assert first.status_code in (302, 303) and "pp_session=" in first.headers["set-cookie"]
    assert ">Bob B.<" in client.get("/").text
    client.cookies.clear()
    again = client.get(path)
    assert again.status_code == 410 and "already used or has expired" in again.text
    assert client.get("/login/not-a-token").status_code == 410
    assert client.post("/api/login-links").status_code == 401


def test_an_expired_login_link_is_refused(database: str) -> None:
    clock = FakeClock()
    settings = Settings(
        database_url=database, signup_per_minute=1000, login_link_seconds=120, clock=clock
    )
    with TestClient(create_app(settings)) as c:
        key = signup(c, "dave")
        fresh = c.post("/api/login-links", headers=key).json()["path"]
        stale = c.post("/api/login-links", headers=key).json()["path"]
        clock.advance(seconds=119)
        assert c.get(fresh, follow_redirects=False).status_code in (302, 303)
        clock.advance(seconds=1)  # 120 s: expired
        assert c.get(stale).status_code == 410


def test_logout_ends_the_session(client: TestClient[Any], team: dict[str, dict[str, str]]) -> None:
    log_in(client, team["alice"])
    token = csrf(client.get("/").text)
    saved = dict(client.cookies)
    client.post("/logout", data={"_csrf_token": token})
    for k, v in saved.items():  # even a copy of the old cookie no longer works
        client.cookies.set(k, v)
    assert client.get("/", follow_redirects=False).status_code in (302, 303)


def test_a_new_user_is_told_how_to_connect(client: TestClient[Any]) -> None:
    log_in(client, signup(client, "erin"))
    for path in ("/", "/sessions", "/machines", "/projects", "/blocks"):
        html = client.get(path).text
        assert "promptpulse login --server" in html, path


def test_assets_are_served_compressed_and_cached(client: TestClient[Any]) -> None:
    login = client.get("/login")
    assert "default-src 'self'" in login.headers["content-security-policy"]
    log_in(client, signup(client, "frank"))
    for path in ("/", "/team?user=frank", "/projects", "/blocks"):  # empty: nothing to draw
        assert "plotly.min.js" not in client.get(path).text, path
    urls = re.findall(r'"(/static/[0-9a-f]+/(?:app\.css|app\.js))"', login.text)
    assert len(urls) == 2
    from promptpulse_server import web

    urls.append(web.static_url("plotly.min.js"))
    for url in urls:
        r = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert "immutable" in r.headers["cache-control"]
        again = client.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
    assert client.get("/static/x/evil.js").status_code == 404


def test_the_session_cookie_is_secure_over_https(database: str) -> None:
    settings = Settings(
        database_url=database,
        signup_per_minute=1000,
        secret_key="s",
        signup_mode="open",
        clock=FakeClock(),
    )
    with TestClient(create_app(settings), base_url="https://dash.example") as c:
        key = signup(c, "gwen")
        path = c.post("/api/login-links", headers=key).json()["path"]
        cookie = c.get(path, follow_redirects=False).headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
    with TestClient(create_app(settings)) as plain:  # http: a browser would drop a Secure one
        key = signup(plain, "hugo")
        path = plain.post("/api/login-links", headers=key).json()["path"]
        assert "Secure" not in plain.get(path, follow_redirects=False).headers["set-cookie"]


def _stat(html: str, name: str) -> str:
    found = re.search(rf'data-stat="{name}"[^>]*>([^<]+)<', html)
    assert found, f"the page shows {name}"
    return found.group(1)


def _aggregate(client: TestClient[Any], key: dict[str, str], **params: str) -> Any:
    r = client.get("/api/usage/aggregate", params=params, headers=key)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_new_cards_equal_the_api(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    """Month over month (in total and per model), the month's projection and the usage
    pattern on the overview equal what the API says for the same days."""
    log_in(client, team["alice"])
    key = team["alice"]
    html = client.get("/?period=week").text
    now = _aggregate(client, key, since=day(6), until=day(0))
    before = _aggregate(client, key, since=day(13), until=day(7))
    assert _stat(html, "cost") == pages.money(now["totals"]["totalCost"])
    assert _stat(html, "cost-before") == pages.money(before["totals"]["totalCost"])

    def per_model(report: Any) -> dict[str, float]:
        out: dict[str, float] = {}
        for d in report["daily"]:
            for m in d["modelBreakdowns"]:
                out[m["modelName"]] = out.get(m["modelName"], 0.0) + m["cost"]
        return out

    shown = dict(re.findall(r'<tr data-model="([^"]+)">.*?data-change="([^"]*)"', html))
    was, is_ = per_model(before), per_model(now)
    assert set(shown) == set(is_)
    for model, ratio in shown.items():
        assert float(ratio) == pytest.approx((is_[model] - was[model]) / was[model])

    first = TODAY.replace(day=1)
    month = _aggregate(client, key, since=first.isoformat(), until=TODAY.isoformat())
    days = calendar.monthrange(TODAY.year, TODAY.month)[1]
    assert _stat(html, "month-so-far") == pages.money(month["totals"]["totalCost"])
    assert _stat(html, "projected") == pages.money(month["totals"]["totalCost"] / TODAY.day * days)

    # the heatmap over all time holds the cost the API's patterns count, hour by hour
    everything = client.get("/?period=all").text
    charts = json.loads(everything.split('id="charts">', 1)[1].split("</script>", 1)[0])
    grid = next(c for c in charts if c["id"] == "usage-pattern")["data"][0]["z"]
    hours = client.get(
        "/api/usage/analytics/patterns", params={"period": "day"}, headers=key
    ).json()["points"]
    for point in hours:
        assert sum(row[point["key"]] for row in grid) == pytest.approx(point["totalCost"])
    # all time has no period before it: no comparison, but the projection stays
    assert "cost-before" not in everything and 'data-stat="projected"' in everything


def _searches_upload(client: TestClient[Any], key: dict[str, str]) -> None:
    """Thirty days of three models: Opus searches the web on even days (more each day),
    Sonnet on every third day, Haiku never; days 21 to 30 have no search at all."""

    def row(model: str, cost: float, searches: int) -> dict[str, Any]:
        return breakdown(model, cost=cost + searches * 0.01) | {
            "webSearchRequests": searches,
            "webSearchCost": searches * 0.01,
        }

    body = {
        "batchId": "searcher-1",
        "generatedAt": iso(NOW.replace(microsecond=0)),
        "machine": {"id": "searcher", "hostname": "searcher.local"},
        "daily": [
            {
                "date": day(n),
                "modelBreakdowns": [
                    row("claude-opus-4-6", 2.0, n + 1 if n % 2 == 0 and n <= 20 else 0),
                    row("claude-sonnet-4-5", 0.5, 2 if n % 3 == 0 and n <= 20 else 0),
                    row("claude-haiku-4-5", 0.1, 0),
                ],
            }
            for n in range(0, 31)
        ],
    }
    r = client.post("/api/v1/uploads", json=body, headers=key)
    assert r.status_code == 201, r.text


def _search_card(html: str) -> str:
    return html.split('id="web-search"', 1)[1].split('id="projection"', 1)[0]


def test_the_web_search_card_equals_the_api(client: TestClient[Any]) -> None:
    """The overview's web search card (its cost, its count of searches, its donut and the
    donut's legend) holds what /api/usage/aggregate says for the same days and filters; a
    period without a search says so."""
    key = signup(client, "sam")
    _searches_upload(client, key)
    log_in(client, key)
    views = (
        ("period=week", {"since": day(6), "until": day(0)}),
        ("period=month", {"since": day(29), "until": day(0)}),
        (
            "period=month&model=claude-sonnet-4-5",
            {"since": day(29), "until": day(0), "model": "claude-sonnet-4-5"},
        ),
        (f"period=custom&since={day(20)}&until={day(12)}", {"since": day(20), "until": day(12)}),
    )
    for query, params in views:
        html = client.get(f"/?{query}").text
        api = _aggregate(client, key, **params)
        totals = api["totals"]
        per_model: dict[str, float] = {}
        for d in api["daily"]:
            for m in d["modelBreakdowns"]:
                if m["webSearchCost"]:
                    per_model[m["modelName"]] = (
                        per_model.get(m["modelName"], 0) + m["webSearchCost"]
                    )
        assert totals["webSearchRequests"] > 0 and per_model, query  # the data searches here
        assert _stat(html, "web-search-cost") == pages.money(totals["webSearchCost"]), query
        assert _stat(html, "web-searches") == f"{totals['webSearchRequests']:,}", query
        charts = json.loads(html.split('id="charts">', 1)[1].split("</script>", 1)[0])
        (pie,) = next(c for c in charts if c["id"] == "web-search-by-model")["data"]
        assert dict(zip(pie["customdata"], pie["values"], strict=True)) == pytest.approx(
            per_model
        ), query
        assert sum(pie["values"]) == pytest.approx(totals["webSearchCost"]), query
        legend = dict(
            re.findall(r'title="([^"]+)">.*?<span class="n">([^<]+)</span>', _search_card(html))
        )
        assert legend == {m: pages.money(c) for m, c in per_model.items()}, query
        assert "No web searches in this period" not in html, query

    # Haiku never searched, nor did anyone in days 21 to 30: the card says so, as the API does
    for query, params in (
        ("period=month&model=claude-haiku-4-5", {"since": day(29), "model": "claude-haiku-4-5"}),
        (f"period=custom&since={day(30)}&until={day(21)}", {"since": day(30), "until": day(21)}),
    ):
        html = client.get(f"/?{query}").text
        totals = _aggregate(client, key, **params)["totals"]
        assert totals["totalCost"] > 0 and totals["webSearchRequests"] == 0, query
        assert _stat(html, "web-search-cost") == pages.money(totals["webSearchCost"]) == "$0.00"
        assert _stat(html, "web-searches") == "0"
        card = _search_card(html)
        assert "No web searches in this period." in card and 'id="web-search-by-model"' not in card
        charts = json.loads(html.split('id="charts">', 1)[1].split("</script>", 1)[0])
        assert all(c["data"] == [] for c in charts if c["id"] == "web-search-by-model"), query


def test_a_reversed_range_is_explained_on_the_page(
    client: TestClient[Any], team: dict[str, dict[str, str]]
) -> None:
    log_in(client, team["alice"])
    r = client.get(f"/?period=custom&since={day(2)}&until={day(9)}")
    assert r.status_code == 200
    assert "came after the “To” day" in r.text
    right = _aggregate(client, team["alice"], since=day(9), until=day(2))
    assert _stat(r.text, "cost") == pages.money(right["totals"]["totalCost"])
