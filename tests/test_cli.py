"""The real commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from logtree import assistant, response, write

pytestmark = pytest.mark.dates

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def run(
    *args: str, root: Path | None = None, exe: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, COLUMNS="160", **(env or {}))
    if root is not None:
        full_env["CLAUDE_CONFIG_DIR"] = str(root)
    cmd = [exe] if exe else [sys.executable, "-m", "promptpulse"]
    return subprocess.run([*cmd, *args], env=full_env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "claude"
    base = root / "projects" / "-home-u-proj"
    write(
        base / "s1.jsonl",
        [
            *response(
                T,
                "m1",
                "r1",
                3,
                model="claude-opus-4-6",
                input=1,
                output=50,
                cache_write=100,
                cache_read=1000,
            ),
            assistant(T + timedelta(days=1), "m2", "r2", "claude-mystery-9", input=7, output=3),
            "{not json at all",
            '{"timestamp":"2026-03-01T10:00:00Z","message":{"usage":{"input_tokens":null,'
            '"output_tokens":1}}}',
        ],
    )
    return root


def test_daily_json_prints_only_json(root: Path) -> None:
    out = run("report", "daily", "--json", "--timezone", "UTC", root=root)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [d["date"] for d in doc["daily"]] == ["2026-03-01", "2026-03-02"]
    assert doc["daily"][0]["totalCost"] == pytest.approx(0.00238)
    assert doc["totals"]["totalTokens"] == 1151 + 10


def test_warnings_go_to_stderr_once(root: Path) -> None:
    out = run("report", "daily", "--json", root=root)
    assert "no price known for claude-mystery-9" in out.stderr
    assert out.stderr.count("claude-mystery-9") == 1
    assert "skipped 1 line(s)" in out.stderr


def test_verbose_says_where_lines_were_skipped(root: Path) -> None:
    run("report", "daily", root=root)
    out = run("report", "daily", "--verbose", root=root)
    assert f"skipped {root / 'projects' / '-home-u-proj' / 's1.jsonl'} at byte" in out.stderr


def test_tables_render_with_breakdown(root: Path) -> None:
    out = run("report", "daily", "--breakdown", "--timezone", "UTC", root=root)
    assert out.returncode == 0, out.stderr
    assert "2026-03-01" in out.stdout and "└ opus-4-6" in out.stdout
    assert "Total" in out.stdout and "1,151" in out.stdout
    for report in ["weekly", "monthly", "session", "blocks"]:
        res = run("report", report, root=root)
        assert res.returncode == 0, res.stderr
        assert "Claude Code usage" in res.stdout


def test_web_searches_have_their_column_and_fields_and_count_in_the_cost(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    lines = [
        *response(T, "m1", "r1", 2, model="claude-opus-4-6", input=1, output=50, web_search=3),
        assistant(T + timedelta(hours=1), "m2", "r2", "claude-opus-4-6", web_search=0),
    ]
    write(root / "projects" / "-home-u-proj" / "s1.jsonl", lines)
    tokens_only = 1 * 5e-6 + 50 * 25e-6 + 10 * 5e-6 + 20 * 25e-6  # opus 4.6: $5 / $25 per MTok
    doc = json.loads(run("report", "daily", "--json", "--timezone", "UTC", root=root).stdout)
    (day,) = doc["daily"]
    assert (day["webSearchRequests"], day["webSearchCost"]) == (3, pytest.approx(0.03))
    assert day["totalCost"] == pytest.approx(tokens_only + 0.03)
    (model,) = day["modelBreakdowns"]
    assert (model["webSearchRequests"], model["cost"]) == (3, pytest.approx(tokens_only + 0.03))
    assert doc["totals"]["webSearchCost"] == pytest.approx(0.03)
    for report in ["session", "blocks"]:
        doc = json.loads(run("report", report, "--json", root=root).stdout)
        (row,) = doc["sessions" if report == "session" else "blocks"]
        assert row["webSearchRequests"] == 3 and row["webSearchCost"] == pytest.approx(0.03)
    for report in ["daily", "weekly", "monthly", "session", "blocks"]:
        table = run("report", report, "--timezone", "UTC", root=root).stdout
        assert "Web Search" in table and "$0.03" in table, table
    # without web searches, no column
    write(root / "projects" / "-home-u-proj" / "s1.jsonl", lines[-1:])
    assert "Web Search" not in run("report", "daily", root=root).stdout


def test_blocks_json_and_session_json(root: Path) -> None:
    blocks = json.loads(run("report", "blocks", "--json", root=root).stdout)["blocks"]
    assert [b["isGap"] for b in blocks] == [False, True, False]
    sessions = json.loads(run("report", "session", "--json", root=root).stdout)["sessions"]
    assert [(s["projectPath"], s["sessionId"]) for s in sessions] == [("-home-u-proj", "s1")]


def test_the_ppulse_alias_is_the_same_app(root: Path) -> None:
    exe = shutil.which("ppulse", path=str(Path(sys.executable).parent))
    assert exe is not None
    out = run("report", "monthly", "--json", root=root, exe=exe)
    assert json.loads(out.stdout)["monthly"][0]["month"] == "2026-03"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "daily", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["report", "daily", "--since", "2026-13-45"], "--since '2026-13-45' is not a day"),
        (["report", "blocks", "--token-limit", "lots"], "--token-limit 'lots'"),
        (["report", "weekly", "--start-of-week", "someday"], "--start-of-week 'someday'"),
    ],
)
def test_bad_options_give_one_clear_line(root: Path, args: list[str], message: str) -> None:
    out = run(*args, root=root)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_no_logs_is_not_an_error(tmp_path: Path) -> None:
    out = run("report", "daily", root=tmp_path / "empty")
    assert out.returncode == 0
    assert "No Claude Code logs found" in out.stderr
    assert "No usage found." in out.stdout


def test_history_survives_claude_code_cleanup(root: Path) -> None:
    run("report", "daily", root=root)
    shutil.rmtree(root / "projects")
    (root / "projects").mkdir()
    doc = json.loads(run("report", "daily", "--json", root=root).stdout)
    assert doc["totals"]["totalTokens"] == 1161


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("promptpulse ")
    help_text = run("report", "blocks", "--help").stdout
    for option in ["--active", "--recent", "--token-limit", "--session-length", "--json"]:
        assert option in help_text


def test_a_ledger_from_a_newer_promptpulse_is_one_line_and_exit_2(root: Path) -> None:
    import sqlite3

    from promptpulse import config

    assert run("report", "daily", "--json", root=root).returncode == 0
    with sqlite3.connect(config.ledger_path()) as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    done = run("report", "daily", root=root)
    assert done.returncode == 2 and done.stderr.startswith("error: the ledger at ")
    assert "newer promptpulse" in done.stderr and "Traceback" not in done.stderr


def _commands(command: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    import click

    found: list[tuple[tuple[str, ...], object]] = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


def test_every_help_text_is_whole_sentences_without_hard_line_breaks() -> None:
    """--help at 80 columns: paragraphs unwrapped (the terminal wraps them), no stray spaces
    and no option default eaten as rich markup."""
    import warnings

    import click

    with warnings.catch_warnings():  # typer's shell completion uses a click name click deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        import typer.main

        from promptpulse.cli import app

        commands = _commands(typer.main.get_command(app))
    assert len(commands) > 30
    for path, command in commands:
        assert isinstance(command, click.Command)
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        for text in texts:
            for paragraph in text.split("\n\n"):
                assert "\n" not in paragraph and "  " not in paragraph, (path, paragraph)
                assert not re.search(r" [.,](?!\.)", paragraph), (path, paragraph)
                assert "[default" not in paragraph, (path, paragraph)  # rich would eat it
    for path in [("collect",), ("prices",), ("prices", "set"), ("report", "session")]:
        out = subprocess.run(
            [sys.executable, "-m", "promptpulse", *path, "--help"],
            env=dict(os.environ, COLUMNS="80"),
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        assert max(len(line) for line in out.splitlines()) <= 80
        assert not re.search(r" [.,](?!\.)", out), path
