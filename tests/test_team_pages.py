"""The pages for people and teams, as a browser uses them (forms with CSRF tokens, session
cookies): signing up with and without an invite, /join links, /teams, /teams/{slug}, the team
switcher and /admin. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_api import breakdown
from test_dashboard import csrf, log_in
from testclock import NOW, TODAY, FakeClock, iso


@pytest.fixture
def settings(database: str) -> Settings:
    return Settings(
        database_url=database,
        secret_key="s",
        signup_per_minute=1000,
        logins_per_minute=1000,
        clock=FakeClock(),
    )  # the default sign-up mode: invite


def browser(settings: Settings) -> TestClient[Any]:
    return TestClient(create_app(settings))


@pytest.fixture
def root(settings: Settings) -> Iterator[TestClient[Any]]:
    with browser(settings) as c:
        yield c


def sign_up(c: TestClient[Any], username: str, code: str = "") -> Any:
    token = csrf(c.get("/signup").text)
    return c.post(
        "/signup",
        data={"username": username, "display_name": "", "invite_code": code, "_csrf_token": token},
    )


def key_of(html: str) -> dict[str, str]:
    found = re.search(r'id="new-key">([^<]+)<', html)
    assert found, "the new account's key is shown once"
    return {"X-API-Key": found.group(1)}


def test_the_first_account_is_the_admin_and_needs_no_invite(root: TestClient[Any]) -> None:
    assert "becomes its <strong>admin</strong>" in root.get("/login").text
    r = sign_up(root, "root")
    assert r.status_code == 201 and "this server's <strong>admin</strong>" in r.text
    assert root.get("/admin").status_code == 200  # logged in by signing up
    assert "becomes its" not in root.get("/login").text
    with browser(root.app.state.settings) as stranger:
        refused = sign_up(stranger, "mallory")
        assert refused.status_code == 400 and "needs an invite code" in refused.text
        assert "pp_session" not in stranger.cookies


def test_an_invite_link_signs_up_joins_and_shows_the_teams_dashboard(
    root: TestClient[Any], settings: Settings
) -> None:
    owner = key_of(sign_up(root, "root").text)
    token = csrf(root.get("/teams").text)
    made = root.post("/teams", data={"name": "Acme <Labs>", "_csrf_token": token})
    assert made.status_code == 200 and made.url.path == "/teams/acme-labs"
    assert "Acme &lt;Labs&gt;" in made.text
    page = root.post(
        "/teams/acme-labs/invites",
        data={"max_uses": "2", "expires_in_hours": "24", "_csrf_token": token},
    )
    link = re.search(r'id="invite-url">[^<]*/join/([^<]+)<', page.text)
    assert link, page.text
    code = link.group(1)
    root.post(
        "/api/v1/uploads",
        headers=owner,
        json={
            "batchId": "o1",
            "generatedAt": iso(NOW),
            "machine": {"id": "m", "hostname": "rootbox"},
            "daily": [{"date": TODAY.isoformat(), "modelBreakdowns": [breakdown("claude-x")]}],
        },
    )
    with browser(settings) as newcomer:
        landing = newcomer.get(f"/join/{code}")
        assert landing.status_code == 200 and 'data-team="acme-labs"' in landing.text
        token = csrf(landing.text)
        joined = newcomer.post(
            "/signup",
            data={
                "username": "nia",
                "display_name": "Nia",
                "invite_code": code,
                "_csrf_token": token,
            },
        )
        assert joined.status_code == 201 and 'data-team="acme-labs"' in joined.text
        team = newcomer.get("/team?team=acme-labs")
        assert team.status_code == 200 and 'data-user="root"' in team.text
        assert "rootbox" in newcomer.get("/machines?team=acme-labs&user=all").text
        detail = newcomer.get("/teams/acme-labs")
        assert 'data-user="nia"' in detail.text and "Create an invite" not in detail.text
        assert newcomer.get("/admin").status_code == 403
    with browser(settings) as third:
        assert sign_up(third, "oli", code).status_code == 201
    with browser(settings) as fourth:  # two uses: spent
        spent = sign_up(fourth, "pat", code)
        assert spent.status_code == 400 and "used up" in spent.text


def test_joining_with_a_code_when_logged_in_and_leaving(
    root: TestClient[Any], settings: Settings
) -> None:
    key_of(sign_up(root, "root").text)
    token = csrf(root.get("/teams").text)
    root.post("/teams", data={"name": "Ops", "_csrf_token": token})
    invite = root.post(
        "/teams/ops/invites", data={"max_uses": "5", "expires_in_hours": "1", "_csrf_token": token}
    )
    code = re.search(r'id="invite-code">([^<]+)<', invite.text).group(1)  # type: ignore[union-attr]
    admin_invite = root.post(
        "/admin/invites", data={"max_uses": "1", "expires_in_hours": "1", "_csrf_token": token}
    )
    signup_code = re.search(r"/join/([^<]+)<", admin_invite.text).group(1)  # type: ignore[union-attr]
    with browser(settings) as sam:
        key = key_of(sign_up(sam, "sam", signup_code).text)  # a sign-up code: no team
        assert sam.get("/teams/ops").status_code == 404
        log_in(sam, key)
        token = csrf(sam.get("/teams").text)
        assert 'data-team="ops"' not in sam.get("/teams").text
        bad = sam.post("/teams/join", data={"code": "nope", "_csrf_token": token})
        assert bad.status_code == 404 and "unknown" in bad.text
        ok = sam.post(
            "/teams/join", data={"code": f"https://x.example/join/{code}", "_csrf_token": token}
        )
        assert ok.status_code == 200 and ok.url.path == "/teams/ops"
        assert sam.post("/teams/ops/leave", data={"_csrf_token": token}).url.path == "/teams"
        assert sam.get("/teams/ops").status_code == 404
    settings.clock.advance(hours=2)  # type: ignore[attr-defined]
    with browser(settings) as late:
        assert late.get(f"/join/{code}").status_code == 404  # expired


def test_the_admin_page_disables_and_enables_an_account(
    root: TestClient[Any], settings: Settings
) -> None:
    key_of(sign_up(root, "root").text)
    token = csrf(root.get("/admin").text)
    invite = root.post(
        "/admin/invites", data={"max_uses": "1", "expires_in_hours": "1", "_csrf_token": token}
    )
    code = re.search(r"/join/([^<]+)<", invite.text).group(1)  # type: ignore[union-attr]
    with browser(settings) as user:
        key = key_of(sign_up(user, "una", code).text)
        assert user.get("/", follow_redirects=False).status_code == 200
        accounts = root.get("/admin").text
        una = re.search(r'action="/admin/users/(\d+)/disable"', accounts)
        assert una and 'data-user="una"' in accounts
        root.post(f"/admin/users/{una.group(1)}/disable", data={"_csrf_token": token})
        assert user.get("/", follow_redirects=False).status_code in (302, 303)  # session ended
        assert user.get("/api/users/me", headers=key).status_code == 401  # key stopped
        root.post(f"/admin/users/{una.group(1)}/enable", data={"_csrf_token": token})
        assert user.get("/api/users/me", headers=key).status_code == 200
