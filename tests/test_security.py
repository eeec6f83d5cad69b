"""What a hostile user can send, and what it must not do to anyone: names that try to break out
of the page, spreadsheet formulas, sums that would overflow, other people's session details,
revoked keys that keep a dashboard open, and requests that race. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, insert, select

from promptpulse_server.app import create_app
from promptpulse_server.models import DailyUsage, Machine, SessionUsage, User
from promptpulse_server.settings import Settings
from serving import Server
from test_api import breakdown, signup
from test_dashboard import client, csrf, log_in  # noqa: F401  (the fixture)
from testclock import NOW, TODAY, FakeClock, iso

pytestmark = pytest.mark.dates

EVIL_MODEL = 'x</script><meta http-equiv="refresh" content="0;url=https://evil.example/">'
EVIL_PROJECT = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("https://evil.example/","click")'


def upload(http: TestClient[Any], key: dict[str, str], **rows: Any) -> httpx.Response:
    body = {
        "batchId": rows.pop("batch", "b1"),
        "generatedAt": iso(NOW),
        "machine": {"id": rows.pop("machine", "laptop"), "hostname": "laptop"},
        **rows,
    }
    return http.post("/api/v1/uploads", json=body, headers=key)


def session_row(project: str, model: str, cost: float = 1.0) -> dict[str, Any]:
    return {
        "sessionId": "s1",
        "projectPath": project,
        "firstActivity": iso(NOW.replace(hour=1)),
        "lastActivity": iso(NOW.replace(hour=2)),
        "modelBreakdowns": [breakdown(model, cost=cost)],
    }


def charts_of(html: str) -> Any:
    found = re.search(r'<script type="application/json" id="charts">(.*?)</script>', html, re.S)
    assert found, "the page has its chart data"
    return json.loads(found.group(1))


def test_hostile_names_reach_pages_as_text_and_the_chart_data_still_parses(
    client: TestClient[Any],  # noqa: F811
) -> None:
    key = signup(client, "mallory")
    r = upload(
        client,
        key,
        daily=[{"date": TODAY.isoformat(), "modelBreakdowns": [breakdown(EVIL_MODEL)]}],
        sessions=[session_row(EVIL_PROJECT, EVIL_MODEL)],
    )
    assert r.status_code == 201, r.text
    log_in(client, key)
    for path in ("/?period=week", "/projects?period=week", "/sessions?period=week"):
        html = client.get(path).text
        assert "<meta http-equiv" not in html and "<img src=x" not in html, path
        if path != "/sessions?period=week":
            names = json.dumps(charts_of(html))
            assert json.dumps(EVIL_MODEL if path.startswith("/?") else EVIL_PROJECT)[1:-1] in names
    assert "&lt;/script&gt;" in client.get("/?period=week").text  # shown, as text


def test_csv_exports_neutralise_formulas(client: TestClient[Any]) -> None:  # noqa: F811
    key = signup(client, "mallory")
    upload(client, key, sessions=[session_row(FORMULA, "claude-opus-4-6")])
    log_in(client, key)
    for path in ("/projects?period=week&format=csv", "/sessions?period=week&format=csv"):
        rows = list(csv.DictReader(io.StringIO(client.get(path).text)))
        assert [r["project"] for r in rows] == ["'" + FORMULA], path
    account = list(csv.DictReader(io.StringIO(client.get("/settings/export.csv").text)))
    assert [r["project"] for r in account if r["project"]] == ["'" + FORMULA]
    as_json = client.get("/projects?period=week&format=json").json()
    assert as_json[0]["project"] == FORMULA  # JSON carries the name as it is


def _store_directly(url: str, user_ids: list[int]) -> None:
    """Rows no upload may carry any more, as an older server or a hand edit may have left them."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for uid in user_ids:
            mid = conn.execute(
                select(Machine.id).where(Machine.user_id == uid).limit(1)
            ).scalar_one()
            for n in range(3):
                values = dict(
                    machine_id=mid,
                    date=TODAY.replace(day=1 + n),
                    model="claude-opus-4-6",
                    input_tokens=2**62,
                    output_tokens=2**62,
                    cache_creation_tokens=2**62,
                    cache_read_tokens=2**62,
                    cost=1e308,
                    uploaded_at=NOW,
                )
                conn.execute(insert(DailyUsage).values(**values))
            conn.execute(
                insert(SessionUsage).values(
                    machine_id=mid,
                    project="huge",
                    session_id="h",
                    first_activity=NOW,
                    last_activity=NOW,
                    model="claude-opus-4-6",
                    input_tokens=2**62,
                    output_tokens=2**62,
                    cache_creation_tokens=2**62,
                    cache_read_tokens=2**62,
                    cost=1e308,
                    uploaded_at=NOW,
                )
            )
    engine.dispose()


def test_no_sum_overflows_whatever_is_stored(
    client: TestClient[Any],  # noqa: F811
    database: str,
) -> None:
    keys = [signup(client, name) for name in ("huge1", "huge2")]
    for key in keys:
        assert upload(client, key, daily=[{"date": TODAY.isoformat()}]).status_code == 201
        client.patch("/api/users/me", json={"leaderboardOptIn": True}, headers=key)
    engine = create_engine(database)
    with engine.connect() as conn:
        ids = list(conn.execute(select(User.id).order_by(User.id)).scalars())
    engine.dispose()
    _store_directly(database, ids)
    for path in (
        "/api/usage/aggregate",
        "/api/machines",
        "/api/leaderboard/all",
        "/api/usage/analytics/costs?groupBy=project",
        "/api/usage/sessions",
    ):
        r = client.get(path, headers=keys[0])
        assert r.status_code == 200, (path, r.text)
    total = client.get("/api/usage/aggregate", headers=keys[0]).json()["totals"]["totalTokens"]
    assert total >= 12 * 2**62  # exact on PostgreSQL, within float precision on SQLite
    log_in(client, keys[0])
    for path in ("/team", "/machines?user=all", "/leaderboard?period=all", "/?period=all"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
    for path in ("/team?format=json", "/?period=all&format=csv"):
        assert client.get(path).status_code == 200, path


def test_session_details_never_come_from_another_user(
    client: TestClient[Any],  # noqa: F811
) -> None:
    ann, eve = signup(client, "ann"), signup(client, "eve")
    # the same machine id, project and session id on both accounts
    upload(client, ann, sessions=[session_row("p", "claude-haiku-4-5")])
    upload(client, eve, sessions=[session_row("p", "claude-secret-model")])
    client.patch("/api/users/me", json={"shareWithTeam": False}, headers=eve)
    log_in(client, ann)
    page = client.get("/sessions?period=week")
    assert "haiku-4-5" in page.text and "claude-secret-model" not in page.text
    assert "claude-secret-model" not in client.get("/sessions?period=week&format=csv").text


def test_a_revoked_key_ends_the_dashboard_sessions_it_opened(
    client: TestClient[Any],  # noqa: F811
) -> None:
    first = signup(client, "kim")
    second = {
        "X-API-Key": client.post("/api/keys", json={"label": "2"}, headers=first).json()["apiKey"]
    }
    link = client.post("/api/login-links", headers=second).json()["path"]
    log_in(client, second)
    assert client.get("/", follow_redirects=False).status_code == 200
    keys = client.get("/api/keys", headers=first).json()
    second_id = next(k["id"] for k in keys if k["label"] == "2")
    assert client.delete(f"/api/keys/{second_id}", headers=first).status_code == 204
    gone = client.get("/settings", follow_redirects=False)
    assert gone.status_code in (302, 303) and "/login" in gone.headers["location"]
    assert client.get(link).status_code == 410  # a link made with it no longer works
    log_in(client, first)  # the other key still opens the dashboard
    assert client.get("/", follow_redirects=False).status_code == 200


def test_guessing_keys_on_the_login_form_is_rate_limited(database: str) -> None:
    settings = Settings(
        database_url=database, logins_per_minute=3, secret_key="s", clock=FakeClock()
    )
    with TestClient(create_app(settings)) as c:
        token = csrf(c.get("/login").text)
        codes = [
            c.post("/login", data={"api_key": f"pp_guess{n}", "_csrf_token": token}).status_code
            for n in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/usage/aggregate?until=9999-12-31", "until"),
        ("/api/usage/aggregate?since=1000-01-01&until=2026-01-01", "since"),
        ("/api/usage/aggregate?since=2026-02-01&until=2026-01-01", "since"),
        ("/api/usage/aggregate?model=a%00b", "model"),
        ("/api/usage/sessions?projectPath=a%00b", "projectPath"),
        ("/api/usage/analytics/patterns?period=week&timezone=UTC%00", "timezone"),
    ],
)
def test_hostile_query_parameters_get_a_400_naming_them(
    client: TestClient[Any],  # noqa: F811
    path: str,
    field: str,
) -> None:
    key = signup(client, "quinn")
    r = client.get(path, headers=key)
    assert r.status_code == 400 and field in r.text, r.text


def test_hostile_page_parameters(client: TestClient[Any]) -> None:  # noqa: F811
    key = signup(client, "quinn")
    assert client.delete("/api/keys/99999999999", headers=key).status_code in (400, 404)
    log_in(client, key)
    for path, field in [
        ("/sessions?page=1000000000000", "page"),
        ("/?period=custom&since=0001-01-01&until=9999-12-31", "since"),
        ("/?model=a%00b", "model"),
        ("/machines?machine=" + "m" * 5000, "machine"),
    ]:
        r = client.get(path)
        assert r.status_code == 400 and field in r.text, (path, r.status_code)


# --- races, against the real server --------------------------------------------------------


def _together(n: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """n calls at once from n threads, released by one barrier."""
    barrier = threading.Barrier(n)
    out: list[httpx.Response | None] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        out[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


@pytest.fixture
def live(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PROMPTPULSE_SIGNUPS_PER_MINUTE", "1000")
    monkeypatch.setenv("PROMPTPULSE_UPLOADS_PER_MINUTE", "1000")
    server = Server(database, tmp_path / "home")
    server.start()
    yield server
    server.stop()


def test_racing_sign_ups_of_one_name_in_any_case_make_one_account(live: Server) -> None:
    names = ["bob", "BOB", "Bob", "bOb"] * 3
    with httpx.Client(base_url=live.base, timeout=30) as http:
        answers = _together(
            len(names), lambda i: http.post("/api/users", json={"username": names[i]})
        )
        codes = sorted(r.status_code for r in answers)
        assert codes == [201] + [409] * (len(names) - 1), [r.text for r in answers]
        key = {"X-API-Key": next(r.json()["apiKey"] for r in answers if r.status_code == 201)}
        assert len([u for u in http.get("/api/users", headers=key).json()]) == 1


def test_racing_first_uploads_of_a_new_machine(live: Server) -> None:
    with httpx.Client(base_url=live.base, timeout=60) as http:
        key = {"X-API-Key": http.post("/api/users", json={"username": "racer"}).json()["apiKey"]}

        def send(i: int) -> httpx.Response:
            body = {
                "batchId": f"b{i % 4}",  # some batches sent twice at once, too
                "generatedAt": iso(NOW),
                "machine": {"id": "new-machine", "hostname": "new"},
                "daily": [
                    {"date": TODAY.isoformat(), "modelBreakdowns": [breakdown("claude-opus-4-6")]}
                ],
            }
            return http.post("/api/v1/uploads", json=body, headers=key)

        answers = _together(8, send)
        assert [r.status_code for r in answers] == [201] * 8, [r.text for r in answers]
        assert len(http.get("/api/machines", headers=key).json()["machines"]) == 1
        daily = http.get("/api/usage/aggregate", headers=key).json()["daily"]
        assert [d["totalTokens"] for d in daily] == [100]  # one row, never doubled


def test_racing_joins_respect_an_invites_use_limit(live: Server) -> None:
    with httpx.Client(base_url=live.base, timeout=60) as http:
        keys = [
            {"X-API-Key": http.post("/api/users", json={"username": f"joiner{n}"}).json()["apiKey"]}
            for n in range(9)
        ]
        owner = keys[0]
        team = http.post("/api/teams", json={"name": "Busy"}, headers=owner).json()
        code = http.post(
            f"/api/teams/{team['id']}/invites", json={"maxUses": 3}, headers=owner
        ).json()["code"]
        # eight people at once, and one of them twice
        callers = [*keys[1:], keys[1]]
        answers = _together(
            len(callers), lambda i: http.post(f"/api/teams/join/{code}", headers=callers[i])
        )
        assert all(r.status_code in (200, 404) for r in answers), [r.text for r in answers]
        members = http.get(f"/api/teams/{team['id']}/members", headers=owner).json()["members"]
        assert len(members) == 1 + 3  # the owner and three joiners: the limit held
        assert len({m["userId"] for m in members}) == len(members)  # nobody twice
        invites = http.get(f"/api/teams/{team['id']}/invites", headers=owner).json()["invites"]
        assert invites[0]["uses"] == 3
