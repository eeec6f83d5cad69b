"""The live views: frames built from the ledger at an instant, the refresh loop, and the real
command stopped with Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from logtree import response, write
from rich.console import Console, RenderableType

import testclock
from promptpulse import clock, live, reports
from promptpulse.display import count, money
from promptpulse.ledger import Ledger

pytestmark = pytest.mark.dates

NOW = testclock.NOW
PP = [sys.executable, "-m", "promptpulse"]


def render(renderable: RenderableType, width: int = 160) -> str:
    """The text ``run`` prints for a frame when not on a terminal."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable, crop=False)
    return console.export_text()


def responses(first: datetime, n: int, prefix: str = "m") -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for i in range(n):
        lines += response(
            first + timedelta(minutes=15 * i),
            f"{prefix}{i}",
            f"r{prefix}{i}",
            2,
            model="claude-opus-4-6",
            input=100 + i,
            output=500,
            cache_write=1000,
            cache_read=20_000,
        )
    return lines


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A day-old block, then an active one that began 100 minutes before the test instant."""
    root = tmp_path / "claude"
    log = root / "projects" / "-home-u-proj" / "s1.jsonl"
    write(
        log,
        [
            *responses(NOW - timedelta(days=1), 2, "old"),
            *responses(NOW - timedelta(minutes=100), 6),
        ],
    )
    return root


@pytest.fixture
def ledger(tmp_path: Path, root: Path) -> Any:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        ledger.sync([root])
        yield ledger


def pp(root: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(root), COLUMNS="160")
    return subprocess.run([*PP, *args], env=env, capture_output=True, text=True, timeout=60, **kw)


def test_the_active_block_shows_the_figures_of_the_json_report(root: Path, ledger: Any) -> None:
    doc = json.loads(pp(root, "report", "blocks", "--active", "--json", "-z", "UTC").stdout)
    (block,) = doc["blocks"]
    frame = live.blocks_source(ledger, lambda: [root], lambda: testclock.NOW_MS, UTC)
    text = render(frame())
    left = block["projection"]["remainingMinutes"]
    start = clock.parse_instant(block["startTime"])
    elapsed = int((NOW - start).total_seconds()) // 60
    for figure in [
        f"{count(block['totalTokens'])} tokens, {money(block['costUSD'])}",
        f"{block['burnRate']['tokensPerMinute']:,.0f} tokens/min",
        f"{money(block['burnRate']['costPerHour'])}/h",
        f"{count(block['projection']['totalTokens'])} tokens, "
        f"{money(block['projection']['totalCost'])} by ",
        f"{left // 60}h {left % 60:02d}m left",
        f"{block['startTime'][:10]} {block['startTime'][11:16]} → {block['endTime'][11:16]} (UTC)",
        f"{elapsed // 60}h {elapsed % 60:02d}m elapsed",
    ]:
        assert figure in text
    assert "Active 5-hour block" in text and "Claude Code usage by 5-hour block" in text


def test_the_token_limit_bar_says_how_much_is_used_and_projected(ledger: Any) -> None:
    lines = ledger.usage_lines("auto", None)
    blocks = reports.by_block(lines, testclock.NOW_MS)
    active = next(b for b in blocks if b.is_active)
    assert active.projection is not None
    limit = active.usage.totals.total * 2
    text = render(live.blocks_frame(blocks, testclock.NOW_MS, UTC, limit))
    projected = active.projection.total_tokens / limit * 100
    assert f"50.0% used, {projected:.1f}% projected, of {count(limit)}" in text


def test_the_official_limits_show_when_the_statusline_saw_them(root: Path, ledger: Any) -> None:
    from promptpulse.limits import Reading

    frame = live.blocks_source(ledger, lambda: [root], lambda: testclock.NOW_MS, UTC)
    assert "Plan limits" not in render(frame())
    hour = reports.HOUR_MS
    ledger.add_reading(
        Reading(
            testclock.NOW_MS - 60_000,
            64.0,
            testclock.NOW_MS + 2 * hour,
            30.0,
            testclock.NOW_MS + 50 * hour,
        )
    )
    text = render(frame())
    assert "Plan limits (official)" in text
    assert "5h: 64% used, resets in 2h00m (60% of the window gone, pace 1.07)" in text
    assert "7d: 30% used, resets in 2d2h" in text


def test_without_an_active_block_it_says_so(ledger: Any) -> None:
    later = testclock.NOW_MS + 6 * reports.HOUR_MS
    blocks = reports.by_block(ledger.usage_lines("auto", None), later)
    text = render(live.blocks_frame(blocks, later, UTC))
    assert "No active block" in text
    assert "Claude Code usage by 5-hour block" in text  # the recent ones still show


def test_the_loop_picks_up_lines_appended_between_refreshes(root: Path, ledger: Any) -> None:
    now = testclock.FakeClock()
    log = root / "projects" / "-home-u-proj" / "s1.jsonl"
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # Claude Code writes while the view waits
        waits.append(seconds)
        write(log, responses(now() + timedelta(seconds=10), 1, "new"), mode="a")
        now.advance(seconds=30)

    out = io.StringIO()
    frame = live.blocks_source(ledger, lambda: [root], lambda: clock.to_ms(now()), UTC)
    drawn = live.run(frame, Console(file=out, width=160), refresh=2, sleep=sleep, ticks=2)
    assert drawn == 2 and waits == [2]
    first, second = out.getvalue().split("Ctrl-C to stop.")[:2]
    tokens = [6 * 21_600 + sum(range(6)), 7 * 21_600 + sum(range(6))]
    assert f"{count(tokens[0])} tokens" in first and f"{count(tokens[1])} tokens" in second
    at = NOW.astimezone(UTC)  # the instant the tests run at, then 30 s later
    shown = [at.strftime("%H:%M:%S"), (at + timedelta(seconds=30)).strftime("%H:%M:%S")]
    assert shown[0] in first and shown[1] in second


def test_on_a_terminal_it_redraws_in_place_and_shows_the_cursor_again(ledger: Any) -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system="standard")
    frame = live.blocks_source(ledger, lambda: [], lambda: testclock.NOW_MS, UTC)
    assert live.run(frame, console, refresh=1, sleep=lambda _: None, ticks=3) == 3
    assert out.getvalue().count("\x1b[?25l") == 1 and out.getvalue().endswith("\x1b[?25h")


def test_ctrl_c_ends_the_loop_quietly(ledger: Any) -> None:
    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    frame = live.blocks_source(ledger, lambda: [], lambda: testclock.NOW_MS, UTC)
    out = io.StringIO()
    assert live.run(frame, Console(file=out), refresh=5, sleep=interrupted) == 1


def test_daily_shows_the_last_seven_days_with_today_marked(ledger: Any) -> None:
    frame = live.daily_source(ledger, lambda: [], lambda: testclock.NOW_MS, UTC)
    text = render(frame())
    yesterday = (NOW - timedelta(days=1)).date().isoformat()
    assert f"{NOW.date().isoformat()} (today)" in text and yesterday in text
    later = live.daily_source(
        ledger, lambda: [], lambda: testclock.NOW_MS + 7 * 24 * reports.HOUR_MS, UTC
    )
    assert "No usage found in these days." in render(later())
    since = live.daily_source(
        ledger, lambda: [], lambda: testclock.NOW_MS, UTC, since=(NOW - timedelta(days=30)).date()
    )
    assert yesterday in render(since())


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_the_tables_fit_the_terminal_and_cut_no_figure(ledger: Any, width: int) -> None:
    """Each frame's table takes the widest layout that fits (ccusage's compact one, then a
    narrow one), with every day, block start and cost whole at any width; on a screen too
    narrow for any layout (40 columns for the blocks), the narrowest, wider than the screen,
    rather than cut a figure."""
    now = testclock.NOW_MS
    blocks = reports.by_block(ledger.usage_lines("auto", None), now)
    shown = reports.select_blocks(blocks, now, UTC, recent=True)
    blocks_text = render(live.blocks_frame(blocks, now, UTC), width)
    daily = live.daily_source(ledger, lambda: [], lambda: now, UTC)()
    days = reports.by_period(ledger.usage_by_day(UTC, "auto", None), "daily")
    daily_text = render(daily, width)
    for text in (blocks_text, daily_text):
        if width >= 60:
            assert max(len(line) for line in text.splitlines()) <= width, text
    for block in shown:
        if not block.is_gap:
            start = datetime.fromtimestamp(block.start / 1000, UTC).strftime("%Y-%m-%d")
            assert start in blocks_text and money(block.usage.totals.cost) in blocks_text
    for day in days:
        assert day.key in daily_text and money(day.usage.totals.cost) in daily_text
    assert ("Cache Read" in daily_text) == (width >= 120)  # every token column on a wide one


@pytest.mark.parametrize("report", ["daily", "blocks"])
def test_live_with_json_is_refused(root: Path, report: str) -> None:
    out = pp(root, "report", report, "--live", "--json")
    assert out.returncode == 2
    assert "--live draws" in out.stderr and "does not go with --json" in out.stderr
    assert out.stdout == ""


def test_refresh_below_a_second_is_refused(root: Path) -> None:
    out = pp(root, "report", "blocks", "--live", "--refresh", "0.1")
    assert out.returncode == 2 and "--refresh" in out.stderr


@pytest.mark.parametrize("report", ["blocks", "daily"])
def test_the_command_stops_cleanly_on_ctrl_c(root: Path, tmp_path: Path, report: str) -> None:
    stdout, stderr = tmp_path / "out.txt", tmp_path / "err.txt"
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(root), COLUMNS="160")
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(
            [*PP, "report", report, "--live", "--refresh", "1", "-z", "UTC"],
            env=env,
            stdout=out,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 30
            while stdout.read_text().count("Ctrl-C to stop.") < 2:  # two frames: it is looping
                assert proc.poll() is None, stderr.read_text()
                assert time.monotonic() < deadline, "no second frame in 30 s"
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in stderr.read_text() + stdout.read_text()
    assert stdout.read_text().count("Ctrl-C to stop.") < 10  # it sleeps between frames


@pytest.mark.parametrize("report", ["blocks", "daily"])
def test_help_names_live_and_refresh(root: Path, report: str) -> None:
    help_text = pp(root, "report", report, "--help").stdout
    assert "--live" in help_text and "--refresh" in help_text
