"""Every report's output, byte for byte, against files kept in ``tests/data/golden``.

A fixed-seed generated tree (web searches, subagents, fast mode, long context, bad lines) is
reported in every form: daily, weekly, monthly, session and blocks, as JSON and as a table at a
fixed width, with and without ``--breakdown`` where it exists. A change of the code that renders
them (the JSON shapes, the tables) must leave every byte as it was; when a change of the output
is meant, ``PROMPTPULSE_WRITE_GOLDEN=1`` writes the files again, to be reviewed and committed.

The instant is fixed (the blocks report's active block depends on it), set for the command
through ``PROMPTPULSE_NOW``: the files do not depend on the day the tests run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from logtree import TreeSpec, generate

pytestmark = pytest.mark.dates

GOLDEN = Path(__file__).parent / "data" / "golden"
AT = "2026-03-15T18:00:00Z"  # inside the generated tree's days: blocks has an active one
REPORTS = ["daily", "weekly", "monthly", "session", "blocks"]
CASES = [
    (f"{report}{suffix}", [report, *args])
    for report in REPORTS
    for suffix, args in [
        (".json", ["--json"]),
        (".table", []),
        *([(".breakdown", ["--breakdown"])] if report != "blocks" else []),
    ]
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("golden")
    root = base / "claude"
    generate(root, TreeSpec(start=datetime(2026, 3, 1, 8, 0, tzinfo=UTC), days=15), seed=42)
    return dict(
        os.environ,
        CLAUDE_CONFIG_DIR=str(root),
        PROMPTPULSE_HOME=str(base / "home"),
        PROMPTPULSE_NOW=AT,
        COLUMNS="150",
        NO_COLOR="1",
        TZ="UTC",
    )


@pytest.mark.parametrize(("name", "args"), CASES, ids=[name for name, _args in CASES])
def test_the_output_is_the_golden_file(env: dict[str, str], name: str, args: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "promptpulse", "report", *args, "--timezone", "UTC"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("PROMPTPULSE_WRITE_GOLDEN"):
        path.write_bytes(out.stdout)
    assert out.stdout == path.read_bytes()
