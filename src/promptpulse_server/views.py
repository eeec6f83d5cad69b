"""The dashboard's view-models: one per page, built by pure functions from query rows. Each
page has a ``table`` (what its CSV and JSON exports hold) and chart specs for Plotly."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from promptpulse import limits
from promptpulse_server import schemas

# --- the period and the filters ------------------------------------------------------------------

PERIODS = ("today", "week", "month", "year", "all", "custom")


@dataclass(frozen=True)
class Period:
    name: str
    since: dt.date | None
    until: dt.date | None

    @property
    def label(self) -> str:
        if self.since is None:
            return "All time"
        if self.since == self.until:
            return self.since.strftime("%d %b %Y")
        end = self.until.strftime("%d %b %Y") if self.until else "today"
        return f"{self.since.strftime('%d %b %Y')} – {end}"


def period_of(name: str, since: dt.date | None, until: dt.date | None, today: dt.date) -> Period:
    """The days a period covers, ending today in the viewer's zone (``custom``: as given)."""
    if name == "custom" or (name not in PERIODS and (since or until)):
        return Period("custom", since, until)
    if name == "today":
        return Period(name, today, today)
    if name == "week":
        return Period(name, today - dt.timedelta(days=6), today)
    if name == "year":
        return Period(name, today - dt.timedelta(days=364), today)
    if name == "all":
        return Period(name, None, None)
    return Period("month", today - dt.timedelta(days=29), today)


# --- colours: one per model, the same on every chart and page ----------------------------------

_FAMILY_COLOURS = (
    ("opus", "#c084fc"),
    ("sonnet", "#60a5fa"),
    ("haiku", "#34d399"),
)
_PALETTE = ("#f59e0b", "#f472b6", "#22d3ee", "#a3e635", "#fb7185", "#818cf8", "#2dd4bf", "#fbbf24")
_SHADES = (1.0, 0.78, 0.6, 1.18)


def _shade(colour: str, factor: float) -> str:
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{min(255, int(c * factor)):02x}" for c in rgb)


def model_colour(model: str) -> str:
    """A stable colour for a model: its family's hue (Opus, Sonnet, Haiku), a shade chosen by
    the full name; other models take a palette colour chosen by their name."""
    digest = int(hashlib.sha256(model.encode()).hexdigest()[:8], 16)
    for family, colour in _FAMILY_COLOURS:
        if family in model:
            return _shade(colour, _SHADES[digest % len(_SHADES)])
    return _PALETTE[digest % len(_PALETTE)]


KIND_COLOURS = {
    "Input": "#60a5fa",
    "Output": "#f472b6",
    "Cache write": "#f59e0b",
    "Cache read": "#34d399",
}


# --- shared pieces -------------------------------------------------------------------------------


@dataclass
class Tokens:
    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0
    cost: float = 0.0  # web search included
    web_search: int = 0  # requests
    web_search_cost: float = 0.0

    def add(
        self,
        i: int,
        o: int,
        cw: int,
        cr: int,
        cost: float,
        searches: int = 0,
        search_cost: float = 0,
    ) -> None:
        self.input += int(i or 0)
        self.output += int(o or 0)
        self.cache_write += int(cw or 0)
        self.cache_read += int(cr or 0)
        self.cost += float(cost or 0)
        self.web_search += int(searches or 0)
        self.web_search_cost += float(search_cost or 0)

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read

    @property
    def cache_hit_rate(self) -> float | None:
        """The share of prompt tokens read from the cache."""
        prompt = self.input + self.cache_write + self.cache_read
        return self.cache_read / prompt if prompt else None


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Chart:
    id: str
    title: str
    data: list[dict[str, Any]]
    layout: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        return {"id": self.id, "data": self.data, "layout": self.layout}


def _top_model(models: dict[str, Tokens]) -> str:
    return max(models.items(), key=lambda kv: kv[1].cost)[0] if models else ""


def _days(period: Period, seen: Iterable[dt.date]) -> list[dt.date]:
    """Every day of the period (or of the data, for all time), so that charts show gaps; never
    outside the days an upload may carry, whatever is stored."""
    seen = sorted(seen)
    first = period.since or (seen[0] if seen else None)
    last = period.until or (seen[-1] if seen else None)
    if first is None or last is None:
        return []
    first, last = max(first, schemas.FIRST_DAY), min(last, schemas.LAST_DAY)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def stacked_cost_chart(
    chart_id: str, title: str, by_day: dict[dt.date, dict[str, float]], days: list[dt.date]
) -> Chart:
    """Bars of cost per day stacked by ``key`` (a model, a project), a tooltip per part."""
    keys: dict[str, float] = defaultdict(float)
    for parts in by_day.values():
        for k, v in parts.items():
            keys[k] += v
    x = [d.isoformat() for d in days]
    data = [
        {
            "type": "bar",
            "name": k,
            "x": x,
            "y": [round(by_day.get(d, {}).get(k, 0.0), 4) for d in days],
            "marker": {"color": model_colour(k)},
            "hovertemplate": "%{x}<br>" + k.replace("%", "%%") + ": $%{y:.2f}<extra></extra>",
        }
        for k in sorted(keys, key=lambda k: -keys[k])
    ]
    return Chart(chart_id, title, data, {"barmode": "stack", "yaxis": {"tickprefix": "$"}})


# --- overview ------------------------------------------------------------------------------------


@dataclass
class ActiveBlock:
    start: dt.datetime
    end: dt.datetime
    tokens: int
    cost: float
    burn_per_hour: float  # dollars
    tokens_per_minute: float
    projected_cost: float
    minutes_left: int


def active_block(blocks: Sequence[Any], now: dt.datetime) -> ActiveBlock | None:
    """The 5-hour block running now (summed over the scope's machines): its burn rate from its
    first entry to its last, and the cost it will reach at that rate by its end."""
    if not blocks:
        return None
    start = min(b.start for b in blocks)
    end = max(b.end for b in blocks)
    last = max(b.last_entry for b in blocks)
    tokens = sum(
        b.input_tokens + b.output_tokens + b.cache_creation_tokens + b.cache_read_tokens
        for b in blocks
    )
    cost = sum(b.cost for b in blocks)
    minutes = max((last - start).total_seconds() / 60, 1.0)
    left = max((end - now).total_seconds() / 60, 0.0)
    per_minute = cost / minutes
    return ActiveBlock(
        start=start,
        end=end,
        tokens=tokens,
        cost=cost,
        burn_per_hour=per_minute * 60,
        tokens_per_minute=tokens / minutes,
        projected_cost=cost + per_minute * left,
        minutes_left=int(left),
    )


@dataclass
class Overview:
    totals: Tokens
    by_model: dict[str, Tokens]
    days: int
    active: ActiveBlock | None
    charts: list[Chart]
    table: Table
    by_session_start: bool  # a project filter: usage counted on the day each session started

    @property
    def empty(self) -> bool:
        return self.totals.total == 0 and self.totals.cost == 0


def overview(
    rows: Iterable[Sequence[Any]],
    period: Period,
    active: ActiveBlock | None,
    by_session_start: bool = False,
) -> Overview:
    """From (date, model, input, output, cache write, cache read, cost[, web search requests,
    web search cost]) rows; ``totals.web_search_cost`` is the period's web search cost."""
    totals = Tokens()
    by_model: dict[str, Tokens] = defaultdict(Tokens)
    by_day: dict[dt.date, dict[str, Tokens]] = defaultdict(lambda: defaultdict(Tokens))
    for day, model, i, o, cw, cr, cost, *web in rows:
        totals.add(i, o, cw, cr, cost, *web)
        by_model[model].add(i, o, cw, cr, cost, *web)
        by_day[day][model].add(i, o, cw, cr, cost, *web)
    days = _days(period, by_day)
    models = sorted(by_model, key=lambda m: -by_model[m].cost)
    donut = Chart(
        "cost-by-model",
        "Cost by model",
        [
            {
                "type": "pie",
                "hole": 0.62,
                "labels": models,
                "values": [round(by_model[m].cost, 4) for m in models],
                "marker": {"colors": [model_colour(m) for m in models]},
                "sort": False,
                "textinfo": "percent",
                "hovertemplate": "%{label}<br>$%{value:.2f} (%{percent})<extra></extra>",
            }
        ],
    )
    bars = stacked_cost_chart(
        "daily-cost",
        "Daily cost by model",
        {d: {m: t.cost for m, t in parts.items()} for d, parts in by_day.items()},
        days,
    )
    x = [d.isoformat() for d in days]

    def per_day(kind: str) -> list[int]:
        out = []
        for d in days:
            parts = by_day.get(d, {})
            out.append(sum(getattr(t, kind) for t in parts.values()))
        return out

    kinds = Chart(
        "tokens-by-kind",
        "Tokens by kind",
        [
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "tokens",
                "name": name,
                "x": x,
                "y": per_day(attr),
                "line": {"color": KIND_COLOURS[name], "width": 1},
                "hovertemplate": "%{x}<br>" + name + ": %{y:,}<extra></extra>",
            }
            for name, attr in (
                ("Input", "input"),
                ("Output", "output"),
                ("Cache write", "cache_write"),
                ("Cache read", "cache_read"),
            )
        ],
    )
    table = Table(
        [
            "date",
            "models",
            "input_tokens",
            "output_tokens",
            "cache_creation_tokens",
            "cache_read_tokens",
            "total_tokens",
            "cost_usd",
        ],
        [
            [
                d.isoformat(),
                " ".join(sorted(parts, key=lambda m: -parts[m].cost)),
                sum(t.input for t in parts.values()),
                sum(t.output for t in parts.values()),
                sum(t.cache_write for t in parts.values()),
                sum(t.cache_read for t in parts.values()),
                sum(t.total for t in parts.values()),
                round(sum(t.cost for t in parts.values()), 6),
            ]
            for d, parts in sorted(by_day.items(), reverse=True)
        ],
    )
    charts = [donut, bars, kinds] if by_day else []  # nothing to draw: no chart library either
    return Overview(totals, dict(by_model), len(by_day), active, charts, table, by_session_start)


def rows_by_session_start(rows: Iterable[Sequence[Any]], zone: ZoneInfo) -> list[tuple[Any, ...]]:
    """Session rows (project, first activity, model, tokens…, cost, web search…) as daily rows,
    each session on the local day it started."""
    return [
        (first.astimezone(zone).date(), model, i, o, cw, cr, cost, *web)
        for _project, first, model, i, o, cw, cr, cost, *web in rows
    ]


# --- team ----------------------------------------------------------------------------------------


@dataclass
class TeamRow:
    username: str
    display_name: str
    usage: Tokens
    top_model: str
    last_active: dt.date | None


@dataclass
class Team:
    rows: list[TeamRow]
    totals: Tokens
    charts: list[Chart]
    table: Table


def team(rows: Iterable[Sequence[Any]], users: dict[int, Any]) -> Team:
    """From (user id, model, input, output, cache write, cache read, cost, last day) rows; every
    user in ``users`` has a row, with or without usage."""
    usage: dict[int, Tokens] = defaultdict(Tokens)
    models: dict[int, dict[str, Tokens]] = defaultdict(lambda: defaultdict(Tokens))
    last: dict[int, dt.date] = {}
    totals = Tokens()
    for uid, model, i, o, cw, cr, cost, day in rows:
        usage[uid].add(i, o, cw, cr, cost)
        models[uid][model].add(i, o, cw, cr, cost)
        totals.add(i, o, cw, cr, cost)
        if day is not None and (uid not in last or day > last[uid]):
            last[uid] = day
    out = [
        TeamRow(u.username, u.display_name, usage[uid], _top_model(models[uid]), last.get(uid))
        for uid, u in users.items()
    ]
    out.sort(key=lambda r: (-r.usage.cost, r.display_name.lower()))
    chart = Chart(
        "cost-by-user",
        "Cost per user",
        [
            {
                "type": "bar",
                "orientation": "h",
                "y": [r.display_name for r in reversed(out)],
                "x": [round(r.usage.cost, 4) for r in reversed(out)],
                "marker": {"color": [model_colour(r.top_model) for r in reversed(out)]},
                "hovertemplate": "%{y}: $%{x:.2f}<extra></extra>",
            }
        ],
        {"xaxis": {"tickprefix": "$"}, "height": max(220, 28 * len(out) + 80)},
    )
    table = Table(
        ["username", "display_name", "total_tokens", "cost_usd", "top_model", "last_active"],
        [
            [
                r.username,
                r.display_name,
                r.usage.total,
                round(r.usage.cost, 6),
                r.top_model,
                r.last_active.isoformat() if r.last_active else "",
            ]
            for r in out
        ],
    )
    return Team(out, totals, [chart] if totals.total else [], table)


# --- machines ------------------------------------------------------------------------------------


@dataclass
class MachineRow:
    key: str
    hostname: str
    username: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    usage: Tokens
    top_model: str


def machines(rows: Iterable[Sequence[Any]]) -> tuple[list[MachineRow], Table]:
    """From (machine, username, model, input, output, cache write, cache read, cost) rows."""
    found: dict[int, MachineRow] = {}
    models: dict[int, dict[str, Tokens]] = defaultdict(lambda: defaultdict(Tokens))
    for m, username, model, i, o, cw, cr, cost in rows:
        row = found.setdefault(
            m.id,
            MachineRow(
                m.machine_key, m.hostname, username, m.first_seen, m.last_seen, Tokens(), ""
            ),
        )
        if model is not None:
            row.usage.add(i, o, cw, cr, cost)
            models[m.id][model].add(i, o, cw, cr, cost)
    for mid, row in found.items():
        row.top_model = _top_model(models[mid])
    out = sorted(found.values(), key=lambda r: r.last_seen, reverse=True)
    table = Table(
        [
            "machine_id",
            "hostname",
            "username",
            "first_seen",
            "last_seen",
            "total_tokens",
            "cost_usd",
            "top_model",
        ],
        [
            [
                r.key,
                r.hostname,
                r.username,
                r.first_seen.isoformat(),
                r.last_seen.isoformat(),
                r.usage.total,
                round(r.usage.cost, 6),
                r.top_model,
            ]
            for r in out
        ],
    )
    return out, table


# --- projects ------------------------------------------------------------------------------------


@dataclass
class ProjectRow:
    name: str
    usage: Tokens
    sessions: int
    top_model: str


def projects(
    rows: Iterable[Sequence[Any]], zone: ZoneInfo, period: Period
) -> tuple[list[ProjectRow], Chart, Table]:
    """From session rows (project, first activity, model, tokens…, cost): cost per project,
    over time by the day each session started."""
    usage: dict[str, Tokens] = defaultdict(Tokens)
    models: dict[str, dict[str, Tokens]] = defaultdict(lambda: defaultdict(Tokens))
    sessions: dict[str, set[dt.datetime]] = defaultdict(set)
    by_day: dict[dt.date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for project, first, model, i, o, cw, cr, cost, *_web in rows:
        name = project or "(unnamed)"
        usage[name].add(i, o, cw, cr, cost)
        models[name][model].add(i, o, cw, cr, cost)
        sessions[name].add(first)
        by_day[first.astimezone(zone).date()][name] += float(cost or 0)
    out = [
        ProjectRow(name, u, len(sessions[name]), _top_model(models[name]))
        for name, u in usage.items()
    ]
    out.sort(key=lambda r: -r.usage.cost)
    chart = stacked_cost_chart("project-cost", "Cost per project", by_day, _days(period, by_day))
    table = Table(
        ["project", "sessions", "total_tokens", "cost_usd", "top_model"],
        [[r.name, r.sessions, r.usage.total, round(r.usage.cost, 6), r.top_model] for r in out],
    )
    return out, chart, table


# --- sessions ------------------------------------------------------------------------------------


@dataclass
class SessionLine:
    machine: str
    hostname: str
    username: str
    project: str
    session_id: str
    first: dt.datetime
    last: dt.datetime
    usage: Tokens
    models: list[str]

    @property
    def duration(self) -> dt.timedelta:
        return self.last - self.first


def session_lines(
    rows: Iterable[Sequence[Any]], models: dict[tuple[str, ...], list[str]]
) -> tuple[list[SessionLine], Table]:
    out = []
    for mk, host, user, project, sid, first, last, i, o, cw, cr, cost in rows:
        usage = Tokens()
        usage.add(i, o, cw, cr, cost)
        out.append(
            SessionLine(
                mk,
                host,
                user,
                project,
                sid,
                first,
                last,
                usage,
                models.get((user, mk, project, sid), []),
            )
        )
    table = Table(
        [
            "session_id",
            "project",
            "username",
            "hostname",
            "first_activity",
            "last_activity",
            "duration_minutes",
            "models",
            "total_tokens",
            "cost_usd",
        ],
        [
            [
                s.session_id,
                s.project,
                s.username,
                s.hostname,
                s.first.isoformat(),
                s.last.isoformat(),
                round(s.duration.total_seconds() / 60, 1),
                " ".join(s.models),
                s.usage.total,
                round(s.usage.cost, 6),
            ]
            for s in out
        ],
    )
    return out, table


# --- blocks --------------------------------------------------------------------------------------


@dataclass
class BlockLine:
    start: dt.datetime
    end: dt.datetime
    last_entry: dt.datetime
    hostname: str
    username: str
    entries: int
    tokens: int
    cost: float
    models: list[str]
    active: bool


def blocks(rows: Iterable[Sequence[Any]], now: dt.datetime) -> tuple[list[BlockLine], Chart, Table]:
    """From (block, hostname, username) rows: a timeline of 5-hour windows, coloured by the
    block's main model, each bar as long as the window."""
    out = [
        BlockLine(
            b.start,
            b.end,
            b.last_entry,
            host,
            user,
            b.entries,
            b.input_tokens + b.output_tokens + b.cache_creation_tokens + b.cache_read_tokens,
            b.cost,
            list(b.models),
            b.start <= now < b.end,
        )
        for b, host, user in rows
    ]
    five_hours_ms = 5 * 3600 * 1000
    chart = Chart(
        "block-timeline",
        "5-hour blocks",
        [
            {
                "type": "bar",
                "x": [b.start.isoformat() for b in out],
                "y": [round(b.cost, 4) for b in out],
                "width": [five_hours_ms] * len(out),
                "offset": 0,
                "marker": {
                    "color": [model_colour(b.models[0]) if b.models else "#888" for b in out],
                    "line": {"width": [3 if b.active else 0 for b in out], "color": "#fff"},
                },
                "customdata": [[b.hostname, b.entries, b.tokens, ", ".join(b.models)] for b in out],
                "hovertemplate": "%{x|%d %b %H:%M}<br>$%{y:.2f} · %{customdata[2]:,} tokens"
                "<br>%{customdata[0]} · %{customdata[1]} entries<br>%{customdata[3]}"
                "<extra></extra>",
            }
        ],
        {"xaxis": {"type": "date"}, "yaxis": {"tickprefix": "$"}, "bargap": 0},
    )
    table = Table(
        [
            "start",
            "end",
            "last_entry",
            "hostname",
            "username",
            "entries",
            "total_tokens",
            "cost_usd",
            "models",
            "active",
        ],
        [
            [
                b.start.isoformat(),
                b.end.isoformat(),
                b.last_entry.isoformat(),
                b.hostname,
                b.username,
                b.entries,
                b.tokens,
                round(b.cost, 6),
                " ".join(b.models),
                b.active,
            ]
            for b in out
        ],
    )
    return out, chart, table


# --- leaderboard ---------------------------------------------------------------------------------


@dataclass
class Standing:
    rank: int
    username: str
    display_name: str
    tokens: int
    cost: float


def leaderboard(rows: Iterable[Sequence[Any]], by: str) -> tuple[list[Standing], Table]:
    """From (user, tokens, cost) rows of users who opted in."""
    ranked = sorted(
        ((u, int(t or 0), float(c or 0)) for u, t, c in rows),
        key=lambda r: (-(r[2] if by == "cost" else r[1]), r[0].display_name.lower()),
    )
    out = [
        Standing(n, u.username, u.display_name, t, c) for n, (u, t, c) in enumerate(ranked, start=1)
    ]
    table = Table(
        ["rank", "display_name", "total_tokens", "cost_usd"],
        [[s.rank, s.display_name, s.tokens, round(s.cost, 6)] for s in out],
    )
    return out, table


# --- plan limits ---------------------------------------------------------------------------------

PLAN_LABELS = {"pro": "Pro", "max5": "Max 5×", "max20": "Max 20×", "team": "Team", "api": "API"}


@dataclass
class WindowView:
    """One window as a page shows it: the used %, its level's colour, the time to the reset."""

    label: str
    used: float
    level: str  # ok | warn | high
    resets_at: dt.datetime
    resets_ms: int
    left: str  # 3h12m
    pace: float | None
    elapsed: float
    expired: bool

    @property
    def pace_text(self) -> str:
        if self.expired:
            return "reset since the last reading"
        if self.pace is None:
            return "pace –"
        return (
            f"pace {self.pace:.2f}× ({self.used:.0f}% used, {self.elapsed:.0f}% of the window gone)"
        )


def window_view(label: str, st: schemas.WindowStatusOut | None) -> WindowView | None:
    if st is None:
        return None
    return WindowView(
        label,
        st.used_percentage,
        st.level,
        st.resets_at,
        int(st.resets_at.timestamp() * 1000),
        limits.duration(st.time_left_seconds * 1000),
        st.pace,
        st.elapsed_percentage,
        st.expired,
    )


@dataclass
class MonthValue:
    month: str  # Oct 2026
    cost: float
    times: float | None  # the cost over the plan's price


@dataclass
class LimitsCard:
    """The overview's card for one user: the windows now, the 7-day % over the period, and
    what each month of use was worth at API prices against the plan's price."""

    five: WindowView | None
    seven: WindowView | None
    plan: str | None  # its label
    price: float | None
    months: list[MonthValue]
    chart: Chart | None
    now_ms: int
    last_reading: dt.datetime | None = None
    last_model: str | None = None

    @property
    def empty(self) -> bool:
        return self.five is None and self.seven is None


def _period_axis(
    period: tuple[dt.datetime | None, dt.datetime | None], now: dt.datetime, zone: ZoneInfo
) -> dict[str, Any]:
    """A date axis over the period shown (up to now), not just over the readings' span."""
    start, end = period
    if start is None or end is None:
        return {"type": "date"}
    end = min(end, now)
    return {
        "type": "date",
        "range": [start.astimezone(zone).isoformat(), end.astimezone(zone).isoformat()],
    }


def limits_card(
    current: tuple[schemas.WindowStatusOut | None, schemas.WindowStatusOut | None],
    latest: Sequence[Any],
    readings: Sequence[Any],
    plan: tuple[str, float | None] | None,
    usage: Iterable[Sequence[Any]],
    now: dt.datetime,
    zone: ZoneInfo,
    period: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
) -> LimitsCard:
    """From the windows' status now and the latest readings they come from, the period's
    readings (stored rows, oldest first), the plan (name, price) and the overview's (date,
    model, …, cost) rows; the chart spans the ``period`` (start, end) when it has both."""
    by_month: dict[tuple[int, int], float] = defaultdict(float)
    for day, *_, cost in usage:
        by_month[(day.year, day.month)] += float(cost or 0)
    price = plan[1] if plan else None
    months = [
        MonthValue(dt.date(y, m, 1).strftime("%b %Y"), cost, limits.subscription_value(cost, price))
        for (y, m), cost in sorted(by_month.items())
    ]
    weekly = [r for r in readings if r.seven_day_pct is not None]
    chart = None
    if weekly:
        chart = Chart(
            "limits-7d",
            "7-day limit used",
            [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "7-day %",
                    "x": [r.recorded_at.astimezone(zone).isoformat() for r in weekly],
                    "y": [round(r.seven_day_pct, 2) for r in weekly],
                    "line": {"color": "#7c9cff", "shape": "hv"},
                    "hovertemplate": "%{x|%d %b %H:%M}<br>%{y:.1f}% of the week<extra></extra>",
                }
            ],
            {
                "yaxis": {"ticksuffix": "%", "rangemode": "tozero"},
                "xaxis": _period_axis(period, now, zone),
            },
        )
    last = max(latest, key=lambda r: r.recorded_at, default=None)
    return LimitsCard(
        window_view("5-hour", current[0]),
        window_view("7-day", current[1]),
        PLAN_LABELS.get(plan[0], plan[0]) if plan else None,
        price,
        months,
        chart,
        int(now.timestamp() * 1000),
        last.recorded_at if last else None,
        last.model if last else None,
    )


@dataclass
class MemberLimitRow:
    username: str
    display_name: str
    five: WindowView | None
    seven: WindowView | None


def member_limits(
    people: Sequence[Any],
    current: dict[int, tuple[schemas.WindowStatusOut | None, schemas.WindowStatusOut | None]],
) -> list[MemberLimitRow]:
    """Each person's windows now, the closest to a limit first (by the 5-hour %, then 7-day)."""
    rows = [
        MemberLimitRow(
            u.username,
            u.display_name,
            window_view("5-hour", current[u.id][0]),
            window_view("7-day", current[u.id][1]),
        )
        for u in people
    ]

    def used(w: WindowView | None) -> float:
        return -1.0 if w is None or w.expired else w.used

    rows.sort(key=lambda r: (-used(r.five), -used(r.seven), r.display_name.lower()))
    return rows
