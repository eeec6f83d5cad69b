"""Every route of the app has an access rule, and keeps it.

``RULES`` maps each (method, path template) of the app's route table to who may call it:

- ``anonymous``: anyone, without a key or a login;
- ``self``: any logged-in user, about themselves;
- ``team member``, ``team admin``, ``team owner``: a team's members, its owner and admins, its
  owner (a server admin may do all of these for any team);
- ``server admin``: server admins only.

The route table is walked from ``app.routes``: a route without a rule fails, by name, so a route
added later must say who may call it. Litestar's own OpenAPI pages (``/schema…``) and ``HEAD``
(answered like ``GET``) are left out, and nothing else.

Then every route is called as each kind of caller (anonymous, a user in no team of the one at
stake, a member, a team admin, the owner, a server admin who is not in the team), with minimal
valid parameters, on SQLite and on PostgreSQL: a caller the rule does not admit never gets a 2xx
(401, 403 or 404; a dashboard page sends an anonymous browser to /login); a caller it admits never
gets a 401 or 403 (nor is sent to log in); nobody ever gets a 5xx. Dashboard routes are called
with the session cookie (logged in with POST /login and its CSRF token), API routes with
X-API-Key. Whatever a call destroys (an account, a team, a membership, a key, a session, an
invite) is made for that call alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import Cookie
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient
from sqlalchemy import create_engine, text

from promptpulse_server import web
from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_api import batch, breakdown
from test_dashboard import csrf
from test_teams import upload
from testclock import TODAY, FakeClock

ANONYMOUS = "anonymous"
SELF = "self"
TEAM_MEMBER = "team member"
TEAM_ADMIN = "team admin"
TEAM_OWNER = "team owner"
SERVER_ADMIN = "server admin"

# the kinds of caller, and which of them each rule admits
CALLERS = ("anonymous", "outsider", "member", "team admin", "owner", "server admin")
ADMITS = {
    ANONYMOUS: set(CALLERS),
    SELF: set(CALLERS) - {"anonymous"},
    TEAM_MEMBER: {"member", "team admin", "owner", "server admin"},
    TEAM_ADMIN: {"team admin", "owner", "server admin"},
    TEAM_OWNER: {"owner", "server admin"},
    SERVER_ADMIN: {"server admin"},
}

TEAM = "/api/teams/{team_id:int}"
SLUG = "/teams/{slug:str}"
RULES: dict[tuple[str, str], str] = {
    # the API
    ("GET", "/health"): ANONYMOUS,
    ("GET", "/api/signup"): ANONYMOUS,
    ("POST", "/api/users"): ANONYMOUS,
    ("GET", "/api/users"): SELF,
    ("GET", "/api/users/me"): SELF,
    ("PATCH", "/api/users/me"): SELF,
    ("DELETE", "/api/users/me"): SELF,
    ("GET", "/api/keys"): SELF,
    ("POST", "/api/keys"): SELF,
    ("DELETE", "/api/keys/{key_id:int}"): SELF,
    ("POST", "/api/login-links"): SELF,
    ("GET", "/api/audit"): SELF,  # your own entries; a server admin's are everyone's
    ("POST", "/api/v1/uploads"): SELF,
    ("POST", "/claude-code-stats"): SELF,
    ("GET", "/api/usage/aggregate"): SELF,
    ("GET", "/api/machines"): SELF,
    ("GET", "/api/usage/sessions"): SELF,
    ("GET", "/api/usage/blocks"): SELF,
    ("GET", "/api/usage/analytics/patterns"): SELF,
    ("GET", "/api/usage/analytics/costs"): SELF,
    ("GET", "/api/usage/limits"): SELF,
    # called with ?team= (its members' figures); without, anyone's own, like the other reports
    ("GET", "/api/usage/limits/current"): TEAM_MEMBER,
    ("GET", "/api/leaderboard/{period:str}"): SELF,
    # budgets and alerts: your own (a team's budget through /api/budgets/{id} is its managers',
    # as test_budgets.py shows)
    ("GET", "/api/budgets"): SELF,
    ("POST", "/api/budgets"): SELF,
    ("PUT", "/api/budgets/{budget_id:int}"): SELF,
    ("DELETE", "/api/budgets/{budget_id:int}"): SELF,
    ("POST", "/api/budgets/{budget_id:int}/test"): SELF,
    ("GET", "/api/alerts"): SELF,
    ("GET", "/api/digests"): SELF,
    ("POST", "/api/digests"): SELF,
    ("DELETE", "/api/digests/{digest_id:int}"): SELF,
    ("GET", f"{TEAM}/budgets"): TEAM_MEMBER,
    ("POST", f"{TEAM}/budgets"): TEAM_ADMIN,
    # teams
    ("GET", "/api/teams"): SELF,
    ("POST", "/api/teams"): SELF,
    ("GET", TEAM): TEAM_MEMBER,
    ("PUT", TEAM): TEAM_ADMIN,
    ("DELETE", TEAM): TEAM_OWNER,
    ("GET", f"{TEAM}/members"): TEAM_MEMBER,
    ("DELETE", f"{TEAM}/members/me"): TEAM_MEMBER,
    ("DELETE", f"{TEAM}/members/{{user_id:int}}"): TEAM_ADMIN,
    ("PUT", f"{TEAM}/members/{{user_id:int}}/promote"): TEAM_ADMIN,
    ("GET", f"{TEAM}/leaderboard/{{period:str}}"): TEAM_MEMBER,
    ("POST", f"{TEAM}/invites"): TEAM_ADMIN,
    ("GET", f"{TEAM}/invites"): TEAM_ADMIN,
    ("DELETE", f"{TEAM}/invites/{{code:str}}"): TEAM_ADMIN,
    ("GET", "/api/teams/join/{code:str}/preview"): ANONYMOUS,
    ("POST", "/api/teams/join/{code:str}"): SELF,
    # the server admin
    ("GET", "/api/admin/users"): SERVER_ADMIN,
    ("POST", "/api/admin/users/{user_id:int}/{action:str}"): SERVER_ADMIN,
    ("DELETE", "/api/admin/users/{user_id:int}"): SERVER_ADMIN,
    ("POST", "/api/admin/invites"): SERVER_ADMIN,
    ("GET", "/api/admin/invites"): SERVER_ADMIN,
    ("DELETE", "/api/admin/invites/{code:str}"): SERVER_ADMIN,
    ("GET", "/api/admin/settings"): SERVER_ADMIN,
    # the dashboard
    ("GET", "/login"): ANONYMOUS,
    ("POST", "/login"): ANONYMOUS,
    ("GET", "/login/{token:str}"): ANONYMOUS,
    ("POST", "/logout"): ANONYMOUS,
    ("GET", "/"): SELF,
    ("GET", "/team"): SELF,
    ("GET", "/claude-code-stats"): SELF,
    ("GET", "/machines"): SELF,
    ("GET", "/projects"): SELF,
    ("GET", "/sessions"): SELF,
    ("GET", "/blocks"): SELF,
    ("GET", "/leaderboard"): SELF,
    ("GET", "/settings"): SELF,
    ("POST", "/settings/profile"): SELF,
    ("POST", "/settings/keys"): SELF,
    ("POST", "/settings/keys/{key_id:int}/revoke"): SELF,
    ("POST", "/settings/delete"): SELF,
    ("GET", "/settings/export.csv"): SELF,
    ("GET", "/settings/export.json"): SELF,
    ("POST", "/settings/budgets"): SELF,
    ("POST", "/settings/budgets/{budget_id:int}/delete"): SELF,
    ("POST", "/settings/budgets/{budget_id:int}/test"): SELF,
    ("POST", "/settings/digests"): SELF,
    ("POST", "/settings/digests/{digest_id:int}/delete"): SELF,
    ("GET", "/static/{version:str}/{name:str}"): ANONYMOUS,
    # the dashboard's pages for people and teams
    ("GET", "/signup"): ANONYMOUS,
    ("POST", "/signup"): ANONYMOUS,
    ("GET", "/join/{code:str}"): ANONYMOUS,
    ("GET", "/teams"): SELF,
    ("POST", "/teams"): SELF,
    ("POST", "/teams/join"): SELF,
    ("GET", SLUG): TEAM_MEMBER,
    ("POST", f"{SLUG}/invites"): TEAM_ADMIN,
    ("POST", f"{SLUG}/invites/{{code:str}}/revoke"): TEAM_ADMIN,
    ("POST", f"{SLUG}/leave"): TEAM_MEMBER,
    ("POST", f"{SLUG}/budgets"): TEAM_ADMIN,
    ("POST", f"{SLUG}/budgets/{{budget_id:int}}/delete"): TEAM_ADMIN,
    ("POST", f"{SLUG}/budgets/{{budget_id:int}}/test"): TEAM_ADMIN,
    ("POST", f"{SLUG}/digests"): TEAM_ADMIN,
    ("POST", f"{SLUG}/digests/{{digest_id:int}}/delete"): TEAM_ADMIN,
    ("GET", "/admin"): SERVER_ADMIN,
    # the live events of a team's pages (its members who share; see test_live_dashboard)
    ("GET", "/live/usage"): TEAM_MEMBER,
    ("POST", "/admin/users/{user_id:int}/{action:str}"): SERVER_ADMIN,
    ("POST", "/admin/invites"): SERVER_ADMIN,
}
# Litestar answers OPTIONS on every path it serves (which methods exist, nothing else): to anyone
RULES |= {("OPTIONS", path): ANONYMOUS for _, path in list(RULES)}

# what an admitted caller gets instead of a success, and why
REFUSED_FOR_CAUSE = {
    # the owner hands the team over before leaving
    (("DELETE", f"{TEAM}/members/me"), "owner"): 409,
    # a server admin may act on any team, but is no member of it to leave
    (("DELETE", f"{TEAM}/members/me"), "server admin"): 404,
    # the same on the team's page
    (("POST", f"{SLUG}/leave"), "owner"): 409,
    (("POST", f"{SLUG}/leave"), "server admin"): 404,
}


def route_table(app: Litestar) -> set[tuple[str, str]]:
    """(method, path template) of every route, but HEAD and Litestar's own /schema pages."""
    found = set()
    for route in app.routes:
        if route.path == "/schema" or route.path.startswith("/schema/"):
            continue
        if not isinstance(route, HTTPRoute):  # a websocket or ASGI route: it needs a rule too
            found.add((str(route.scope_type).upper(), route.path))
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method.upper() != "HEAD":
                    found.add((method.upper(), route.path))
    return found


def is_page(method: str, path: str) -> bool:
    """Dashboard routes go by the session cookie, the API by X-API-Key."""
    api = path.startswith("/api/") or path == "/health" or method == "OPTIONS"
    return not (api or (method, path) == ("POST", "/claude-code-stats"))


def app_for(database: str) -> Litestar:
    return create_app(
        Settings(
            database_url=database,
            signup_per_minute=100_000,
            uploads_per_minute=100_000,
            logins_per_minute=100_000,
            invite_guesses_per_minute=100_000,
            secret_key="test-secret",
            clock=FakeClock(),
        )
    )


def test_every_route_has_a_rule(tmp_path: object) -> None:
    found = route_table(app_for(f"sqlite:///{tmp_path}/routes.sqlite3"))
    missing = sorted(found - set(RULES))
    assert not missing, "routes without an access rule in RULES: " + ", ".join(
        f"{m} {p}" for m, p in missing
    )
    stale = sorted(set(RULES) - found)
    assert not stale, "rules for routes that no longer exist: " + ", ".join(
        f"{m} {p}" for m, p in stale
    )
    assert set(RULES.values()) <= set(ADMITS)


# --- the callers ---------------------------------------------------------------------------------


@dataclass
class Caller:
    kind: str
    name: str = ""
    id: int = 0
    key: dict[str, str] = field(default_factory=dict)  # X-API-Key; none for anonymous
    cookies: list[Cookie] = field(default_factory=list)  # the browser's: CSRF and session
    token: str = ""  # the CSRF token its forms carry


@dataclass
class Call:
    url: str
    json: Any = None
    form: dict[str, str] | None = None
    caller: Caller | None = None  # made for this call alone
    intact: Callable[[], bool] | None = None  # after a refusal: nothing was done


@dataclass
class World:
    client: TestClient[Any]
    callers: dict[str, Caller]
    crew: int  # the team at stake
    crew_slug: str
    crew_code: str  # its invite, for many
    signup_code: str  # the server admin's sign-up invite, for many
    names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def root(self) -> Caller:
        return self.callers["server admin"]

    @property
    def owner(self) -> Caller:
        return self.callers["owner"]

    def ok(self, r: httpx.Response, status: int = 200) -> Any:
        assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.text}"
        return r.json() if r.content else None

    def browser(self, who: Caller) -> Caller:
        """A browser of its own for the caller: the CSRF cookie and, logged in, a session."""
        c = self.client
        c.cookies.clear()
        who.token = csrf(c.get("/login").text)
        if who.key:
            r = c.post(
                "/login",
                data={"api_key": who.key["X-API-Key"], "next": "/", "_csrf_token": who.token},
                follow_redirects=False,
            )
            assert r.status_code in (302, 303), r.text
            assert c.get("/", follow_redirects=False).status_code == 200  # the session works
        who.cookies = list(c.cookies.jar)
        c.cookies.clear()
        return who

    def person(self, kind: str, code: str | None = None, log_in: bool = False) -> Caller:
        """A new account (with a team's invite: a member of that team)."""
        name = f"user{next(self.names)}"
        body = {"username": name, "inviteCode": code or self.signup_code}
        key = {"X-API-Key": self.ok(self.client.post("/api/users", json=body), 201)["apiKey"]}
        users = self.ok(self.client.get("/api/admin/users", headers=self.root.key))["users"]
        who = Caller(kind, name, next(u["id"] for u in users if u["username"] == name), key)
        return self.browser(who) if log_in else who

    def invite(self, by: Caller, team_id: int, uses: int = 10) -> str:
        path = f"/api/teams/{team_id}/invites"
        code: str = self.ok(self.client.post(path, json={"maxUses": uses}, headers=by.key), 201)[
            "code"
        ]
        return code

    def promote(self, team_id: int, who: Caller, role: str = "admin") -> None:
        path = f"/api/teams/{team_id}/members/{who.id}/promote"
        self.ok(self.client.put(path, json={"role": role}, headers=self.owner.key))

    def fresh_team(self) -> tuple[int, str]:
        """A team like the crew: the owner, the team admin and the member in their roles; its
        id and slug."""
        made = self.client.post("/api/teams", json={"name": "Spare"}, headers=self.owner.key)
        team = self.ok(made, 201)
        team_id: int = team["id"]
        code = self.invite(self.owner, team_id)
        for kind in ("team admin", "member"):
            self.ok(self.client.post(f"/api/teams/join/{code}", headers=self.callers[kind].key))
        self.promote(team_id, self.callers["team admin"])
        return team_id, team["slug"]

    def victim(self) -> Caller:
        """A new member of the crew, to be removed or promoted."""
        return self.person("member", self.crew_code)

    def clone(self, who: Caller) -> Caller:
        """A new caller of the same kind, logged in: for a call that ends its account."""
        if who.kind == "anonymous":
            return self.browser(Caller("anonymous"))
        if who.kind in ("member", "team admin"):
            twin = self.person(who.kind, self.crew_code)
            if who.kind == "team admin":
                self.promote(self.crew, twin)
        else:
            twin = self.person(who.kind)
            if who.kind == "owner":  # owns a team with someone in it, who inherits it
                made = self.client.post("/api/teams", json={"name": "Heirs"}, headers=twin.key)
                team_id = self.ok(made, 201)["id"]
                heir = self.person("member", self.invite(twin, team_id))
                assert heir.id
            if who.kind == "server admin":
                promote = f"/api/admin/users/{twin.id}/promote"
                r = self.client.post(promote, headers=self.root.key)
                assert r.status_code in (200, 201), r.text
        return self.browser(twin)

    def key_id(self, who: Caller) -> int:
        """A key of the caller's own to revoke (the member's, for an anonymous caller)."""
        owner = who if who.key else self.callers["member"]
        made = self.client.post("/api/keys", json={"label": "spare"}, headers=owner.key)
        key_id: int = self.ok(made, 201)["id"]
        return key_id

    def members(self, team_id: int) -> set[int]:
        listed = self.client.get(f"/api/teams/{team_id}/members", headers=self.root.key)
        return {m["userId"] for m in self.ok(listed)["members"]}

    def team_exists(self, team_id: int) -> bool:
        return self.client.get(f"/api/teams/{team_id}", headers=self.root.key).status_code == 200

    def works(self, who: Caller) -> bool:
        return self.client.get("/api/users/me", headers=who.key).status_code == 200


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One server per database for the whole module (every call that destroys something does
    it to something made for it): root, the server's first account and its admin, in no team;
    "owner" owns the crew, with its admin and a member; "outsider" is in a team of his own.
    Everyone has usage."""
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path_factory.mktemp('authz')}/server.sqlite3"
    else:
        database = request.getfixturevalue("_migrated_postgres")
        engine = create_engine(database)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE user_account, team RESTART IDENTITY CASCADE"))
        engine.dispose()
    with TestClient(app_for(database)) as client:
        r = client.post("/api/users", json={"username": "root"})
        assert r.status_code == 201 and r.json()["isAdmin"], r.text
        root = Caller("server admin", "root", 0, {"X-API-Key": r.json()["apiKey"]})
        w = World(client, {"server admin": root}, 0, "", "", "")
        made = client.post("/api/admin/invites", json={"maxUses": 1000}, headers=root.key)
        w.signup_code = w.ok(made, 201)["code"]
        w.callers["owner"] = w.person("owner")
        crew = w.ok(client.post("/api/teams", json={"name": "Crew"}, headers=w.owner.key), 201)
        w.crew, w.crew_slug = crew["id"], crew["slug"]
        w.crew_code = w.invite(w.owner, w.crew, uses=1000)
        w.callers["team admin"] = w.person("team admin", w.crew_code)
        w.promote(w.crew, w.callers["team admin"])
        w.callers["member"] = w.person("member", w.crew_code)
        w.callers["outsider"] = w.person("outsider")
        elsewhere = client.post(
            "/api/teams", json={"name": "Elsewhere"}, headers=w.callers["outsider"].key
        )
        w.ok(elsewhere, 201)
        users = w.ok(client.get("/api/admin/users", headers=root.key))["users"]
        root.id = next(u["id"] for u in users if u["username"] == "root")
        for who in w.callers.values():
            upload(client, who.key, f"{who.name}-box")
            w.browser(who)
        w.callers["anonymous"] = w.browser(Caller("anonymous"))
        yield w


# --- how each route is called ---------------------------------------------------------------

Maker = Callable[[World, Caller], Call]


def _name(w: World, c: Caller) -> str:
    return c.name or "nobody"


def _usage(w: World, c: Caller) -> Call:
    return Call("/api/v1/uploads", json=batch(f"authz-{next(w.names)}", "authz-box"))


def _ccusage(w: World, c: Caller) -> Call:
    day = {
        "date": TODAY.isoformat(),
        "inputTokens": 1,
        "outputTokens": 1,
        "cacheCreationTokens": 0,
        "cacheReadTokens": 0,
        "totalTokens": 2,
        "totalCost": 0.01,
        "modelsUsed": ["claude-opus-4-6"],
        "modelBreakdowns": [breakdown("claude-opus-4-6", 1, 1, 0, 0, 0.01)],
    }
    url = f"/claude-code-stats?username={_name(w, c)}&machine=ccusage-box"
    return Call(url, json={"daily": [day]})


def _delete_team(w: World, c: Caller) -> Call:
    team_id, _ = w.fresh_team()
    return Call(f"/api/teams/{team_id}", intact=lambda: w.team_exists(team_id))


def _leave(w: World, c: Caller) -> Call:
    team_id, _ = w.fresh_team()
    return Call(f"/api/teams/{team_id}/members/me")


def _leave_page(w: World, c: Caller) -> Call:
    team_id, slug = w.fresh_team()
    before = w.members(team_id)
    return Call(f"/teams/{slug}/leave", form={}, intact=lambda: w.members(team_id) == before)


def _remove(w: World, c: Caller) -> Call:
    victim = w.victim()
    return Call(
        f"/api/teams/{w.crew}/members/{victim.id}", intact=lambda: victim.id in w.members(w.crew)
    )


def _promote(w: World, c: Caller) -> Call:
    victim = w.victim()
    return Call(f"/api/teams/{w.crew}/members/{victim.id}/promote", json={"role": "admin"})


def _revoke_invite(w: World, c: Caller) -> Call:
    code = w.invite(w.owner, w.crew)
    preview = f"/api/teams/join/{code}/preview"
    return Call(
        f"/api/teams/{w.crew}/invites/{code}",
        intact=lambda: w.client.get(preview).status_code == 200,
    )


def _host_code(w: World) -> str:
    """An invite to a team of a new account's, which nobody else is in."""
    host = w.person("owner")
    made = w.client.post("/api/teams", json={"name": "Open House"}, headers=host.key)
    return w.invite(host, w.ok(made, 201)["id"])


def _join(w: World, c: Caller) -> Call:
    return Call(f"/api/teams/join/{_host_code(w)}")


def _revoke_invite_page(w: World, c: Caller) -> Call:
    code = w.invite(w.owner, w.crew)
    preview = f"/api/teams/join/{code}/preview"
    return Call(
        f"/teams/{w.crew_slug}/invites/{code}/revoke",
        form={},
        intact=lambda: w.client.get(preview).status_code == 200,
    )


def _admin_action_page(w: World, c: Caller) -> Call:
    victim = w.person("outsider")
    return Call(f"/admin/users/{victim.id}/disable", form={}, intact=lambda: w.works(victim))


def _admin_action(w: World, c: Caller) -> Call:
    victim = w.person("outsider")
    return Call(f"/api/admin/users/{victim.id}/disable", intact=lambda: w.works(victim))


def _admin_delete(w: World, c: Caller) -> Call:
    victim = w.person("outsider")
    return Call(f"/api/admin/users/{victim.id}", intact=lambda: w.works(victim))


def _admin_revoke(w: World, c: Caller) -> Call:
    made = w.client.post("/api/admin/invites", json={"maxUses": 1}, headers=w.root.key)
    code = w.ok(made, 201)["code"]
    preview = f"/api/teams/join/{code}/preview"
    return Call(
        f"/api/admin/invites/{code}", intact=lambda: w.client.get(preview).status_code == 200
    )


def _delete_me(w: World, c: Caller) -> Call:
    twin = w.clone(c)
    return Call("/api/users/me", caller=twin, intact=lambda: not twin.key or w.works(twin))


def _delete_account(w: World, c: Caller) -> Call:
    twin = w.clone(c)
    return Call(
        "/settings/delete",
        form={"confirm": twin.name or "nobody"},
        caller=twin,
        intact=lambda: not twin.key or w.works(twin),
    )


def _login(w: World, c: Caller) -> Call:
    key = (c.key or w.callers["member"].key)["X-API-Key"]
    return Call("/login", form={"api_key": key, "next": "/"})


def _login_link(w: World, c: Caller) -> Call:
    key = c.key or w.callers["member"].key
    made = w.client.post("/api/login-links", headers=key)
    return Call(w.ok(made, 201)["path"])


# the receiver is a closed port: a test delivery fails at once, and is logged
BUDGET = {
    "kind": "cost",
    "period": "day",
    "amountUsd": 50,
    "thresholds": [80],
    "channel": {"type": "webhook", "url": "http://127.0.0.1:9/hook"},
}


def _budget_url(w: World, c: Caller, tail: str = "") -> Call:
    """A budget of the caller's own (the member's, for an anonymous caller)."""
    owner = c if c.key else w.callers["member"]
    made = w.client.post("/api/budgets", json=BUDGET, headers=owner.key)
    budget_id = w.ok(made, 201)["id"]
    return Call(f"/api/budgets/{budget_id}{tail}", json=BUDGET if not tail else None)


BUDGET_FORM = {
    "kind": "cost",
    "period": "day",
    "amount_usd": "50",
    "thresholds": "80",
    "channel_type": "webhook",
    "url": "http://127.0.0.1:9/hook",
    "format": "json",
}


def _budget_page(w: World, c: Caller, tail: str) -> Call:
    """A budget of the caller's own, through its Settings form."""
    budget_id = _budget_url(w, c).url.rsplit("/", 1)[1]
    return Call(f"/settings/budgets/{budget_id}/{tail}", form={"confirm": "1"})


def _team_budget_page(w: World, c: Caller, tail: str) -> Call:
    """A budget of the team (made by its owner), through the team page's form."""
    made = w.client.post(f"/api/teams/{w.crew}/budgets", json=BUDGET, headers=w.owner.key)
    budget_id = w.ok(made, 201)["id"]
    return Call(f"/teams/{w.crew_slug}/budgets/{budget_id}/{tail}", form={"confirm": "1"})


DIGEST = {"period": "daily", "channel": BUDGET["channel"]}


def _digest_url(w: World, c: Caller) -> Call:
    """A digest of the caller's own (the member's, for an anonymous caller)."""
    owner = c if c.key else w.callers["member"]
    made = w.client.post("/api/digests", json=DIGEST, headers=owner.key)
    return Call(f"/api/digests/{w.ok(made, 201)['id']}")


DIGEST_FORM = {"period": "weekly", "channel_type": "webhook", "url": "http://127.0.0.1:9/hook"}


def _digest_page(w: World, c: Caller) -> Call:
    """A digest of the caller's own, deleted through its Settings form."""
    digest_id = _digest_url(w, c).url.rsplit("/", 1)[1]
    return Call(f"/settings/digests/{digest_id}/delete", form={"confirm": "1"})


def _team_digest_page(w: World, c: Caller) -> Call:
    """A digest of the team (made by its owner), deleted through the team page's form."""
    made = w.client.post("/api/digests", json=DIGEST | {"teamId": w.crew}, headers=w.owner.key)
    digest_id = w.ok(made, 201)["id"]
    return Call(f"/teams/{w.crew_slug}/digests/{digest_id}/delete", form={"confirm": "1"})


def _live(w: World, c: Caller) -> Call:
    """The stream of the crew's pages. The app is told it is closing, so that an admitted
    caller's stream opens ("ready") and ends there instead of running on."""
    w.client.app.state.live.close()
    return Call(f"/live/usage?team={w.crew_slug}&user=all")


def _logout(w: World, c: Caller) -> Call:
    return Call("/logout", form={}, caller=w.browser(Caller(c.kind, c.name, c.id, c.key)))


CALLS: dict[tuple[str, str], Maker] = {
    ("POST", "/api/users"): lambda w, c: Call(
        "/api/users", json={"username": f"new{next(w.names)}", "inviteCode": w.signup_code}
    ),
    ("PATCH", "/api/users/me"): lambda w, c: Call("/api/users/me", json={"timezone": "UTC"}),
    ("DELETE", "/api/users/me"): _delete_me,
    ("POST", "/api/keys"): lambda w, c: Call("/api/keys", json={"label": "spare"}),
    ("DELETE", "/api/keys/{key_id:int}"): lambda w, c: Call(f"/api/keys/{w.key_id(c)}"),
    ("POST", "/api/v1/uploads"): _usage,
    ("POST", "/claude-code-stats"): _ccusage,
    ("GET", "/api/leaderboard/{period:str}"): lambda w, c: Call("/api/leaderboard/week"),
    ("GET", "/api/usage/limits/current"): lambda w, c: Call(
        f"/api/usage/limits/current?team={w.crew}"
    ),
    ("POST", "/api/budgets"): lambda w, c: Call("/api/budgets", json=BUDGET),
    ("POST", "/api/digests"): lambda w, c: Call("/api/digests", json=DIGEST),
    ("DELETE", "/api/digests/{digest_id:int}"): _digest_url,
    ("PUT", "/api/budgets/{budget_id:int}"): _budget_url,
    ("DELETE", "/api/budgets/{budget_id:int}"): lambda w, c: Call(_budget_url(w, c).url),
    ("POST", "/api/budgets/{budget_id:int}/test"): lambda w, c: _budget_url(w, c, "/test"),
    ("GET", f"{TEAM}/budgets"): lambda w, c: Call(f"/api/teams/{w.crew}/budgets"),
    ("POST", f"{TEAM}/budgets"): lambda w, c: Call(f"/api/teams/{w.crew}/budgets", json=BUDGET),
    ("POST", "/api/teams"): lambda w, c: Call("/api/teams", json={"name": "Another"}),
    ("GET", TEAM): lambda w, c: Call(f"/api/teams/{w.crew}"),
    ("PUT", TEAM): lambda w, c: Call(f"/api/teams/{w.crew}", json={"name": "Crew"}),
    ("DELETE", TEAM): _delete_team,
    ("GET", f"{TEAM}/members"): lambda w, c: Call(f"/api/teams/{w.crew}/members"),
    ("DELETE", f"{TEAM}/members/me"): _leave,
    ("DELETE", f"{TEAM}/members/{{user_id:int}}"): _remove,
    ("PUT", f"{TEAM}/members/{{user_id:int}}/promote"): _promote,
    ("GET", f"{TEAM}/leaderboard/{{period:str}}"): lambda w, c: Call(
        f"/api/teams/{w.crew}/leaderboard/week"
    ),
    ("POST", f"{TEAM}/invites"): lambda w, c: Call(
        f"/api/teams/{w.crew}/invites", json={"maxUses": 1}
    ),
    ("GET", f"{TEAM}/invites"): lambda w, c: Call(f"/api/teams/{w.crew}/invites"),
    ("DELETE", f"{TEAM}/invites/{{code:str}}"): _revoke_invite,
    ("GET", "/api/teams/join/{code:str}/preview"): lambda w, c: Call(
        f"/api/teams/join/{w.crew_code}/preview"
    ),
    ("POST", "/api/teams/join/{code:str}"): _join,
    ("POST", "/api/admin/users/{user_id:int}/{action:str}"): _admin_action,
    ("DELETE", "/api/admin/users/{user_id:int}"): _admin_delete,
    ("POST", "/api/admin/invites"): lambda w, c: Call("/api/admin/invites", json={"maxUses": 1}),
    ("DELETE", "/api/admin/invites/{code:str}"): _admin_revoke,
    ("POST", "/login"): _login,
    ("GET", "/login/{token:str}"): _login_link,
    ("POST", "/logout"): _logout,
    ("GET", "/"): lambda w, c: Call("/?user=all&period=all"),
    ("GET", "/team"): lambda w, c: Call("/team?period=all"),
    ("GET", "/sessions"): lambda w, c: Call("/sessions?user=all&period=all"),
    ("POST", "/settings/profile"): lambda w, c: Call(
        "/settings/profile",
        form={"display_name": _name(w, c), "timezone": "UTC", "share_with_team": "1"},
    ),
    ("POST", "/settings/keys"): lambda w, c: Call("/settings/keys", form={"label": "spare"}),
    ("POST", "/settings/keys/{key_id:int}/revoke"): lambda w, c: Call(
        f"/settings/keys/{w.key_id(c)}/revoke", form={}
    ),
    ("POST", "/settings/delete"): _delete_account,
    ("GET", "/static/{version:str}/{name:str}"): lambda w, c: Call(web.static_url("app.css")),
    ("POST", "/signup"): lambda w, c: Call(
        "/signup", form={"username": f"new{next(w.names)}", "invite_code": w.signup_code}
    ),
    ("GET", "/join/{code:str}"): lambda w, c: Call(f"/join/{w.crew_code}"),
    ("POST", "/teams"): lambda w, c: Call("/teams", form={"name": "Another"}),
    ("POST", "/teams/join"): lambda w, c: Call("/teams/join", form={"code": _host_code(w)}),
    ("GET", SLUG): lambda w, c: Call(f"/teams/{w.crew_slug}"),
    ("GET", "/live/usage"): _live,
    ("POST", f"{SLUG}/invites"): lambda w, c: Call(
        f"/teams/{w.crew_slug}/invites", form={"max_uses": "1", "expires_in_hours": "24"}
    ),
    ("POST", f"{SLUG}/invites/{{code:str}}/revoke"): _revoke_invite_page,
    ("POST", f"{SLUG}/leave"): _leave_page,
    ("POST", "/settings/budgets"): lambda w, c: Call("/settings/budgets", form=BUDGET_FORM),
    ("POST", "/settings/budgets/{budget_id:int}/delete"): lambda w, c: _budget_page(w, c, "delete"),
    ("POST", "/settings/budgets/{budget_id:int}/test"): lambda w, c: _budget_page(w, c, "test"),
    ("POST", f"{SLUG}/budgets"): lambda w, c: Call(
        f"/teams/{w.crew_slug}/budgets", form=BUDGET_FORM
    ),
    ("POST", f"{SLUG}/budgets/{{budget_id:int}}/delete"): lambda w, c: _team_budget_page(
        w, c, "delete"
    ),
    ("POST", f"{SLUG}/budgets/{{budget_id:int}}/test"): lambda w, c: _team_budget_page(
        w, c, "test"
    ),
    ("POST", "/settings/digests"): lambda w, c: Call("/settings/digests", form=DIGEST_FORM),
    ("POST", "/settings/digests/{digest_id:int}/delete"): _digest_page,
    ("POST", f"{SLUG}/digests"): lambda w, c: Call(
        f"/teams/{w.crew_slug}/digests", form=DIGEST_FORM
    ),
    ("POST", f"{SLUG}/digests/{{digest_id:int}}/delete"): _team_digest_page,
    ("POST", "/admin/users/{user_id:int}/{action:str}"): _admin_action_page,
    ("POST", "/admin/invites"): lambda w, c: Call(
        "/admin/invites", form={"max_uses": "1", "expires_in_hours": "24"}
    ),
}


def call_for(w: World, method: str, path: str, caller: Caller) -> Call:
    if (method, path) in CALLS:
        return CALLS[(method, path)](w, caller)
    if method == "OPTIONS":  # the URL of another method of the route will do
        if "{" not in path:
            return Call(path)
        other = next((k for k in CALLS if k[1] == path), None)
        assert other is not None, f"{method} {path}: say in CALLS how to call it"
        return Call(CALLS[other](w, caller).url)
    assert "{" not in path, f"{method} {path}: say in CALLS how to call it"
    return Call(path, form={} if method == "POST" and is_page(method, path) else None)


def send(w: World, method: str, path: str, call: Call, caller: Caller) -> httpx.Response:
    c = w.client
    c.cookies.clear()
    headers: dict[str, str] = {}
    form = call.form
    if is_page(method, path):
        for cookie in caller.cookies:
            c.cookies.jar.set_cookie(cookie)
        if form is not None:
            form = {**form, "_csrf_token": caller.token}
    else:
        headers.update(caller.key)
    try:
        return c.request(
            method,
            call.url,
            headers=headers,
            json=call.json,
            data=form,
            follow_redirects=False,
        )
    finally:
        c.cookies.clear()


def verdict(method: str, path: str, kind: str, r: httpx.Response) -> str | None:
    """What is wrong with the answer, or None."""
    status, where = r.status_code, r.headers.get("location", "")
    if status >= 500 or "Traceback" in r.text:
        return f"{status}: {r.text[:200]}"
    to_login = status in (302, 303) and where.startswith("/login?")
    page = is_page(method, path)
    if kind in ADMITS[RULES[(method, path)]]:
        expected = REFUSED_FOR_CAUSE.get(((method, path), kind))
        if expected is not None:
            return None if status == expected else f"{status}, expected {expected}: {r.text[:200]}"
        if status >= 400 or to_login:
            return f"admitted, but {status} {where} {r.text[:200]}"
        return None
    if 200 <= status < 300:
        return f"not admitted, but {status}: {r.text[:200]}"
    if kind == "anonymous":
        if page and not to_login:
            return f"anonymous on a page: {status} {where}, not sent to /login"
        if not page and status != 401:
            return f"anonymous on the API: {status}, not 401"
        return None
    if status not in (403, 404):
        return f"not admitted: {status}, not 403 or 404"
    if kind == "outsider" and path.startswith((TEAM, SLUG)) and status != 404:
        return f"a team outsider got {status}: the team should answer 404, as if not there"
    return None


KNOWN_BUGS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param(m, p, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(m, p)]))
        if (m, p) in KNOWN_BUGS
        else (m, p)
        for m, p in RULES
    ],
)
def test_the_route_admits_whom_its_rule_says(world: World, method: str, path: str) -> None:
    if (method, path) not in route_table(world.client.app):
        pytest.fail(f"{method} {path} is no route any more: see test_every_route_has_a_rule")
    problems = []
    for kind in CALLERS:
        caller = world.callers[kind]
        call = call_for(world, method, path, caller)
        r = send(world, method, path, call, call.caller or caller)
        wrong = verdict(method, path, kind, r)
        refused = kind not in ADMITS[RULES[(method, path)]] or r.status_code >= 400
        if wrong is None and refused and call.intact is not None and not call.intact():
            wrong = f"refused with {r.status_code}, yet it was done"
        if wrong:
            problems.append(f"as {kind} ({call.url}): {wrong}")
    assert not problems, f"{method} {path} ({RULES[(method, path)]}):\n" + "\n".join(problems)
