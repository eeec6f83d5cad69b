"""``promptpulse statusline``: Claude Code's JSON in the shapes its versions send, the figures
against the reports', the limits readings it keeps, and a status bar that never shows an error."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from logtree import TreeSpec, generate, response, write

from promptpulse import config, ledger_glance, limits, reports, statusline
from promptpulse.ledger import Ledger
from testclock import NOW, NOW_MS, iso

pytestmark = pytest.mark.dates

SESSION = "5c1d0e2a-0000-4000-8000-000000000001"
FIVE_RESET_S = (NOW_MS + 2 * 3_600_000) // 1000  # Unix seconds, as some versions send it
SEVEN_RESET = NOW + timedelta(days=3)


def claude_json(**over: Any) -> dict[str, Any]:
    """What Claude Code v2.1.80+ sends a statusline command (a subscription account)."""
    doc: dict[str, Any] = {
        "hook_event_name": "Status",
        "session_id": SESSION,
        "transcript_path": "",
        "cwd": "/home/u/proj",
        "version": "2.1.90",
        "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
        "workspace": {"current_dir": "/home/u/proj", "project_dir": "/home/u/proj"},
        "cost": {"total_cost_usd": 1.25, "total_duration_ms": 60000},
        "context_window": {
            "total_input_tokens": 15234,
            "total_output_tokens": 4521,
            "context_window_size": 200000,
            "used_percentage": 31.5,
            "remaining_percentage": 68.5,
            "current_usage": {
                "input_tokens": 3000,
                "output_tokens": 500,
                "cache_creation_input_tokens": 10000,
                "cache_read_input_tokens": 50000,
            },
        },
        "exceeds_200k_tokens": False,
        "rate_limits": {
            "five_hour": {"used_percentage": 42, "resets_at": FIVE_RESET_S},
            "seven_day": {"used_percentage": 12.5, "resets_at": iso(SEVEN_RESET)},
        },
    }
    doc.update(over)
    return doc


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Days are the system zone's: UTC here, set for this process too."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Claude config dir: a generated history, and today's session with a subagent."""
    root = tmp_path / "claude"
    generate(root, TreeSpec(projects=2, sessions=3, responses=15, start=NOW - timedelta(days=6)))
    folder = root / "projects" / "-home-u-proj"
    lines = []
    for i in range(8):
        at = NOW - timedelta(minutes=90 - 10 * i)
        lines += response(
            at,
            f"sl_m{i}",
            f"sl_r{i}",
            2,
            model="claude-opus-4-6",
            session=SESSION,
            input=100,
            output=900,
            cache_write=2000,
            cache_read=40_000,
        )
    write(folder / f"{SESSION}.jsonl", lines)
    sub = response(
        NOW - timedelta(minutes=15),
        "sl_sub",
        "sl_subr",
        1,
        sidechain=True,
        model="claude-haiku-4-5",
        session=SESSION,
        output=500,
    )
    write(folder / SESSION / "subagents" / "agent-a1.jsonl", sub)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    return root


def transcript(root: Path) -> str:
    return str(root / "projects" / "-home-u-proj" / f"{SESSION}.jsonl")


def run_line(doc: dict[str, Any] | bytes, *args: str, env: dict[str, str] | None = None) -> str:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    out = io.StringIO()
    code = statusline.run(list(args), io.BytesIO(raw), out, env or {}, now_ms=NOW_MS)
    assert code == 0
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    return text.rstrip("\n")


# --- what Claude Code sends ---------------------------------------------------------------------


def test_a_full_document_is_read() -> None:
    inp = statusline.parse_input(json.dumps(claude_json(transcript_path="/t/x.jsonl")))
    assert inp.session_id == SESSION and inp.transcript_path == "/t/x.jsonl"
    assert (inp.model_id, inp.model_name) == ("claude-opus-4-6", "Opus 4.6")
    assert inp.claude_cost == 1.25 and inp.context_pct == 31.5 and inp.context_size == 200000
    assert inp.five_hour == (42.0, FIVE_RESET_S * 1000)
    assert inp.seven_day == (12.5, limits.resets_at_ms(iso(SEVEN_RESET)))


def test_reset_times_in_seconds_milliseconds_and_iso_text_agree() -> None:
    at = NOW_MS // 1000 * 1000
    forms: list[object] = [at // 1000, at, str(at // 1000), iso(NOW.replace(microsecond=0))]
    forms.append(NOW.replace(microsecond=0).isoformat())  # +00:00 rather than Z
    assert {limits.resets_at_ms(f) for f in forms} == {at}


@pytest.mark.parametrize(
    "value", [None, True, "soon", "", -5, 0, float("inf"), 10**15, [1], {"s": 1}]
)
def test_a_reset_time_that_is_not_one_is_dropped(value: object) -> None:
    assert limits.resets_at_ms(value) is None


def test_without_rate_limits_older_versions_and_api_accounts() -> None:
    doc = claude_json()
    del doc["rate_limits"], doc["context_window"], doc["exceeds_200k_tokens"]
    inp = statusline.parse_input(json.dumps(doc))
    assert inp.five_hour is None and inp.seven_day is None and inp.context_pct is None
    assert inp.reading(NOW_MS) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"garbage",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b"null",
        b'{"model": 5, "cost": "x", "rate_limits": [1]}',
        b'{"rate_limits": {"five_hour": {"used_percentage": "lots", "resets_at": "then"}}}',
        b'{"rate_limits": {"five_hour": {"used_percentage": 1e9, "resets_at": 1800000000}}}',
        b'{"rate_limits": {"five_hour": {"used_percentage": NaN, "resets_at": 1800000000}}}',
        b'{"session_id": "a\\u0000b", "model": {"id": ["x"]}}',
        b"[" * 100_000,
    ],
)
def test_garbage_and_wrong_types_leave_fields_empty(raw: bytes) -> None:
    inp = statusline.parse_input(raw)
    assert inp.session_id is None and inp.model_id is None and inp.five_hour is None
    assert inp.reading(NOW_MS) is None


def test_context_from_the_current_usage_when_there_is_no_percentage() -> None:
    doc = claude_json()
    del doc["context_window"]["used_percentage"]
    assert statusline.parse_input(json.dumps(doc)).context_pct == pytest.approx(31.5)


def test_a_model_given_as_a_bare_id_is_shown() -> None:
    assert statusline.parse_input(b'{"model": "claude-sonnet-4-5"}').model_id == "claude-sonnet-4-5"


# --- the line -----------------------------------------------------------------------------------


def test_the_figures_equal_the_reports(tree: Path) -> None:
    text = run_line(claude_json(transcript_path=transcript(tree)), "--fresh", "--no-color")
    with Ledger(config.ledger_path()) as led:
        sessions = reports.by_session(led.usage_by_session(), UTC)
        days = reports.by_period(led.usage_by_day(UTC), "daily")
        blocks = reports.by_block(led.usage_lines(), NOW_MS)
    session = next(s for s in sessions if s.session_id == SESSION)
    today = next(d for d in days if d.key == NOW.date().isoformat())
    active = next(b for b in blocks if b.is_active)
    assert session.usage.breakdown()[0][0]  # the session has usage, its subagent's included
    assert "claude-haiku-4-5" in session.usage.models_used()
    expected = (
        f"Opus 4.6 | ${session.usage.totals.cost:,.2f} session · "
        f"${today.usage.totals.cost:,.2f} today · ${active.usage.totals.cost:,.2f} block "
        f"({limits.duration(active.end - NOW_MS)} left) | "
    )
    assert text.startswith(expected), text
    assert active.burn_rate is not None
    assert f"${active.burn_rate.cost_per_hour:,.2f}/h" in text
    assert "ctx 32%" in text  # Claude Code's own context figure wins
    assert "5h 42% (resets 2h00m, pace " in text and "7d 12% (resets 3d0h, pace " in text


def test_the_glance_draws_blocks_as_the_report_does(tree: Path) -> None:
    with Ledger(config.ledger_path()) as led:
        led.sync([tree])
        lines = led.usage_lines()
    assert any(line.web_search_cost for line in lines)  # priced by the glance as by the reports
    db = ledger_glance.open_ledger(str(config.ledger_path()))
    assert db is not None
    instants = sorted({lines[i].ts + d for i in range(0, len(lines), 7) for d in (0, 3_600_000)})
    checked = 0
    for at in [*instants, NOW_MS]:
        logged = [line for line in lines if line.ts <= at]
        active = [b for b in reports.by_block(logged, at) if b.is_active]
        glance = ledger_glance.active_block(db, at)
        if not active:
            assert glance is None, at
            continue
        assert glance is not None, at
        checked += 1
        b = active[0]
        assert (glance.start, glance.end, glance.tokens) == (b.start, b.end, b.usage.totals.total)
        assert glance.cost == pytest.approx(b.usage.totals.cost)
        rate = b.burn_rate.cost_per_hour if b.burn_rate else None
        assert glance.cost_per_hour == pytest.approx(rate)
    db.close()
    assert checked > 10


def test_readings_are_kept_once_each(tree: Path) -> None:
    doc = claude_json(transcript_path=transcript(tree))
    run_line(doc, "--fresh")
    run_line(doc, "--fresh")  # the same figures: not kept again
    doc["rate_limits"]["five_hour"]["used_percentage"] = 44
    run_line(doc, "--fresh")
    with Ledger(config.ledger_path()) as led:
        kept = led.readings()
    assert [r.five_hour_pct for r in kept] == [42.0, 44.0]
    assert kept[0].seven_day_pct == 12.5 and kept[0].session_id == SESSION
    assert kept[0].model == "claude-opus-4-6" and kept[0].ts == NOW_MS


def test_without_a_ledger_or_a_transcript_the_line_has_what_claude_sent() -> None:
    text = run_line(claude_json(), "--no-color")
    assert text.startswith("Opus 4.6 | $1.25 session")
    assert "5h 42%" in text and "7d 12%" in text


def test_context_from_the_ledger_when_claude_does_not_say(tree: Path) -> None:
    doc = claude_json(transcript_path=transcript(tree))
    del doc["context_window"]
    text = run_line(doc, "--fresh", "--no-color")
    assert "ctx 21%" in text  # 100 + 2,000 + 40,000 of 200,000


def test_colours_and_no_color(tree: Path) -> None:
    doc = claude_json()
    doc["rate_limits"]["five_hour"]["used_percentage"] = 95
    coloured = run_line(doc)
    assert "\x1b[31m95%\x1b[0m" in coloured  # red at 90 % and over
    assert "\x1b[32m12%\x1b[0m" in coloured  # green
    assert "\x1b[" not in run_line(doc, env={"NO_COLOR": "1"})
    assert "\x1b[" not in run_line(doc, "--no-color")


def test_pace_turns_the_window_yellow_then_red() -> None:
    hour = 3_600_000
    # 3 of 5 hours gone: 60 % elapsed
    assert limits.window_status("five_hour", 50, NOW_MS + 2 * hour, NOW_MS).level == "ok"
    assert limits.window_status("five_hour", 66, NOW_MS + 2 * hour, NOW_MS).level == "warn"
    assert limits.window_status("five_hour", 80, NOW_MS + 2 * hour, NOW_MS).level == "high"
    early = limits.window_status("five_hour", 20, NOW_MS + 5 * hour - 60_000, NOW_MS)
    assert early.pace is not None and early.pace > 2 and early.level == "ok"  # too early to judge
    gone = limits.window_status("five_hour", 99, NOW_MS - 1, NOW_MS)
    assert gone.expired and gone.used_pct == 0 and gone.level == "ok"


def test_a_format_template(tree: Path) -> None:
    text = run_line(
        claude_json(),
        "--no-color",
        "--format",
        "{model}: {five_hour_pct} {five_hour_left} {seven_day_pace} {block_cost} {typo}",
    )
    pace = limits.window_status(
        "seven_day", 12.5, limits.resets_at_ms(iso(SEVEN_RESET)) or 0, NOW_MS
    )
    assert text == f"Opus 4.6: 42% 2h00m {pace.pace:.1f} - {{typo}}"


def test_unknown_arguments_exit_2_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert statusline.run(["--bogus"], io.BytesIO(b"{}"), out, {}, now_ms=NOW_MS) == 2
    assert "usage: promptpulse statusline" in capsys.readouterr().err


def test_a_locked_ledger_does_not_hold_the_line(tree: Path) -> None:
    doc = claude_json(transcript_path=transcript(tree))
    run_line(doc, "--fresh")
    holder = sqlite3.connect(config.ledger_path(), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a collect writing
    try:
        started = time.monotonic()
        doc["rate_limits"]["five_hour"]["used_percentage"] = 50
        text = run_line(doc, "--fresh", "--no-color")
        assert time.monotonic() - started < 5
        assert "5h 50%" in text and "today" in text  # drawn from what the ledger has
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# --- the real command ---------------------------------------------------------------------------


def command(raw: bytes, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    full = dict(os.environ, TZ="UTC", **env)
    return subprocess.run(
        [sys.executable, "-m", "promptpulse", "statusline", *args],
        input=raw,
        env=full,
        capture_output=True,
        timeout=60,
    )


def test_the_command_syncs_the_session_in_the_background(tree: Path) -> None:
    doc = json.dumps(claude_json(transcript_path=transcript(tree))).encode()
    first = command(doc, "--no-color", env={"CLAUDE_CONFIG_DIR": str(tree)})
    assert first.returncode == 0 and first.stderr == b""
    assert first.stdout.decode().startswith("Opus 4.6 | $1.25 session")  # no ledger yet
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the detached child fills the ledger
        if config.ledger_path().exists():
            with Ledger(config.ledger_path()) as led:
                if led.readings() and led.session_usage(SESSION)[1]:
                    break
        time.sleep(0.1)
    with Ledger(config.ledger_path()) as led:
        assert led.readings()[0].five_hour_pct == 42.0
        cost = led.session_usage(SESSION)[0]
    second = command(doc, "--no-color", env={"CLAUDE_CONFIG_DIR": str(tree)})
    assert second.stdout.decode().startswith(f"Opus 4.6 | ${cost:,.2f} session · $")


def test_a_broken_ledger_prints_one_word_and_notes_why(tree: Path) -> None:
    path = config.ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    doc = json.dumps(claude_json(transcript_path=transcript(tree))).encode()
    done = command(doc, "--fresh", env={"CLAUDE_CONFIG_DIR": str(tree)})
    assert (done.returncode, done.stdout, done.stderr) == (0, b"promptpulse\n", b"")
    assert "DatabaseError" in (config.state_dir() / "statusline.log").read_text()


def test_help_goes_through_the_cli() -> None:
    done = command(b"", "--help", env={"COLUMNS": "100"})
    assert done.returncode == 0 and b"--format" in done.stdout and b"--no-color" in done.stdout


def test_a_window_that_reset_since_the_reading_says_so() -> None:
    doc = claude_json()
    doc["rate_limits"]["five_hour"]["resets_at"] = NOW_MS // 1000 - 60
    text = run_line(doc, "--no-color")
    assert "5h 0% (reset since)" in text


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{model} {", "Opus 4.6 {"),
        ("{model} }", "Opus 4.6 }"),
        ("{0} {model.x} {model[0]} {{model}}", "{0} {model.x} {model[0]} {Opus 4.6}"),
        ("%s {five_hour_pct}%%", "%s 42%%%"),
    ],
)
def test_a_template_never_loses_the_line(template: str, expected: str) -> None:
    assert run_line(claude_json(), "--no-color", "--format", template) == expected


def test_context_tokens_as_claude_counts_them(tree: Path) -> None:
    text = run_line(
        claude_json(transcript_path=transcript(tree)),
        "--fresh",
        "--no-color",
        "--format",
        "{context_tokens} {context_pct}",
    )
    assert text == "63,000 32%"  # current_usage: 3,000 + 10,000 + 50,000


def test_a_reset_before_2000_is_not_a_reading() -> None:
    doc = claude_json()
    doc["rate_limits"]["five_hour"]["resets_at"] = 1
    doc["rate_limits"]["seven_day"]["resets_at"] = "1999-01-01T00:00:00Z"
    assert statusline.parse_input(json.dumps(doc)).reading(NOW_MS) is None


def test_importing_the_statusline_leaves_the_ledger_package_out() -> None:
    # the fast path reads through ledger_glance (sqlite3 only); the ledger package, with its
    # pricing, counting and readers, loads only in the background sync
    code = (
        "import sys, promptpulse.statusline; "
        "print(sorted(m for m in sys.modules if m.startswith('promptpulse.ledger.') "
        "or m == 'promptpulse.ledger'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_a_ledger_of_an_older_schema_is_read_as_none_until_migrated(tree: Path) -> None:
    """Right after an upgrade the ledger still has the old schema (no ``line.web_search``):
    the real command draws the line without the ledger's figures, not the failure fallback, and
    its background sync migrates the ledger for the next message."""
    doc = claude_json(transcript_path=transcript(tree))
    assert "today" in run_line(doc, "--fresh", "--no-color")
    old = sqlite3.connect(config.ledger_path())
    with old:
        old.execute("ALTER TABLE line DROP COLUMN web_search")
        old.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    old.close()
    env = {"CLAUDE_CONFIG_DIR": str(tree)}
    first = command(json.dumps(doc).encode(), "--no-color", env=env)
    assert (first.returncode, first.stderr) == (0, b"")
    assert first.stdout.decode().startswith("Opus 4.6 | $1.25 session") and "5h 42%" in (
        first.stdout.decode()
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the detached child migrates the ledger
        migrated = ledger_glance.open_ledger(str(config.ledger_path()))
        if migrated is not None:
            migrated.close()
            break
        time.sleep(0.1)
    assert "today" in run_line(doc, "--no-color")


def test_the_glance_reads_the_ledgers_schema() -> None:
    from promptpulse.ledger import schema

    assert ledger_glance.SCHEMA_VERSION == schema.SCHEMA_VERSION
