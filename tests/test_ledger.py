from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from logtree import TreeSpec, assistant, dumps, generate, response, write

from promptpulse import ledger as ledger_module
from promptpulse import pricing
from promptpulse.counting import Candidate, select_counted
from promptpulse.ledger import Ledger, reading
from promptpulse.reports import by_period, by_session, periods_json, sessions_json
from promptpulse.sources import UsageLine, find_log_files, parse_line

pytestmark = pytest.mark.dates

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def snapshot(led: Ledger) -> dict[str, Any]:
    return {
        "daily": periods_json("daily", by_period(led.usage_by_day(UTC, "calculate"), "daily")),
        "sessions": sessions_json(by_session(led.usage_by_session("auto"), UTC)),
    }


def fresh(root: Path, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / f"fresh-{random.random()}.sqlite3"
    with Ledger(path) as led:
        led.sync([root])
        return snapshot(led)


def same(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Equal token counts; costs equal up to float summation order."""

    def strip(doc: Any) -> Any:
        if isinstance(doc, dict):
            return {k: (round(v, 9) if isinstance(v, float) else strip(v)) for k, v in doc.items()}
        if isinstance(doc, list):
            return [strip(x) for x in doc]
        return doc

    assert strip(a) == strip(b)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "claude"


@pytest.fixture
def led(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3")


def test_appended_lines_are_read_once(root: Path, led: Ledger, tmp_path: Path) -> None:
    path = root / "projects" / "p" / "s.jsonl"
    write(path, response(T, "m1", "r1", 3, output=100))
    first = led.sync([root])
    assert (first.files_read, first.lines_added) == (1, 1)  # only the final chunk is kept
    assert led.sync([root]).files_read == 0  # nothing changed: nothing read
    write(path, response(T + timedelta(hours=1), "m2", "r2", 2, output=50), mode="a")
    second = led.sync([root])
    assert second.lines_added == 1
    assert second.bytes_read < path.stat().st_size
    same(snapshot(led), fresh(root, tmp_path))
    assert snapshot(led)["daily"]["totals"]["outputTokens"] == 150


def test_a_response_split_across_syncs_counts_once_with_its_final_count(
    root: Path, led: Ledger, tmp_path: Path
) -> None:
    path = root / "projects" / "p" / "s.jsonl"
    chunks = response(T, "m1", "r1", 3, output=500)
    write(path, chunks[:2])
    led.sync([root])
    assert snapshot(led)["daily"]["totals"]["outputTokens"] == 2  # placeholder so far
    write(path, chunks[2:], mode="a")
    led.sync([root])
    assert snapshot(led)["daily"]["totals"]["outputTokens"] == 500
    assert led.stats()["responses"] == 1


def test_torn_last_line_is_read_when_complete(root: Path, led: Ledger, tmp_path: Path) -> None:
    path = root / "projects" / "p" / "s.jsonl"
    last = dumps(assistant(T, "m2", "r2", output=77))
    write(path, [assistant(T, "m1", "r1")], tail=last[:40])
    result = led.sync([root])
    assert result.torn == [str(path)] and result.skipped == []
    with path.open("a") as f:
        f.write(last[40:] + "\n")
    led.sync([root])
    assert led.stats()["responses"] == 2
    same(snapshot(led), fresh(root, tmp_path))


def test_truncated_file_is_read_again(root: Path, led: Ledger, tmp_path: Path) -> None:
    path = root / "projects" / "p" / "s.jsonl"
    write(path, [assistant(T, f"m{i}", f"r{i}") for i in range(5)])
    led.sync([root])
    write(path, [assistant(T, "m9", "r9", output=3)])
    led.sync([root])
    assert led.stats()["responses"] == 1
    same(snapshot(led), fresh(root, tmp_path))


def test_replaced_file_is_read_again(root: Path, led: Ledger, tmp_path: Path) -> None:
    path = root / "projects" / "p" / "s.jsonl"
    write(path, [assistant(T, "m1", "r1", output=5)])
    led.sync([root])
    other = write(
        tmp_path / "new.jsonl",
        [assistant(T, "m2", "r2", output=7), assistant(T, "m3", "r3", output=8)],
    )
    os.replace(other, path)
    led.sync([root])
    same(snapshot(led), fresh(root, tmp_path))


def test_rewritten_in_place_with_new_content_is_read_again(
    root: Path, led: Ledger, tmp_path: Path
) -> None:
    path = root / "projects" / "p" / "s.jsonl"
    write(path, [assistant(T, "m1", "r1", output=5)])
    led.sync([root])
    inode = path.stat().st_ino
    with path.open("r+") as f:  # same inode, larger, different beginning
        f.write("\n".join(dumps(assistant(T, f"x{i}", f"y{i}", output=9)) for i in range(3)))
        f.write("\n")
    assert path.stat().st_ino == inode
    led.sync([root])
    same(snapshot(led), fresh(root, tmp_path))
    assert snapshot(led)["daily"]["totals"]["outputTokens"] == 27


def test_deleted_transcripts_stay_in_the_ledger(root: Path, led: Ledger) -> None:
    path = root / "projects" / "p" / "s.jsonl"
    write(path, [assistant(T, "m1", "r1", output=5)])
    led.sync([root])
    path.unlink()
    led.sync([root])
    assert snapshot(led)["daily"]["totals"]["outputTokens"] == 5
    assert led.stats()["files_deleted"] == 1


def test_deduplication_across_files_and_syncs(root: Path, led: Ledger, tmp_path: Path) -> None:
    main = root / "projects" / "p" / "s.jsonl"
    sub = root / "projects" / "p" / "s" / "subagents" / "agent-1.jsonl"
    write(sub, [assistant(T, "m1", "r1", output=40, sidechain=True)])
    led.sync([root])
    assert snapshot(led)["daily"]["totals"]["outputTokens"] == 40
    write(main, [assistant(T, "m1", "r1", output=10)])  # the main copy wins when it appears
    led.sync([root])
    assert snapshot(led)["daily"]["totals"]["outputTokens"] == 10
    same(snapshot(led), fresh(root, tmp_path))


def test_random_incremental_history_equals_a_fresh_read(
    root: Path, led: Ledger, tmp_path: Path
) -> None:
    files = generate(root, TreeSpec(projects=2, sessions=4, responses=30), seed=7)
    full = {p: p.read_bytes() for p in files}
    rnd = random.Random(7)
    for p in files:  # start from a random prefix of every file, cut mid-line sometimes
        data = full[p]
        p.write_bytes(data[: rnd.randrange(len(data) + 1)])
    for _ in range(3):
        led.sync([root])
        for p in files:
            data, have = full[p], p.stat().st_size
            p.write_bytes(data[: min(len(data), have + rnd.randrange(len(data) // 2 + 1))])
    for p in files:
        p.write_bytes(full[p])
    led.sync([root])
    same(snapshot(led), fresh(root, tmp_path))


def test_parallel_read_gives_the_same_ledger(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(root, TreeSpec(projects=2, sessions=5), seed=8)
    sequential = fresh(root, tmp_path)
    monkeypatch.setattr(reading, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with Ledger(tmp_path / "par.sqlite3") as led:
        led.sync([root])
        same(snapshot(led), sequential)


def counted_line_by_line(root: Path) -> list[tuple[Any, ...]]:
    """The straightforward reading: every line of every file parsed (no prefilter), every copy
    kept, deduplicated in one pass; the counted lines with their cost, as the ledger stores
    them."""
    lines: list[tuple[str, UsageLine]] = []
    for f in find_log_files([root]):
        offset = 0
        for raw in Path(f.path).read_bytes().split(b"\n"):
            parsed = parse_line(raw, offset) if raw.strip() else None
            if isinstance(parsed, UsageLine):
                lines.append((f.path, parsed))
            offset += len(raw) + 1
    candidates = [
        Candidate(
            i,
            line.message_id,
            line.request_id,
            line.sidechain,
            line.input_tokens
            + line.output_tokens
            + line.cache_write_tokens
            + line.cache_read_tokens,
            line.speed is not None,
            path,
            line.offset,
        )
        for i, (path, line) in enumerate(lines)
    ]
    counted = select_counted(candidates)
    assert len(counted) < len(lines), "the tree should have copies that lose"
    rows = []
    for i, (path, line) in enumerate(lines):
        if i in counted:
            cost = pricing.line_cost(
                pricing.find_price(line.model),
                line.input_tokens,
                line.output_tokens,
                line.cache_write_tokens,
                line.cache_write_1h_tokens,
                line.cache_read_tokens,
                line.speed == "fast",
            )
            rows.append((path, *line[:13], cost, line.cwd, line.web_search_requests))
    return sorted(rows, key=repr)


@pytest.mark.parametrize("parallel", [False, True])
def test_the_ledger_counts_what_a_line_by_line_read_counts(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    """The fast path (byte prefilter, strongest copies per file, lines stored as counted and
    only the losers marked) keeps exactly the lines, fields and costs of the plain one."""
    generate(
        root,
        TreeSpec(projects=3, sessions=6, responses=25, disagreeing_patterns=True),
        seed=12,
    )
    if parallel:
        monkeypatch.setattr(reading, "PARALLEL_BYTES", 1)
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with Ledger(tmp_path / "l.sqlite3") as led:
        led.sync([root])
        stored = led.db.execute(
            "SELECT f.path, l.offset, l.ts, l.message_id, l.request_id, l.sidechain, l.model, "
            "l.speed, l.input, l.output, l.cache_write, l.cache_write_1h, l.cache_read, "
            "l.cost_usd, l.calc_cost, l.cwd, l.web_search FROM line l "
            "JOIN file f ON f.id = l.file_id WHERE l.counted = 1"
        ).fetchall()
    got = sorted(((*r[:5], bool(r[5]), *r[6:]) for r in stored), key=repr)
    assert got == counted_line_by_line(root)


def test_a_parallel_read_stores_every_line_as_one_process_does(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same ids too: lines with the same time are reported in id order (a block's models), so
    a report must not depend on which reader finished first."""
    generate(root, TreeSpec(projects=3, sessions=8, responses=20), seed=13)
    table = "SELECT * FROM line ORDER BY id"
    with Ledger(tmp_path / "one.sqlite3") as led:
        led.sync([root])
        sequential = led.db.execute(table).fetchall()
    monkeypatch.setattr(reading, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with Ledger(tmp_path / "par.sqlite3") as led:
        led.sync([root])
        assert led.db.execute(table).fetchall() == sequential


@pytest.mark.parametrize("sizes", [[], [5], [1] * 40, [100, 1, 1, 1, 100, 3], [0, 0, 7, 0]])
def test_contiguous_runs_cover_every_file_once_in_order(sizes: list[int]) -> None:
    runs = reading.contiguous_runs(sizes, 4)
    assert [i for start, stop in runs for i in range(start, stop)] == list(range(len(sizes)))
    assert all(start < stop for start, stop in runs)


def test_bad_lines_are_skipped_counted_and_remembered(root: Path, led: Ledger) -> None:
    path = root / "projects" / "p" / "s.jsonl"
    write(
        path,
        [
            "{broken",
            '{"message":{"usage":{"input_tokens":1,"output_tokens":null}},'
            '"timestamp":"2026-03-01T10:00:00Z"}',
            assistant(T, "m1", "r1"),
        ],
    )
    result = led.sync([root])
    assert len(result.skipped) == 1  # "{broken" carries no usage marker
    assert [r[0] for r in led.skipped_lines()] == [str(path)]
    assert led.stats()["responses"] == 1


def test_unreadable_files_are_reported(root: Path, led: Ledger) -> None:
    folder = root / "projects" / "p"
    write(folder / "ok.jsonl", [assistant(T, "m1", "r1")])
    (folder / "dangling.jsonl").symlink_to(folder / "nowhere.jsonl")
    result = led.sync([root])
    assert [p for p, _ in result.unreadable] == [str(folder / "dangling.jsonl")]
    assert led.stats()["responses"] == 1


def test_a_folder_that_cannot_be_listed_is_reported(
    root: Path, led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a file that cannot be read is (root can list any folder, so the refusal is staged)."""
    import os

    write(root / "projects" / "p" / "ok.jsonl", [assistant(T, "m1", "r1")])
    locked = root / "projects" / "locked"
    write(locked / "s.jsonl", [assistant(T, "m2", "r2")])
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if path == str(locked):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = led.sync([root])
    assert result.unreadable == [(str(locked), "Permission denied")]
    assert led.stats()["responses"] == 1


def test_costs_are_recomputed_when_prices_change(root: Path, tmp_path: Path) -> None:
    write(
        root / "projects" / "p" / "s.jsonl",
        [assistant(T, "m1", "r1", "claude-opus-4-6", input=1_000_000, output=0)],
    )
    path = tmp_path / "l.sqlite3"
    with Ledger(path) as led:
        led.sync([root])
        led.db.execute("UPDATE line SET calc_cost = 0")
        led.db.execute("UPDATE meta SET value = 'old' WHERE key = 'prices_version'")
    with Ledger(path) as led:
        assert snapshot(led)["daily"]["totals"]["totalCost"] == pytest.approx(5.0)


def test_a_newer_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    with Ledger(path) as led:
        led.db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(ledger_module.LedgerError, match="newer promptpulse"):
        Ledger(path)


def test_project_filter_by_folder_path_or_name(root: Path, led: Ledger) -> None:
    write(
        root / "projects" / "-home-u-alpha" / "s.jsonl",
        [assistant(T, "m1", "r1", cwd="/home/u/alpha", output=1)],
    )
    write(
        root / "projects" / "-home-u-beta" / "s.jsonl",
        [assistant(T, "m2", "r2", cwd="/home/u/beta", output=2)],
    )
    led.sync([root])
    for name in ["-home-u-alpha", "/home/u/alpha", "alpha"]:
        rows = led.usage_by_day(UTC, "auto", name)
        assert sum(r.output_tokens for r in rows) == 1


@pytest.mark.parametrize(
    "zone",
    ["Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu", "Europe/Paris"],
)
def test_days_in_sql_equal_days_line_by_line(root: Path, led: Ledger, zone: str) -> None:
    """The SQL day grouping (offset spans) against each line's own local date."""
    from collections import Counter
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    generate(root, TreeSpec(projects=2, sessions=6, responses=40, days=300), seed=9)
    led.sync([root])
    expected: Counter[tuple[str, str]] = Counter()
    for line in led.usage_lines("auto"):
        local = datetime.fromtimestamp(line.ts / 1000, tz).date().isoformat()
        expected[(local, line.model)] += line.output_tokens
    got = Counter({(r.day.isoformat(), r.model): r.output_tokens for r in led.usage_by_day(tz)})
    assert got == expected


def test_a_ledger_of_schema_1_is_migrated_and_keeps_its_history(root: Path, tmp_path: Path) -> None:
    write(root / "projects" / "p" / "s.jsonl", response(T, "m1", "r1", 2, output=70))
    path = tmp_path / "old.sqlite3"
    with Ledger(path) as led:
        led.sync([root])
        before = snapshot(led)
        # what promptpulse wrote before plan limits: no limit_reading table, schema 1
        led.db.execute("DROP TABLE limit_reading")
        led.db.execute("DROP INDEX file_session")
        led.db.execute("ALTER TABLE line DROP COLUMN web_search")
        led.db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Ledger(path) as led:
        assert led.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[
            0
        ] == str(ledger_module.SCHEMA_VERSION)
        assert snapshot(led) == before
        assert led.readings() == []
        indexes = {r[0] for r in led.db.execute("SELECT name FROM sqlite_master")}
        assert "file_session" in indexes
        from promptpulse.limits import Reading

        assert led.add_reading(Reading(1, 10.0, 2))
        assert led.readings() == [Reading(1, 10.0, 2)]


def test_a_ledger_of_schema_3_gains_web_searches_by_reading_its_files_again(
    root: Path, tmp_path: Path
) -> None:
    """Schema 4 counts web searches: the files still there are read again at the next sync (so
    their searches are counted), a deleted transcript's lines stay, with no searches."""
    kept = write(
        root / "projects" / "p" / "kept.jsonl",
        response(T, "m1", "r1", 2, output=70, web_search=3),
    )
    gone = write(
        root / "projects" / "p" / "gone.jsonl",
        response(T + timedelta(days=1), "m2", "r2", 2, output=50, web_search=2),
    )
    path = tmp_path / "old.sqlite3"
    with Ledger(path) as led:
        led.sync([root])
        # what promptpulse wrote before web searches: no web_search column, schema 3
        led.db.execute("ALTER TABLE line DROP COLUMN web_search")
        led.db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    gone.unlink()
    with Ledger(path) as led:
        assert led._schema_version() == 4
        before = led.usage_by_day(UTC, "calculate")
        assert [(r.output_tokens, r.web_search_requests) for r in before] == [(70, 0), (50, 0)]
        led.sync([root])
        after = led.usage_by_day(UTC, "calculate")
        # the kept file's lines were read again, with their searches; the deleted one's stay
        assert [(r.output_tokens, r.web_search_requests) for r in after] == [(70, 3), (50, 0)]
        assert after[0].web_search_cost == pytest.approx(0.03)
        assert after[0].cost == pytest.approx(before[0].cost + 0.03)
        assert led.stats()["responses"] == 2
        led.mark_collected(led.changes_since_collect("basis")[1], "basis")
        led.sync([root])  # read once: nothing changes any more
        assert led.changes_since_collect("basis")[0] is None
    assert kept.exists()


def test_web_searches_are_priced_in_every_report_and_mode(root: Path, led: Ledger) -> None:
    write(root / "projects" / "p" / "a.jsonl", response(T, "m1", "r1", 3, web_search=4))
    logged = assistant(T + timedelta(minutes=1), "m2", "r2", cost_usd=0.5, web_search=2)
    write(root / "projects" / "p" / "b.jsonl", [logged])
    led.sync([root])
    for mode, requests, web_cost in [
        ("calculate", 6, 0.06),
        ("auto", 6, 0.04),  # a logged costUSD is the line's whole cost
        ("display", 6, 0.0),
    ]:
        (day,) = led.usage_by_day(UTC, mode)  # type: ignore[arg-type]
        assert day.web_search_requests == requests
        assert day.web_search_cost == pytest.approx(web_cost)
        lines = led.usage_lines(mode)  # type: ignore[arg-type]
        assert sum(x.web_search_cost for x in lines) == pytest.approx(web_cost)
        assert sum(x.cost for x in lines) == pytest.approx(day.cost)
        sessions = led.usage_by_session(mode)  # type: ignore[arg-type]
        assert sum(x.web_search_requests for x in sessions) == requests
    token_cost = led.usage_by_day(UTC, "calculate")[0].cost - 0.06
    (auto,) = led.usage_by_day(UTC, "auto")
    # auto: the logged line at its logged cost, the other at its tokens' cost and 4 searches
    a_tokens = (
        token_cost
        - led.db.execute("SELECT calc_cost FROM line WHERE cost_usd IS NOT NULL").fetchone()[0]
    )
    assert auto.cost == pytest.approx(a_tokens + 0.04 + 0.5)


def test_syncing_some_files_leaves_the_others_alone(root: Path, led: Ledger) -> None:
    from promptpulse.sources import session_files

    a = write(root / "projects" / "p" / "a.jsonl", response(T, "m1", "r1", 1, output=10))
    write(root / "projects" / "p" / "b.jsonl", response(T, "m2", "r2", 1, output=20))
    sub = write(
        root / "projects" / "p" / "a" / "subagents" / "agent-1.jsonl",
        response(T, "m3", "r3", 1, output=30, sidechain=True),
    )
    files = session_files(str(a), [root])
    assert [(f.path, f.project, f.session_id) for f in files] == [
        (str(a), "p", "a"),
        (str(sub), "p", "a"),
    ]
    led.sync_files(files)
    assert led.session_usage("a")[1] == 2 * (10 + 10) + 20  # input 10 each, outputs 10 and 30
    assert led.session_usage("b") == (0.0, 0)
    led.sync([root])
    assert led.stats()["files"] == 3 and led.stats()["files_deleted"] == 0
    os.remove(root / "projects" / "p" / "b.jsonl")
    led.sync_files(files)  # a partial sync does not decide that b is gone
    assert led.stats()["files_deleted"] == 0


def test_a_transcript_outside_the_roots_or_through_a_link(root: Path, tmp_path: Path) -> None:
    from promptpulse.sources import find_log_files, session_files

    a = write(root / "projects" / "p" / "a.jsonl", response(T, "m1", "r1", 1))
    link = tmp_path / "linked"
    link.symlink_to(root)
    assert session_files(str(tmp_path / "elsewhere" / "a.jsonl"), [root]) == []
    assert session_files(str(root / "projects" / "a.jsonl"), [root]) == []  # not in a project
    assert session_files(str(a), [link]) == find_log_files([link])  # spelled as the roots are
