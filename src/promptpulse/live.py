"""Live views: ``report blocks --live`` and ``report daily --live``.

A view is a ``Frame``, a function that builds one rich renderable; ``run`` draws it again every
``refresh`` seconds until Ctrl-C. The parts are separate so tests can drive them:

- ``blocks_frame`` and ``daily_frame`` are pure: report data and an instant in, a renderable out;
- ``blocks_source`` and ``daily_source`` make a ``Frame`` that syncs the ledger (reading only
  what was appended) and asks the clock for now on every call;
- ``run`` takes the ``sleep`` it waits with and, for tests, how many frames to draw (``ticks``).

On a terminal ``run`` redraws in place (rich ``Live``) and leaves the last frame on the screen;
elsewhere (a pipe, a file) it prints each frame after the previous one. It sleeps between frames
either way. Ctrl-C ends it normally.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from promptpulse import limits, reports
from promptpulse.display import Fitted, block_table, count, limits_now, money, period_table
from promptpulse.ledger import CostMode, Ledger
from promptpulse.limits import Reading
from promptpulse.reports import Block, Order

Frame = Callable[[], RenderableType]
NowMs = Callable[[], int]
DEFAULT_DAYS = 7  # daily --live shows this many days when --since is not given
RECENT_ROWS = 8  # at most this many rows of recent blocks under the active one
BAR_WIDTH = 30
LIMIT_STYLE = {"ok": "green", "warning": "yellow", "exceeds": "red"}


# --- the loop -------------------------------------------------------------------------------


def run(
    frame: Frame,
    console: Console,
    *,
    refresh: float,
    sleep: Callable[[float], None] = time.sleep,
    ticks: int | None = None,
) -> int:
    """Draw ``frame()`` every ``refresh`` seconds until Ctrl-C, or until ``ticks`` frames are
    drawn; returns how many were drawn."""
    drawn = 0
    with _ctrl_c_interrupts():
        try:
            if console.is_terminal and not console.is_dumb_terminal:
                with Live(console=console, auto_refresh=False) as live:
                    while True:
                        live.update(frame(), refresh=True)
                        drawn += 1
                        if ticks is not None and drawn >= ticks:
                            break
                        sleep(refresh)
            else:
                while True:
                    console.print(frame(), crop=False)  # a table wider than the console: whole
                    drawn += 1
                    if ticks is not None and drawn >= ticks:
                        break
                    sleep(refresh)
        except KeyboardInterrupt:
            pass
    return drawn


@contextmanager
def _ctrl_c_interrupts() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt here even if this process was started with SIGINT
    ignored (as background jobs are)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- blocks ---------------------------------------------------------------------------------


def blocks_source(
    ledger: Ledger,
    roots: Callable[[], list[Path]],
    now_ms: NowMs,
    tz: tzinfo,
    *,
    mode: CostMode = "auto",
    project: str | None = None,
    session_hours: float = 5.0,
    token_limit: Callable[[list[Block]], int | None] = lambda _: None,
    active_only: bool = False,
    since: date | None = None,
    until: date | None = None,
    order: Order = "asc",
    refresh: float = 5.0,
) -> Frame:
    """A frame of the blocks view, from the ledger synced at each call."""

    def frame() -> RenderableType:
        ledger.sync(roots())
        lines = ledger.usage_lines(mode, project)
        now = now_ms()
        blocks = reports.by_block(lines, now, session_hours=session_hours)
        return blocks_frame(
            blocks,
            now,
            tz,
            token_limit(blocks),
            readings=ledger.readings(from_ms=now - 8 * 86_400_000),
            active_only=active_only,
            since=since,
            until=until,
            order=order,
            refresh=refresh,
        )

    return frame


def blocks_frame(
    blocks: list[Block],
    now_ms: int,
    tz: tzinfo,
    token_limit: int | None = None,
    *,
    readings: list[Reading] | None = None,
    active_only: bool = False,
    since: date | None = None,
    until: date | None = None,
    order: Order = "asc",
    refresh: float = 5.0,
) -> RenderableType:
    """The active block as a panel (or a line saying there is none), Claude's official 5-hour
    and 7-day use when the statusline has seen it, the recent blocks below (the last 3 days,
    or --since/--until's), and when this was drawn."""
    active = next((b for b in blocks if b.is_active), None)
    parts: list[RenderableType] = []
    if active is None:
        parts.append(
            Panel(
                Text("No active block: waiting for Claude Code to be used.", style="yellow"),
                title="Active 5-hour block",
                box=box.ROUNDED,
                expand=False,
            )
        )
    else:
        parts.append(active_panel(active, now_ms, tz, token_limit))
    official = limits_now([limits.current(readings or [], w, now_ms) for w in limits.WINDOWS])
    if official:
        parts.append(Panel(official, title="Plan limits (official)", box=box.ROUNDED, expand=False))
    if not active_only:
        recent = reports.select_blocks(
            blocks, now_ms, tz, recent=not (since or until), since=since, until=until
        )[-RECENT_ROWS:]
        if recent:
            shown = recent[::-1] if order == "desc" else recent
            parts.append(Fitted(lambda layout: block_table(shown, tz, token_limit, layout)))
    parts.append(_footer(now_ms, tz, refresh))
    return Group(*parts)


def active_panel(block: Block, now_ms: int, tz: tzinfo, token_limit: int | None) -> Panel:
    """The active block's figures, the same as ``report blocks --active --json``'s."""
    totals = block.usage.totals
    length = block.end - block.start
    elapsed = max(0, min(now_ms - block.start, length))
    left_minutes = (
        block.projection.remaining_minutes
        if block.projection is not None
        else max(0, round((block.end - now_ms) / 60_000))
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("Block", f"{_clock(block.start, tz, True)} → {_clock(block.end, tz)} ({tz})")
    grid.add_row(
        "Time",
        _bar_line(
            ProgressBar(total=length, completed=elapsed, width=BAR_WIDTH),
            f"{_minutes(elapsed // 60_000)} elapsed, {_minutes(left_minutes)} left",
        ),
    )
    grid.add_row("Tokens", f"{count(totals.total)} tokens, {money(totals.cost)}")
    grid.add_row("Models", ", ".join(m.removeprefix("claude-") for m in block.usage.models_used()))
    if block.burn_rate is not None:
        grid.add_row(
            "Burn rate",
            f"{block.burn_rate.tokens_per_minute:,.0f} tokens/min, "
            f"{money(block.burn_rate.cost_per_hour)}/h",
        )
    else:
        grid.add_row("Burn rate", Text("not yet (one response so far)", style="dim"))
    projected = block.projection.total_tokens if block.projection is not None else totals.total
    if block.projection is not None:
        grid.add_row(
            "Projected",
            f"{count(block.projection.total_tokens)} tokens, "
            f"{money(block.projection.total_cost)} by {_clock(block.end, tz)}",
        )
    if token_limit:
        status = reports.limit_status(projected, token_limit)["status"]
        style = "red" if totals.total > token_limit else LIMIT_STYLE[str(status)]
        grid.add_row(
            "Limit",
            _bar_line(
                ProgressBar(
                    total=token_limit,
                    completed=min(totals.total, token_limit),
                    width=BAR_WIDTH,
                    complete_style=style,
                    finished_style=style,
                ),
                Text(
                    f"{totals.total / token_limit * 100:.1f}% used, "
                    f"{projected / token_limit * 100:.1f}% projected, of {count(token_limit)}",
                    style=style,
                ),
            ),
        )
    return Panel(grid, title="Active 5-hour block", box=box.ROUNDED, border_style="green")


def _bar_line(bar: ProgressBar, label: str | Text) -> Table:
    line = Table.grid(padding=(0, 1))
    line.add_row(bar, label)
    return line


def _minutes(total: int) -> str:
    return f"{total // 60}h {total % 60:02d}m"


def _clock(ms: int, tz: tzinfo, with_day: bool = False) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M" if with_day else "%H:%M")


def _footer(now_ms: int, tz: tzinfo, refresh: float) -> Text:
    at = datetime.fromtimestamp(now_ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S")
    return Text(f"Updated {at} ({tz}); every {refresh:g}s. Ctrl-C to stop.", style="dim")


# --- daily ----------------------------------------------------------------------------------


def daily_source(
    ledger: Ledger,
    roots: Callable[[], list[Path]],
    now_ms: NowMs,
    tz: tzinfo,
    *,
    mode: CostMode = "auto",
    project: str | None = None,
    since: date | None = None,
    until: date | None = None,
    order: Order = "asc",
    breakdown: bool = False,
    refresh: float = 5.0,
) -> Frame:
    """A frame of the daily view, from the ledger synced at each call; without ``since``, the
    last ``DEFAULT_DAYS`` days up to today (which moves on at midnight)."""

    def frame() -> RenderableType:
        ledger.sync(roots())
        rows = ledger.usage_by_day(tz, mode, project)
        now = now_ms()
        today = reports.local_date(now, tz)
        first = since if since is not None else today - timedelta(days=DEFAULT_DAYS - 1)
        periods = reports.by_period(rows, "daily", since=first, until=until, order=order)
        return daily_frame(periods, now, tz, breakdown=breakdown, refresh=refresh)

    return frame


def daily_frame(
    periods: Sequence[reports.PeriodUsage],
    now_ms: int,
    tz: tzinfo,
    *,
    breakdown: bool = False,
    refresh: float = 5.0,
) -> RenderableType:
    """The daily table with today's row highlighted, and when this was drawn."""
    today = reports.local_date(now_ms, tz).isoformat()
    if not periods:
        body: RenderableType = Text("No usage found in these days.", style="yellow")
    else:
        total = reports.grand_total(p.usage for p in periods)
        rows = list(periods)
        body = Fitted(
            lambda layout: period_table(
                "Claude Code usage, daily", "Date", rows, total, breakdown, today, layout
            )
        )
    return Group(body, _footer(now_ms, tz, refresh))
