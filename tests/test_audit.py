"""The audit log: who did what, written with the change; each user sees their own entries, a
server admin everyone's; nothing secret and nothing unbounded goes in."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, text

from promptpulse_server.app import create_app
from serving import SERVER
from test_dashboard import csrf, log_in
from test_teams import make_settings, ok
from testclock import NOW, FakeClock

pytestmark = pytest.mark.dates

AGENT = {"User-Agent": "agent/1.0 " + "x" * 1000 + "\x01"}


@pytest.fixture
def client(database: str) -> Iterator[TestClient[Any]]:
    settings = make_settings(database, FakeClock(), signup_mode="open")
    with TestClient(create_app(settings)) as c:
        yield c


def sign_up(client: TestClient[Any], name: str) -> dict[str, str]:
    made = ok(client.post("/api/users", json={"username": name}, headers=AGENT), 201)
    return {"X-API-Key": made["apiKey"]}


def actions(client: TestClient[Any], key: dict[str, str], **query: Any) -> list[str]:
    entries = ok(client.get("/api/audit", params=query, headers=key))["entries"]
    return [e["action"] for e in entries]


def all_rows(database: str) -> list[dict[str, Any]]:
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM audit_entry ORDER BY id")).mappings()
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def test_who_did_what_and_who_sees_it(client: TestClient[Any], database: str) -> None:
    root = sign_up(client, "root")  # the first account: the server admin
    ann = sign_up(client, "ann")
    bob = sign_up(client, "bob")
    made = ok(client.post("/api/keys", json={"label": "laptop"}, headers=ann), 201)
    ok(client.delete(f"/api/keys/{made['id']}", headers=ann), 204)
    assert client.delete("/api/keys/999999", headers=ann).status_code == 404  # changes nothing
    team = ok(client.post("/api/teams", json={"name": "Crew"}, headers=ann), 201)
    tid = team["id"]
    ok(client.put(f"/api/teams/{tid}", json={"name": "Crew 2"}, headers=ann))
    invite = ok(client.post(f"/api/teams/{tid}/invites", headers=ann), 201)
    ok(client.post(f"/api/teams/join/{invite['code']}", headers=bob))
    bob_id = next(
        m["userId"]
        for m in ok(client.get(f"/api/teams/{tid}/members", headers=ann))["members"]
        if m["username"] == "bob"
    )
    ok(
        client.put(
            f"/api/teams/{tid}/members/{bob_id}/promote", json={"role": "admin"}, headers=ann
        )
    )
    ok(client.delete(f"/api/teams/{tid}/invites/{invite['code']}", headers=ann), 204)
    ok(client.delete(f"/api/teams/{tid}/members/{bob_id}", headers=ann), 204)
    ok(client.post(f"/api/admin/users/{bob_id}/disable", headers=root))
    ok(client.post(f"/api/admin/users/{bob_id}/enable", headers=root))
    ok(client.delete(f"/api/teams/{tid}", headers=ann), 204)

    assert actions(client, ann) == [
        "team_deleted",
        "member_removed",
        "invite_revoked",
        "role_changed",
        "invite_created",
        "team_renamed",
        "team_created",
        "key_revoked",
        "key_created",
        "account_created",
    ]
    # bob sees what he did and what was done to his account, not ann's own business
    assert actions(client, bob) == [
        "user_enabled",
        "user_disabled",
        "member_removed",
        "role_changed",
        "member_joined",
        "account_created",
    ]
    everything = actions(client, root)
    assert len(everything) == 15 and everything.count("account_created") == 3
    assert actions(client, root, user="bob") == actions(client, bob)
    assert actions(client, root, action="key_created") == ["key_created"]
    assert actions(client, ann, action="role_changed") == ["role_changed"]
    # only admins look at others' entries
    refused = client.get("/api/audit", params={"user": "ann"}, headers=bob)
    assert refused.status_code == 403 and "user" in refused.json()["detail"]
    assert client.get("/api/audit", params={"user": "nobody"}, headers=root).status_code == 404

    entries = ok(client.get("/api/audit", headers=root))["entries"]
    by_action = {e["action"]: e for e in entries}
    role = by_action["role_changed"]
    assert (role["actor"], role["subject"], role["teamId"]) == ("ann", "bob", tid)
    assert role["detail"] == "team crew: member → admin"
    assert by_action["user_disabled"]["actor"] == "root"
    assert by_action["key_created"]["detail"] == "key 'laptop'"
    assert by_action["team_deleted"]["at"].startswith(NOW.strftime("%Y-%m-%dT%H:%M:%S"))
    first = entries[-1]
    assert first["via"] == "api" and first["ip"] == "testclient"
    assert len(first["userAgent"]) == 200 and first["userAgent"].startswith("agent/1.0 x")
    # no key, and no invite code, anywhere in the log
    stored = repr(all_rows(database))
    for secret in (made["apiKey"], invite["code"], *root.values(), *ann.values(), *bob.values()):
        assert secret not in stored


def test_pages_and_pagination(client: TestClient[Any], database: str) -> None:
    root = sign_up(client, "root")
    ann = sign_up(client, "ann")
    for n in range(5):
        ok(client.post("/api/keys", json={"label": f"k{n}"}, headers=ann), 201)
    first = ok(client.get("/api/audit", params={"limit": 2}, headers=ann))
    assert [e["detail"] for e in first["entries"]] == ["key 'k4'", "key 'k3'"]
    second = ok(
        client.get("/api/audit", params={"limit": 2, "before": first["nextBefore"]}, headers=ann)
    )
    assert [e["detail"] for e in second["entries"]] == ["key 'k2'", "key 'k1'"]
    last = ok(client.get("/api/audit", params={"before": second["nextBefore"]}, headers=ann))
    assert [e["action"] for e in last["entries"]] == ["key_created", "account_created"]
    assert last["nextBefore"] is None
    for bad, field in (({"limit": 201}, "limit"), ({"action": "hack"}, "action")):
        r = client.get("/api/audit", params=bad, headers=ann)
        assert r.status_code == 400 and field in r.text

    # dashboard logins, failed ones too, and the Settings and /admin sections
    page = client.get("/login")
    r = client.post("/login", data={"api_key": "pp_wrong", "_csrf_token": csrf(page.text)})
    assert r.status_code == 401
    log_in(client, ann)
    settings = client.get("/settings")
    assert "Activity" in settings.text and "key_created" in settings.text
    assert "login_failed" not in settings.text  # nobody's: admins only
    client.cookies.clear()
    log_in(client, root)
    admin = client.get("/admin")
    assert "login_failed" in admin.text and "ann" in admin.text
    rows = all_rows(database)
    logins = [(r["action"], r["actor_name"], r["via"]) for r in rows if "login" in r["action"]]
    assert logins == [
        ("login_failed", None, "web"),
        ("login", "ann", "web"),
        ("login", "root", "web"),
    ]
    assert "pp_wrong" not in repr(rows)


def test_account_deletion_and_the_command_line(client: TestClient[Any], database: str) -> None:
    root = sign_up(client, "root")
    ann = sign_up(client, "ann")
    sign_up(client, "cat")
    env = dict(os.environ, DATABASE_URL=database)
    for command in (["users", "promote", "cat"], ["create-user", "dan"]):
        subprocess.run([*SERVER, *command], env=env, check=True, capture_output=True)
    ok(client.delete("/api/users/me", headers=ann), 204)
    cat_id = next(
        u["id"]
        for u in ok(client.get("/api/admin/users", headers=root))["users"]
        if u["username"] == "cat"
    )
    ok(client.delete(f"/api/admin/users/{cat_id}", headers=root), 204)
    entries = ok(client.get("/api/audit", headers=root))["entries"]
    said = [(e["action"], e["actor"], e["subject"], e["via"]) for e in entries[:4]]
    assert said == [
        ("account_deleted", "root", "cat", "api"),
        ("account_deleted", "ann", "ann", "api"),
        ("account_created", None, "dan", "cli"),
        ("user_promoted", None, "cat", "cli"),
    ]
    assert entries[3]["ip"] is None and entries[3]["userAgent"] is None
    # the entries outlive the accounts; their ids are gone with them
    rows = all_rows(database)
    assert all(r["actor_id"] is None for r in rows if r["actor_name"] == "ann")
