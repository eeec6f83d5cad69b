"""What a collect sends: only what changed since the server last acknowledged it, and the
incremental path (built from the ledger's change mark) sends exactly what a full rebuild would."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from logtree import TreeSpec, assistant, generate, response, write

from promptpulse import uploads
from promptpulse.collect import changed_rows, summary
from promptpulse.ledger import Ledger

pytestmark = pytest.mark.dates

NOW = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1000)


def acknowledge_everything(led: Ledger, tz: ZoneInfo, basis: str, batch: str) -> None:
    """What a successful whole collect leaves behind."""
    _, seq = led.changes_since_collect(basis)
    rows = changed_rows(led, tz, "all", None, "basename", NOW)
    led.add_pending(batch, "2026-01-01", "{}", [(k, key, uploads.digest(r)) for k, key, r in rows])
    led.acknowledge(batch)
    led.mark_collected(seq, basis)


def change_something(root: Path, rnd: random.Random, step: int) -> str:
    files = sorted((root / "projects").rglob("*.jsonl"))
    target = rnd.choice(files)
    t = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=rnd.randrange(40 * 24 * 60))
    kind = rnd.choice(["append", "old-copy", "new-session", "truncate", "rewrite"])
    if kind == "append":  # more work in an existing session, at any time
        write(target, response(t, f"a{step}", f"ar{step}", 2), mode="a")
    elif kind == "old-copy":  # a resumed session replays old messages with more output
        old = [
            line
            for x in target.read_text().splitlines()[:40]
            if x.startswith("{")
            and x.endswith("}")
            and "usage" in (line := json.loads(x)).get("message", {})
        ]
        if old:
            line = rnd.choice(old)
            line["message"]["usage"]["output_tokens"] += 1000
            write(root / "projects" / "-resumed" / f"r{step}.jsonl", [line])
    elif kind == "new-session":
        write(
            root / "projects" / "-home-new" / f"n{step}.jsonl",
            [assistant(t, f"n{step}", f"nr{step}", session=f"n{step}", cwd="/home/new")],
        )
    elif kind == "truncate":
        lines = target.read_text().splitlines(keepends=True)
        target.write_text("".join(lines[: len(lines) // 2]))
    else:  # rewritten in place: same size is not promised, the head changes
        lines = target.read_text().splitlines(keepends=True)
        target.write_text("".join(lines[1:]))
    return kind


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_incremental_rows_equal_a_full_rebuild_through_random_changes(
    tmp_path: Path, zone: str
) -> None:
    root = tmp_path / "claude"
    generate(root, TreeSpec(projects=2, sessions=6, responses=30, days=40), seed=11)
    tz = ZoneInfo(zone)
    basis = f"{zone}|basename"
    rnd = random.Random(zone)
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        led.sync([root])
        assert led.changes_since_collect(basis)[0] == 0  # never collected: everything
        acknowledge_everything(led, tz, basis, "first")
        assert led.changes_since_collect(basis)[0] is None
        kinds = set()
        altered = 0
        for step in range(25):
            kinds.add(change_something(root, rnd, step))
            led.sync([root])
            from_ms, _ = led.changes_since_collect(basis)
            full = changed_rows(led, tz, "all", None, "basename", NOW)
            assert from_ms is not None and from_ms > 0
            assert changed_rows(led, tz, "all", None, "basename", NOW, from_ms) == full
            altered += bool(full)
            if step % 3 == 0:  # sometimes collect, sometimes let changes pile up
                acknowledge_everything(led, tz, basis, f"b{step}")
                assert changed_rows(led, tz, "all", None, "basename", NOW) == []
        assert len(kinds) == 5 and altered >= 15


def test_a_change_during_a_collect_stays_marked(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    generate(root, TreeSpec(projects=1, sessions=2, responses=5), seed=2)
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        led.sync([root])
        _, seq = led.changes_since_collect("UTC|basename")
        write(
            root / "projects" / "-x" / "late.jsonl",
            response(datetime.fromtimestamp(NOW / 1000, UTC), "l", "lr"),
        )
        led.sync([root])  # e.g. a report ran while the collect was sending
        led.mark_collected(seq, "UTC|basename")
        assert led.changes_since_collect("UTC|basename")[0] is not None


def test_another_zone_or_privacy_means_everything_again(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    generate(root, TreeSpec(projects=1, sessions=2, responses=5), seed=2)
    with Ledger(tmp_path / "ledger.sqlite3") as led:
        led.sync([root])
        acknowledge_everything(led, ZoneInfo("UTC"), "UTC|basename", "one")
        assert led.changes_since_collect("UTC|basename")[0] is None
        assert led.changes_since_collect("UTC|hash")[0] == 0
        assert led.changes_since_collect("Asia/Tokyo|basename")[0] == 0
        led.forget_uploads()
        assert led.changes_since_collect("UTC|basename")[0] == 0


@pytest.mark.parametrize(
    ("counts", "words"),
    [
        ({}, ""),
        ({"daily": 1}, "1 day"),
        ({"daily": 1, "sessions": 3, "blocks": 2}, "1 day, 3 sessions and 2 blocks"),
        ({"sessions": 1, "limits": 2, "plan": 1}, "1 session, 2 limits readings and the plan"),
        ({"daily": 0, "blocks": 1}, "1 block"),
    ],
)
def test_what_was_sent_in_words(counts: dict[str, int], words: str) -> None:
    assert summary(counts) == words
