"""The server's log: JSON lines with the request's id, and no secret in any of them."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptpulse_server import logs
from promptpulse_server.settings import Settings, SettingsError
from serving import SERVER, free_port
from test_api import batch

METRICS_TOKEN = "metrics-token-abcdef123456"


def test_secrets_are_redacted_from_a_line() -> None:
    line = (
        'GET /login/Abc_def-123456789?next=/ "pp_0123456789abcdef" /join/ABCDEFGHJKMNPQRS '
        "/api/teams/3/invites/XYZXYZXYZXYZ?api_key=pp_zz&period=week&Token=t0k "
        "Authorization: Bearer s3cret cookie pp_session=abc; pp_csrf=def"
    )
    out = logs.redact(line)
    for secret in ("Abc_def", "0123456789abcdef", "ABCDEFGHJKMNPQRS", "XYZXYZ", "s3cret", "t0k"):
        assert secret not in out
    assert "pp_session=abc" not in out and "pp_csrf=def" not in out
    assert "period=week" in out and "next=/" in out  # what is not secret stays


def test_plain_lines_on_a_terminal_json_elsewhere() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s", ("pp_abcdefghij",), None)
    record.request_id = "r-1"
    plain = logs.Formatter(json_lines=False).format(record)
    assert plain.startswith("[r-1] ") and plain.endswith("INFO x: key pp_[redacted]")
    entry = json.loads(logs.Formatter(json_lines=True).format(record))
    assert entry["message"] == "key pp_[redacted]" and entry["request_id"] == "r-1"
    assert entry["level"] == "info" and entry["logger"] == "x"


def test_log_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")
    assert (Settings.from_env().log_level, Settings.from_env().log_format) == ("info", "auto")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("PROMPTPULSE_LOG_FORMAT", "text")
    assert (Settings.from_env().log_level, Settings.from_env().log_format) == ("debug", "text")
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(SettingsError, match=r"^LOG_LEVEL must be one of debug, info, warning"):
        Settings.from_env()


def test_every_line_is_json_with_the_request_id_and_no_secret(tmp_path: Path) -> None:
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 's.sqlite3'}",
        PORT=str(port),
        PROMPTPULSE_HOME=str(tmp_path / "home"),
        PROMPTPULSE_METRICS_TOKEN=METRICS_TOKEN,
        LOG_LEVEL="debug",
    )
    log = (tmp_path / "server.log").open("w+")
    proc = subprocess.Popen([*SERVER, "serve"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    secrets: list[str] = [METRICS_TOKEN]
    ids: dict[str, str] = {}
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        with httpx.Client(base_url=base) as c:
            key = c.post("/api/users", json={"username": "logged"}).json()["apiKey"]
            secrets += [key, key[3:]]
            auth = {"X-API-Key": key}

            def call(name: str, method: str, url: str, **kw: Any) -> httpx.Response:
                r = c.request(method, url, **kw)
                ids[name] = r.headers["x-request-id"]
                return r

            assert call("me", "GET", "/api/users/me", headers=auth).status_code == 200
            assert call("upload", "POST", "/api/v1/uploads", json=batch(), headers=auth).is_success
            wrong = "pp_" + "w" * 43
            secrets.append(wrong)
            assert (
                call("wrong", "GET", "/api/users/me", headers={"X-API-Key": wrong}).status_code
                == 401
            )
            assert call("query", "GET", f"/api/users/me?api_key={key}").status_code == 401
            link = c.post("/api/login-links", headers=auth).json()["path"]
            secrets.append(link.rsplit("/", 1)[1])
            call("login", "GET", link)
            cookies = [v for v in c.cookies.values() if len(v) > 8]
            assert cookies, "the login link set no session cookie"
            secrets += cookies
            assert call("page", "GET", "/").status_code == 200
            call("used link", "GET", link)  # a second use is refused, and logged
            bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            assert call("metrics", "GET", "/metrics", headers=bearer).status_code == 200
            bad = {"Authorization": "Bearer wrong-metrics-token"}
            secrets.append("wrong-metrics-token")
            assert call("bad metrics", "GET", "/metrics", headers=bad).status_code == 401
            # the request id: a sane one is kept, any other replaced
            for name, given in (("sane", "lb-42.a:b_c-d"), ("spaces", "a b"), ("long", "x" * 129)):
                call(name, "GET", "/health", headers={"X-Request-ID": given})
            call("none", "GET", "/health")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = (tmp_path / "server.log").read_text()
    log.close()
    assert ids["sane"] == "lb-42.a:b_c-d"
    for name in ("spaces", "long", "none"):
        assert re.fullmatch("[0-9a-f]{32}", ids[name]), ids[name]
    assert len(set(ids.values())) == len(ids)
    entries = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    by_id: dict[str, list[str]] = {}
    for entry in entries:
        assert set(entry) >= {"time", "level", "logger", "message", "request_id"}
        if entry["request_id"]:
            by_id.setdefault(entry["request_id"], []).append(entry["message"])
    for name, request_id in ids.items():  # each request's access line carries its id
        assert request_id in by_id, f"no line for {name}"
    assert any("401" in m for m in by_id[ids["wrong"]])
    assert any("/login/[redacted]" in m for m in by_id[ids["used link"]])
    for secret in secrets:
        assert secret not in text, f"a secret is in the log: {secret[:6]}…"
