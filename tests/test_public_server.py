"""A server on the internet, as its real process: which client addresses it believes, what its
log says about errors, and an API page that loads nothing from elsewhere."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from promptpulse_server import pages
from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings, SettingsError, trusted_proxies
from serving import SERVER, Server, free_port


def running(tmp_path: Path, **settings: str) -> Server:
    """``promptpulse-server serve`` on its default SQLite database, configured by ``settings``,
    its output kept in a log."""
    port = free_port()
    return Server(None, tmp_path / f"home-{port}", log=tmp_path / f"server-{port}.log", **settings)


def signup(server: Server, name: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.post(f"{server.base}/api/users", json={"username": name}, headers=headers)


# --- whose X-Forwarded-For is believed ---------------------------------------------------------


def session_cookie_is_secure(server: Server, forwarded_for: str | None = None) -> bool:
    """Whether a login over what the client says was https sets a Secure session cookie."""
    key = signup(server, "gwen", forwarded_for).json()["apiKey"]
    link = httpx.post(f"{server.base}/api/login-links", headers={"X-API-Key": key})
    answer = httpx.get(server.base + link.json()["path"], headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code in (302, 303), answer.text
    (cookie,) = [c for c in answer.headers.get_list("set-cookie") if c.startswith("pp_session=")]
    return "secure" in [attribute.strip().lower() for attribute in cookie.split(";")[1:]]


def test_by_default_no_client_chooses_its_address_or_its_scheme(tmp_path: Path) -> None:
    with running(tmp_path, PROMPTPULSE_SIGNUPS_PER_MINUTE="2") as server:
        # uvicorn rewrites the scheme only for a trusted peer, and the Secure flag follows the
        # scheme (web.py): a client cannot make the server believe it came over https
        assert not session_cookie_is_secure(server)
        codes = [signup(server, f"user{i}", f"203.0.113.{i}").status_code for i in range(3)]
    assert codes == [201, 429, 429]  # the second sign-up of the minute was the last


def test_behind_a_trusted_proxy_forwarded_addresses_and_scheme_count(tmp_path: Path) -> None:
    trusted = {"PROMPTPULSE_SIGNUPS_PER_MINUTE": "2", "PROMPTPULSE_TRUSTED_PROXIES": "127.0.0.1"}
    with running(tmp_path, **trusted) as server:
        assert session_cookie_is_secure(server, "192.0.2.1")
        first = [signup(server, f"first{i}", "203.0.113.1").status_code for i in range(2)]
        # the proxy appends the address it saw; what the client wrote before it is not believed
        spoofed = signup(server, "first2", "198.51.100.7, 203.0.113.1").status_code
        second = signup(server, "second", "203.0.113.2").status_code
    assert first == [201, 201]
    assert spoofed == 429
    assert second == 201


def test_trusted_proxies_are_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert trusted_proxies("") == ()
    assert trusted_proxies(" 10.1.2.3/8, ::1 ,192.0.2.7") == ("10.0.0.0/8", "::1", "192.0.2.7")
    assert trusted_proxies("10.0.0.0/8,*") == ("*",)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("PROMPTPULSE_TRUSTED_PROXIES", "10.0.0.1, proxy.internal")
    with pytest.raises(SettingsError, match=r"PROMPTPULSE_TRUSTED_PROXIES: 'proxy\.internal'"):
        Settings.from_env()


def test_serve_refuses_a_proxy_it_cannot_match(tmp_path: Path) -> None:
    env = dict(os.environ, PROMPTPULSE_TRUSTED_PROXIES="10.0.0.0/33")
    out = subprocess.run([*SERVER, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "PROMPTPULSE_TRUSTED_PROXIES" in out.stderr


# --- the log -------------------------------------------------------------------------------------


def test_client_errors_are_one_line_and_only_unexpected_errors_leave_a_traceback(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as server:
        key = {"X-API-Key": signup(server, "ann").json()["apiKey"]}
        bad = httpx.post(f"{server.base}/api/v1/uploads", headers=key, json={"batchId": 1})
        unknown = httpx.get(f"{server.base}/api/users/me")
        assert (bad.status_code, unknown.status_code) == (400, 401)
        log = server.wait_for_log("GET /api/users/me 401 missing X-API-Key header")
        assert re.search(r"POST /api/v1/uploads 400 \S", log)
        assert "Traceback" not in log

        # the database loses a table under the running server: an error nobody expected
        with sqlite3.connect(server.home / "data" / "server.sqlite3") as db:
            db.execute("DROP TABLE machine")
        broken = httpx.get(f"{server.base}/api/machines", headers=key)
        log = server.wait_for_log("no such table: machine")
    assert broken.status_code == 500
    assert broken.json() == {"status_code": 500, "detail": "Internal Server Error"}
    assert log.count("Traceback") >= 1
    assert "GET /api/machines 500: unexpected error" in log
    assert "Traceback" not in log.split("GET /api/machines 500")[0]


# --- /schema -------------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("href", "src", "action", "srcset")]


def test_the_schema_page_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.sqlite3'}", secret_key="s")
    with TestClient(create_app(settings)) as c:
        page = c.get("/schema")
        doc: dict[str, Any] = json.loads(c.get("/schema/openapi.json").text)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == pages.CSP
    links = _Links()
    links.feed(page.text)
    assert not re.search(r"https?:|//", " ".join(links.urls))
    assert all(url.startswith("/") for url in links.urls)
    assert "/schema/openapi.json" in links.urls
    assert not {"script", "link", "img", "iframe", "object"} & set(links.tags)
    assert "url(" not in page.text and "@import" not in page.text
    assert not re.search(r"https?://", page.text)
    # the OpenAPI document still parses, and the page lists every endpoint in it
    assert doc["openapi"].startswith("3.") and "/api/v1/uploads" in doc["paths"]
    for path, item in doc["paths"].items():
        for method in item:
            assert re.search(
                rf"<td>{method.upper()}</td><td><code>{re.escape(path)}</code>", page.text
            )
