"""`promptpulse login`'s invite handling and the `team` commands against a fake server
(httpx.MockTransport): argument handling, and the failure paths a real server cannot be made to
show on demand. The same commands against the real server are in test_cli_teams.py."""

from __future__ import annotations

import functools
import io
import json
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from promptpulse import client as client_module
from promptpulse.config import Config

with warnings.catch_warnings():
    # typer 0.20 imports names that click 8.5 deprecates (click.utils.get_text_stream, ...);
    # the other CLI tests run the collector as a process and never see that warning
    warnings.filterwarnings("ignore", "'click\\.", DeprecationWarning, "typer")
    from promptpulse.cli import main

SERVER = "http://pp.test"
ACME = {
    "id": 1,
    "name": "Acme",
    "slug": "acme",
    "role": "owner",
    "members": 2,
    "createdAt": "2026-09-16T15:04:05Z",
}
BETA = {**ACME, "id": 2, "name": "Beta Corp", "slug": "beta-corp", "role": "member"}
INVITE = {
    "code": "c0de",
    "url": f"{SERVER}/join/c0de",
    "expiresAt": "2026-09-23T15:04:05Z",
    "maxUses": 10,
    "uses": 0,
    "teamId": 1,
}

Route = httpx.Response | Callable[[httpx.Request], httpx.Response]


def refused(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"status_code": status, "detail": detail})


class Tty(io.StringIO):
    """Someone at a terminal, about to type these lines."""

    def isatty(self) -> bool:
        return True


@dataclass
class Ran:
    code: int
    out: str
    err: str
    requests: list[httpx.Request] = field(default_factory=list)

    def sent(self, method: str, path: str) -> list[Any]:
        """The JSON bodies of the requests made to one endpoint (None for no body)."""
        return [
            json.loads(r.content) if r.content else None
            for r in self.requests
            if r.method == method and r.url.path == path
        ]

    def one_line_error(self, *words: str) -> None:
        assert self.code == 2, (self.out, self.err)
        assert "Traceback" not in self.err
        assert len(self.err.strip().splitlines()) == 1, self.err
        assert self.err.startswith("error: ")
        for w in words:
            assert w in self.err


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """Run `promptpulse ARGS` in this process against routes {(method, path): answer}."""
    monkeypatch.setenv("COLUMNS", "120")

    def run(
        routes: dict[tuple[str, str], Route], *args: str, stdin: io.StringIO | None = None
    ) -> Ran:
        requests: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            answer = routes.get((request.method, request.url.path))
            if answer is None:
                return refused(404, "Not Found")
            return answer(request) if callable(answer) else answer

        fake = functools.partial(
            client_module.Client, transport=httpx.MockTransport(handler), backoff_s=0
        )
        monkeypatch.setattr(client_module, "Client", fake)
        monkeypatch.setattr(sys, "argv", ["promptpulse", *args])
        monkeypatch.setattr(sys, "stdin", stdin or io.StringIO(""))
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capsys.readouterr()
        code = exited.value.code
        return Ran(code if isinstance(code, int) else 1, out, err, requests)

    return run


@pytest.fixture
def logged_in() -> None:
    conf = Config.load()
    conf.server, conf.api_key, conf.username = SERVER, "pp_test_key", "dana"
    conf.save()


def created(username: str, teams: list[dict[str, Any]], admin: bool = False) -> httpx.Response:
    return httpx.Response(
        201,
        json={
            "username": username,
            "displayName": None,
            "apiKey": "pp_new_key",
            "isAdmin": admin,
            "teams": teams,
        },
    )


INVITE_ONLY = httpx.Response(200, json={"mode": "invite", "inviteRequired": True})


# --- login ----------------------------------------------------------------------------------


def test_login_with_an_invite_sends_it_and_names_the_teams_joined(cli: Callable[..., Ran]) -> None:
    ran = cli(
        {
            ("GET", "/api/signup"): INVITE_ONLY,
            ("POST", "/api/users"): created("erin", [{**ACME, "role": "member"}]),
        },
        "login",
        "--server",
        SERVER,
        "--username",
        "erin",
        "--invite",
        "c0de",
    )
    assert ran.code == 0, ran.err
    assert ran.sent("POST", "/api/users") == [{"username": "erin", "inviteCode": "c0de"}]
    assert "Logged in to http://pp.test as erin" in ran.out
    assert "You joined the team Acme (acme) as member." in ran.out
    assert Config.load().api_key == "pp_new_key"


def test_login_takes_the_invite_url_for_the_code(cli: Callable[..., Ran]) -> None:
    ran = cli(
        {("POST", "/api/users"): created("erin", [])},
        "login",
        "--server",
        SERVER,
        "--username",
        "erin",
        "--invite",
        f"{SERVER}/join/c0de?from=mail",
    )
    assert ran.code == 0, ran.err
    assert ran.sent("POST", "/api/users") == [{"username": "erin", "inviteCode": "c0de"}]


def test_login_asks_for_the_invite_at_a_terminal(cli: Callable[..., Ran]) -> None:
    ran = cli(
        {
            ("GET", "/api/signup"): INVITE_ONLY,
            ("POST", "/api/users"): created("erin", []),
        },
        "login",
        "--server",
        SERVER,
        "--username",
        "erin",
        stdin=Tty("c0de\n"),
    )
    assert ran.code == 0, ran.err
    assert "Invite code" in ran.out
    assert ran.sent("POST", "/api/users") == [{"username": "erin", "inviteCode": "c0de"}]


def test_login_needs_no_invite_when_the_server_does_not_ask(cli: Callable[..., Ran]) -> None:
    ran = cli(
        {
            ("GET", "/api/signup"): httpx.Response(
                200, json={"mode": "invite", "inviteRequired": False}
            ),
            ("POST", "/api/users"): created("admin", [], admin=True),
        },
        "login",
        "--server",
        SERVER,
        "--username",
        "admin",
        stdin=Tty(""),  # would fail if it asked
    )
    assert ran.code == 0, ran.err
    assert ran.sent("POST", "/api/users") == [{"username": "admin"}]
    assert "You are this server's admin" in ran.out


def test_login_on_a_server_without_signup_modes(cli: Callable[..., Ran]) -> None:
    ran = cli(
        {("POST", "/api/users"): created("erin", [])},
        "login",
        "--server",
        SERVER,
        "--username",
        "erin",
        stdin=Tty(""),
    )
    assert ran.code == 0, ran.err
    assert ran.sent("GET", "/api/signup") == [None]  # 404: an older server, sign-up open


def test_no_invite_without_a_terminal_is_one_line(cli: Callable[..., Ran]) -> None:
    ran = cli(
        {
            ("GET", "/api/signup"): INVITE_ONLY,
            ("POST", "/api/users"): refused(
                403, "inviteCode: this server needs an invite code to sign up"
            ),
        },
        "login",
        "--server",
        SERVER,
        "--username",
        "erin",
    )
    ran.one_line_error("needs an invite code", "promptpulse login --invite CODE")
    assert Config.load().api_key == ""


def test_a_refused_invite_is_one_line(cli: Callable[..., Ran]) -> None:
    ran = cli(
        {
            ("GET", "/api/signup"): INVITE_ONLY,
            ("POST", "/api/users"): refused(
                403, "inviteCode: unknown, expired, revoked or used up"
            ),
        },
        *("login", "--server", SERVER, "--username", "erin", "--invite", "nope"),
    )
    ran.one_line_error("the invite code was refused: unknown, expired, revoked or used up")


def test_closed_sign_up_is_one_line(cli: Callable[..., Ran]) -> None:
    ran = cli(
        {
            ("GET", "/api/signup"): httpx.Response(
                200, json={"mode": "closed", "inviteRequired": False}
            ),
            ("POST", "/api/users"): refused(
                403, "username: sign-up is closed on this server; ask an admin"
            ),
        },
        *("login", "--server", SERVER, "--username", "erin"),
    )
    ran.one_line_error("(403)", "sign-up is closed")


def test_invite_with_an_existing_key_says_to_join_instead(cli: Callable[..., Ran]) -> None:
    ran = cli({}, "login", "--server", SERVER, "--api-key", "pp_x", "--invite", "c0de")
    ran.one_line_error("promptpulse team join CODE")
    assert ran.requests == []


@pytest.mark.parametrize("invite", [[], ["--invite", "c0de"]])
def test_an_unreachable_server_at_sign_up_is_one_line(
    cli: Callable[..., Ran], invite: list[str]
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    ran = cli(
        {("GET", "/api/signup"): down, ("POST", "/api/users"): down},
        *("login", "--server", SERVER, "--username", "erin", *invite),
    )
    ran.one_line_error("cannot reach http://pp.test", "try again later")


# --- team -----------------------------------------------------------------------------------


def teams(*rows: dict[str, Any]) -> dict[tuple[str, str], Route]:
    return {("GET", "/api/teams"): httpx.Response(200, json={"teams": list(rows)})}


@pytest.mark.parametrize(
    "args",
    [
        ["team", "list"],
        ["team", "create", "Acme"],
        ["team", "invite"],
        ["team", "join", "c0de"],
        ["team", "leave", "acme"],
        ["team", "members", "acme"],
    ],
)
def test_team_commands_need_a_login(cli: Callable[..., Ran], args: list[str]) -> None:
    ran = cli({}, *args)
    ran.one_line_error("not logged in: run promptpulse login")
    assert ran.requests == []


@pytest.mark.usefixtures("logged_in")
def test_team_list_is_a_table_or_the_servers_json(cli: Callable[..., Ran]) -> None:
    ran = cli(teams(ACME, BETA), "team", "list")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert any(all(w in line for w in ("Name", "Slug", "Your role", "Members")) for line in lines)
    assert any(all(w in line for w in ("Acme", "acme", "owner", "2")) for line in lines)
    assert any(all(w in line for w in ("Beta Corp", "beta-corp", "member")) for line in lines)
    assert ran.requests[0].headers["X-API-Key"] == "pp_test_key"

    as_json = cli(teams(ACME, BETA), "team", "list", "--json")
    assert json.loads(as_json.out) == {"teams": [ACME, BETA]}

    empty = cli(teams(), "team", "list")
    assert empty.code == 0 and "You are in no team" in empty.out


@pytest.mark.usefixtures("logged_in")
def test_team_create(cli: Callable[..., Ran]) -> None:
    ran = cli({("POST", "/api/teams"): httpx.Response(201, json=ACME)}, "team", "create", "Acme")
    assert ran.code == 0, ran.err
    assert ran.sent("POST", "/api/teams") == [{"name": "Acme"}]
    assert "Created the team Acme (acme); you are its owner." in ran.out

    blank = cli({}, "team", "create", "   ")
    blank.one_line_error("a team needs a name")
    assert blank.requests == []

    forbidden = cli(
        {("POST", "/api/teams"): refused(403, "only server admins create teams here")},
        *("team", "create", "Acme"),
    )
    forbidden.one_line_error("(403)", "only server admins create teams here")


@pytest.mark.usefixtures("logged_in")
def test_invite_defaults_to_your_only_team(cli: Callable[..., Ran]) -> None:
    routes = {**teams(ACME), ("POST", "/api/teams/1/invites"): httpx.Response(201, json=INVITE)}
    ran = cli(routes, "team", "invite")
    assert ran.code == 0, ran.err
    assert ran.sent("POST", "/api/teams/1/invites") == [{}]  # the server's defaults
    assert "code: c0de" in ran.out and f"url:  {SERVER}/join/c0de" in ran.out
    assert "Invite to Acme (acme): up to 10 use(s), until 2026-09-23T15:04:05Z" in ran.out

    limited = cli(routes, "team", "invite", "--max-uses", "3", "--expires-hours", "2")
    assert limited.code == 0, limited.err
    assert limited.sent("POST", "/api/teams/1/invites") == [{"maxUses": 3, "expiresInHours": 2}]


@pytest.mark.usefixtures("logged_in")
def test_invite_names_the_team_by_slug_or_id(cli: Callable[..., Ran]) -> None:
    routes = {
        **teams(ACME, BETA),
        ("POST", "/api/teams/2/invites"): httpx.Response(201, json={**INVITE, "teamId": 2}),
    }
    for name in ("beta-corp", "BETA-CORP", "2"):
        ran = cli(routes, "team", "invite", name)
        assert ran.code == 0, ran.err
        assert len(ran.sent("POST", "/api/teams/2/invites")) == 1


@pytest.mark.usefixtures("logged_in")
def test_invite_without_a_team_among_several_lists_them(cli: Callable[..., Ran]) -> None:
    ran = cli(teams(ACME, BETA), "team", "invite")
    ran.one_line_error("you are in 2 teams; name one: acme, beta-corp")
    assert [r.method for r in ran.requests] == ["GET"]

    none = cli(teams(), "team", "invite")
    none.one_line_error("you are in no team", "team create NAME")

    unknown = cli(teams(ACME, BETA), "team", "invite", "gamma")
    unknown.one_line_error("no team 'gamma' among yours (acme, beta-corp)")


@pytest.mark.usefixtures("logged_in")
def test_an_id_outside_your_teams_is_asked_for(cli: Callable[..., Ran]) -> None:
    """A server admin may manage a team they are not in, by its id."""
    other = {**ACME, "id": 7, "name": "Other", "slug": "other", "role": None}
    routes = {
        **teams(ACME),
        ("GET", "/api/teams/7"): httpx.Response(200, json=other),
        ("GET", "/api/teams/7/members"): httpx.Response(200, json={"members": []}),
    }
    ran = cli(routes, "team", "members", "7")
    assert ran.code == 0, ran.err
    assert "Other (other)" in ran.out

    missing = cli(teams(ACME), "team", "members", "8")  # the server answers 404
    missing.one_line_error("no team '8' among yours (acme)")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--max-uses", "0"], "--max-uses must be from 1 to 1000"),
        (["--max-uses", "1001"], "--max-uses must be from 1 to 1000"),
        (["--expires-hours", "0"], "--expires-hours must be from 1 to 720"),
        (["--expires-hours", "721"], "--expires-hours must be from 1 to 720"),
    ],
)
@pytest.mark.usefixtures("logged_in")
def test_invite_limits_are_checked_first(
    cli: Callable[..., Ran], args: list[str], words: str
) -> None:
    ran = cli(teams(ACME), "team", "invite", *args)
    ran.one_line_error(words)
    assert ran.requests == []


@pytest.mark.usefixtures("logged_in")
def test_a_member_cannot_invite(cli: Callable[..., Ran]) -> None:
    routes = {
        **teams(BETA),
        ("POST", "/api/teams/2/invites"): refused(403, "role: owners and admins invite"),
    }
    cli(routes, "team", "invite").one_line_error("(403)", "owners and admins invite")


@pytest.mark.usefixtures("logged_in")
def test_join_shows_the_team_then_joins(cli: Callable[..., Ran]) -> None:
    routes: dict[tuple[str, str], Route] = {
        ("GET", "/api/teams/join/c0de/preview"): httpx.Response(
            200,
            json={
                "team": {"name": "Acme", "slug": "acme", "members": 2},
                "expiresAt": "2026-09-23T15:04:05Z",
            },
        ),
        ("POST", "/api/teams/join/c0de"): httpx.Response(200, json={**ACME, "role": "member"}),
    }
    ran = cli(routes, "team", "join", f"{SERVER}/join/c0de")
    assert ran.code == 0, ran.err
    assert [(r.method, r.url.path) for r in ran.requests] == [
        ("GET", "/api/teams/join/c0de/preview"),
        ("POST", "/api/teams/join/c0de"),
    ]
    first, second = ran.out.splitlines()
    assert first.startswith("Team Acme (acme), 2 member(s)")
    assert second == "You are in Acme (acme) as member."


@pytest.mark.usefixtures("logged_in")
def test_a_code_may_start_with_a_dash(cli: Callable[..., Ran]) -> None:
    preview = {"team": {"name": "Acme", "slug": "acme", "members": 2}, "expiresAt": "2026-09-23"}
    routes: dict[tuple[str, str], Route] = {
        ("GET", "/api/teams/join/-c0de/preview"): httpx.Response(200, json=preview),
        ("POST", "/api/teams/join/-c0de"): httpx.Response(200, json={**ACME, "role": "member"}),
        ("POST", "/api/users"): created("erin", []),
    }
    joined = cli(routes, "team", "join", "-c0de")
    assert joined.code == 0, joined.err
    assert joined.sent("POST", "/api/teams/join/-c0de") == [None]
    signed_up = cli(routes, "login", "--server", SERVER, "--username", "erin", "--invite", "-c0de")
    assert signed_up.code == 0, signed_up.err
    assert signed_up.sent("POST", "/api/users") == [{"username": "erin", "inviteCode": "-c0de"}]


@pytest.mark.usefixtures("logged_in")
def test_join_with_a_dead_code_does_not_try(cli: Callable[..., Ran]) -> None:
    ran = cli({}, "team", "join", "dead")
    ran.one_line_error("invite code 'dead' does not work")
    assert [r.method for r in ran.requests] == ["GET"]


@pytest.mark.usefixtures("logged_in")
def test_join_with_a_sign_up_code_says_what_it_is_for(cli: Callable[..., Ran]) -> None:
    preview = {"team": None, "expiresAt": "2026-09-23T15:04:05Z"}
    ran = cli(
        {("GET", "/api/teams/join/s1gn/preview"): httpx.Response(200, json=preview)},
        *("team", "join", "s1gn"),
    )
    ran.one_line_error("is for signing up, not for a team", "promptpulse login --invite CODE")
    assert [r.method for r in ran.requests] == ["GET"]


@pytest.mark.usefixtures("logged_in")
def test_join_quotes_the_code_into_the_path(cli: Callable[..., Ran]) -> None:
    ran = cli({}, "team", "join", "a/../../api/users")  # not a URL: a hostile code
    assert ran.code == 2
    assert ran.requests[0].url.raw_path == b"/api/teams/join/a%2F..%2F..%2Fapi%2Fusers/preview"


@pytest.mark.usefixtures("logged_in")
def test_the_owner_cannot_leave(cli: Callable[..., Ran]) -> None:
    routes = {
        **teams(ACME),
        ("DELETE", "/api/teams/1/members/me"): refused(
            409, "role: the owner must transfer ownership first"
        ),
    }
    ran = cli(routes, "team", "leave", "acme")
    ran.one_line_error("you own Acme: make another member its owner before you leave")


@pytest.mark.usefixtures("logged_in")
def test_a_member_leaves(cli: Callable[..., Ran]) -> None:
    routes = {**teams(BETA), ("DELETE", "/api/teams/2/members/me"): httpx.Response(204)}
    ran = cli(routes, "team", "leave", "beta-corp")
    assert ran.code == 0, ran.err
    assert ran.out == "You left Beta Corp (beta-corp).\n"


@pytest.mark.usefixtures("logged_in")
def test_members_table_and_json(cli: Callable[..., Ran]) -> None:
    members = {
        "members": [
            {
                "userId": 1,
                "username": "dana",
                "displayName": "Dana D.",
                "role": "owner",
                "joinedAt": "2026-09-16T15:04:05Z",
            },
            {
                "userId": 2,
                "username": "erin",
                "displayName": None,
                "role": "member",
                "joinedAt": "2026-09-17T08:00:00Z",
            },
        ]
    }
    routes = {**teams(ACME), ("GET", "/api/teams/1/members"): httpx.Response(200, json=members)}
    ran = cli(routes, "team", "members", "acme")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert "Acme (acme)" in ran.out
    assert any(all(w in line for w in ("dana", "Dana D.", "owner", "2026-09-16")) for line in lines)
    assert any(all(w in line for w in ("erin", "member", "2026-09-17")) for line in lines)
    assert json.loads(cli(routes, "team", "members", "--json").out) == members


@pytest.mark.usefixtures("logged_in")
def test_server_trouble_is_one_line(cli: Callable[..., Ran]) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    cli({("GET", "/api/teams"): down}, "team", "list").one_line_error("cannot reach")
    broken = cli({("GET", "/api/teams"): httpx.Response(500)}, "team", "members")
    broken.one_line_error("answered 500", "try again later")
    cli(
        {("GET", "/api/teams"): refused(401, "no or a wrong API key")}, "team", "list"
    ).one_line_error("(401)")
    preview_down = cli({("GET", "/api/teams/join/c0de/preview"): down}, "team", "join", "c0de")
    preview_down.one_line_error("cannot reach")
