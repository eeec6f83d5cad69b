"""``report limits``: the plan's 5-hour and 7-day windows, and what a subscription is worth.
Pure functions over the ledger's blocks, lines and official readings.

- **5-hour:** each block of usage (as ``report blocks`` draws them). Where official readings
  describe it (an official window overlapping the block), the last and the peak %; where none
  do, the block's tokens against the most any finished block used.
- **7-day:** the official windows (one per reset time), and 7-day windows laid end to end
  before and after them (from the first usage when there is no reading at all); each with its
  tokens and cost, the official last and peak % where known, else the tokens against the
  busiest window.
- **Subscription value:** per month, the usage at API prices against the plan's price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from promptpulse import limits
from promptpulse.limits import Reading, WindowPeak
from promptpulse.reports import Block, PeriodUsage, UsageRow, iso_ms, local_date

WEEK_MS = limits.WINDOW_MS["seven_day"]
HOUR_MS = 3_600_000


@dataclass
class WindowRow:
    """One window of the report."""

    start: int
    end: int
    tokens: int
    cost: float
    official: WindowPeak | None
    of_max_pct: float | None  # the tokens against the busiest window's, without an official %
    is_current: bool


def _overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def five_hour_rows(blocks: list[Block], readings: list[Reading], now_ms: int) -> list[WindowRow]:
    """A row per block of usage; official windows with no usage here (another machine's) get
    a row of their own."""
    official = limits.windows_of(readings, "five_hour")
    length = limits.WINDOW_MS["five_hour"]
    used = [b for b in blocks if not b.is_gap]
    most = max((b.usage.totals.total for b in used if not b.is_active), default=0)
    matched: dict[int, WindowPeak] = {}  # block index -> its official window
    lonely: list[WindowPeak] = []
    for window in official:
        start = window.resets_at - length
        best = max(
            range(len(used)),
            key=lambda i: _overlap(start, window.resets_at, used[i].start, used[i].end),
            default=None,
        )
        if best is None or not _overlap(start, window.resets_at, used[best].start, used[best].end):
            lonely.append(window)
        elif best not in matched or matched[best].last_seen < window.last_seen:
            matched[best] = window
    rows = [
        WindowRow(
            b.start,
            b.end,
            b.usage.totals.total,
            b.usage.totals.cost,
            matched.get(i),
            None if i in matched or not most else 100.0 * b.usage.totals.total / most,
            b.start <= now_ms < b.end,
        )
        for i, b in enumerate(used)
    ]
    rows += [WindowRow(w.resets_at - length, w.resets_at, 0, 0.0, w, None, False) for w in lonely]
    rows.sort(key=lambda r: r.start)
    for row in rows:
        row.is_current = row.start <= now_ms < row.end
    return rows


def week_spans(first_ms: int, now_ms: int, official_starts: list[int]) -> list[tuple[int, int]]:
    """The 7-day windows from the first usage to now, as (start, end): the official ones (cut
    short where the next begins sooner), and windows end to end before, between and after
    them; from the first usage's hour when there is no official one."""
    starts = sorted(set(official_starts))
    if not starts:
        t = first_ms - first_ms % HOUR_MS
        spans = [(t, t + WEEK_MS)]
        while spans[-1][1] <= now_ms:
            spans.append((spans[-1][1], spans[-1][1] + WEEK_MS))
        return spans
    before = []
    t = starts[0]
    while t > first_ms:
        before.append((t - WEEK_MS, t))
        t -= WEEK_MS
    spans = before[::-1]
    for i, start in enumerate(starts):
        following = starts[i + 1] if i + 1 < len(starts) else None
        end = start + WEEK_MS if following is None else min(start + WEEK_MS, following)
        spans.append((start, end))
        t = end
        while (t < following) if following is not None else (t <= now_ms):
            nxt = t + WEEK_MS if following is None else min(t + WEEK_MS, following)
            spans.append((t, nxt))
            t = nxt
    return spans


def seven_day_rows(lines: list[UsageRow], readings: list[Reading], now_ms: int) -> list[WindowRow]:
    """A row per 7-day window that had usage or an official reading, or is the current one."""
    official = limits.windows_of(readings, "seven_day")
    if not lines and not official:
        return []
    ordered = sorted(lines, key=lambda r: r.ts)
    first = ordered[0].ts if ordered else official[0].resets_at - WEEK_MS
    by_start = {w.resets_at - WEEK_MS: w for w in official}
    rows: list[WindowRow] = []
    i = 0
    for start, end in week_spans(first, now_ms, list(by_start)):
        while i < len(ordered) and ordered[i].ts < start:
            i += 1
        tokens, cost = 0, 0.0
        while i < len(ordered) and ordered[i].ts < end:
            r = ordered[i]
            tokens += r.input_tokens + r.output_tokens + r.cache_write_tokens + r.cache_read_tokens
            cost += r.cost
            i += 1
        current = start <= now_ms < end
        if tokens or current or start in by_start:
            rows.append(WindowRow(start, end, tokens, cost, by_start.get(start), None, current))
    most = max((r.tokens for r in rows if not r.is_current), default=0)
    for row in rows:
        if row.official is None and most:
            row.of_max_pct = 100.0 * row.tokens / most
    return rows


@dataclass
class MonthValue:
    month: str
    cost: float
    plan_price: float | None

    @property
    def value(self) -> float | None:
        return limits.subscription_value(self.cost, self.plan_price)


def touched_months(
    months: list[PeriodUsage], since: date | None, until: date | None
) -> list[PeriodUsage]:
    """The months (keyed YYYY-MM) that a range of days touches, each whole."""
    first = since.isoformat()[:7] if since else ""
    last = until.isoformat()[:7] if until else "9999-12"
    return [m for m in months if first <= m.key <= last]


def subscription(months: list[PeriodUsage], plan_price: float | None) -> list[MonthValue]:
    return [MonthValue(m.key, m.usage.totals.cost, plan_price) for m in months]


def select(
    rows: list[WindowRow], tz: tzinfo, since: date | None, until: date | None
) -> list[WindowRow]:
    return [
        r
        for r in rows
        if (since is None or local_date(r.end - 1, tz) >= since)
        and (until is None or local_date(r.start, tz) <= until)
    ]


def _status_json(status: limits.WindowStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    return {
        "usedPercentage": status.used_pct,
        "resetsAt": iso_ms(status.resets_at),
        "elapsedPercentage": status.elapsed_pct,
        "pace": status.pace,
        "timeLeftSeconds": status.left_ms // 1000,
        "expired": status.expired,
        "level": status.level,
    }


def _row_json(r: WindowRow) -> dict[str, Any]:
    official = None
    if r.official is not None:
        official = {
            "lastPercentage": r.official.last_pct,
            "peakPercentage": r.official.peak_pct,
            "readings": r.official.readings,
            "lastSeen": iso_ms(r.official.last_seen),
            "resetsAt": iso_ms(r.official.resets_at),
        }
    return {
        "startTime": iso_ms(r.start),
        "endTime": iso_ms(r.end),
        "isCurrent": r.is_current,
        "totalTokens": r.tokens,
        "costUSD": r.cost,
        "official": official,
        "percentOfMax": r.of_max_pct,
    }


def report_json(
    plan: str,
    plan_price: float | None,
    readings: list[Reading],
    five_hour: list[WindowRow],
    seven_day: list[WindowRow],
    months: list[MonthValue],
    now_ms: int,
) -> dict[str, Any]:
    return {
        "plan": {"name": plan, "monthlyUsd": plan_price} if plan else None,
        "current": {
            "fiveHour": _status_json(limits.current(readings, "five_hour", now_ms)),
            "sevenDay": _status_json(limits.current(readings, "seven_day", now_ms)),
        },
        "fiveHour": [_row_json(r) for r in five_hour],
        "sevenDay": [_row_json(r) for r in seven_day],
        "subscription": [
            {"month": m.month, "costUSD": m.cost, "planUSD": m.plan_price, "value": m.value}
            for m in months
        ],
    }
