"""Sign-up with invites and the `team` commands, as people run them: the real server as a
process (on SQLite and on PostgreSQL), the real collector, one home per person."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving import Server

PP = [sys.executable, "-m", "promptpulse"]


@pytest.fixture
def server(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.delenv("PROMPTPULSE_SIGNUP", raising=False)  # the default sign-up mode: invite
    s = Server(database, tmp_path / "server-home")
    s.start()
    yield s
    s.stop()


class Person:
    """Someone with their own promptpulse home, running the collector without a terminal."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name = name
        self.home = tmp_path / f"home-{name}"
        self.env = dict(os.environ, PROMPTPULSE_HOME=str(self.home), COLUMNS="160")

    def pp(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PP, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def ok(self, *args: str) -> str:
        out = self.pp(*args)
        assert out.returncode == 0, (args, out.stdout, out.stderr)
        return out.stdout

    def refused(self, *args: str) -> str:
        """The one line a refused command prints (exit 2, no traceback)."""
        out = self.pp(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
        return lines[0]

    def login(self, server: Server, *invite: str) -> str:
        return self.ok("login", "--server", server.base, "--username", self.name, *invite)

    def key(self) -> str:
        path = self.home / "config" / "config.json"
        return str(json.loads(path.read_text()).get("api_key", "")) if path.exists() else ""


def invite_code(printed: str) -> str:
    (line,) = [x for x in printed.splitlines() if x.startswith("code: ")]
    return line.removeprefix("code: ").strip()


def row(table: str, *cells: str) -> bool:
    """Whether one line of a rendered table has all these cells."""
    return any(
        set(cells) <= {cell.strip() for cell in line.split("│")} for line in table.splitlines()
    )


def test_the_first_account_is_admin_and_invites_bring_people_into_a_team(
    server: Server, tmp_path: Path
) -> None:
    admin, bob = Person("admin", tmp_path), Person("bob", tmp_path)

    first = admin.login(server)  # an empty server: no invite needed
    assert f"Logged in to {server.base} as admin" in first
    assert "You are this server's admin" in first

    line = bob.refused("login", "--server", server.base, "--username", "bob")
    assert "needs an invite code" in line and "promptpulse login --invite CODE" in line
    assert bob.key() == ""

    created = admin.ok("team", "create", "Acme")
    assert "Created the team Acme (acme); you are its owner." in created
    printed = admin.ok("team", "invite")  # the admin's only team
    code = invite_code(printed)
    assert "Invite to Acme (acme): up to 10 use(s)" in printed
    (url,) = [x.removeprefix("url:").strip() for x in printed.splitlines() if x.startswith("url:")]
    assert url.startswith(server.base) and code in url
    assert httpx.get(url).status_code == 200  # the invite's page on the dashboard

    joined = bob.login(server, "--invite", code)
    assert "You joined the team Acme (acme) as member." in joined
    assert "admin" not in joined.replace("promptpulse", "")
    assert bob.key().startswith("pp_")

    listed = bob.ok("team", "list")
    assert row(listed, "Name", "Slug", "Your role", "Members")
    assert row(listed, "Acme", "acme", "member", "2")
    (team,) = json.loads(bob.ok("team", "list", "--json"))["teams"]
    assert (team["name"], team["slug"], team["role"], team["members"]) == (
        "Acme",
        "acme",
        "member",
        2,
    )

    members = admin.ok("team", "members", "acme")
    assert row(members, "admin", "owner") and row(members, "bob", "member")
    roles = {
        m["username"]: m["role"]
        for m in json.loads(bob.ok("team", "members", "ACME", "--json"))["members"]
    }
    assert roles == {"admin": "owner", "bob": "member"}

    assert bob.ok("team", "leave", "acme") == "You left Acme (acme).\n"
    assert "You are in no team" in bob.ok("team", "list")
    assert row(admin.ok("team", "list"), "Acme", "acme", "owner", "1")

    owner = admin.refused("team", "leave", "acme")
    assert "you own Acme: make another member its owner before you leave" in owner
    assert row(admin.ok("team", "members", "acme"), "admin", "owner")


def test_joining_with_an_account_and_the_invites_that_do_not_work(
    server: Server, tmp_path: Path
) -> None:
    admin, carol, dave = (Person(n, tmp_path) for n in ("admin", "carol", "dave"))
    admin.login(server)
    admin.ok("team", "create", "Acme")
    admin.ok("team", "create", "Beta Corp")

    several = admin.refused("team", "invite")
    assert "you are in 2 teams; name one:" in several and "acme" in several
    assert "beta-corp" in several
    assert "no team 'gamma'" in admin.refused("team", "invite", "gamma")
    assert "--max-uses must be" in admin.refused("team", "invite", "acme", "--max-uses", "0")

    acme = invite_code(admin.ok("team", "invite", "acme"))
    beta = invite_code(admin.ok("team", "invite", "beta-corp", "--max-uses", "1"))
    assert "up to 1 use(s)" in admin.ok("team", "invite", "beta-corp", "--max-uses", "1")

    carol.login(server, "--invite", acme)
    joining = carol.ok("team", "join", beta)
    first, second = joining.splitlines()
    assert first.startswith("Team Beta Corp (beta-corp), 1 member(s)")
    assert second == "You are in Beta Corp (beta-corp) as member."
    assert {t["slug"] for t in json.loads(carol.ok("team", "list", "--json"))["teams"]} == {
        "acme",
        "beta-corp",
    }

    # the beta invite was good for one person: it is used up, for sign-up and for joining
    assert "the invite code was refused" in dave.refused(
        "login", "--server", server.base, "--username", "dave", "--invite", beta
    )
    assert dave.key() == ""
    dave.login(server, "--invite", acme)
    assert "does not work" in dave.refused("team", "join", beta)
    assert "does not work" in dave.refused("team", "join", "no-such-code")

    sign_up = httpx.post(
        f"{server.base}/api/admin/invites", headers={"X-API-Key": admin.key()}, json={}
    )
    assert sign_up.status_code == 201, sign_up.text
    line = dave.refused("team", "join", sign_up.json()["code"])
    assert "is for signing up, not for a team" in line

    refused = carol.refused("team", "invite", "acme")  # a member cannot invite
    assert "(403)" in refused
    assert "not logged in" in Person("erin", tmp_path).refused("team", "list")
