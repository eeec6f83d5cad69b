"""The overview's pure parts: the period before, the month's projection, the heatmap, and the
web search cost carried by rows that have it (the collector's ``webSearchCost``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from promptpulse_server import trends, views
from testclock import TODAY

pytestmark = pytest.mark.dates


def test_the_period_before_is_as_long() -> None:
    since, until = TODAY - dt.timedelta(days=29), TODAY
    assert trends.previous_span(since, until) == (
        since - dt.timedelta(days=30),
        since - dt.timedelta(days=1),
    )
    assert trends.previous_span(None, None) is None


def test_changes() -> None:
    assert trends.Change(150, 100).label == "+50%" and trends.Change(150, 100).direction == "up"
    assert trends.Change(50, 100).label == "−50%" and trends.Change(50, 100).direction == "down"
    assert trends.Change(5, 0).label == "new" and trends.Change(5, 0).ratio is None


def test_the_projection_scales_the_days_so_far_to_the_month() -> None:
    rows = [(TODAY, "m", 0, 0, 0, 0, 2.0), (TODAY, "n", 0, 0, 0, 0, 1.0)]
    p = trends.project_month(rows, TODAY)
    days = (TODAY.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - TODAY.replace(day=1)
    assert p.days == days.days and p.days_gone == TODAY.day
    assert p.projected == pytest.approx(3.0 / TODAY.day * days.days)


def test_the_heatmap_counts_each_block_at_its_local_start() -> None:
    start = dt.datetime(2026, 11, 14, 19, 10, tzinfo=dt.UTC)  # Saturday in UTC, Sunday in Kolkata
    grid, total = trends.heatmap([(start, 2.5)], ZoneInfo("Asia/Kolkata"))
    assert grid[6][0] == 2.5 and total == 2.5  # Sunday, 00:40 local
    utc, _ = trends.heatmap([(start, 2.5)], ZoneInfo("UTC"))
    assert utc[5][19] == 2.5


def test_web_search_cost_comes_from_rows_that_carry_it() -> None:
    period = views.Period("week", TODAY - dt.timedelta(days=6), TODAY)
    rows = [
        (TODAY, "claude-opus-4-6", 1, 2, 3, 4, 1.05, 5, 0.05),
        (TODAY, "claude-sonnet-4-5", 1, 2, 3, 4, 0.50, 0, 0.0),
        (TODAY - dt.timedelta(days=1), "claude-opus-4-6", 1, 2, 3, 4, 0.03, 3, 0.03),
    ]
    vm = views.overview(rows, period, None)
    assert vm.totals.web_search == 8 and vm.totals.web_search_cost == pytest.approx(0.08)
    assert vm.searching_models == ["claude-opus-4-6"]
    donut = next(c for c in vm.charts if c.id == "web-search-by-model")
    assert donut.data[0]["values"] == [0.08]
    # rows without the columns (an older server's): no web search, nothing breaks
    old = views.overview([r[:7] for r in rows], period, None)
    assert old.totals.web_search_cost == 0
    assert next(c for c in old.charts if c.id == "web-search-by-model").data == []
