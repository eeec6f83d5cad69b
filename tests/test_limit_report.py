"""Plan limits: windows from the official readings, the limits report, the subscription's worth,
and what collect sends of them."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from logtree import response, write

from promptpulse import collect, limit_report, limits, reports, uploads
from promptpulse.ledger import Ledger
from promptpulse.limits import Reading
from promptpulse.reports import UsageRow
from testclock import NOW, NOW_MS

pytestmark = pytest.mark.dates

HOUR = 3_600_000
DAY = 24 * HOUR
WEEK = 7 * DAY


def row(ts: int, tokens: int = 100, cost: float = 1.0) -> UsageRow:
    return UsageRow(ts, "claude-opus-4-6", tokens, 0, 0, 0, cost)


def test_readings_group_by_the_window_they_describe() -> None:
    readings = [
        Reading(NOW_MS - 3 * HOUR, 10.0, NOW_MS + HOUR, 5.0, NOW_MS + 2 * DAY),
        Reading(NOW_MS - 2 * HOUR, 30.0, NOW_MS + HOUR),
        Reading(NOW_MS - HOUR, 25.0, NOW_MS + HOUR),  # a peak, then a lower last
        Reading(NOW_MS - 30 * 60_000, 2.0, NOW_MS + 6 * HOUR, 6.0, NOW_MS + 2 * DAY),
    ]
    five = limits.windows_of(readings, "five_hour")
    assert [(w.resets_at, w.last_pct, w.peak_pct, w.readings) for w in five] == [
        (NOW_MS + HOUR, 25.0, 30.0, 3),
        (NOW_MS + 6 * HOUR, 2.0, 2.0, 1),
    ]
    seven = limits.windows_of(readings, "seven_day")
    assert [(w.last_pct, w.peak_pct, w.readings) for w in seven] == [(6.0, 6.0, 2)]
    status = limits.current(readings, "five_hour", NOW_MS)
    assert status is not None and status.used_pct == 2.0 and status.left_ms == 6 * HOUR


def test_five_hour_rows_match_blocks_to_official_windows() -> None:
    start = NOW_MS - NOW_MS % HOUR - 30 * HOUR
    lines = [row(start + 10 * 60_000), row(start + 2 * HOUR, 300)]  # block 1
    lines += [row(start + 12 * HOUR, 50)]  # block 2, no reading
    lines += [row(NOW_MS - HOUR, 20)]  # block 3, active
    blocks = reports.by_block(lines, NOW_MS)
    readings = [
        Reading(start + 2 * HOUR, 64.0, start + 5 * HOUR + 10 * 60_000),  # block 1's
        Reading(NOW_MS - 30 * 60_000, 7.0, NOW_MS + 4 * HOUR),  # the active block's
        Reading(start - 20 * HOUR, 90.0, start - 18 * HOUR),  # another machine's window
    ]
    rows = limit_report.five_hour_rows(blocks, readings, NOW_MS)
    assert [r.start for r in rows] == [
        start - 23 * HOUR,
        start,
        start + 12 * HOUR,
        NOW_MS - NOW_MS % HOUR - HOUR,
    ]
    lonely, first, second, active = rows
    assert lonely.official is not None and lonely.official.last_pct == 90.0 and lonely.tokens == 0
    assert first.official is not None and first.official.last_pct == 64.0
    assert second.official is None and second.of_max_pct == pytest.approx(100 * 50 / 400)
    assert active.is_current and active.official is not None and active.official.last_pct == 7.0


def test_seven_day_windows_line_up_with_the_official_reset() -> None:
    reset = NOW_MS + 2 * DAY
    lines = [row(reset - 3 * WEEK + HOUR, 1000), row(reset - WEEK - DAY, 500), row(NOW_MS - HOUR)]
    readings = [Reading(NOW_MS - HOUR, None, None, 40.0, reset)]
    rows = limit_report.seven_day_rows(lines, readings, NOW_MS)
    # the week with no usage between is left out
    assert [(r.start, r.end) for r in rows] == [
        (reset - 3 * WEEK, reset - 2 * WEEK),
        (reset - 2 * WEEK, reset - WEEK),
        (reset - WEEK, reset),
    ]
    assert [r.tokens for r in rows] == [1000, 500, 100]
    assert rows[0].of_max_pct == 100.0 and rows[1].of_max_pct == 50.0
    assert rows[2].is_current and rows[2].official is not None and rows[2].of_max_pct is None


def test_seven_day_windows_without_readings_start_at_the_first_usage() -> None:
    first = NOW_MS - 10 * DAY
    rows = limit_report.seven_day_rows([row(first + 5), row(NOW_MS - 5)], [], NOW_MS)
    anchor = first - first % HOUR
    assert [(r.start, r.is_current) for r in rows] == [(anchor, False), (anchor + WEEK, True)]


def test_week_spans_fill_the_gaps_between_official_windows() -> None:
    a = NOW_MS - 5 * WEEK
    b = a + 2 * WEEK + DAY  # a later reset a day off the weekly beat
    spans = limit_report.week_spans(a - WEEK - 1, NOW_MS, [a, b])
    assert spans[:5] == [
        (a - 2 * WEEK, a - WEEK),
        (a - WEEK, a),
        (a, a + WEEK),
        (a + WEEK, a + 2 * WEEK),
        (a + 2 * WEEK, b),
    ]
    assert all(s < e for s, e in spans) and all(
        e == s2 for (_, e), (s2, _) in itertools.pairwise(spans)
    )
    assert spans[-1][0] <= NOW_MS < spans[-1][1]


def test_subscription_value_per_month() -> None:
    months = limit_report.subscription(
        [
            reports.PeriodUsage("2026-08", _usage(412.5)),
            reports.PeriodUsage("2026-09", _usage(50.0)),
        ],
        100.0,
    )
    assert [(m.month, m.value) for m in months] == [("2026-08", 4.125), ("2026-09", 0.5)]
    assert (
        limit_report.subscription([reports.PeriodUsage("2026-08", _usage(1))], None)[0].value
        is None
    )


def _usage(cost: float) -> reports.Usage:
    u = reports.Usage()
    u.add(UsageRow(0, "claude-opus-4-6", 1, 1, 0, 0, cost))
    return u


# --- what collect sends -------------------------------------------------------------------------


def test_readings_and_the_plan_go_to_the_server_once(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as led:
        led.add_reading(Reading(NOW_MS - 60_000, 42.0, NOW_MS + HOUR, None, None, "s", "m"))
        led.add_reading(Reading(NOW_MS, 43.0, NOW_MS + HOUR, 9.5, NOW_MS + DAY))
        rows = collect.account_rows(led, "max5", 100.0)
        assert [k for k, _, _ in rows] == ["limits", "limits", "plan"]
        body = uploads.batch_body("b1", "2026-09-16T15:04:05.000Z", {"id": "m"}, rows)
        assert body["plan"] == {"name": "max5", "monthlyUsd": 100.0}
        assert body["limits"][0] == {
            "recordedAt": reports.iso_ms(NOW_MS - 60_000),
            "fiveHour": {"usedPercentage": 42.0, "resetsAt": reports.iso_ms(NOW_MS + HOUR)},
            "sevenDay": None,
            "sessionId": "s",
            "model": "m",
        }
        led.add_pending(
            "b1", "x", json.dumps(body), [(k, key, uploads.digest(r)) for k, key, r in rows]
        )
        led.acknowledge("b1")
        assert collect.account_rows(led, "max5", 100.0) == []  # nothing twice
        assert [k for k, _, _ in collect.account_rows(led, "max20", 200.0)] == ["plan"]
        assert collect.account_rows(led, "", None) == []


def test_a_batch_without_readings_or_plan_has_no_such_keys() -> None:
    body = uploads.batch_body("b", "t", {"id": "m"}, [("daily", "2026-09-16", {"date": "x"})])
    assert "limits" not in body and "plan" not in body  # older servers refuse unknown keys


# --- the command --------------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promptpulse", *args],
        env=dict(os.environ, COLUMNS="120", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_report_limits_json_and_table(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    at = NOW - timedelta(hours=1)
    write(
        root / "projects" / "p" / "s.jsonl",
        response(at, "m1", "r1", 1, output=1000, model="claude-opus-4-6"),
    )
    env = {"CLAUDE_CONFIG_DIR": str(root)}
    from promptpulse import config

    with Ledger(config.ledger_path()) as led:
        led.add_reading(
            Reading(NOW_MS - 10 * 60_000, 42.0, NOW_MS + 2 * HOUR, 12.0, NOW_MS + 3 * DAY)
        )
    assert cli("config", "set", "plan", "max5", env=env).returncode == 0
    done = cli("report", "limits", "--json", "--timezone", "UTC", env=env)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["plan"] == {"name": "max5", "monthlyUsd": 100.0}
    assert doc["current"]["fiveHour"]["usedPercentage"] == 42.0
    assert doc["current"]["fiveHour"]["timeLeftSeconds"] == 2 * 3600
    assert doc["current"]["sevenDay"]["resetsAt"] == reports.iso_ms(NOW_MS + 3 * DAY)
    (five,) = doc["fiveHour"]
    assert five["isCurrent"] and five["official"]["lastPercentage"] == 42.0
    assert five["totalTokens"] == 1010
    month = NOW.astimezone(UTC).strftime("%Y-%m")
    assert [m["month"] for m in doc["subscription"]] == [month]
    assert doc["subscription"][0]["value"] == pytest.approx(doc["subscription"][0]["costUSD"] / 100)
    table = cli("report", "limits", "--timezone", "UTC", env=env)
    assert table.returncode == 0, table.stderr
    assert "5h: 42% used, resets in 2h00m" in table.stdout
    assert "Your max5 plan at API prices" in table.stdout


def test_report_limits_without_readings_says_how_to_get_them(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    write(root / "projects" / "p" / "s.jsonl", response(NOW - timedelta(days=2), "m1", "r1", 1))
    done = cli("report", "limits", "--timezone", "UTC", env={"CLAUDE_CONFIG_DIR": str(root)})
    assert done.returncode == 0, done.stderr
    assert "No official readings yet" in done.stdout and "setup --statusline" in done.stdout
    assert "config set plan" in done.stdout


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("plan", "gold", "plan: one of pro, max5"),
        ("plan_price", "1e9", "plan_price '1e9'"),
        ("plan_price", "nan", "plan_price 'nan'"),
    ],
)
def test_config_refuses_a_plan_that_is_not_one(key: str, value: str, error: str) -> None:
    done = cli("config", "set", key, value, env={})
    assert done.returncode == 2 and error in done.stderr


def test_a_plan_price_overrides_the_list_price() -> None:
    assert cli("config", "set", "plan", "team", env={}).returncode == 0
    assert "plan: team ($150.00 a month)" in cli("config", "show", env={}).stdout
    assert cli("config", "set", "plan_price", "$125", env={}).returncode == 0
    assert "plan: team ($125.00 a month, your price)" in cli("config", "show", env={}).stdout
    assert cli("config", "set", "plan_price", "default", env={}).returncode == 0
    assert "($150.00 a month)" in cli("config", "show", env={}).stdout
