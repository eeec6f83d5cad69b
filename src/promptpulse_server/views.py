"""The dashboard's view-models: one per page, built by pure functions from query rows. Each
page has a ``table`` (what its CSV and JSON exports hold) and chart specs for Plotly."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from promptpulse import limits, shapes
from promptpulse_server import palette, schemas, trends

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


# --- colours: one per model, the same on every chart and page (``palette``) -------------------

model_colour = palette.model_colour

KIND_COLOURS = {  # Okabe–Ito, like the models
    "Input": "#56B4E9",
    "Output": "#E69F00",
    "Cache write": "#CC79A7",
    "Cache read": "#009E73",
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
    empty: str = ""  # what the page says instead of the chart when there is nothing to draw

    def spec(self) -> dict[str, Any]:
        return {"id": self.id, "data": self.data, "layout": self.layout, "empty": self.empty}

    @property
    def height(self) -> int:
        """The chart's height, which its box keeps before it is drawn (so nothing jumps)."""
        return int(self.layout.get("height", 320))


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
    first, last = max(first, shapes.FIRST_DAY), min(last, shapes.LAST_DAY)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def stacked_cost_chart(
    chart_id: str,
    title: str,
    by_day: dict[dt.date, dict[str, float]],
    days: list[dt.date],
    colours: dict[str, str] | None = None,
    names: dict[str, str] | None = None,
) -> Chart:
    """Bars of cost per day stacked by ``key`` (a model, a project), costliest first in the
    legend; a day's tooltip lists each of its parts and the day's total. ``names``: what the
    legend calls a key (a short model name), the tooltip adding the full key."""
    keys: dict[str, float] = defaultdict(float)
    for parts in by_day.values():
        for k, v in parts.items():
            keys[k] += v
    colours = colours or palette.model_colours(keys)
    names = names or {}
    x = [d.isoformat() for d in days]

    def cost(d: dt.date, k: str) -> float | None:
        v = by_day.get(d, {}).get(k, 0.0)
        return round(v, 4) if v else None  # a day without it: not in that day's tooltip

    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": names.get(k, k),
            "x": x,
            "y": [cost(d, k) for d in days],
            "marker": {"color": colours[k]},
            "hovertemplate": "$%{y:,.2f} · " + _plain(k) + "<extra></extra>",
        }
        for k in sorted(keys, key=lambda k: (-keys[k], k))
    ]
    totals = [round(sum(by_day.get(d, {}).values()), 4) for d in days]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "Day total",
            "x": x,
            "y": totals,
            "marker": {"color": "rgba(0,0,0,0)", "size": 1},
            "showlegend": False,
            "hovertemplate": "<b>Day total $%{y:,.2f}</b><extra></extra>",
        }
    )
    layout = {
        "barmode": "stack",
        "hovermode": "x unified",
        "yaxis": {"tickprefix": "$"},
        "legend": {"traceorder": "normal"},
    }
    return Chart(chart_id, title, data, layout, empty="No cost in this period.")


def _plain(text: str) -> str:
    """A name inside a Plotly template: its own ``%`` and markup shown as text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%", "%%")


def short_names(models: Iterable[str]) -> dict[str, str]:
    """Each model's short name (Opus 4.6); where two would read the same (a dated and an
    undated id of one version), with the date, else the full id."""
    models = set(models)
    short = {m: palette.short_name(m) for m in models}
    counts: dict[str, int] = defaultdict(int)
    for name in short.values():
        counts[name] += 1
    out = {
        m: name if counts[name] == 1 else palette.short_name(m, dated=True)
        for m, name in short.items()
    }
    again: dict[str, int] = defaultdict(int)
    for name in out.values():
        again[name] += 1
    return {m: name if again[name] == 1 else m for m, name in out.items()}


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
    colours: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # short model names
    comparison: trends.Comparison | None = None
    projection: trends.Projection | None = None

    @property
    def empty(self) -> bool:
        return self.totals.total == 0 and self.totals.cost == 0

    @property
    def models(self) -> list[str]:
        """The models, costliest first."""
        return sorted(self.by_model, key=lambda m: (-self.by_model[m].cost, m))

    @property
    def searching_models(self) -> list[str]:
        """The models that searched the web, by their web search cost."""
        found = [m for m, t in self.by_model.items() if t.web_search_cost > 0]
        return sorted(found, key=lambda m: (-self.by_model[m].web_search_cost, m))


def donut(
    chart_id: str,
    title: str,
    values: dict[str, float],
    colours: dict[str, str],
    names: dict[str, str],
) -> Chart:
    """Shares of a cost: a slice per key, its percentage written on it when there is room
    (4 % or more), the rest in the tooltip."""
    keys = sorted((k for k in values if values[k] > 0), key=lambda k: (-values[k], k))
    total = sum(values[k] for k in keys)
    return Chart(
        chart_id,
        title,
        [
            {
                "type": "pie",
                "hole": 0.62,
                "labels": [names.get(k, k) for k in keys],
                "values": [round(values[k], 4) for k in keys],
                "customdata": [_plain(k) for k in keys],
                "marker": {"colors": [colours[k] for k in keys]},
                "sort": False,
                "text": [
                    f"{values[k] / total * 100:.0f}%" if total and values[k] / total >= 0.04 else ""
                    for k in keys
                ],
                "textinfo": "text",
                "textposition": "inside",
                "hovertemplate": "%{customdata}<br>$%{value:,.2f} (%{percent})<extra></extra>",
            }
        ]
        if keys
        else [],
        {"height": 120, "showlegend": False},
        empty="Nothing cost anything in this period.",
    )


def overview(
    rows: Iterable[Sequence[Any]],
    period: Period,
    active: ActiveBlock | None,
    by_session_start: bool = False,
    previous: Sequence[Sequence[Any]] | None = None,
    month: trends.Projection | None = None,
    blocks: Iterable[tuple[dt.datetime, float]] = (),
    zone: ZoneInfo | None = None,
) -> Overview:
    """From (date, model, input, output, cache write, cache read, cost[, web search requests,
    web search cost]) rows; ``totals.web_search_cost`` is the period's web search cost.
    ``previous``: the rows of the period before (for the comparison), ``blocks``: (start, cost)
    of each 5-hour block (for the heatmap)."""
    rows = list(rows)
    totals = Tokens()
    by_model: dict[str, Tokens] = defaultdict(Tokens)
    by_day: dict[dt.date, dict[str, Tokens]] = defaultdict(lambda: defaultdict(Tokens))
    for day, model, i, o, cw, cr, cost, *web in rows:
        totals.add(i, o, cw, cr, cost, *web)
        by_model[model].add(i, o, cw, cr, cost, *web)
        by_day[day][model].add(i, o, cw, cr, cost, *web)
    days = _days(period, by_day)
    span = trends.previous_span(period.since, period.until)
    comparison = (
        trends.compare(trends.cost_by_model(rows), trends.cost_by_model(previous), span)
        if previous is not None and span
        else None
    )
    shown = set(by_model) | (set(comparison.by_model) if comparison else set())
    colours = palette.model_colours(shown)
    names = short_names(shown)
    cost_donut = donut(
        "cost-by-model", "Cost by model", {m: t.cost for m, t in by_model.items()}, colours, names
    )
    search_donut = donut(
        "web-search-by-model",
        "Web search cost by model",
        {m: t.web_search_cost for m, t in by_model.items()},
        colours,
        names,
    )
    bars = stacked_cost_chart(
        "daily-cost",
        "Daily cost by model",
        {d: {m: t.cost for m, t in parts.items()} for d, parts in by_day.items()},
        days,
        colours,
        names,
    )
    x = [d.isoformat() for d in days]

    def per_day(kind: str) -> list[int | None]:
        out: list[int | None] = []
        for d in days:
            n = sum(getattr(t, kind) for t in by_day.get(d, {}).values())
            out.append(n or None)  # a log axis has no zero
        return out

    kinds = Chart(
        "tokens-by-kind",
        "Tokens by kind",
        [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": x,
                "y": per_day(attr),
                "line": {"color": KIND_COLOURS[name], "width": 2},
                "marker": {"color": KIND_COLOURS[name], "size": 4},
                "hovertemplate": "%{y:,} " + name.lower() + "<extra></extra>",
            }
            for name, attr in (
                ("Cache read", "cache_read"),
                ("Cache write", "cache_write"),
                ("Input", "input"),
                ("Output", "output"),
            )
        ],
        # a log scale: cache reads, often a hundred times the rest, flatten nothing
        {
            "yaxis": {"type": "log", "title": {"text": "tokens (log scale)"}},
            "hovermode": "x unified",
        },
        empty="No tokens in this period.",
    )
    grid, heat_total = trends.heatmap(blocks, zone or ZoneInfo("UTC"))
    heat = Chart(
        "usage-pattern",
        "Usage pattern",
        [
            {
                "type": "heatmap",
                "z": grid,
                "x": [f"{h:02d}" for h in range(24)],
                "y": list(trends.WEEKDAYS),
                # an hour without use stays quiet; then Okabe–Ito sky, green, yellow
                "colorscale": [
                    [0, "rgba(127,127,127,0.12)"],
                    [1e-9, "#56B4E9"],
                    [0.5, "#009E73"],
                    [1, "#F0E442"],
                ],
                "showscale": False,
                "xgap": 2,
                "ygap": 2,
                "hovertemplate": "%{y} %{x}:00 · $%{z:,.2f}<extra></extra>",
            }
        ]
        if heat_total
        else [],
        {
            "height": 260,
            "yaxis": {"autorange": "reversed", "fixedrange": True},
            "xaxis": {"title": {"text": "hour the 5-hour block started"}, "fixedrange": True},
        },
        empty="No 5-hour blocks in this period.",
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
    charts = (
        [cost_donut, search_donut, bars, kinds, heat] if by_day else []
    )  # nothing: no chart library
    return Overview(
        totals,
        dict(by_model),
        len(by_day),
        active,
        charts,
        table,
        by_session_start,
        colours,
        names,
        comparison,
        month,
    )


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
    colours: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


def team(
    rows: Iterable[Sequence[Any]],
    users: dict[int, Any],
    daily: Iterable[Sequence[Any]] = (),
    period: Period | None = None,
) -> Team:
    """From (user id, model, input, output, cache write, cache read, cost, last day) rows; every
    user in ``users`` has a row, with or without usage. ``daily``: the team's (date, model,
    tokens…, cost) rows, for its daily cost stacked by model."""
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
    by_day: dict[dt.date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for d, model, _i, _o, _cw, _cr, cost, *_web in daily:
        by_day[d][model] += float(cost or 0)
    model_cost: dict[str, float] = defaultdict(float)
    for per_model in models.values():
        for m, t in per_model.items():
            model_cost[m] += t.cost
    shown = set(model_cost) | {m for parts in by_day.values() for m in parts}
    colours = palette.model_colours(shown)
    names = short_names(shown)
    uid_of = {u.username: uid for uid, u in users.items()}
    people = list(reversed(out))  # the costliest on top
    per_user = Chart(
        "cost-by-user",
        "Cost per user, by model",
        [
            {
                "type": "bar",
                "orientation": "h",
                "name": names[m],
                "y": [r.display_name for r in people],
                "x": [
                    round(models[uid_of[r.username]][m].cost, 4)
                    if m in models[uid_of[r.username]]
                    else None
                    for r in people
                ],
                "marker": {"color": colours[m]},
                "hovertemplate": "%{y}: $%{x:,.2f} · " + _plain(m) + "<extra></extra>",
            }
            for m in sorted(model_cost, key=lambda m: (-model_cost[m], m))
        ],
        {
            "barmode": "stack",
            "xaxis": {"tickprefix": "$"},
            "yaxis": {"automargin": True},
            "legend": {"traceorder": "normal"},
            "height": max(200, 34 * len(out) + 110),
        },
        empty="No one in this view has usage in this period.",
    )
    charts = [per_user]
    if by_day:
        days = _days(period or Period("all", None, None), by_day)
        charts.insert(
            0,
            stacked_cost_chart(
                "team-daily-cost", "Daily team cost by model", by_day, days, colours, names
            ),
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
    return Team(out, totals, charts if totals.total else [], table, colours, names)


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
    colour: str = ""


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
    colours = palette.category_colours(usage)
    for r in out:
        r.colour = colours[r.name]
    chart = stacked_cost_chart(
        "project-cost", "Cost per project", by_day, _days(period, by_day), colours
    )
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
    main = [b.models[0] if b.models else "(no model)" for b in out]
    cost_of: dict[str, float] = defaultdict(float)
    for m, b in zip(main, out, strict=True):
        cost_of[m] += b.cost
    colours = palette.model_colours(cost_of)
    names = short_names(cost_of)
    data = []
    for model in sorted(cost_of, key=lambda m: (-cost_of[m], m)):
        mine = [b for m, b in zip(main, out, strict=True) if m == model]
        data.append(
            {
                "type": "bar",
                "name": names[model],
                "x": [b.start.isoformat() for b in mine],
                "y": [round(b.cost, 4) for b in mine],
                "width": [five_hours_ms] * len(mine),
                "offset": 0,
                "marker": {
                    "color": colours[model],
                    "line": {"width": [3 if b.active else 0 for b in mine], "color": "#888"},
                },
                "customdata": [
                    [b.hostname, b.entries, b.tokens, _plain(", ".join(b.models))] for b in mine
                ],
                "hovertemplate": "%{x|%d %b %H:%M}<br>$%{y:.2f} · %{customdata[2]:,} tokens"
                "<br>%{customdata[0]} · %{customdata[1]} entries<br>%{customdata[3]}"
                "<extra></extra>",
            }
        )
    chart = Chart(
        "block-timeline",
        "5-hour blocks",
        data,
        {
            "xaxis": {"type": "date"},
            "yaxis": {"tickprefix": "$"},
            "bargap": 0,
            "legend": {"traceorder": "normal", "title": {"text": "main model "}},
        },
        empty="No 5-hour blocks in this period.",
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
    model, four token counts, cost, web searches, their cost) rows; the chart spans the
    ``period`` (start, end) when it has both."""
    by_month: dict[tuple[int, int], float] = defaultdict(float)
    for day, _model, _i, _o, _cw, _cr, cost, *_web in usage:
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
