"""Pure aggregation: daily, weekly, monthly, session and 5-hour-block reports.

Inputs are rows of counted usage (``ledger.UsageRow`` / ``ledger.SessionRow``); outputs are plain
dataclasses and, through the ``*_shape`` and ``*_json`` functions, ccusage v20's JSON shapes
as ``promptpulse.shapes`` defines them, with ``webSearchRequests`` and ``webSearchCost`` besides
(a cost includes its web search cost). Nothing here reads a file or a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal, NamedTuple

from promptpulse import shapes
from promptpulse.pricing import SYNTHETIC_MODEL

Period = Literal["daily", "weekly", "monthly"]
Order = Literal["asc", "desc"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
HOUR_MS = 3_600_000
BLOCK_MS = 5 * HOUR_MS  # the length of a billing block


class UsageRow(NamedTuple):
    """Usage summed over counted lines that share a time (or time bucket) and a model."""

    ts: int  # ms since the epoch
    model: str  # with "-fast" for fast mode
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost: float  # web search included
    web_search_requests: int = 0
    web_search_cost: float = 0.0


class SessionRow(NamedTuple):
    project: str
    session_id: str
    first_ts: int
    last_ts: int
    model: str
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost: float
    web_search_requests: int = 0
    web_search_cost: float = 0.0


class DayRow(NamedTuple):
    """Usage summed over counted lines of one local day and model."""

    day: date
    model: str
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost: float
    web_search_requests: int = 0
    web_search_cost: float = 0.0


@dataclass
class Tokens:
    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0
    cost: float = 0.0  # web search included
    web_search: int = 0  # requests
    web_search_cost: float = 0.0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read

    def add(self, row: UsageRow | DayRow | SessionRow) -> None:
        self.input += row.input_tokens
        self.output += row.output_tokens
        self.cache_write += row.cache_write_tokens
        self.cache_read += row.cache_read_tokens
        self.cost += row.cost
        self.web_search += row.web_search_requests
        self.web_search_cost += row.web_search_cost

    def add_tokens(self, other: Tokens) -> None:
        self.input += other.input
        self.output += other.output
        self.cache_write += other.cache_write
        self.cache_read += other.cache_read
        self.cost += other.cost
        self.web_search += other.web_search
        self.web_search_cost += other.web_search_cost


@dataclass
class Usage:
    """Usage of one report row: totals and a breakdown by model."""

    totals: Tokens = field(default_factory=Tokens)
    models: dict[str, Tokens] = field(default_factory=dict)  # in order of first use

    def add(self, row: UsageRow | DayRow | SessionRow) -> None:
        self.totals.add(row)
        per_model = self.models.get(row.model)
        if per_model is None:
            per_model = self.models[row.model] = Tokens()
        per_model.add(row)

    def breakdown(self) -> list[tuple[str, Tokens]]:
        """Models by cost, highest first; ``<synthetic>`` (API errors) left out."""
        items = [(m, t) for m, t in self.models.items() if m != SYNTHETIC_MODEL]
        return sorted(items, key=lambda mt: -mt[1].cost)

    def models_used(self) -> list[str]:
        return [m for m in self.models if m != SYNTHETIC_MODEL]


@dataclass
class PeriodUsage:
    key: str  # YYYY-MM-DD (day, or first day of the week) or YYYY-MM
    usage: Usage


@dataclass
class SessionUsage:
    project: str
    session_id: str
    first_ts: int
    last_ts: int
    usage: Usage


@dataclass
class BurnRate:
    tokens_per_minute: float
    tokens_per_minute_for_indicator: float
    cost_per_hour: float


@dataclass
class Projection:
    total_tokens: int
    total_cost: float
    remaining_minutes: int


@dataclass
class Block:
    start: int  # ms
    end: int
    actual_end: int | None
    is_gap: bool
    is_active: bool
    entries: int
    usage: Usage
    burn_rate: BurnRate | None = None
    projection: Projection | None = None

    @property
    def id(self) -> str:
        return ("gap-" if self.is_gap else "") + iso_ms(self.start)


# --- dates --------------------------------------------------------------------------------


def iso_ms(ts: int) -> str:
    """RFC 3339 UTC with milliseconds, as ccusage prints times."""
    moment = datetime.fromtimestamp(ts // 1000, UTC) + timedelta(milliseconds=ts % 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts % 1000:03d}Z"


def local_date(ts: int, tz: tzinfo) -> date:
    return datetime.fromtimestamp(ts / 1000, tz).date()


def parse_day(text: str) -> date:
    """A day given as YYYYMMDD or YYYY-MM-DD."""
    cleaned = text.strip()
    if len(cleaned) == 8 and cleaned.isdigit():
        cleaned = f"{cleaned[:4]}-{cleaned[4:6]}-{cleaned[6:]}"
    return date.fromisoformat(cleaned)


def period_key(period: Period, start_of_week: int = 6) -> Callable[[date], str]:
    """How a local date is labelled in a report; ``start_of_week`` is 0 (Monday) .. 6 (Sunday)."""
    if period == "daily":
        return date.isoformat
    if period == "monthly":
        return lambda d: d.isoformat()[:7]

    def week(d: date) -> str:
        return (d - timedelta(days=(d.weekday() - start_of_week) % 7)).isoformat()

    return week


def _in_range(d: date, since: date | None, until: date | None) -> bool:
    return (since is None or d >= since) and (until is None or d <= until)


# --- daily, weekly, monthly -----------------------------------------------------------------


def offset_spans(tz: tzinfo, first_ms: int, last_ms: int) -> list[tuple[int, int]]:
    """(start, UTC offset) in ms for each stretch of [first_ms, last_ms] over which ``tz``'s
    offset stays the same; the first stretch starts at ``first_ms``."""

    def offset(ms: int) -> int:
        delta = datetime.fromtimestamp(ms / 1000, tz).utcoffset()
        return int(delta.total_seconds() * 1000) if delta else 0

    spans = [(first_ms, offset(first_ms))]
    step = 6 * HOUR_MS  # zones change their offset at most a few times a year
    t = first_ms
    while t < last_ms:
        nxt = min(t + step, last_ms)
        if offset(nxt) != spans[-1][1]:
            lo, hi = t, nxt  # the change lies in (lo, hi]: find the exact millisecond
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == spans[-1][1]:
                    lo = mid
                else:
                    hi = mid
            spans.append((hi, offset(hi)))
        t = nxt
    return spans


def by_period(
    rows: Iterable[DayRow],
    period: Period,
    *,
    since: date | None = None,
    until: date | None = None,
    order: Order = "asc",
    start_of_week: int = 6,
) -> list[PeriodUsage]:
    """Usage per local day, week or month; ``since``/``until`` select the days that count."""
    label = period_key(period, start_of_week)
    groups: dict[str, Usage] = {}
    for row in rows:
        if not _in_range(row.day, since, until):
            continue
        key = label(row.day)
        usage = groups.get(key)
        if usage is None:
            usage = groups[key] = Usage()
        usage.add(row)
    out = [PeriodUsage(k, u) for k, u in groups.items()]
    out.sort(key=lambda p: p.key, reverse=order == "desc")
    return out


def grand_total(usages: Iterable[Usage]) -> Tokens:
    total = Tokens()
    for u in usages:
        total.add_tokens(u.totals)
    return total


# --- sessions -------------------------------------------------------------------------------


def by_session(
    rows: Iterable[SessionRow],
    tz: tzinfo,
    *,
    since: date | None = None,
    until: date | None = None,
    order: Order = "desc",
) -> list[SessionUsage]:
    """Usage per (project folder, session id); filtered by the day of last activity, sorted by
    cost (highest first, or lowest with ``order="asc"``). Sessions without tokens are left out."""
    sessions: dict[tuple[str, str], SessionUsage] = {}
    for row in rows:
        key = (row.project, row.session_id)
        s = sessions.get(key)
        if s is None:
            s = sessions[key] = SessionUsage(
                row.project, row.session_id, row.first_ts, row.last_ts, Usage()
            )
        s.first_ts = min(s.first_ts, row.first_ts)
        s.last_ts = max(s.last_ts, row.last_ts)
        s.usage.add(row)
    out = [
        s
        for s in sessions.values()
        if s.usage.totals.total > 0 and _in_range(local_date(s.last_ts, tz), since, until)
    ]
    out.sort(key=lambda s: (s.usage.totals.cost, s.last_ts), reverse=order == "desc")
    return out


# --- 5-hour blocks --------------------------------------------------------------------------


def by_block(
    lines: Sequence[UsageRow],
    now_ms: int,
    *,
    session_hours: float = 5,
) -> list[Block]:
    """5-hour billing windows as ccusage draws them, gaps included (``lines`` sorted by time).

    A block starts at its first entry's time floored to the UTC hour and lasts
    ``session_hours``; an entry later than that, or more than ``session_hours`` after the
    previous entry, starts a new block, and a silence longer than ``session_hours`` between
    entries is shown as a gap block.
    """
    length = int(session_hours * HOUR_MS)
    blocks: list[Block] = []
    current: list[UsageRow] = []
    start = 0
    for line in lines:
        if current:
            last = current[-1].ts
            if line.ts - start > length or line.ts - last > length:
                blocks.append(_block(start, current, now_ms, length))
                if line.ts - last > length:
                    blocks.append(_gap(last + length, line.ts))
                current = []
        if not current:
            start = line.ts - line.ts % HOUR_MS
        current.append(line)
    if current:
        blocks.append(_block(start, current, now_ms, length))
    return blocks


def _gap(start: int, end: int) -> Block:
    return Block(start, end, None, True, False, 0, Usage())


def _block(start: int, lines: list[UsageRow], now_ms: int, length: int) -> Block:
    usage = Usage()
    for line in lines:
        usage.add(line)
    end = start + length
    last = lines[-1].ts
    # a block that starts after now (the clock set to a past instant) is not active yet
    active = start <= now_ms and now_ms - last < length and now_ms < end
    block = Block(start, end, last, False, active, len(lines), usage)
    if active:
        block.burn_rate = _burn_rate(lines[0].ts, last, usage.totals)
        if block.burn_rate is not None:
            remaining = max(0, round((end - now_ms) / 60_000))
            block.projection = Projection(
                total_tokens=round(
                    usage.totals.total + block.burn_rate.tokens_per_minute * remaining
                ),
                total_cost=round(
                    usage.totals.cost + block.burn_rate.cost_per_hour / 60 * remaining, 2
                ),
                remaining_minutes=remaining,
            )
    return block


def _burn_rate(first: int, last: int, totals: Tokens) -> BurnRate | None:
    minutes = (last - first) / 60_000
    if minutes <= 0:
        return None
    return BurnRate(
        tokens_per_minute=totals.total / minutes,
        tokens_per_minute_for_indicator=(totals.input + totals.output) / minutes,
        cost_per_hour=totals.cost / minutes * 60,
    )


def select_blocks(
    blocks: list[Block],
    now_ms: int,
    tz: tzinfo,
    *,
    active: bool = False,
    recent: bool = False,
    since: date | None = None,
    until: date | None = None,
    order: Order = "asc",
) -> list[Block]:
    out = blocks
    if since or until:
        out = [b for b in out if _in_range(local_date(b.start, tz), since, until)]
    if recent:
        cutoff = now_ms - 3 * 24 * HOUR_MS
        out = [b for b in out if b.start >= cutoff or b.is_active]
    if active:
        out = [b for b in out if b.is_active]
    return list(reversed(out)) if order == "desc" else out


def max_block_tokens(blocks: Iterable[Block]) -> int:
    """The most tokens any finished block used: the limit ``--token-limit max`` means."""
    return max(
        (b.usage.totals.total for b in blocks if not b.is_gap and not b.is_active), default=0
    )


def limit_status(projected: int, limit: int) -> dict[str, Any]:
    return shapes.to_json(token_limit_status(projected, limit))


def token_limit_status(projected: int, limit: int) -> shapes.TokenLimitStatus:
    percent = projected / limit * 100 if limit else 0.0
    status: Literal["ok", "warning", "exceeds"] = (
        "exceeds" if percent > 100 else "warning" if percent > 80 else "ok"
    )
    return shapes.TokenLimitStatus(
        limit=limit, projected_usage=projected, percent_used=percent, status=status
    )


# --- ccusage's JSON shapes (promptpulse.shapes) -----------------------------------------------


def instant(ts: int) -> datetime:
    """A time in ms as an aware UTC datetime, exact to the millisecond."""
    return datetime.fromtimestamp(ts // 1000, UTC) + timedelta(milliseconds=ts % 1000)


def _counts(t: Tokens) -> dict[str, Any]:
    """The fields of ``shapes.TokenCounts``."""
    return {
        "input_tokens": t.input,
        "output_tokens": t.output,
        "cache_creation_tokens": t.cache_write,
        "cache_read_tokens": t.cache_read,
        "web_search_requests": t.web_search,
        "web_search_cost": t.web_search_cost,
    }


def _usage(u: Usage) -> dict[str, Any]:
    """The fields of ``shapes.Usage``."""
    return {
        **_counts(u.totals),
        "total_tokens": u.totals.total,
        "total_cost": u.totals.cost,
        "models_used": u.models_used(),
        "model_breakdowns": [
            shapes.ModelBreakdown(model_name=m, cost=t.cost, **_counts(t)) for m, t in u.breakdown()
        ],
    }


def totals_shape(t: Tokens) -> shapes.Totals:
    return shapes.Totals(total_tokens=t.total, total_cost=t.cost, **_counts(t))


def day_shape(p: PeriodUsage) -> shapes.DailyRow:
    return shapes.DailyRow(date=parse_day(p.key), **_usage(p.usage))


def session_shape(s: SessionUsage) -> shapes.SessionRow:
    return shapes.SessionRow(
        session_id=s.session_id,
        project_path=s.project,
        first_activity=instant(s.first_ts),
        last_activity=instant(s.last_ts),
        **_usage(s.usage),
    )


def block_shape(b: Block) -> shapes.BlockRow:
    return shapes.BlockRow(**_block_fields(b))


def _block_fields(b: Block) -> dict[str, Any]:
    """The fields of ``shapes.BlockRow``."""
    t = b.usage.totals
    return {
        "id": b.id,
        "start_time": instant(b.start),
        "end_time": instant(b.end),
        "actual_end_time": instant(b.actual_end) if b.actual_end is not None else None,
        "is_active": b.is_active,
        "is_gap": b.is_gap,
        "entries": b.entries,
        "token_counts": shapes.BlockTokens(
            input_tokens=t.input,
            output_tokens=t.output,
            cache_creation_input_tokens=t.cache_write,
            cache_read_input_tokens=t.cache_read,
        ),
        "total_tokens": t.total,
        "cost_usd": t.cost,
        "web_search_requests": t.web_search,
        "web_search_cost": t.web_search_cost,
        "models": b.usage.models_used(),
    }


def periods_json(period: Period, rows: list[PeriodUsage]) -> dict[str, Any]:
    totals = totals_shape(grand_total(p.usage for p in rows))
    report: shapes.DailyReport | shapes.WeeklyReport | shapes.MonthlyReport
    if period == "daily":
        report = shapes.DailyReport(daily=[day_shape(p) for p in rows], totals=totals)
    elif period == "weekly":
        weeks = [shapes.WeeklyRow(week=p.key, **_usage(p.usage)) for p in rows]
        report = shapes.WeeklyReport(weekly=weeks, totals=totals)
    else:
        months = [shapes.MonthlyRow(month=p.key, **_usage(p.usage)) for p in rows]
        report = shapes.MonthlyReport(monthly=months, totals=totals)
    return shapes.to_json(report)


def sessions_json(rows: list[SessionUsage]) -> dict[str, Any]:
    totals = totals_shape(grand_total(s.usage for s in rows))
    return shapes.to_json(shapes.SessionReport([session_shape(s) for s in rows], totals))


def blocks_json(rows: list[Block], token_limit: int | None = None) -> dict[str, Any]:
    out = []
    for b in rows:
        item = shapes.ReportBlock(**_block_fields(b))
        if b.burn_rate is not None:
            item.burn_rate = shapes.BurnRate(
                tokens_per_minute=b.burn_rate.tokens_per_minute,
                tokens_per_minute_for_indicator=b.burn_rate.tokens_per_minute_for_indicator,
                cost_per_hour=b.burn_rate.cost_per_hour,
            )
        if b.projection is not None:
            item.projection = shapes.Projection(
                total_tokens=b.projection.total_tokens,
                total_cost=b.projection.total_cost,
                remaining_minutes=b.projection.remaining_minutes,
            )
            if token_limit:
                item.token_limit_status = token_limit_status(b.projection.total_tokens, token_limit)
        out.append(item)
    return shapes.to_json(shapes.BlockReport(out))
