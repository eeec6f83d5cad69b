"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright through
``executable_path``) against the real server as a subprocess: log in, see the charts drawn,
change the period and a filter, export a CSV, revoke a key; no request leaves the server and no
console error occurs. A screenshot of the overview is kept in test-artifacts/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptpulse_server import pages
from serving import Server
from test_api import breakdown
from test_budgets import Receiver, receiver  # noqa: F401  (the fixture)
from test_dashboard import day, upload
from testclock import NOW, iso

pytestmark = pytest.mark.dates

CHROMIUM = os.environ.get("PROMPTPULSE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: scripts/test installs chromium")
        pytest.skip("no chromium: apt-get install -y chromium (scripts/test does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def watch(problems: list[str], page: Any) -> None:
    """Console errors and uncaught exceptions of ``page`` go to ``problems``."""
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))


def log_in(page: Any, base: str, api_key: str) -> None:
    """Log in on ``page`` with an API key, as a person would; on the overview after."""
    page.goto(f"{base}/login")
    page.fill("input[name=api_key]", api_key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    server = Server(f"sqlite:///{tmp_path / 'server.sqlite3'}", tmp_path / "server-home")
    server.start()
    with httpx.Client(base_url=server.base) as http:
        r = http.post("/api/users", json={"username": "lee", "displayName": "Lee"})
        key = {"X-API-Key": r.json()["apiKey"]}
        upload(http, key, "laptop")  # type: ignore[arg-type]
        http.post("/api/keys", json={"label": "old laptop"}, headers=key)
    yield server, key
    server.stop()


def test_the_dashboard_in_a_real_browser(
    browser: Any, site: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    server, key = site
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000},
        accept_downloads=True,
        color_scheme="dark",
    )
    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    watch(problems, page)

    page.goto(f"{server.base}/")
    assert "/login" in page.url
    page.fill("input[name=api_key]", key["X-API-Key"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base}/")
    for chart in ("cost-by-model", "daily-cost", "tokens-by-kind"):
        page.wait_for_selector(f"#{chart}[data-drawn] .main-svg", timeout=15000)
    assert page.locator("#daily-cost .barlayer .point").count() > 0  # bars drawn
    assert page.locator("#cost-by-model .slice").count() == 2  # two models in the donut
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    # the period: the page reloads with it in the URL and the numbers of that week
    page.select_option("select[name=period]", "week")
    page.wait_for_url(re.compile(r"period=week"))
    week = httpx.get(
        f"{server.base}/api/usage/aggregate", params={"since": day(6)}, headers=key
    ).json()
    assert page.inner_text("[data-stat=cost]") == pages.money(week["totals"]["totalCost"])
    # a filter
    page.select_option("select[name=model]", "claude-sonnet-4-5")
    page.wait_for_url(re.compile(r"model=claude-sonnet-4-5"))
    page.wait_for_selector("#daily-cost[data-drawn] .main-svg")
    assert "period=week" in page.url
    sonnet = httpx.get(
        f"{server.base}/api/usage/aggregate",
        params={"since": day(6), "model": "claude-sonnet-4-5"},
        headers=key,
    ).json()
    assert page.inner_text("[data-stat=cost]") == pages.money(sonnet["totals"]["totalCost"])

    # export the filtered view as CSV
    with page.expect_download() as download:
        page.click("text=CSV")
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert {r["date"] for r in rows} == {d["date"] for d in sonnet["daily"]}

    # dark until the toggle; its choice kept across pages (a cookie the server reads: the page
    # comes in its theme, no script before the first paint)
    assert page.get_attribute("html", "data-theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(11, 15, 23)"
    page.click("[data-theme-toggle]")
    assert page.get_attribute("html", "data-theme") == "light"

    # revoke a key: first a question; "Cancel" keeps it, "OK" revokes it
    page.goto(f"{server.base}/settings")
    assert page.get_attribute("html", "data-theme") == "light"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 247, 251)"
    row = page.locator("#keys tr", has_text="old laptop")
    page.once("dialog", lambda d: d.dismiss())
    row.locator("button", has_text="Revoke").click()
    page.wait_for_timeout(300)
    assert "revoked" not in (row.get_attribute("class") or "")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector("text=Key 'old laptop' revoked.")
    assert asked and "old laptop" in asked[0]
    assert "revoked" in (
        page.locator("#keys tr", has_text="old laptop").get_attribute("class") or ""
    )

    # every other page draws without errors
    for path in (
        "/team",
        "/machines",
        "/projects",
        "/sessions?sort=cost",
        "/blocks",
        "/leaderboard",
    ):
        page.goto(f"{server.base}{path}")
        for chart in page.locator(".plot").all():
            chart.locator(".main-svg").first.wait_for(timeout=15000)

    # a phone: nothing wider than the screen
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    small = phone.new_page()
    small.on("request", lambda r: requests.append(r.url))
    small.on("pageerror", lambda e: problems.append(str(e)))
    small.goto(f"{server.base}/")  # a new context: the login page first
    small.fill("input[name=api_key]", key["X-API-Key"])
    small.click("button[type=submit]")
    small.wait_for_selector("#daily-cost[data-drawn] .main-svg", timeout=15000)
    overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    small.screenshot(path=str(ARTIFACTS / "overview-phone.png"), full_page=True)
    phone.close()
    context.close()

    assert problems == []
    strangers = [u for u in requests if not u.startswith(server.base)]
    assert strangers == [], "every request goes to the server itself"


EVIL = 'x</script><img src=x onerror="window.__pwned=1">'


@pytest.fixture
def invite_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, str]]:
    """A server in the default sign-up mode whose admin has a team, with usage under a hostile
    model name, and an invite to it."""
    monkeypatch.setenv("PROMPTPULSE_SIGNUP", "invite")
    server = Server(f"sqlite:///{tmp_path / 'server.sqlite3'}", tmp_path / "server-home")
    server.start()
    with httpx.Client(base_url=server.base) as http:
        key = {"X-API-Key": http.post("/api/users", json={"username": "ada"}).json()["apiKey"]}
        team = http.post("/api/teams", json={"name": "Lab"}, headers=key).json()
        code = http.post(f"/api/teams/{team['id']}/invites", headers=key).json()["code"]
        body = {
            "batchId": "evil",
            "generatedAt": iso(NOW),
            "machine": {"id": "lab-1", "hostname": "lab-1"},
            "daily": [
                {"date": day(n), "modelBreakdowns": [breakdown(EVIL, cost=1.0 + n)]}
                for n in range(5)
            ],
        }
        assert http.post("/api/v1/uploads", json=body, headers=key).status_code == 201
    yield server, code
    server.stop()


def test_sign_up_with_an_invite_and_see_the_teams_dashboard(
    browser: Any, invite_only: tuple[Server, str]
) -> None:
    server, code = invite_only
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    watch(problems, page)

    page.goto(f"{server.base}/join/{code}")
    assert page.locator("[data-team=lab]").inner_text() == "Lab"
    page.fill("input[name=username]", "ben")
    page.click("button[type=submit]")
    page.wait_for_selector("#new-key")
    assert page.locator("[data-team=lab]").count() == 1  # a member of the team now
    page.goto(f"{server.base}/teams")
    page.click("text=dashboard")  # the team's view
    page.wait_for_url(re.compile(r"/team\?team=lab"))
    page.wait_for_selector("#cost-by-user[data-drawn] .main-svg", timeout=15000)
    assert page.locator("tr[data-user=ada]").count() == 1
    page.goto(f"{server.base}/?team=lab&user=all&period=week")
    for chart in page.locator(".plot").all():
        chart.locator(".main-svg").first.wait_for(timeout=15000)
    assert page.evaluate("window.__pwned") is None
    assert EVIL in page.locator("main").inner_text()  # the name shows, as text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "team-overview.png"), full_page=True)
    context.close()
    assert problems == []
    assert all(u.startswith(server.base) for u in requests), requests


def test_the_limits_card_and_the_team_table_in_a_real_browser(browser: Any, tmp_path: Path) -> None:
    """The overview's Limits card with its 7-day chart drawn and its countdown running from the
    server's clock, and the team's table of limits sorted by a click; nothing from elsewhere,
    no console error, a hostile model name shown as text."""
    hour = dt.timedelta(hours=1)

    def limits(five: float) -> list[dict[str, Any]]:
        return [
            {
                "recordedAt": iso(NOW - 2 * hour),
                "sevenDay": {"usedPercentage": 10.0, "resetsAt": iso(NOW + 48 * hour)},
            },
            {
                "recordedAt": iso(NOW - hour),
                "fiveHour": {"usedPercentage": five, "resetsAt": iso(NOW + 3 * hour)},
                "sevenDay": {"usedPercentage": 12.5, "resetsAt": iso(NOW + 48 * hour)},
                "model": EVIL,
            },
        ]

    server = Server(f"sqlite:///{tmp_path / 'server.sqlite3'}", tmp_path / "server-home")
    server.start()
    try:
        with httpx.Client(base_url=server.base) as http:
            keys = {}
            for name in ("lee", "kim"):
                r = http.post("/api/users", json={"username": name})
                keys[name] = {"X-API-Key": r.json()["apiKey"]}
            team = http.post("/api/teams", json={"name": "Lab"}, headers=keys["lee"]).json()
            code = http.post(f"/api/teams/{team['id']}/invites", headers=keys["lee"]).json()
            http.post(f"/api/teams/join/{code['code']}", headers=keys["kim"])
            for name, five in (("lee", 42.0), ("kim", 93.0)):
                body = {
                    "batchId": "limits",
                    "generatedAt": iso(NOW),
                    "machine": {"id": f"{name}-box", "hostname": name},
                    "daily": [
                        {
                            "date": day(0),
                            "modelBreakdowns": [breakdown("claude-opus-4-6", cost=250)],
                        }
                    ],
                    "plan": {"name": "max5", "monthlyUsd": 100.0},
                    "limits": limits(five),
                }
                assert (
                    http.post("/api/v1/uploads", json=body, headers=keys[name]).status_code == 201
                )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        requests: list[str] = []
        problems: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        watch(problems, page)
        page.goto(f"{server.base}/")
        page.fill("input[name=api_key]", keys["lee"]["X-API-Key"])
        page.click("button[type=submit]")
        page.wait_for_selector("#limits-7d[data-drawn] .main-svg", timeout=15000)
        card = page.locator("#limits")
        assert card.locator("[data-window='5-hour'] .big").inner_text() == "42.0%"
        assert card.locator("[data-window='7-day'] .big").inner_text() == "12.5%"
        # the countdown runs from the server's now: the browser's own clock does not matter
        left = card.locator("[data-window='5-hour'] [data-countdown]").inner_text()
        assert left in ("3h00m", "2h59m")  # the server's text, or the script's a moment later
        assert "2.5× the Max 5× plan" in card.inner_text()
        assert EVIL in card.inner_text() and page.evaluate("window.__pwned") is None
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "overview-limits.png"), full_page=True)

        page.goto(f"{server.base}/teams/lab")
        rows = page.locator("#member-limits tbody tr")
        assert [rows.nth(n).get_attribute("data-user") for n in range(2)] == ["kim", "lee"]
        page.click("#member-limits th:nth-child(1) button")  # by name: descending first
        assert [rows.nth(n).get_attribute("data-user") for n in range(2)] == ["lee", "kim"]
        page.click("#member-limits th:nth-child(2) button")  # by the 5-hour %
        assert [rows.nth(n).get_attribute("data-user") for n in range(2)] == ["kim", "lee"]
        page.click("#member-limits th:nth-child(2) button")  # and the other way
        assert [rows.nth(n).get_attribute("data-user") for n in range(2)] == ["lee", "kim"]
        context.close()
        assert problems == []
        assert all(u.startswith(server.base) for u in requests), requests
    finally:
        server.stop()


def test_adding_a_budget_and_sending_a_test_in_a_real_browser(
    browser: Any,
    site: tuple[Server, dict[str, str]],
    receiver: Receiver,  # noqa: F811
) -> None:
    """Settings: add a cost budget with a webhook (a real receiver on 127.0.0.1), see where it
    stands, press "Send a test": the receiver gets the test, the delivery log says ok."""
    server, key = site
    page = browser.new_page()
    problems: list[str] = []
    watch(problems, page)
    log_in(page, server.base, key["X-API-Key"])
    page.goto(f"{server.base}/settings")
    form = page.locator("#budget-form")
    form.locator("select[name=kind]").select_option("cost")
    form.locator("select[name=period]").select_option("month")
    form.locator("input[name=amount_usd]").fill("250")
    form.locator("input[name=thresholds]").fill("50, 80, 100")
    form.locator("select[name=channel_type]").select_option("webhook")
    form.locator("input[name=url]").fill(receiver.url)
    form.locator("select[name=format]").select_option("json")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=Budget added.")
    row = page.locator("#budget-list tbody tr")
    assert row.count() == 1
    assert "monthly cost, $250.00" in row.inner_text()
    budgets = httpx.get(f"{server.base}/api/budgets", headers=key).json()["budgets"]
    assert [(b["amountUsd"], b["thresholds"]) for b in budgets] == [(250.0, [50, 80, 100])]
    assert pages.money(budgets[0]["used"]) in row.inner_text()
    page.click("button[data-test-budget]")
    page.wait_for_selector("text=Test sent.")
    assert len(receiver.got) == 1
    sent = receiver.bodies()[0]
    assert sent["test"] is True and sent["budgetId"] == budgets[0]["id"]
    log = page.locator("#delivery-log tbody tr")
    assert log.count() == 1 and log.first.get_attribute("data-status") == "ok"
    assert problems == []
    page.close()


# --- every page, both themes, a desk and a phone ---------------------------------------------

PAGES = (
    "/",
    "/team?user=all",
    "/machines",
    "/projects",
    "/sessions",
    "/blocks",
    "/leaderboard",
    "/teams",
    "/teams/crew",
    "/settings",
    "/admin",
)

BACKGROUND = "getComputedStyle(document.body).backgroundColor"
DARK, LIGHT = "rgb(11, 15, 23)", "rgb(245, 247, 251)"  # the page's background in each theme

# In the page: what a person would call broken. Every chart drawn: its labels' boxes inside the
# chart's box (a name cut at the edge sticks out), and its series in colours of their own.
LOOK = """() => {
  const out = {overflow: document.documentElement.scrollWidth - window.innerWidth,
               height: document.documentElement.scrollHeight, cut: [], clashes: [], charts: 0};
  document.querySelectorAll(".plot[data-drawn]").forEach((el) => {
    out.charts += 1;
    const box = el.getBoundingClientRect();
    el.querySelectorAll(".main-svg text").forEach((t) => {
      const r = t.getBoundingClientRect();
      if (!t.textContent.trim() || r.width === 0) return;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 ||
          r.bottom > box.bottom + 1) {
        out.cut.push(el.id + ": " + t.textContent);
      }
    });
    const seen = {};
    (el._fullData || []).forEach((trace) => {
      const colours = trace.type === "pie" ? trace.marker.colors
        : (trace.showlegend === false || trace.type === "heatmap") ? []
        : [trace.marker && trace.marker.color];
      colours.forEach((c, n) => {
        if (typeof c !== "string") return;
        const key = c.toLowerCase(), name = trace.type === "pie" ? trace.labels[n] : trace.name;
        if (seen[key] && seen[key] !== name) {
          out.clashes.push(el.id + ": " + seen[key] + " / " + name);
        }
        seen[key] = name;
      });
    });
  });
  return out;
}"""


def _team_site(http: httpx.Client) -> dict[str, str]:
    """lee (the admin) and two team-mates with long names, on models that used to share a
    colour (two Opus versions) and a dated and an undated id of one version."""
    key = {"X-API-Key": http.post("/api/users", json={"username": "lee"}).json()["apiKey"]}
    upload(http, key, "laptop")  # type: ignore[arg-type]
    crew = http.post("/api/teams", json={"name": "Crew"}, headers=key).json()
    code = http.post(f"/api/teams/{crew['id']}/invites", headers=key).json()["code"]
    models = ("claude-opus-4-6", "claude-opus-4-1-20250805", "claude-opus-4-1", "claude-haiku-4-5")
    for n, (name, display) in enumerate((("bob", "Bob Martin"), ("carol", "Carol Díaz"))):
        other = {"X-API-Key": http.post("/api/users", json={"username": name}).json()["apiKey"]}
        http.patch("/api/users/me", json={"displayName": display}, headers=other)
        assert http.post(f"/api/teams/join/{code}", headers=other).status_code == 200
        body = {
            "batchId": f"{name}-1",
            "generatedAt": iso(NOW),
            "machine": {"id": f"{name}-box", "hostname": f"{name}-box"},
            "daily": [
                {
                    "date": day(d),
                    "modelBreakdowns": [
                        breakdown(m, cost=(n + 1) * (k + 1) * 0.7 + d % 3)
                        for k, m in enumerate(models)
                    ],
                }
                for d in range(0, 25)
            ],
        }
        assert http.post("/api/v1/uploads", json=body, headers=other).status_code == 201
    http.post("/api/keys", json={"label": "old laptop"}, headers=key)
    return key


def test_every_page_in_both_themes_on_a_desk_and_a_phone(browser: Any, tmp_path: Path) -> None:
    """Every page at 1440 and 390 px, dark and light: nothing wider than the screen, no label
    cut at a chart's edge, no two series of a chart in one colour, no console error; the
    overview on a phone well under 4,000 px, every page reachable from its menu. Screenshots
    of each go to test-artifacts/."""
    server = Server(f"sqlite:///{tmp_path / 'server.sqlite3'}", tmp_path / "server-home")
    server.start()
    try:
        with httpx.Client(base_url=server.base) as http:
            key = _team_site(http)
        ARTIFACTS.mkdir(exist_ok=True)
        problems: list[str] = []
        for width, height, device in ((1440, 1000, "desk"), (390, 844, "phone")):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            watch(problems, page)
            log_in(page, server.base, key["X-API-Key"])
            # no choice made: dark, whatever the system prefers
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                assert page.evaluate(BACKGROUND) == DARK, scheme
            menu = page.locator("#menu a")
            for n in range(menu.count()):  # every page in the menu, on the screen
                box = menu.nth(n).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (
                    device,
                    menu.nth(n).inner_text(),
                )
            for theme in ("dark", "light"):
                context.add_cookies([{"name": "pp_theme", "value": theme, "url": server.base}])
                for path in PAGES:
                    page.goto(f"{server.base}{path}")
                    assert page.get_attribute("html", "data-theme") == theme
                    for plot in page.locator(".plot").all():
                        plot.locator(".main-svg").first.wait_for(timeout=15000)
                    page.wait_for_timeout(50)
                    look = page.evaluate(LOOK)
                    where = f"{path} {theme} {device}"
                    assert look["overflow"] <= 1, f"{where}: {look['overflow']} px sideways"
                    assert look["cut"] == [], f"{where}: cut {look['cut']}"
                    assert look["clashes"] == [], f"{where}: one colour {look['clashes']}"
                    if path == "/":
                        assert look["charts"] >= 4
                        if device == "phone":
                            assert look["height"] < 4000, f"the overview is {look['height']} px"
                    name = path.split("?")[0].strip("/").replace("/", "-") or "overview"
                    page.screenshot(
                        path=str(ARTIFACTS / f"{name}-{theme}-{device}.png"), full_page=True
                    )
            context.close()
        assert problems == []
    finally:
        server.stop()


# the colour of a chart's axis labels: Plotly draws them in the theme's text colour
TICKS = "getComputedStyle(document.querySelector('#daily-cost .xtick text')).fill"
TICKS_IN = {DARK: "rgb(230, 235, 243)", LIGHT: "rgb(21, 32, 51)"}


def test_dark_by_default_then_light_then_the_system(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    """A first visit is dark although the system prefers light; the toggle goes to light, then
    to the system's preference (followed as it changes, charts too), then back to dark, its
    button saying which, and each choice comes back from the server after a reload."""
    server, key = site
    context = browser.new_context(viewport={"width": 1200, "height": 900}, color_scheme="light")
    page = context.new_page()
    problems: list[str] = []
    watch(problems, page)
    log_in(page, server.base, key["X-API-Key"])

    def shows(mode: str, background: str) -> None:
        page.wait_for_selector("#daily-cost[data-drawn] .main-svg", timeout=15000)
        assert page.get_attribute("html", "data-theme") == mode
        assert page.evaluate(BACKGROUND) == background, mode
        page.wait_for_function(f"{TICKS} === {TICKS_IN[background]!r}", timeout=5000)
        toggle = page.locator("[data-theme-toggle]")
        assert toggle.get_attribute("title") == pages.THEMES[mode]
        assert toggle.get_attribute("aria-label") == pages.THEMES[mode]

    def reloads_as(mode: str, background: str) -> None:
        page.reload()
        shows(mode, background)
        served = context.request.get(f"{server.base}/").text()  # the server's own HTML
        assert f'<html lang="en" data-theme="{mode}">' in served

    shows("dark", DARK)
    reloads_as("dark", DARK)
    assert not [c for c in context.cookies() if c["name"] == pages.THEME_COOKIE]

    page.click("[data-theme-toggle]")
    shows("light", LIGHT)
    reloads_as("light", LIGHT)
    page.emulate_media(color_scheme="dark")  # a chosen theme ignores the system
    shows("light", LIGHT)

    page.click("[data-theme-toggle]")
    shows("system", DARK)  # the system prefers dark now
    page.emulate_media(color_scheme="light")
    shows("system", LIGHT)
    reloads_as("system", LIGHT)
    page.emulate_media(color_scheme="dark")
    reloads_as("system", DARK)

    page.click("[data-theme-toggle]")
    page.emulate_media(color_scheme="light")
    shows("dark", DARK)
    reloads_as("dark", DARK)
    assert [c["value"] for c in context.cookies() if c["name"] == pages.THEME_COOKIE] == ["dark"]
    context.close()
    assert problems == []
