"""promptpulse's reports against the real ccusage v20 on generated log trees.

Token counts must be identical row by row. Costs must be identical too, once the web search cost
(which ccusage leaves out) is taken off ours, except on long-context requests, which promptpulse
bills as Anthropic does (the whole request at the higher rate) and ccusage does not; those trees
are checked in test_pricing.py against hand-worked figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from logtree import TreeSpec, generate

REPORTS = {
    "daily": ("daily", "date"),
    "weekly": ("weekly", "week"),
    "monthly": ("monthly", "month"),
    "session": ("sessions", "sessionId"),
    "blocks": ("blocks", "id"),
}
TOKENS = ["inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens"]


def _run(cmd: list[str], roots: str, home: Path) -> Any:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=roots, PROMPTPULSE_HOME=str(home), NO_COLOR="1")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _rows(doc: dict[str, Any], report: str) -> dict[Any, dict[str, Any]]:
    field, key = REPORTS[report]
    return {(r.get("projectPath"), r[key]): r for r in doc[field]}


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def compare(ours: dict[str, Any], theirs: dict[str, Any], report: str) -> list[str]:
    diffs = []
    a, b = _rows(ours, report), _rows(theirs, report)
    if set(a) != set(b):
        diffs.append(f"{report}: rows {sorted(map(str, set(a) ^ set(b)))[:5]} differ")
    for k in set(a) & set(b):
        ra, rb = a[k], b[k]
        if report == "blocks":
            fields = [
                "startTime",
                "endTime",
                "isGap",
                "entries",
                "totalTokens",
                "tokenCounts",
                "actualEndTime",
                "isActive",
            ]
            cost_a, cost_b = ra["costUSD"] - ra["webSearchCost"], rb["costUSD"]
        else:
            fields = [*TOKENS, "totalTokens"]
            ma = {m["modelName"]: [m[f] for f in TOKENS] for m in ra["modelBreakdowns"]}
            mb = {m["modelName"]: [m[f] for f in TOKENS] for m in rb["modelBreakdowns"]}
            if ma != mb:
                diffs.append(f"{report} {k}: breakdown {ma} != ccusage {mb}")
            if sorted(ra["modelsUsed"]) != sorted(rb["modelsUsed"]):
                diffs.append(f"{report} {k}: models {ra['modelsUsed']} != {rb['modelsUsed']}")
            cost_a, cost_b = ra["totalCost"] - ra["webSearchCost"], rb["totalCost"]
        for f in fields:
            if ra.get(f) != rb.get(f):
                diffs.append(f"{report} {k}: {f} {ra.get(f)} != ccusage {rb.get(f)}")
        if not _close(cost_a, cost_b):
            diffs.append(f"{report} {k}: cost {cost_a} != ccusage {cost_b}")
    if report != "blocks":
        for f in [*TOKENS, "totalTokens"]:
            if ours["totals"][f] != theirs["totals"][f]:
                diffs.append(f"{report} totals {f}: {ours['totals'][f]} != {theirs['totals'][f]}")
    return diffs


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_same_numbers_as_ccusage(tmp_path: Path, ccusage: str, tz: str) -> None:
    first, second = tmp_path / "root-a", tmp_path / "root-b"
    generate(first, TreeSpec(long_context=0), seed=11)
    generate(
        second,
        TreeSpec(projects=2, sessions=4, long_context=0, start=datetime(2026, 3, 25, tzinfo=UTC)),
        seed=12,
    )
    roots = f"{first},{second}"
    for report in REPORTS:
        for mode in ["auto", "calculate", "display"]:
            ours = _run(
                [
                    sys.executable,
                    "-m",
                    "promptpulse",
                    "report",
                    report,
                    "--json",
                    "--timezone",
                    tz,
                    "--mode",
                    mode,
                ],
                roots,
                tmp_path / "home",
            )
            theirs = _run(
                [ccusage, "claude", report, "--json", "--offline", "-z", tz, "-m", mode],
                roots,
                tmp_path / "home",
            )
            assert compare(ours, theirs, report) == []
            if report == "daily":  # the web searches are counted, and priced but by display
                searches = ours["totals"]["webSearchRequests"]
                assert searches > 0
                expected = 0 if mode == "display" else searches * 0.01
                if mode != "auto":  # auto prices those of the lines without a logged cost
                    assert _close(ours["totals"]["webSearchCost"], expected)
                else:
                    assert 0 < ours["totals"]["webSearchCost"] <= searches * 0.01 + 1e-9


def test_disagreeing_patterns_counted_once_everywhere(tmp_path: Path, ccusage: str) -> None:
    """Chunks without requestId and /btw replays: ccusage's daily and its other reports
    disagree; promptpulse counts each response once in every report, so every report sums to
    the same totals, equal to ccusage's daily for replays and to its session report for
    chunks."""
    root = tmp_path / "root"
    generate(root, TreeSpec(disagreeing_patterns=True, long_context=0), seed=5)
    home = tmp_path / "home"
    totals = {}
    for report in ["daily", "weekly", "monthly", "session"]:
        doc = _run(
            [sys.executable, "-m", "promptpulse", "report", report, "--json", "--timezone", "UTC"],
            str(root),
            home,
        )
        totals[report] = doc["totals"]
    blocks = _run(
        [sys.executable, "-m", "promptpulse", "report", "blocks", "--json"], str(root), home
    )
    block_tokens = sum(b["totalTokens"] for b in blocks["blocks"])
    tokens = {
        json.dumps({k: v for k, v in t.items() if not k.endswith("Cost")}) for t in totals.values()
    }
    assert len(tokens) == 1
    costs = [t["totalCost"] for t in totals.values()]
    assert all(_close(c, costs[0]) for c in costs)
    assert block_tokens == totals["daily"]["totalTokens"]
    theirs_daily = _run(
        [ccusage, "claude", "daily", "--json", "--offline", "-z", "UTC"], str(root), home
    )["totals"]
    theirs_session = _run(
        [ccusage, "claude", "session", "--json", "--offline", "-z", "UTC"], str(root), home
    )["totals"]
    # the tree has both patterns, so ccusage's two reports differ from each other ...
    assert theirs_daily["totalTokens"] != theirs_session["totalTokens"]
    # ... and promptpulse is below both: each counts one of the patterns twice
    assert totals["daily"]["totalTokens"] < min(
        theirs_daily["totalTokens"], theirs_session["totalTokens"]
    )


def test_every_cost_difference_is_a_long_context_request(tmp_path: Path, ccusage: str) -> None:
    """With long-context requests in the logs, ccusage's costs differ from ours exactly on the
    days that have one (it bills only the tokens above 200k at the higher rate)."""
    from promptpulse.ledger import Ledger
    from promptpulse.pricing import find_price

    root, home = tmp_path / "root", tmp_path / "home"
    generate(root, TreeSpec(long_context=0.05), seed=21)
    ours = _rows(
        _run(
            [sys.executable, "-m", "promptpulse", "report", "daily", "--json", "--timezone", "UTC"],
            str(root),
            home,
        ),
        "daily",
    )
    theirs = _rows(
        _run([ccusage, "claude", "daily", "--json", "--offline", "-z", "UTC"], str(root), home),
        "daily",
    )
    with Ledger(home / "data" / "ledger.sqlite3") as led:
        long_days = set()
        for ts, model, i, cw, cr in led.db.execute(
            "SELECT ts, model, input, cache_write, cache_read FROM line "
            "WHERE counted = 1 AND cost_usd IS NULL"
        ):  # a logged costUSD is used as is
            price = find_price(model)
            if price and price.long_context and i + cw + cr > price.long_context_above:
                long_days.add(datetime.fromtimestamp(ts / 1000, UTC).date().isoformat())
    differing = {
        k[1]
        for k in ours
        if not _close(ours[k]["totalCost"] - ours[k]["webSearchCost"], theirs[k]["totalCost"])
    }
    assert long_days  # the tree has some
    assert differing == long_days
    for k in ours:
        if k[1] in long_days:
            # ccusage undercharges
            assert ours[k]["totalCost"] - ours[k]["webSearchCost"] > theirs[k]["totalCost"]
