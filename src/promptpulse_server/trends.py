"""Where usage is heading, from query rows (pure, no SQL): this period against the one before
(month over month, on the cards and per model), the month's cost projected from its days so
far, and when in the week usage happens (hour of day × weekday, as a heatmap)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def previous_span(since: dt.date | None, until: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """The days just before ``since``..``until``, as many of them (none for all time)."""
    if since is None or until is None:
        return None
    length = (until - since).days + 1
    return since - dt.timedelta(days=length), since - dt.timedelta(days=1)


@dataclass(frozen=True)
class Change:
    now: float
    before: float

    @property
    def ratio(self) -> float | None:
        """+0.25 for a quarter more than before; None when there was nothing before."""
        return (self.now - self.before) / self.before if self.before else None

    @property
    def label(self) -> str:
        if self.ratio is None:
            return "new" if self.now else "–"
        sign = "+" if self.ratio >= 0 else "−"
        return f"{sign}{abs(self.ratio) * 100:.0f}%"

    @property
    def direction(self) -> str:
        """up, down or flat: the class a page colours the change by."""
        if self.now > self.before:
            return "up"
        return "down" if self.now < self.before else "flat"


def cost_by_model(rows: Iterable[Sequence[Any]]) -> dict[str, float]:
    """From (date, model, input, output, cache write, cache read, cost) rows."""
    out: dict[str, float] = defaultdict(float)
    for row in rows:
        out[row[1]] += float(row[6] or 0)
    return dict(out)


@dataclass(frozen=True)
class Comparison:
    since: dt.date
    until: dt.date
    total: Change
    by_model: dict[str, Change]


def compare(
    now: dict[str, float], before: dict[str, float], span: tuple[dt.date, dt.date]
) -> Comparison:
    """Cost now against cost in ``span`` (the previous period), in total and per model."""
    models = set(now) | set(before)
    return Comparison(
        span[0],
        span[1],
        Change(sum(now.values()), sum(before.values())),
        {m: Change(now.get(m, 0.0), before.get(m, 0.0)) for m in models},
    )


@dataclass(frozen=True)
class Projection:
    month: dt.date  # its first day
    so_far: float
    days_gone: int  # today included
    days: int

    @property
    def projected(self) -> float:
        """The month's cost if the rest of it goes as its days so far did."""
        return self.so_far / self.days_gone * self.days


def project_month(month_rows: Iterable[Sequence[Any]], today: dt.date) -> Projection:
    """From the rows of this month's days up to ``today``."""
    so_far = sum(float(r[6] or 0) for r in month_rows)
    days = calendar.monthrange(today.year, today.month)[1]
    return Projection(today.replace(day=1), so_far, today.day, days)


def heatmap(
    blocks: Iterable[tuple[dt.datetime, float]], zone: ZoneInfo
) -> tuple[list[list[float]], float]:
    """Cost by weekday (rows, Monday first) and hour (columns) in ``zone``, by the local time
    each 5-hour block started (as the API's patterns count), and the total."""
    grid = [[0.0] * 24 for _ in WEEKDAYS]
    total = 0.0
    for start, cost in blocks:
        local = start.astimezone(zone)
        grid[local.weekday()][local.hour] += float(cost)
        total += float(cost)
    return [[round(v, 4) for v in row] for row in grid], total
