"""Rich tables for the terminal reports and the server's teams."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Any, Literal

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

from promptpulse.reports import Block, PeriodUsage, SessionUsage, Tokens, Usage

# A report tries its layouts from the widest; the first that fits the terminal is drawn. None
# cuts a number or a date: model and project names wrap (fold) instead.
Layout = Literal["full", "compact", "narrow"]
LAYOUTS: tuple[Layout, ...] = ("full", "compact", "narrow")
_TOKEN_COLUMNS: dict[Layout, tuple[str, ...]] = {
    "full": ("Input", "Output", "Cache Write", "Cache Read", "Total", "Cost"),
    "compact": ("Input", "Output", "Cost"),  # as ccusage's --compact
    "narrow": ("Total", "Cost"),
}


_FOLD_MIN = 8  # the narrowest a column of names (models, projects) gets before it folds


def money(value: float) -> str:
    return f"${value:,.2f}"


def count(value: int) -> str:
    return f"{value:,}"


def _columns(layout: Layout, web_search: bool) -> tuple[str, ...]:
    """The number columns of a layout; the full one shows the web search cost before the cost
    (which includes it) when the report has web searches."""
    names = _TOKEN_COLUMNS[layout]
    if web_search and layout == "full":
        return (*names[:-1], "Web Search", names[-1])
    return names


def _token_cells(t: Tokens, layout: Layout = "full", web_search: bool = False) -> list[str]:
    cells = {
        "Input": count(t.input),
        "Output": count(t.output),
        "Cache Write": count(t.cache_write),
        "Cache Read": count(t.cache_read),
        "Total": count(t.total),
        "Web Search": money(t.web_search_cost),
        "Cost": money(t.cost),
    }
    return [cells[name] for name in _columns(layout, web_search)]


def _short_model(name: str) -> str:
    return name.removeprefix("claude-")


def _models_cell(u: Usage) -> str:
    return "\n".join(f"- {_short_model(m)}" for m in u.models_used())


def _table(
    title: str, first: list[str], layout: Layout, models: bool = True, web_search: bool = False
) -> Table:
    table = Table(title=title, box=box.ROUNDED, header_style="bold cyan", show_footer=False)
    for name in first:
        table.add_column(name, no_wrap=name != "Project", overflow="fold")
    if models:
        table.add_column("Models", overflow="fold")
    for name in _columns(layout, web_search):
        table.add_column(name, justify="right", no_wrap=True)
    return table


def _moment_format(layout: Layout) -> str:
    """A day and a time: on two lines in the narrow layout."""
    return "%Y-%m-%d\n%H:%M" if layout == "narrow" else "%Y-%m-%d %H:%M"


def _add_breakdown(table: Table, u: Usage, lead: int, layout: Layout, web_search: bool) -> None:
    for model, t in u.breakdown():
        table.add_row(
            *([""] * (lead - 1)),
            f"  └ {_short_model(model)}",
            "",
            *_token_cells(t, layout, web_search),
            style="dim",
        )


def period_table(
    title: str,
    label: str,
    rows: list[PeriodUsage],
    total: Tokens,
    breakdown: bool,
    highlight: str | None = None,
    layout: Layout = "full",
) -> Table:
    """One row per period; the row whose key is ``highlight`` (today, in a live view) stands
    out."""
    web = total.web_search > 0
    table = _table(title, [label], layout, web_search=web)
    for p in rows:
        style = "bold green" if p.key == highlight else None
        key = f"{p.key} (today)" if p.key == highlight else p.key
        cells = _token_cells(p.usage.totals, layout, web)
        table.add_row(key, _models_cell(p.usage), *cells, style=style)
        if breakdown:
            _add_breakdown(table, p.usage, 1, layout, web)
    table.add_section()
    table.add_row("Total", "", *_token_cells(total, layout, web), style="bold yellow")
    return table


def session_table(
    rows: list[SessionUsage], total: Tokens, breakdown: bool, tz: tzinfo, layout: Layout = "full"
) -> Table:
    """One row per session; the narrow layout leaves out the models (``--breakdown`` lists
    them)."""
    from datetime import datetime

    models = layout != "narrow" or breakdown
    web = total.web_search > 0
    table = _table("Claude Code usage by session", ["Session", "Project"], layout, models, web)
    table.add_column("Last\nActivity" if layout == "narrow" else "Last Activity", no_wrap=True)
    for s in rows:
        last = datetime.fromtimestamp(s.last_ts / 1000, tz).strftime(_moment_format(layout))
        table.add_row(
            s.session_id[:8] + ("…" if len(s.session_id) > 8 else ""),
            s.project,
            *([_models_cell(s.usage)] if models else []),
            *_token_cells(s.usage.totals, layout, web),
            last,
        )
        if breakdown:
            _add_breakdown(table, s.usage, 2, layout, web)
    table.add_section()
    lead = ["Total", "", ""] if models else ["Total", ""]
    table.add_row(*lead, *_token_cells(total, layout, web), "", style="bold yellow")
    return table


def block_table(
    rows: list[Block], tz: tzinfo, token_limit: int | None, layout: Layout = "full"
) -> Table:
    """One row per 5-hour block (gaps too), with projection and burn rate under the active one;
    the compact layouts leave out the models."""
    from datetime import datetime

    table = Table(
        title="Claude Code usage by 5-hour block", box=box.ROUNDED, header_style="bold cyan"
    )
    models = layout == "full"
    web = models and any(b.usage.totals.web_search for b in rows)
    table.add_column("Block\nStart" if layout == "narrow" else "Block Start", no_wrap=True)
    table.add_column("Duration/Status", overflow="fold")
    if models:
        table.add_column("Models", overflow="fold")
    table.add_column("Tokens", justify="right", no_wrap=True)
    if token_limit:
        table.add_column("%", justify="right", no_wrap=True)
    if web:
        table.add_column("Web Search", justify="right", no_wrap=True)
    table.add_column("Cost", justify="right", no_wrap=True)

    def add(
        start: str,
        status: str,
        model_cell: str,
        tokens: str,
        pct: str,
        cost: str,
        style: str | None,
        web_cost: str = "",
    ) -> None:
        cells = [start, status, *([model_cell] if models else []), tokens]
        cells += [*([pct] if token_limit else []), *([web_cost] if web else [])]
        table.add_row(*cells, cost, style=style)

    for b in rows:
        start = datetime.fromtimestamp(b.start / 1000, tz).strftime(_moment_format(layout))
        if b.is_gap:
            hours = (b.end - b.start) / 3_600_000
            add(start, f"gap ({hours:.1f}h)", "", "-", "", "-", "dim", "-")
            continue
        total = b.usage.totals.total
        if b.is_active:
            left = b.projection.remaining_minutes if b.projection else 0
            status = f"ACTIVE ({left // 60}h {left % 60}m left)"
        else:
            span = ((b.actual_end or b.start) - b.start) // 60_000
            status = f"{span // 60}h {span % 60}m"
        percent = f"{total / token_limit * 100:.1f}%" if token_limit else ""
        add(
            start,
            status,
            _models_cell(b.usage),
            count(total),
            percent,
            money(b.usage.totals.cost),
            "bold green" if b.is_active else None,
            money(b.usage.totals.web_search_cost),
        )
        if b.is_active and b.projection is not None and b.burn_rate is not None:
            projected = b.projection
            add(
                "",
                "projected",
                "",
                count(projected.total_tokens),
                "",
                money(projected.total_cost),
                "yellow",
            )
            rate = b.burn_rate
            add(
                "",
                "burn rate",
                "",
                f"{rate.tokens_per_minute:,.0f}/min",
                "",
                f"{money(rate.cost_per_hour)}/h",
                "yellow",
            )
    return table


def needed_width(console: Console, table: Table, options: ConsoleOptions | None = None) -> int:
    """The narrowest the table can be drawn without cutting a cell of a column that does not
    wrap (numbers, dates) or a word of one that does."""
    from rich.measure import Measurement

    options = options or console.options
    total = table._extra_width
    for column in table.columns:
        left, right = (1, 1) if table.padding else (0, 0)
        widest = 0
        for cell in [column.header, *column.cells]:
            m = Measurement.get(console, options, cell)
            widest = max(widest, m.maximum if column.no_wrap else min(m.minimum, _FOLD_MIN))
        total += max(widest, column.min_width or 0) + left + right
    return total


def fitted(
    console: Console, options: ConsoleOptions, build: Callable[[Layout], Table], compact: bool
) -> tuple[Table, int]:
    """The widest layout's table that fits ``options.max_width`` (from the compact one on when
    asked), and the width it needs; when none fits, the narrowest."""
    table: Table | None = None
    need = 0
    for layout in LAYOUTS[1:] if compact else LAYOUTS:
        table = build(layout)
        need = needed_width(console, table, options)
        if need <= options.max_width:
            break
    assert table is not None
    return table, need


class Fitted:
    """A table drawn in the layout that fits the width it is drawn at, decided each time it is
    drawn: a live view follows a terminal that is resized. When none fits, the narrowest, at
    the width it needs (the screen folds its lines; ``print_fitted`` widens the console)."""

    def __init__(self, build: Callable[[Layout], Table], compact: bool = False) -> None:
        self.build = build
        self.compact = compact

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table, need = fitted(console, options, self.build, self.compact)
        if need > options.max_width:
            table.width = need
        yield table


def print_fitted(console: Console, build: Callable[[Layout], Table], compact: bool) -> None:
    """Draw the widest layout that fits the console (from ``compact`` on when asked); when
    none does, the narrowest at the width it needs, wider than the console, rather than cut
    a number."""
    table, need = fitted(console, console.options, build, compact)
    if need <= console.width:
        console.print(table)
        return
    width = console.width
    console.width = need
    try:
        console.print(table)
    finally:
        console.width = width


def team_table(teams: list[dict[str, Any]]) -> Table:
    """The server's TeamOut rows: name, slug, your role, members."""
    table = Table(title="Your teams", box=box.ROUNDED, header_style="bold cyan")
    table.add_column("Name")
    table.add_column("Slug", no_wrap=True)
    table.add_column("Your role", no_wrap=True)
    table.add_column("Members", justify="right", no_wrap=True)
    for t in teams:
        table.add_row(str(t["name"]), str(t["slug"]), t.get("role") or "-", count(t["members"]))
    return table


def member_table(team: dict[str, Any], members: list[dict[str, Any]]) -> Table:
    """A team's members: username, display name, role and the day they joined."""
    table = Table(
        title=f"{team['name']} ({team['slug']})", box=box.ROUNDED, header_style="bold cyan"
    )
    table.add_column("Username", no_wrap=True)
    table.add_column("Display name")
    table.add_column("Role", no_wrap=True)
    table.add_column("Joined", no_wrap=True)
    for m in members:
        table.add_row(
            str(m["username"]),
            m.get("displayName") or "",
            str(m["role"]),
            str(m.get("joinedAt") or "")[:10],
        )
    return table


# --- report limits --------------------------------------------------------------------------

_LEVEL_STYLE = {"ok": "green", "warn": "yellow", "high": "bold red"}


def _percent_cell(row: Any) -> str:
    """The official last and peak %, or the usage against the busiest window."""
    if row.official is not None:
        last, peak = row.official.last_pct, row.official.peak_pct
        return f"{last:.0f}%" + (f" (peak {peak:.0f}%)" if peak > last else "")
    if row.of_max_pct is not None:
        return f"[dim]{row.of_max_pct:.0f}% of max[/]"
    return "-"


def limits_now(statuses: list[Any]) -> str:
    """One line per window: its last official %, the time to the reset and the pace."""
    from promptpulse.limits import WINDOW_LABEL, duration

    lines = []
    for status in statuses:
        if status is None:
            continue
        label = WINDOW_LABEL[status.window]
        if status.expired:
            lines.append(f"{label}: reset since the last reading")
            continue
        pace = "" if status.pace is None else f", pace {status.pace:.2f}"
        style = _LEVEL_STYLE[status.level]
        lines.append(
            f"{label}: [{style}]{status.used_pct:.0f}%[/] used, resets in "
            f"{duration(status.left_ms)} ({status.elapsed_pct:.0f}% of the window gone{pace})"
        )
    return "\n".join(lines)


def window_table(title: str, rows: list[Any], tz: tzinfo) -> Table:
    from datetime import datetime

    table = Table(title=title, box=box.ROUNDED, header_style="bold cyan")
    for name, justify in [
        ("Start", "left"),
        ("End", "left"),
        ("Tokens", "right"),
        ("Cost", "right"),
        ("Used", "right"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            datetime.fromtimestamp(r.start / 1000, tz).strftime("%Y-%m-%d %H:%M"),
            datetime.fromtimestamp(r.end / 1000, tz).strftime("%Y-%m-%d %H:%M"),
            count(r.tokens),
            money(r.cost),
            _percent_cell(r),
            style="bold green" if r.is_current else None,
        )
    return table


def subscription_table(plan: str, months: list[Any]) -> Table:
    table = Table(
        title=f"Your {plan} plan at API prices" if plan else "Each month at API prices",
        box=box.ROUNDED,
        header_style="bold cyan",
    )
    for name, justify in [("Month", "left"), ("At API prices", "right"), ("Plan", "right")]:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("Worth", justify="right", no_wrap=True)
    for m in months:
        price = "-" if m.plan_price is None else money(m.plan_price)
        worth = "-" if m.value is None else f"{m.value:.2f}×" if m.value < 10 else f"{m.value:.1f}×"
        table.add_row(m.month, money(m.cost), price, worth)
    return table


def prices_table(table: Any) -> Table:
    """``promptpulse prices``: the rates per million tokens, a long-context row under a model
    that has one, and where each price came from."""
    from promptpulse.pricing import rates_text

    out = Table(title="Prices, USD per million tokens", box=box.ROUNDED, header_style="bold cyan")
    out.add_column("Model", overflow="fold")
    for name in ("Input", "Output", "Cache Write", "Cache Read"):
        out.add_column(name, justify="right", no_wrap=True)
    out.add_column("Source", no_wrap=True)
    for name in sorted(table.models):
        p = table.models[name]
        out.add_row(name, *rates_text(p.base).values(), p.source)
        if p.long_context is not None:
            out.add_row(
                f"  above {p.long_context_above:,} tokens",
                *rates_text(p.long_context).values(),
                "",
                style="dim",
            )
    return out
