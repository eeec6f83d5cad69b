from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from promptpulse.reports import (
    DayRow,
    SessionRow,
    UsageRow,
    by_block,
    by_period,
    by_session,
    iso_ms,
    limit_status,
    max_block_tokens,
    offset_spans,
    parse_day,
    periods_json,
    select_blocks,
    sessions_json,
)

pytestmark = pytest.mark.dates

KOLKATA = ZoneInfo("Asia/Kolkata")


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def row(
    ts: str,
    model: str = "claude-sonnet-4-5",
    i: int = 1,
    o: int = 2,
    cw: int = 3,
    cr: int = 4,
    cost: float = 1.0,
) -> UsageRow:
    return UsageRow(ms(ts), model, i, o, cw, cr, cost)


def day(
    d: str,
    model: str = "claude-sonnet-4-5",
    i: int = 1,
    o: int = 2,
    cw: int = 3,
    cr: int = 4,
    cost: float = 1.0,
) -> DayRow:
    return DayRow(date.fromisoformat(d), model, i, o, cw, cr, cost)


def test_offset_spans_split_at_daylight_saving_changes() -> None:
    assert offset_spans(KOLKATA, ms("2026-01-01T00:00:00"), ms("2026-12-31T00:00:00")) == [
        (ms("2026-01-01T00:00:00"), 19_800_000)
    ]
    new_york = ZoneInfo("America/New_York")  # EST -5 until 2026-03-08 07:00 UTC, then EDT -4
    spans = offset_spans(new_york, ms("2026-03-01T00:00:00"), ms("2026-03-20T00:00:00"))
    assert spans == [
        (ms("2026-03-01T00:00:00"), -18_000_000),
        (ms("2026-03-08T07:00:00"), -14_400_000),
    ]
    assert offset_spans(UTC, 5, 5) == [(5, 0)]


def test_weeks_start_on_sunday_unless_told() -> None:
    rows = [day("2026-03-07"), day("2026-03-08")]  # Saturday, Sunday
    assert [p.key for p in by_period(rows, "weekly")] == ["2026-03-01", "2026-03-08"]
    assert [p.key for p in by_period(rows, "weekly", start_of_week=0)] == ["2026-03-02"]


def test_months_since_until_and_order() -> None:
    rows = [day("2026-01-31"), day("2026-02-01"), day("2026-02-20")]
    assert [p.key for p in by_period(rows, "monthly")] == ["2026-01", "2026-02"]
    some = by_period(rows, "daily", since=date(2026, 2, 1), until=date(2026, 2, 19))
    assert [p.key for p in some] == ["2026-02-01"]
    assert next(p.key for p in by_period(rows, "daily", order="desc")) == "2026-02-20"


def test_daily_json_has_ccusage_shape_and_hand_worked_totals() -> None:
    rows = [
        day("2026-03-01", "claude-opus-4-6", 1, 50, 100, 1000, 0.00238),
        day("2026-03-01", "claude-haiku-4-5", 5, 5, 0, 0, 0.00003),
        day("2026-03-01", "<synthetic>", 0, 0, 0, 0, 0.0),
    ]
    doc = periods_json("daily", by_period(rows, "daily"))
    first = doc["daily"][0]
    assert first["date"] == "2026-03-01"
    assert (
        first["inputTokens"],
        first["outputTokens"],
        first["cacheCreationTokens"],
        first["cacheReadTokens"],
        first["totalTokens"],
    ) == (6, 55, 100, 1000, 1161)
    assert first["totalCost"] == 0.00238 + 0.00003
    assert first["modelsUsed"] == ["claude-opus-4-6", "claude-haiku-4-5"]
    assert [m["modelName"] for m in first["modelBreakdowns"]] == [
        "claude-opus-4-6",
        "claude-haiku-4-5",
    ]
    assert doc["totals"]["totalTokens"] == 1161


def test_sessions_sum_models_and_drop_empty_ones() -> None:
    rows = [
        SessionRow(
            "p", "s1", ms("2026-03-01T10:00:00"), ms("2026-03-01T12:00:00"), "m1", 1, 1, 0, 0, 0.5
        ),
        SessionRow(
            "p", "s1", ms("2026-03-01T09:00:00"), ms("2026-03-01T11:00:00"), "m2", 2, 2, 0, 0, 1.5
        ),
        SessionRow(
            "p", "s2", ms("2026-03-02T10:00:00"), ms("2026-03-02T10:00:00"), "m1", 0, 0, 0, 0, 0.0
        ),
        SessionRow(
            "q", "s3", ms("2026-03-03T10:00:00"), ms("2026-03-03T10:00:00"), "m1", 1, 0, 0, 0, 0.1
        ),
    ]
    sessions = by_session(rows, UTC)
    assert [(s.project, s.session_id) for s in sessions] == [("p", "s1"), ("q", "s3")]
    doc = sessions_json(sessions)
    s1 = doc["sessions"][0]
    assert (s1["firstActivity"], s1["lastActivity"]) == (
        "2026-03-01T09:00:00.000Z",
        "2026-03-01T12:00:00.000Z",
    )
    assert (s1["inputTokens"], s1["totalCost"]) == (3, 2.0)
    assert [s.session_id for s in by_session(rows, UTC, since=date(2026, 3, 3))] == ["s3"]


def test_blocks_floor_to_the_hour_split_and_show_gaps() -> None:
    lines = [
        row("2026-03-01T10:17:00"),
        row("2026-03-01T14:59:00"),  # one block 10:00-15:00
        row("2026-03-01T15:01:00"),  # past the end: new block at 15:00
        row("2026-03-02T02:00:00"),
    ]  # 11h later: a gap, then a block at 02:00
    blocks = by_block(lines, now_ms=ms("2026-04-01T00:00:00"))
    assert [(b.id, b.entries, b.is_gap) for b in blocks] == [
        ("2026-03-01T10:00:00.000Z", 2, False),
        ("2026-03-01T15:00:00.000Z", 1, False),
        ("gap-2026-03-01T20:01:00.000Z", 0, True),
        ("2026-03-02T02:00:00.000Z", 1, False),
    ]
    assert iso_ms(blocks[0].end) == "2026-03-01T15:00:00.000Z"
    assert iso_ms(blocks[2].end) == "2026-03-02T02:00:00.000Z"
    assert not any(b.is_active for b in blocks)


def test_active_block_burn_rate_and_projection() -> None:
    lines = [
        row("2026-03-01T10:05:00", i=1000, o=500, cw=0, cr=0, cost=0.03),
        row("2026-03-01T10:25:00", i=1000, o=500, cw=0, cr=0, cost=0.03),
    ]
    now = ms("2026-03-01T11:00:00")
    [block] = by_block(lines, now)
    assert block.is_active
    assert block.burn_rate is not None and block.projection is not None
    assert block.burn_rate.tokens_per_minute == 3000 / 20
    assert block.burn_rate.cost_per_hour == 0.06 / 20 * 60
    assert block.projection.remaining_minutes == 240
    assert block.projection.total_tokens == 3000 + 150 * 240
    assert block.projection.total_cost == round(0.06 + 0.18 / 60 * 240, 2)
    assert select_blocks([block], now, UTC, active=True) == [block]
    assert limit_status(39000, 30000)["status"] == "exceeds"
    assert limit_status(25000, 30000)["status"] == "warning"
    assert limit_status(1000, 30000)["status"] == "ok"


def test_recent_blocks_and_max_limit() -> None:
    lines = [row("2026-03-01T10:00:00", i=10), row("2026-03-10T10:00:00", i=50)]
    now = ms("2026-03-11T10:00:00")
    blocks = by_block(lines, now)
    recent = select_blocks(blocks, now, UTC, recent=True)
    assert [b.id for b in recent] == ["2026-03-10T10:00:00.000Z"]
    assert max_block_tokens(blocks) == 50 + 2 + 3 + 4


def test_parse_day_accepts_both_forms() -> None:
    assert parse_day("20260301") == parse_day("2026-03-01") == date(2026, 3, 1)


def test_a_block_that_starts_after_now_is_not_active() -> None:
    from promptpulse.reports import UsageRow, by_block

    hour = 3_600_000
    now = 100 * hour
    lines = [UsageRow(now + 2 * hour, "claude-opus-4-6", 1, 1, 0, 0, 0.1)]  # logged after now
    assert [b.is_active for b in by_block(lines, now)] == [False]
    earlier = [UsageRow(now - hour, "claude-opus-4-6", 1, 1, 0, 0, 0.1), *lines]
    assert [b.is_active for b in by_block(earlier, now)] == [True]
