"""Reports that fit the terminal: at any width, no number or date is cut."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from logtree import TreeSpec, generate

REPORTS = ["daily", "weekly", "monthly", "session", "blocks"]
KEY = {"daily": "date", "weekly": "week", "monthly": "month", "session": "lastActivity"}


def run(root: Path, *args: str, columns: int = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS=str(columns), CLAUDE_CONFIG_DIR=str(root))
    return subprocess.run(
        [sys.executable, "-m", "promptpulse", *args, "--timezone", "UTC"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout") / "claude"
    generate(root, TreeSpec(projects=2, sessions=3, responses=30, days=5))
    return root


def expected(report: str, doc: dict[str, object]) -> list[str]:
    """Every date and every cost of a report's JSON, as the table writes them."""
    rows = doc["sessions" if report == "session" else report]
    assert isinstance(rows, list)
    found = []
    for row in rows:
        if report == "blocks":
            if row["isGap"]:
                continue
            found += [row["startTime"][:10], f"${row['costUSD']:,.2f}"]
        else:
            key = row[KEY[report]]  # a session's last activity is an instant: its day
            found += [key[:10] if report == "session" else key, f"${row['totalCost']:,.2f}"]
    if report != "blocks":
        totals = doc["totals"]
        assert isinstance(totals, dict)
        found.append(f"${totals['totalCost']:,.2f}")
    return found


@pytest.mark.parametrize("columns", [60, 80, 120])
@pytest.mark.parametrize("report", REPORTS)
def test_every_date_and_cost_appears_uncut(tree: Path, report: str, columns: int) -> None:
    doc = json.loads(run(tree, "report", report, "--json").stdout)
    out = run(tree, "report", report, columns=columns)
    assert out.returncode == 0, out.stderr
    cells = out.stdout
    for value in expected(report, doc):
        assert value in cells, (value, columns)
    lines = cells.splitlines()
    assert max(len(line) for line in lines) <= columns
    # nothing is shortened, except session ids (their first 8 characters, by design)
    assert "…" not in re.sub(r"[0-9a-f]{8}…", "", cells)


def test_json_is_the_same_at_any_width(tree: Path) -> None:
    for report in REPORTS:
        wide = run(tree, "report", report, "--json", columns=200).stdout
        assert run(tree, "report", report, "--json", columns=40).stdout == wide
        assert run(tree, "report", report, "--json", "--compact").stdout == wide


def test_compact_forces_the_compact_layout(tree: Path) -> None:
    wide = run(tree, "report", "daily", columns=160).stdout
    assert "Cache Read" in wide
    compact = run(tree, "report", "daily", "--compact", columns=160).stdout
    header = next(line for line in compact.splitlines() if "Date" in line)
    assert [c.strip() for c in header.strip("│").split("│")] == [
        "Date",
        "Models",
        "Input",
        "Output",
        "Cost",
    ]


def test_a_table_too_wide_for_any_layout_is_drawn_whole(tree: Path) -> None:
    out = run(tree, "report", "session", columns=30)
    doc = json.loads(run(tree, "report", "session", "--json").stdout)
    for value in expected("session", doc):
        assert value in out.stdout
