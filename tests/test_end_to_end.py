"""The path every user walks: the real server as a subprocess, the real CLI, real logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from logtree import TreeSpec, generate, response, write

import test_budgets
from serving import Server, free_port
from testclock import NOW

PP = [sys.executable, "-m", "promptpulse"]


@pytest.fixture
def server(database: str, tmp_path: Path) -> Iterator[Server]:
    s = Server(database, tmp_path / "server-home")
    s.start()
    yield s
    s.stop()


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "claude"
    generate(root, TreeSpec(projects=2, sessions=4, responses=25), seed=3)
    return dict(
        os.environ,
        CLAUDE_CONFIG_DIR=str(root),
        PROMPTPULSE_HOME=str(tmp_path / "me"),
        TZ="UTC",
        MACHINE_ID="laptop-1",
    )


def pp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PP, *args], env=env, capture_output=True, text=True, timeout=120)


def server_daily(server: Server, env: dict[str, str]) -> dict[str, Any]:
    key = json.loads((Path(env["PROMPTPULSE_HOME"]) / "config" / "config.json").read_text())
    r = httpx.get(f"{server.base}/api/usage/aggregate", headers={"X-API-Key": key["api_key"]})
    return r.json()  # type: ignore[no-any-return]


def same_days(server_doc: dict[str, Any], local_doc: dict[str, Any]) -> None:
    def rows(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            d["date"]: {
                **{
                    k: round(v, 9) if isinstance(v, float) else v
                    for k, v in d.items()
                    if k not in ("modelBreakdowns", "modelsUsed")
                },
                "models": sorted(
                    (
                        m["modelName"],
                        m["inputTokens"],
                        m["outputTokens"],
                        m["cacheCreationTokens"],
                        m["cacheReadTokens"],
                        m["webSearchRequests"],
                        round(m["webSearchCost"], 9),
                    )
                    for m in d["modelBreakdowns"]
                ),
            }
            for d in doc["daily"]
        }

    assert rows(server_doc) == rows(local_doc)


@pytest.mark.dates  # the days and blocks of the local report and the server
def test_login_collect_and_the_server_equals_the_local_report(
    server: Server, user_env: dict[str, str]
) -> None:
    out = pp(user_env, "login", "--server", server.base, "--username", "dana")
    assert out.returncode == 0, out.stderr
    assert pp(user_env, "whoami").stdout.strip() == f"dana on {server.base}"
    config = Path(user_env["PROMPTPULSE_HOME"]) / "config" / "config.json"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    shown = pp(user_env, "config", "show").stdout
    assert "api_key: pp_" in shown and json.loads(config.read_text())["api_key"] not in shown

    first = pp(user_env, "collect")
    assert first.returncode == 0, first.stderr
    assert "Sent" in first.stdout
    local = json.loads(pp(user_env, "report", "daily", "--json").stdout)
    assert local["totals"]["webSearchCost"] > 0  # web searches reach the server too
    same_days(server_daily(server, user_env), local)

    again = pp(user_env, "collect")
    assert again.returncode == 0 and "Nothing new to send." in again.stdout

    new_root = Path(user_env["CLAUDE_CONFIG_DIR"]) / "projects" / "-home-dev-late"
    t = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    write(
        new_root / "late.jsonl",
        response(t, "late_1", "late_r1", 2, output=999, cwd="/home/dev/late", session="late"),
    )
    third = pp(user_env, "collect")
    assert third.returncode == 0
    assert third.stdout == f"Sent 1 day, 1 session and 1 block to {server.base}.\n"
    local = json.loads(pp(user_env, "report", "daily", "--json").stdout)
    assert "2026-04-02" in {d["date"] for d in local["daily"]}
    same_days(server_daily(server, user_env), local)
    sessions = httpx.get(
        f"{server.base}/api/usage/sessions",
        headers={"X-API-Key": json.loads(config.read_text())["api_key"]},
        params={"limit": 1000},
    ).json()["sessions"]
    assert "late" in {s["projectPath"] for s in sessions}  # basenames by default


def test_server_down_keeps_data_and_delivers_it_once_after_restart(
    server: Server, user_env: dict[str, str]
) -> None:
    assert pp(user_env, "login", "--server", server.base, "--username", "erin").returncode == 0
    server.stop()
    down = pp(user_env, "collect")
    assert down.returncode != 0
    assert "kept and sent with the next collect" in down.stderr
    assert "Traceback" not in down.stderr
    assert "pending uploads: 1" in pp(user_env, "status").stdout
    server.start()
    up = pp(user_env, "collect")
    assert up.returncode == 0, up.stderr
    assert up.stdout == f"Sent 1 batch kept from an earlier collect to {server.base}.\n"
    local = json.loads(pp(user_env, "report", "daily", "--json").stdout)
    same_days(server_daily(server, user_env), local)
    assert "pending uploads: 0" in pp(user_env, "status").stdout


def test_a_lost_answer_is_resent_and_not_counted_twice(
    server: Server, user_env: dict[str, str]
) -> None:
    """The server stored a batch but the collector never heard back: the batch stays pending,
    goes again with its id, and the server recognises it."""
    from promptpulse.ledger import Ledger

    assert pp(user_env, "login", "--server", server.base, "--username", "finn").returncode == 0
    assert pp(user_env, "collect").returncode == 0
    ledger_path = Path(user_env["PROMPTPULSE_HOME"]) / "data" / "ledger.sqlite3"
    key = json.loads((Path(user_env["PROMPTPULSE_HOME"]) / "config" / "config.json").read_text())[
        "api_key"
    ]
    # replay what an interrupted upload leaves behind: a batch the server has, still pending
    body = {
        "batchId": "lost-answer",
        "generatedAt": "2030-01-01T00:00:00.000Z",
        "machine": {"id": "laptop-1", "hostname": "x"},
        "daily": [
            {
                "date": "2026-05-01",
                "modelBreakdowns": [
                    {
                        "modelName": "claude-opus-4-6",
                        "inputTokens": 7,
                        "outputTokens": 7,
                        "cacheCreationTokens": 0,
                        "cacheReadTokens": 0,
                        "cost": 1.0,
                    }
                ],
            }
        ],
        "sessions": [],
        "blocks": [],
    }
    assert (
        httpx.post(
            f"{server.base}/api/v1/uploads", json=body, headers={"X-API-Key": key}
        ).status_code
        == 201
    )
    with Ledger(ledger_path) as led:
        led.add_pending(
            "lost-answer",
            "2030-01-01T00:00:00.000Z",
            json.dumps(body),
            [("daily", "2026-05-01", "x")],
        )
    before = server_daily(server, user_env)["totals"]["totalTokens"]
    out = pp(user_env, "collect")
    assert out.returncode == 0 and "1 batch kept from an earlier collect" in out.stdout
    assert server_daily(server, user_env)["totals"]["totalTokens"] == before


def test_not_logged_in_and_bad_server(user_env: dict[str, str]) -> None:
    out = pp(user_env, "collect")
    assert out.returncode == 2 and "not logged in" in out.stderr
    bad = pp(user_env, "login", "--server", f"http://127.0.0.1:{free_port()}", "--username", "gina")
    assert bad.returncode == 2 and "cannot reach" in bad.stderr and "Traceback" not in bad.stderr
    assert pp(user_env, "config", "set", "project_privacy", "secret").returncode == 2
    assert pp(user_env, "config", "set", "project_privacy", "hash").returncode == 0


@pytest.mark.dates  # days, and the login link's expiry
def test_dashboard_opens_logged_in_through_a_one_time_link(
    server: Server, user_env: dict[str, str], tmp_path: Path
) -> None:
    assert pp(user_env, "login", "--server", server.base, "--username", "hana").returncode == 0
    printed = pp(user_env, "dashboard", "--no-browser")
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip().splitlines()[-1]
    key = json.loads((Path(user_env["PROMPTPULSE_HOME"]) / "config" / "config.json").read_text())
    assert url.startswith(f"{server.base}/login/") and key["api_key"] not in url
    with httpx.Client() as browser:
        page = browser.get(url, follow_redirects=True)
        assert page.status_code == 200 and "hana" in page.text and "Overview" in page.text
    assert httpx.get(url).status_code == 410  # used once

    # with a browser: Python's webbrowser runs $BROWSER with the link
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.py"
    script.write_text(f"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])")
    env = dict(user_env, BROWSER=f"{sys.executable} {script} %s")
    out = pp(env, "dashboard")
    assert out.returncode == 0 and "Opened the dashboard" in out.stdout
    assert httpx.get(opened.read_text(), follow_redirects=True).status_code == 200


class CuttingProxy:
    """A TCP proxy in front of the server that kills the server (SIGKILL) part of the way
    through forwarding an upload: after ``fraction`` of its body."""

    def __init__(self, server: Server, fraction: float) -> None:
        import socket
        import threading

        self.server, self.fraction, self.cut = server, fraction, False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.server.port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump_back, args=(upstream, client), daemon=True).start()
            threading.Thread(target=self._forward, args=(client, upstream), daemon=True).start()

    def _pump_back(self, upstream: Any, client: Any) -> None:
        try:
            while data := upstream.recv(65536):
                if self.cut:  # the answer to the cut upload never arrives
                    return
                client.sendall(data)
        except OSError:
            pass
        finally:
            client.close()

    def _forward(self, client: Any, upstream: Any) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(buffer) < length:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffer += data
                body, buffer = buffer[:length], buffer[length:]
                upstream.sendall(head + b"\r\n\r\n")
                if b"/api/v1/uploads" in head.split(b"\r\n")[0] and not self.cut:
                    self.cut = True
                    upstream.sendall(body[: int(len(body) * self.fraction)])
                    time.sleep(0.2)  # let the server work on what it has
                    self.server.stop(signal.SIGKILL)
                    return
                upstream.sendall(body)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("fraction", [0.5, 1.0])
def test_a_server_killed_during_an_upload_loses_and_doubles_nothing(
    server: Server, user_env: dict[str, str], fraction: float
) -> None:
    """Killed with half the upload received, or with all of it (the batch may or may not have
    been stored): the next collects deliver everything exactly once."""
    assert pp(user_env, "login", "--server", server.base, "--username", "ivan").returncode == 0
    proxy = CuttingProxy(server, fraction)
    try:
        assert pp(user_env, "config", "set", "server", proxy.base).returncode == 0
        cut = pp(user_env, "collect")
        assert proxy.cut and cut.returncode != 0 and "Traceback" not in cut.stderr, (
            cut.stderr + cut.stdout
        )
        assert "kept and sent with the next collect" in cut.stderr
        server.start()
        assert pp(user_env, "config", "set", "server", server.base).returncode == 0
        again = pp(user_env, "collect")
        assert again.returncode == 0, again.stderr
        local = json.loads(pp(user_env, "report", "daily", "--json").stdout)
        same_days(server_daily(server, user_env), local)
        assert "Nothing new to send." in pp(user_env, "collect").stdout
        same_days(server_daily(server, user_env), local)
    finally:
        proxy.close()


@pytest.mark.dates  # the readings' instants and the windows' time left
def test_statusline_readings_reach_the_api_and_the_dashboard(
    server: Server, user_env: dict[str, str]
) -> None:
    from datetime import timedelta

    from promptpulse import clock
    from testclock import NOW, iso

    assert pp(user_env, "login", "--server", server.base, "--username", "ivy").returncode == 0
    seen = [
        (NOW - timedelta(minutes=10), 30.0, 10.0),
        (NOW - timedelta(minutes=1), 42.0, 12.5),
    ]
    five_reset, seven_reset = NOW + timedelta(hours=2), NOW + timedelta(days=3)
    for at, five, seven in seen:
        doc = {
            "session_id": "s-e2e",
            "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
            "rate_limits": {
                "five_hour": {"used_percentage": five, "resets_at": int(five_reset.timestamp())},
                "seven_day": {"used_percentage": seven, "resets_at": iso(seven_reset)},
            },
        }
        line = subprocess.run(
            [*PP, "statusline", "--fresh", "--no-color"],
            input=json.dumps(doc),
            env=dict(user_env, PROMPTPULSE_NOW=iso(at)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert line.returncode == 0 and f"5h {five:.0f}%" in line.stdout, line.stderr
    assert pp(user_env, "config", "set", "plan", "max5").returncode == 0
    sent = pp(user_env, "collect")
    assert sent.returncode == 0 and "Sent" in sent.stdout, sent.stderr

    key = json.loads((Path(user_env["PROMPTPULSE_HOME"]) / "config" / "config.json").read_text())
    headers = {"X-API-Key": key["api_key"]}
    day = (NOW - timedelta(days=1)).date().isoformat()
    doc = httpx.get(
        f"{server.base}/api/usage/limits", headers=headers, params={"since": day}
    ).json()
    assert doc["plan"] == {"name": "max5", "monthlyUsd": 100.0}
    got = [
        (
            clock.parse_instant(r["recordedAt"]),
            r["fiveHour"]["usedPercentage"],
            r["sevenDay"]["usedPercentage"],
            clock.parse_instant(r["fiveHour"]["resetsAt"]),
            clock.parse_instant(r["sevenDay"]["resetsAt"]),
            r["model"],
        )
        for r in doc["readings"]
    ]
    assert got == [
        (
            at.replace(microsecond=at.microsecond // 1000 * 1000),
            five,
            seven,
            five_reset.replace(microsecond=0),
            seven_reset.replace(microsecond=seven_reset.microsecond // 1000 * 1000),
            "claude-opus-4-6",
        )
        for at, five, seven in seen
    ]
    now = httpx.get(f"{server.base}/api/usage/limits/current", headers=headers).json()
    assert now["fiveHour"]["usedPercentage"] == 42.0
    assert now["sevenDay"]["usedPercentage"] == 12.5
    status = clock.to_ms(five_reset.replace(microsecond=0)) - clock.to_ms(NOW)
    assert now["fiveHour"]["timeLeftSeconds"] == status // 1000
    assert now["fiveHour"]["pace"] == pytest.approx(42.0 / now["fiveHour"]["elapsedPercentage"])

    again = pp(user_env, "collect")
    assert again.returncode == 0 and "Nothing new to send." in again.stdout  # each reading once

    link = pp(user_env, "dashboard", "--no-browser").stdout.strip().splitlines()[-1]
    with httpx.Client() as browser:
        page = browser.get(link, follow_redirects=True).text
    assert 'id="limits"' in page and "42.0%" in page and "12.5%" in page
    assert "Max 5× plan" in page and "$100.00 a month" in page


def test_a_batch_the_server_refuses_is_rebuilt_not_stuck(
    server: Server, user_env: dict[str, str]
) -> None:
    """An older statusline kept a reading the server refuses (a reset in 1970): collect left
    its batch pending for ever. The batch is dropped, its rows built again without it."""
    from promptpulse.ledger import Ledger
    from promptpulse.limits import Reading
    from testclock import NOW_MS

    assert pp(user_env, "login", "--server", server.base, "--username", "gil").returncode == 0
    ledger_path = Path(user_env["PROMPTPULSE_HOME"]) / "data" / "ledger.sqlite3"
    with Ledger(ledger_path) as led:
        led.db.execute(  # as an older statusline stored it
            "INSERT INTO limit_reading(ts, five_hour_pct, five_hour_resets) VALUES (?, 95, 1000)",
            (NOW_MS - 120_000,),
        )
        led.add_reading(Reading(NOW_MS - 60_000, 40.0, NOW_MS + 3_600_000))
        bad = {
            "batchId": "poisoned",
            "generatedAt": "2026-09-16T15:00:00.000Z",
            "machine": {"id": "laptop-1", "hostname": "x"},
            "limits": [
                {
                    "recordedAt": "2026-09-16T14:00:00.000Z",
                    "fiveHour": {"usedPercentage": 95, "resetsAt": "1970-01-01T00:00:01.000Z"},
                }
            ],
        }
        led.add_pending(
            "poisoned",
            "2026-09-16T15:00:00.000Z",
            json.dumps(bad),
            [("limits", "2026-09-16T14:00:00.000Z", "x")],
        )
    out = pp(user_env, "collect")
    assert out.returncode == 0, out.stderr
    assert "refused 1 earlier batch as invalid" in out.stderr and "Sent" in out.stdout
    key = json.loads((Path(user_env["PROMPTPULSE_HOME"]) / "config" / "config.json").read_text())
    readings = httpx.get(
        f"{server.base}/api/usage/limits",
        headers={"X-API-Key": key["api_key"]},
        params={"since": "2026-01-01"},
    ).json()["readings"]
    assert [r["fiveHour"]["usedPercentage"] for r in readings] == [40.0]
    assert server_daily(server, user_env)["daily"]  # the usage went too
    again = pp(user_env, "collect")
    assert again.returncode == 0 and "Nothing new to send." in again.stdout


receiver = test_budgets.receiver  # a real HTTP receiver on 127.0.0.1


@pytest.mark.dates  # today's cost against a daily budget
def test_collect_warns_over_budget_and_the_webhook_gets_the_alert(
    server: Server, user_env: dict[str, str], receiver: test_budgets.Receiver
) -> None:
    assert pp(user_env, "login", "--server", server.base, "--username", "budgie").returncode == 0
    key = json.loads((Path(user_env["PROMPTPULSE_HOME"]) / "config" / "config.json").read_text())
    headers = {"X-API-Key": key["api_key"]}
    body = {
        "kind": "cost",
        "period": "day",
        "amountUsd": 0.01,
        "thresholds": [100],
        "channel": {"type": "webhook", "url": receiver.url, "format": "json"},
    }
    made = httpx.post(f"{server.base}/api/budgets", headers=headers, json=body)
    assert made.status_code == 201, made.text
    today = Path(user_env["CLAUDE_CONFIG_DIR"]) / "projects" / "-home-dev-today"
    write(
        today / "today.jsonl",
        response(NOW - timedelta(hours=1), "t_1", "t_r1", 2, output=50_000, cwd="/home/dev/today"),
    )
    out = pp(user_env, "collect")
    assert out.returncode == 0, out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("Over budget:")]
    assert line.startswith("Over budget: daily cost $") and "of $0.01" in line
    for _ in range(100):  # delivered after the answer
        if receiver.got:
            break
        time.sleep(0.05)
    (sent,) = receiver.bodies()
    assert sent["budgetId"] == made.json()["id"] and sent["threshold"] == 100
    assert f"${sent['used']:,.2f} of $0.01" in line
    status = pp(user_env, "status").stdout
    assert f"#{sent['budgetId']} daily cost $" in status and "(alerts at 100 %)" in status
