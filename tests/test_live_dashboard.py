"""The live dashboard with the real server processes, on SQLite and PostgreSQL: an upload makes
the open streams (``/live/usage``) of the pages that show it say "usage" within seconds, on
the process that stored it and on another one on the same database; nobody hears of usage they
may not see; ``serve`` stops at once on SIGTERM and Ctrl-C with streams open."""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving import Server
from test_browser import browser  # noqa: F401  (the fixture)
from test_dashboard import upload

pytestmark = pytest.mark.dates

WITHIN_S = 5.0
CHECK_S = 2.0  # the servers' PROMPTPULSE_LIVE_CHECK_S: a logged-out stream ends within it


class Stream:
    """An open ``/live/usage`` stream, read in a thread: its events' names, in order."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.events: queue.Queue[str] = queue.Queue()
        self.status = 0
        self._client = client
        self._path = path
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            with self._client.stream("GET", self._path, timeout=None) as r:
                self.status = r.status_code
                if r.status_code != 200:
                    self.events.put(f"status {r.status_code}")
                    return
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        self.events.put(line.removeprefix("event: "))
                    if self._done.is_set():
                        return
        except httpx.HTTPError:
            pass
        finally:
            self.events.put("closed")

    def next(self, timeout: float = WITHIN_S) -> str | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def ready(self) -> None:
        assert self.next(10) == "ready", "the stream opens with a ready event"


class Site:
    """Server processes on one database, and the HTTP clients a test opened on them (closed
    after the servers stop, which ends their streams)."""

    def __init__(self, database: str, home: Path, processes: int = 2) -> None:
        self.servers = [Server(database, home / f"home-{n}") for n in range(processes)]
        for server in self.servers:
            server.env["PROMPTPULSE_SECRET_KEY"] = "the-same-on-every-process"
            server.env["PROMPTPULSE_LIVE_CHECK_S"] = str(CHECK_S)
        self.clients: list[httpx.Client] = []

    def client(self, n: int = 0, cookies: httpx.Cookies | None = None) -> httpx.Client:
        c = httpx.Client(base_url=self.servers[n].base, cookies=cookies)
        self.clients.append(c)
        return c

    def account(self, name: str) -> tuple[dict[str, str], httpx.Client]:
        """A new user's API key and a dashboard session (cookie) for them on the first
        process."""
        base = self.servers[0].base
        r = httpx.post(f"{base}/api/users", json={"username": name, "displayName": name.title()})
        assert r.status_code == 201, r.text
        key = {"X-API-Key": r.json()["apiKey"]}
        session = self.client()
        path = httpx.post(f"{base}/api/login-links", headers=key).json()["path"]
        assert session.get(path, follow_redirects=False).status_code in (302, 303)
        return key, session

    def upload(self, key: dict[str, str], machine: str, n: int = 0) -> None:
        with httpx.Client(base_url=self.servers[n].base) as http:
            upload(http, key, machine)  # type: ignore[arg-type]

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        for c in self.clients:
            c.close()


@pytest.fixture
def site(database: str, tmp_path: Path) -> Iterator[Site]:
    """Two server processes on one database."""
    found = Site(database, tmp_path)
    try:
        for server in found.servers:
            server.start()
        yield found
    finally:
        found.close()


def test_an_upload_reaches_the_open_streams_of_both_processes(site: Site) -> None:
    key, here = site.account("alice")
    there = site.client(1, here.cookies)
    streams = [Stream(here, "/live/usage"), Stream(there, "/live/usage")]
    for s in streams:
        s.ready()
    started = time.monotonic()
    site.upload(key, "laptop")
    for s in streams:
        assert s.next() == "usage"
    took = time.monotonic() - started
    assert took < WITHIN_S
    print(f"upload to both streams' events: {took:.2f} s")
    # one upload, one event: nothing more follows
    assert streams[0].next(1.5) is None and streams[1].next(0.1) is None
    # the same batch again changes nothing, and says nothing
    site.upload(key, "laptop", n=1)
    assert streams[0].next(2.5) is None


def test_whom_a_stream_follows(site: Site) -> None:
    """A teammate who shares is followed on the team's pages; an outsider, someone who does
    not share, and one's own overview hear nothing of what they do not show."""
    first = site.servers[0]
    alice_key, alice = site.account("alice")
    bob_key, bob = site.account("bob")
    _, eve = site.account("eve")
    quiet_key, _ = site.account("quiet")
    team = httpx.post(f"{first.base}/api/teams", json={"name": "Core"}, headers=alice_key).json()
    code = httpx.post(
        f"{first.base}/api/teams/{team['id']}/invites", json={}, headers=alice_key
    ).json()["code"]
    for key in (bob_key, quiet_key):
        joined = httpx.post(f"{first.base}/api/teams/join/{code}", headers=key)
        assert joined.status_code in (200, 201), joined.text
    shy = httpx.patch(
        f"{first.base}/api/users/me", json={"shareWithTeam": False}, headers=quiet_key
    )
    assert shy.status_code == 200, shy.text
    slug = team["slug"]

    bob_there = site.client(1, bob.cookies)
    team_page = Stream(bob_there, f"/live/usage?team={slug}&user=all")
    bobs_own = Stream(bob, "/live/usage")
    everyone = Stream(eve, "/live/usage?user=all")
    for s in (team_page, bobs_own, everyone):
        s.ready()
    site.upload(alice_key, "alice-laptop")
    assert team_page.next() == "usage"
    assert bobs_own.next(2.0) is None  # his own overview shows only him
    assert everyone.next(0.5) is None  # eve shares no team with alice
    # someone in the team who does not share their usage: nobody is told
    site.upload(quiet_key, "quiet-laptop")
    assert team_page.next(2.5) is None
    # a team or a person the viewer may not see: refused as the page is
    assert eve.get(f"/live/usage?team={slug}").status_code == 404
    assert eve.get("/live/usage?user=alice").status_code == 404
    anonymous = httpx.get(f"{first.base}/live/usage")
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["location"].startswith("/login?")
    # after logging out, the open stream ends (at its next check) and cannot open again
    alice_stream = Stream(alice, "/live/usage")
    alice_stream.ready()
    page = alice.get("/settings").text
    token = page.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
    alice.post("/logout", data={"_csrf_token": token})
    assert alice_stream.next(CHECK_S + 8) == "closed"  # at its next look (live_check_s)
    assert alice.get("/live/usage", follow_redirects=False).status_code in (302, 303)


def test_serve_with_two_workers(database: str, tmp_path: Path) -> None:
    """Streams on either worker of ``serve --workers 2`` hear an upload stored by either."""
    site = Site(database, tmp_path, processes=1)
    server = site.servers[0]
    server.start("--workers", "2")
    proc = server.proc
    assert proc is not None
    try:
        key, browser = site.account("alice")
        # several connections, so that both workers hold some (the kernel spreads them)
        streams = [Stream(site.client(0, browser.cookies), "/live/usage") for _ in range(6)]
        for s in streams:
            s.ready()
        site.upload(key, "laptop")
        assert [s.next() for s in streams] == ["usage"] * len(streams)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        took = time.monotonic() - started
        print(f"serve --workers 2 stopped with {len(streams)} streams open in {took:.2f} s")
        assert took < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        site.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_at_once_with_streams_open(
    sig: signal.Signals, database: str, tmp_path: Path
) -> None:
    site = Site(database, tmp_path, processes=1)
    server = site.servers[0]
    server.start()
    try:
        _, browser = site.account("alice")
        streams = [Stream(browser, "/live/usage"), Stream(browser, "/live/usage?user=all")]
        for s in streams:
            s.ready()
        assert server.proc is not None
        started = time.monotonic()
        server.proc.send_signal(sig)
        server.proc.wait(timeout=10)
        took = time.monotonic() - started
        assert took < 3, f"serve took {took:.1f} s to stop"
        assert server.proc.returncode is not None
        for s in streams:
            assert s.next() == "closed"  # the stream ended, not cut mid-event
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        site.close()


def test_the_overview_changes_in_a_real_browser_without_reloading(
    browser: Any,  # noqa: F811
    database: str,
    tmp_path: Path,
) -> None:
    site = Site(database, tmp_path, processes=2)
    for server in site.servers:
        server.start()
    try:
        key, session = site.account("lee")
        site.upload(key, "laptop")
        base = site.servers[1].base  # the page on one process, the upload through the other
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        link = httpx.post(f"{base}/api/login-links", headers=key).json()["path"]
        page.goto(f"{base}{link}")
        page.wait_for_url(f"{base}/")
        page.wait_for_selector("main[data-live-open]", timeout=10000)
        page.wait_for_selector("#daily-cost[data-drawn] .main-svg", timeout=15000)
        before = page.inner_text("[data-stat=cost]")
        drawn = page.locator("#daily-cost[data-drawn] .main-svg").count()
        page.evaluate("window.notReloaded = true")
        started = time.monotonic()
        site.upload(key, "desktop")  # another machine: more cost
        fresh = session.get("/").text  # the page as a reload would show it
        expected = fresh.split('data-stat="cost">', 1)[1].split("<", 1)[0]
        assert expected != before
        page.wait_for_function(
            "want => document.querySelector('[data-stat=cost]').textContent === want",
            arg=expected,
            timeout=WITHIN_S * 1000,
        )
        print(f"upload to the browser's cost card: {time.monotonic() - started:.2f} s")
        assert page.evaluate("window.notReloaded") is True  # patched in place
        assert page.get_attribute("main", "data-live-refreshed") == "1"
        assert page.locator("#daily-cost[data-drawn] .main-svg").count() == drawn  # still drawn
        assert not problems, problems
        page.close()
    finally:
        site.close()
