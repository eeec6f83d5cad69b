"""The ``promptpulse`` (alias ``ppulse``) command line: thin commands that parse options, call
the ledger and the pure reports, and render.

No ``from __future__ import annotations`` here: Typer reads every command's annotations when it
builds the command tree, and real objects are cheaper for it than strings to evaluate.
"""

import json
import os
import sys
from datetime import date, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptpulse import __version__

if TYPE_CHECKING:
    from promptpulse.reports import Period

app = typer.Typer(
    name="promptpulse",
    help="Know what your Claude Code use costs: exact token counts from the logs, kept in a "
    "local ledger for as long as you want.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
report_app = typer.Typer(
    help="Usage reports from the local ledger (synced with the logs first). The numbers equal "
    "ccusage's; --json prints ccusage's JSON shapes.",
    no_args_is_help=True,
)
app.add_typer(report_app, name="report")


class Mode(StrEnum):
    auto = "auto"
    calculate = "calculate"
    display = "display"


class Order(StrEnum):
    asc = "asc"
    desc = "desc"


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit 2."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"promptpulse {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


# --- shared options -------------------------------------------------------------------------

JsonOpt = Annotated[bool, typer.Option("--json", "-j", help="Print ccusage's JSON shape only.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", "-s", help="First day (YYYYMMDD or YYYY-MM-DD).")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", "-u", help="Last day (YYYYMMDD or YYYY-MM-DD).")
]
TzOpt = Annotated[
    str | None,
    typer.Option("--timezone", "-z", help="IANA time zone for dates (default: the system's)."),
]
ModeOpt = Annotated[
    Mode,
    typer.Option(
        "--mode",
        "-m",
        help="Cost: auto (logged costUSD, else calculated), "
        "calculate (always from tokens), display (logged costUSD or 0).",
    ),
]
OrderOpt = Annotated[Order | None, typer.Option("--order", "-o", help="Sort order.")]
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="Only this project: its folder under projects/, its path, or its name.",
    ),
]
BreakdownOpt = Annotated[
    bool, typer.Option("--breakdown", "-b", help="Add a row per model under each row.")
]
CompactOpt = Annotated[
    bool,
    typer.Option(
        "--compact",
        help="Fewer columns (input, output and cost), as on a narrow terminal, where it is "
        "the default.",
    ),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="List the lines that could not be counted.")
]


# --- helpers --------------------------------------------------------------------------------


class _Stderr:
    """rich's console on stderr, made when first used: most runs print nothing there, and
    importing rich costs a report (or ``--json``) a tenth of a second."""

    def __init__(self) -> None:
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False, soft_wrap=True)  # one line each
        return getattr(self._console, name)


def _stderr() -> Any:
    return _Stderr()


def _timezone(name: str | None) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if name:
            return ZoneInfo(name)
        from promptpulse.clock import local_timezone

        return local_timezone()
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(f"unknown time zone {name!r}: use an IANA name like Europe/Paris") from exc


def _now_ms() -> int:
    """Now, from the one clock (``PROMPTPULSE_NOW`` sets it), in epoch milliseconds."""
    from promptpulse import clock

    try:
        return clock.to_ms(clock.from_env()())
    except clock.ClockError as exc:
        raise UserError(str(exc)) from exc


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    from promptpulse.reports import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        raise UserError(f"{option} {text!r} is not a day: use YYYYMMDD or YYYY-MM-DD") from exc


def _open_ledger(verbose: bool, quiet: bool) -> Any:
    """Open the ledger and sync it with the logs, telling stderr what could not be read."""
    from promptpulse import config
    from promptpulse.ledger import Ledger
    from promptpulse.progress import sync_progress
    from promptpulse.sources import claude_roots

    roots = claude_roots()
    err = _stderr()
    ledger = Ledger(config.ledger_path())
    if not roots and not quiet:
        err.print(
            "[yellow]No Claude Code logs found[/] (looked for projects/ in "
            "$CLAUDE_CONFIG_DIR, ~/.config/claude and ~/.claude); reporting the ledger."
        )
    with sync_progress(err) as progress:
        result = ledger.sync(roots, progress)
    for path, why in result.unreadable:
        err.print(f"[yellow]warning:[/] could not read {path}: {why}")
    if result.skipped and not verbose:
        err.print(
            f"[yellow]warning:[/] skipped {len(result.skipped)} line(s) that could not be "
            "counted (--verbose says where)"
        )
    if verbose:
        for path, offset, reason in ledger.skipped_lines():
            err.print(f"skipped {path} at byte {offset}: {reason}")
        for path in result.torn:
            err.print(f"incomplete last line in {path}: read again next time")
    return ledger


def _warn_unknown_models(ledger: Any, project: str | None) -> None:
    from promptpulse.pricing import SYNTHETIC_MODEL, find_price

    unknown = sorted(
        m for m in ledger.models_used(project) if m != SYNTHETIC_MODEL and find_price(m) is None
    )
    if unknown:
        _stderr().print(
            f"[yellow]warning:[/] no price known for {', '.join(unknown)}; "
            "their tokens count, their cost is 0 (to price one: promptpulse prices set MODEL "
            "--input USD --output USD, per million tokens)"
        )


def _print_json(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _period_report(
    period: "Period",
    json_out: bool,
    since: str | None,
    until: str | None,
    tz_name: str | None,
    mode: Mode,
    order: Order | None,
    project: str | None,
    breakdown: bool,
    verbose: bool,
    start_of_week: str = "sunday",
    compact: bool = False,
) -> None:
    from promptpulse import reports

    tz = _timezone(tz_name)
    first, last = _day(since, "--since"), _day(until, "--until")
    week_start = _weekday(start_of_week)
    with _open_ledger(verbose, json_out) as ledger:
        rows = ledger.usage_by_day(tz, mode.value, project)
        _warn_unknown_models(ledger, project)
    periods = reports.by_period(
        rows,
        period,
        since=first,
        until=last,
        order=(order or Order.asc).value,
        start_of_week=week_start,
    )
    if json_out:
        _print_json(reports.periods_json(period, periods))
        return
    from rich.console import Console

    from promptpulse.display import period_table, print_fitted

    label = {"daily": "Date", "weekly": "Week", "monthly": "Month"}[period]
    total = reports.grand_total(p.usage for p in periods)
    console = Console()
    if not periods:
        console.print("No usage found.")
        return
    title = f"Claude Code usage, {period}"
    print_fitted(
        console,
        lambda layout: period_table(title, label, periods, total, breakdown, layout=layout),
        compact,
    )


def _weekday(name: str) -> int:
    from promptpulse.reports import WEEKDAYS

    try:
        return WEEKDAYS.index(name.strip().lower())
    except ValueError as exc:
        raise UserError(f"--start-of-week {name!r}: use a day name like sunday or monday") from exc


# --- report commands ------------------------------------------------------------------------


@report_app.command()
def daily(
    json_out: JsonOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    timezone: TzOpt = None,
    mode: ModeOpt = Mode.auto,
    order: OrderOpt = None,
    project: ProjectOpt = None,
    breakdown: BreakdownOpt = False,
    verbose: VerboseOpt = False,
    compact: CompactOpt = False,
    live: Annotated[
        bool, typer.Option("--live", "-l", help="Keep the view on screen, refreshed; Ctrl-C stops.")
    ] = False,
    refresh: Annotated[
        float, typer.Option("--refresh", min=1.0, help="Seconds between refreshes with --live.")
    ] = 5.0,
) -> None:
    """Usage per day; with --live, the last 7 days (or from --since), refreshed."""
    if live:
        if json_out:
            raise UserError("--live draws a table that refreshes; it does not go with --json")
        from rich.console import Console

        from promptpulse import live as live_view
        from promptpulse.sources import claude_roots

        tz = _timezone(timezone)
        first, last = _day(since, "--since"), _day(until, "--until")
        _now_ms()  # a bad PROMPTPULSE_NOW is one line, before the view starts
        with _open_ledger(verbose, False) as ledger:
            _warn_unknown_models(ledger, project)
            frame = live_view.daily_source(
                ledger,
                claude_roots,
                _now_ms,
                tz,
                mode=mode.value,
                project=project,
                since=first,
                until=last,
                order=(order or Order.asc).value,
                breakdown=breakdown,
                refresh=refresh,
            )
            live_view.run(frame, Console(), refresh=refresh)
        return
    _period_report(
        "daily",
        json_out,
        since,
        until,
        timezone,
        mode,
        order,
        project,
        breakdown,
        verbose,
        compact=compact,
    )


@report_app.command()
def weekly(
    json_out: JsonOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    timezone: TzOpt = None,
    mode: ModeOpt = Mode.auto,
    order: OrderOpt = None,
    project: ProjectOpt = None,
    breakdown: BreakdownOpt = False,
    verbose: VerboseOpt = False,
    compact: CompactOpt = False,
    start_of_week: Annotated[
        str, typer.Option("--start-of-week", "-w", help="First day of a week.")
    ] = "sunday",
) -> None:
    """Usage per week (weeks start on Sunday, like ccusage's)."""
    _period_report(
        "weekly",
        json_out,
        since,
        until,
        timezone,
        mode,
        order,
        project,
        breakdown,
        verbose,
        start_of_week,
        compact,
    )


@report_app.command()
def monthly(
    json_out: JsonOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    timezone: TzOpt = None,
    mode: ModeOpt = Mode.auto,
    order: OrderOpt = None,
    project: ProjectOpt = None,
    breakdown: BreakdownOpt = False,
    verbose: VerboseOpt = False,
    compact: CompactOpt = False,
) -> None:
    """Usage per month."""
    _period_report(
        "monthly",
        json_out,
        since,
        until,
        timezone,
        mode,
        order,
        project,
        breakdown,
        verbose,
        compact=compact,
    )


@report_app.command()
def session(
    json_out: JsonOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    timezone: TzOpt = None,
    mode: ModeOpt = Mode.auto,
    order: OrderOpt = None,
    project: ProjectOpt = None,
    breakdown: BreakdownOpt = False,
    verbose: VerboseOpt = False,
    compact: CompactOpt = False,
) -> None:
    """Usage per Claude Code session (subagents count in their parent session), costliest
    first; --since/--until select sessions by their last activity."""
    from promptpulse import reports

    tz = _timezone(timezone)
    first, last = _day(since, "--since"), _day(until, "--until")
    with _open_ledger(verbose, json_out) as ledger:
        rows = ledger.usage_by_session(mode.value, project)
        _warn_unknown_models(ledger, project)
    sessions = reports.by_session(
        rows, tz, since=first, until=last, order=(order or Order.desc).value
    )
    if json_out:
        _print_json(reports.sessions_json(sessions))
        return
    from rich.console import Console

    from promptpulse.display import print_fitted, session_table

    console = Console()
    if not sessions:
        console.print("No usage found.")
        return
    total = reports.grand_total(s.usage for s in sessions)
    print_fitted(
        console, lambda layout: session_table(sessions, total, breakdown, tz, layout), compact
    )


@report_app.command()
def blocks(
    json_out: JsonOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    timezone: TzOpt = None,
    mode: ModeOpt = Mode.auto,
    order: OrderOpt = None,
    project: ProjectOpt = None,
    verbose: VerboseOpt = False,
    compact: CompactOpt = False,
    active: Annotated[
        bool, typer.Option("--active", "-a", help="Only the active block, with projections.")
    ] = False,
    recent: Annotated[
        bool, typer.Option("--recent", "-r", help="Only blocks of the last 3 days.")
    ] = False,
    token_limit: Annotated[
        str | None,
        typer.Option(
            "--token-limit",
            "-t",
            help="Tokens per block to warn at: a number, or 'max' (the most any "
            "finished block used).",
        ),
    ] = None,
    session_length: Annotated[
        float, typer.Option("--session-length", "-n", min=0.25, help="Block length in hours.")
    ] = 5.0,
    live: Annotated[
        bool, typer.Option("--live", "-l", help="Keep the view on screen, refreshed; Ctrl-C stops.")
    ] = False,
    refresh: Annotated[
        float, typer.Option("--refresh", min=1.0, help="Seconds between refreshes with --live.")
    ] = 5.0,
) -> None:
    """Usage per 5-hour billing window, with burn rate and projection for the active one;
    with --live, the active block and the recent ones, refreshed."""
    from promptpulse import reports

    if live and json_out:
        raise UserError("--live draws a view that refreshes; it does not go with --json")
    tz = _timezone(timezone)
    first, last = _day(since, "--since"), _day(until, "--until")
    if live:
        from rich.console import Console

        from promptpulse import live as live_view
        from promptpulse.sources import claude_roots

        _token_limit(token_limit, [])  # a bad --token-limit is one line, before the view starts
        _now_ms()
        with _open_ledger(verbose, False) as ledger:
            _warn_unknown_models(ledger, project)
            frame = live_view.blocks_source(
                ledger,
                claude_roots,
                _now_ms,
                tz,
                mode=mode.value,
                project=project,
                session_hours=session_length,
                token_limit=lambda found: _token_limit(token_limit, found),
                active_only=active,
                since=first,
                until=last,
                order=(order or Order.asc).value,
                refresh=refresh,
            )
            live_view.run(frame, Console(), refresh=refresh)
        return
    with _open_ledger(verbose, json_out) as ledger:
        lines = ledger.usage_lines(mode.value, project)
        _warn_unknown_models(ledger, project)
    now_ms = _now_ms()
    all_blocks = reports.by_block(lines, now_ms, session_hours=session_length)
    limit = _token_limit(token_limit, all_blocks)
    shown = reports.select_blocks(
        all_blocks,
        now_ms,
        tz,
        active=active,
        recent=recent,
        since=first,
        until=last,
        order=(order or Order.asc).value,
    )
    if json_out:
        _print_json(reports.blocks_json(shown, limit))
        return
    from rich.console import Console

    from promptpulse.display import block_table, print_fitted

    console = Console()
    if not shown:
        console.print("No active block." if active else "No usage found.")
        return
    print_fitted(console, lambda layout: block_table(shown, tz, limit, layout), compact)


@report_app.command("limits")
def limits_report(
    json_out: Annotated[
        bool, typer.Option("--json", "-j", help="Print the report as JSON only.")
    ] = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    timezone: TzOpt = None,
    mode: ModeOpt = Mode.auto,
    verbose: VerboseOpt = False,
    rows: Annotated[
        int,
        typer.Option(
            "--rows", "-n", min=1, help="Windows of each kind shown, the latest (not with --json)."
        ),
    ] = 10,
) -> None:
    """Your plan's 5-hour and 7-day windows: Claude's official % where the statusline saw
    it (last and peak), else the usage against your busiest window; and, per month, what
    your subscription was worth at API prices (promptpulse config set plan ...)."""
    from promptpulse import limit_report as lr
    from promptpulse import reports

    tz = _timezone(timezone)
    first, last = _day(since, "--since"), _day(until, "--until")
    now_ms = _now_ms()
    conf = _config()
    with _open_ledger(verbose, json_out) as ledger:
        lines = ledger.usage_lines(mode.value)
        readings = ledger.readings()
        days = ledger.usage_by_day(tz, mode.value)
    five = lr.select(
        lr.five_hour_rows(reports.by_block(lines, now_ms), readings, now_ms), tz, first, last
    )
    seven = lr.select(lr.seven_day_rows(lines, readings, now_ms), tz, first, last)
    price = conf.plan_monthly_usd()
    # whole months, those the range touches: part of a month against a month's price misleads
    months = lr.subscription(
        lr.touched_months(reports.by_period(days, "monthly"), first, last), price
    )
    if json_out:
        _print_json(lr.report_json(conf.plan, price, readings, five, seven, months, now_ms))
        return
    from promptpulse import display, limits

    out = _stdout()
    now = display.limits_now([limits.current(readings, w, now_ms) for w in limits.WINDOWS])
    out.print(
        now
        or "No official readings yet: Claude Code shows them to its statusline "
        "(promptpulse setup --statusline); until then the windows are measured against your "
        "busiest."
    )
    for title, shown in (("5-hour windows", five), ("7-day windows", seven)):
        if shown:
            out.print(display.window_table(title, shown[-rows:], tz))
            if len(shown) > rows:
                out.print(f"[dim]{len(shown) - rows} earlier: --rows or --since shows them[/]")
    if months:
        out.print(display.subscription_table(conf.plan, months))
        if price is None:
            out.print(
                "[dim]promptpulse config set plan pro|max5|max20|team says which plan is yours[/]"
            )


def _token_limit(text: str | None, all_blocks: list[Any]) -> int | None:
    from promptpulse.reports import max_block_tokens

    if text is None:
        return None
    if text.strip().lower() == "max":
        return max_block_tokens(all_blocks) or None
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError as exc:
        raise UserError(f"--token-limit {text!r}: give a number of tokens or 'max'") from exc
    if value <= 0:
        raise UserError("--token-limit must be more than 0")
    return value


@app.command()
def statusline(
    template: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="A template such as '{model} {today_cost} 5h {five_hour_pct}'; the "
            "placeholders are listed above.",
        ),
    ] = None,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (NO_COLOR does the same).")
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Sync the session before drawing the line (slower). By default the line "
            "shows the ledger as of the previous message and the sync runs in the background.",
        ),
    ] = False,
) -> None:
    """Claude Code's status line: reads the JSON Claude Code sends on stdin and prints the
    model, session, today and block cost, burn rate, context and the plan's 5-hour and 7-day
    use. Install it with promptpulse setup --statusline.

    Placeholders for --format: {model} {session_cost} {today_cost} {block_cost} {block_left}
    {burn_rate} {context_pct} {context_tokens} {five_hour_pct} {five_hour_left}
    {five_hour_pace} {seven_day_pct} {seven_day_left} {seven_day_pace} {claude_cost}."""
    from promptpulse.statusline import main as statusline_main

    args = ["--format", template] if template is not None else []
    args += ["--no-color"] if no_color else []
    raise typer.Exit(statusline_main(args + (["--fresh"] if fresh else [])))


# --- prices -------------------------------------------------------------------------------

prices_app = typer.Typer(
    help="The prices costs are computed with: list them, correct them (prices set), or fetch "
    "a fresh table (prices update).",
)
app.add_typer(prices_app, name="prices")


@prices_app.callback(invoke_without_command=True)
def prices_list(
    ctx: typer.Context,
    json_out: Annotated[
        bool, typer.Option("--json", "-j", help="Print the table as JSON.")
    ] = False,
) -> None:
    """List the prices in effect (USD per million tokens), the day they were checked and where
    each came from: packaged, updated (prices update) or override (prices set)."""
    if ctx.invoked_subcommand is not None:
        return
    from promptpulse import pricing
    from promptpulse.price_files import override_path

    table = pricing.price_table()
    overrides = override_path() if override_path().exists() else None
    if json_out:
        _print_json(pricing.table_json(table, overrides))
        return
    from promptpulse.display import prices_table

    _stdout().print(prices_table(table))
    typer.echo(f"Packaged prices checked {table.checked}.")
    if table.updated:
        typer.echo(f"Updated table fetched {table.updated} from {table.updated_from}.")
    if overrides is not None:
        typer.echo(f"Overrides in {overrides}.")


@prices_app.command("set")
def prices_set(
    model: Annotated[str, typer.Argument(help="The model, as logged or without its date.")],
    rate_in: Annotated[float, typer.Option("--input", help="USD per million input tokens.")],
    rate_out: Annotated[float, typer.Option("--output", help="USD per million output tokens.")],
    cache_write: Annotated[
        float | None,
        typer.Option(
            "--cache-write",
            help="USD per million tokens written to the cache (default: 1.25 × input).",
        ),
    ] = None,
    cache_read: Annotated[
        float | None,
        typer.Option(
            "--cache-read",
            help="USD per million tokens read from the cache (default: 0.1 × input).",
        ),
    ] = None,
) -> None:
    """Price MODEL yourself: a model promptpulse does not know, or a correction of one it
    does. Kept in prices.json in the config dir; the ledger re-prices on the next report."""
    from promptpulse import pricing
    from promptpulse.price_files import set_override

    name = pricing.canonical_name(model)
    entry: dict[str, float] = {"input": rate_in, "output": rate_out}
    if cache_write is not None:
        entry["cache_write"] = cache_write
    if cache_read is not None:
        entry["cache_read"] = cache_read
    path = set_override(name, entry)
    pricing.reload()
    price = pricing.price_table().models[name]
    rates = ", ".join(f"{k} {v}" for k, v in pricing.rates_text(price.base).items())
    typer.echo(f"{name}: {rates} per million tokens (in {path}).")


@prices_app.command("unset")
def prices_unset(
    model: Annotated[str, typer.Argument(help="The model whose override goes.")],
) -> None:
    """Remove your price for MODEL: the updated or packaged price applies again."""
    from promptpulse import pricing
    from promptpulse.price_files import override_path, unset_override

    name = pricing.canonical_name(model)
    if not unset_override(name):
        raise UserError(f"no price of yours for {name} in {override_path()}")
    pricing.reload()
    typer.echo(f"Removed your price for {name}.")


@prices_app.command("update")
def prices_update(
    url: Annotated[
        str | None,
        typer.Option(
            help="Where to fetch a price JSON in LiteLLM's shape from (default: LiteLLM's "
            "model_prices_and_context_window.json on GitHub)."
        ),
    ] = None,
) -> None:
    """Fetch a fresh price table (LiteLLM's, for claude-* models) and keep it in the data dir;
    says what changed. Your own prices (prices set) still win. Needs the network; reports
    never do."""
    from promptpulse import clock, pricing
    from promptpulse import price_update as pu
    from promptpulse.price_files import save_updated

    url = url or pu.LITELLM_URL
    before = pricing.price_table()
    try:
        today = clock.from_env()().date().isoformat()
        models = pu.from_litellm(pu.fetch(url), before.aliases)
    except (pu.UpdateError, clock.ClockError) as exc:
        raise UserError(f"{exc}; prices unchanged") from exc
    if not models:
        raise UserError(f"no Claude prices in {url}; prices unchanged")
    from promptpulse.price_files import overrides

    after = pricing.build_table(pricing.packaged(), models, overrides(), today, url)
    path = save_updated(models, today, url)
    pricing.reload()
    lines = pu.changes(before, after)
    typer.echo(f"Fetched {len(models)} Claude models from {url} (kept in {path}).")
    for line in lines:
        typer.echo(f"  {line}")
    if not lines:
        typer.echo("No price changed.")


# --- the server: login, collect, status -----------------------------------------------------

config_app = typer.Typer(
    help="Show or change the settings (server, project privacy, plan, plan price).",
    no_args_is_help=True,
)
user_app = typer.Typer(help="Your account on the server.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(user_app, name="user")
user_app.add_typer(config_app, name="config")


def _config() -> Any:
    from promptpulse.config import Config

    return Config.load()


def _client(server: str, api_key: str = "") -> Any:
    from promptpulse.client import Client

    if not server.startswith(("http://", "https://")):
        raise UserError(f"server {server!r}: give a URL such as https://promptpulse.example.com")
    return Client(server, api_key)


def _server_call(fn: Any) -> Any:
    from promptpulse.client import ServerError

    try:
        return fn()
    except ServerError as exc:
        raise _server_error(exc) from exc


def _server_error(exc: Exception) -> UserError:
    """The one line for a server that refused (4xx) or could not be reached."""
    from promptpulse.client import RejectedError

    if isinstance(exc, RejectedError):
        return UserError(str(exc))
    return UserError(f"{exc} (check the URL, or try again later)")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _invite_code(text: str) -> str:
    """An invite code, also when given as the invite's URL (its last path segment)."""
    from urllib.parse import urlsplit

    text = text.strip()
    if "://" in text:
        text = urlsplit(text).path.rstrip("/").rsplit("/", 1)[-1]
    if not text:
        raise UserError("an invite code is empty: give the code, or the invite's URL")
    return text


def _create_account(client: Any, username: str, invite: str | None) -> dict[str, Any]:
    """Sign up, asking for an invite code when the server needs one and none was given."""
    from promptpulse.client import RejectedError, ServerError

    if invite is None:
        policy = _server_call(client.signup_policy)
        if policy.get("inviteRequired") and _interactive():
            invite = _invite_code(typer.prompt("Invite code (this server needs one to sign up)"))
    try:
        return dict(client.create_account(username, invite))
    except RejectedError as exc:
        if exc.status == 403 and exc.detail.startswith("inviteCode"):
            if invite is None:
                raise UserError(
                    "this server needs an invite code to sign up: ask a team owner or admin "
                    "for one, then run promptpulse login --invite CODE"
                ) from exc
            reason = exc.detail.removeprefix("inviteCode").lstrip(": ")
            raise UserError(f"the invite code was refused: {reason}") from exc
        raise _server_error(exc) from exc
    except ServerError as exc:
        raise _server_error(exc) from exc


@app.command()
def login(
    api_key: Annotated[str | None, typer.Argument(help="An existing API key to store.")] = None,
    server: Annotated[str | None, typer.Option(help="The server's URL.")] = None,
    username: Annotated[str | None, typer.Option(help="Create this account.")] = None,
    key: Annotated[str | None, typer.Option("--api-key", help="Use an existing key.")] = None,
    invite: Annotated[
        str | None,
        typer.Option(
            "--invite",
            help="An invite code (or its URL) for a new account; a team's invite also makes "
            "you a member of the team. Asked for when the server needs one.",
        ),
    ] = None,
) -> None:
    """Connect to a server: create an account, or store an existing API key after checking it.
    Asks for what is not given."""
    from promptpulse import config as cfg
    from promptpulse.ledger import Ledger

    conf = _config()
    server = server or conf.server or typer.prompt("Server URL", default="http://127.0.0.1:8000")
    existing = key or api_key
    if existing is not None and invite is not None:
        raise UserError(
            "--invite is for a new account; with an existing key, join a team with "
            "promptpulse team join CODE"
        )
    code = _invite_code(invite) if invite is not None else None
    if existing is None and username is None:
        username = typer.prompt("Username (3-50 letters, digits, _ or -)")
    created: dict[str, Any] = {}
    if existing is None:
        with _client(server) as c:
            created = _create_account(c, str(username), code)
        existing, name = created["apiKey"], created["username"]
    else:
        with _client(server, existing) as c:
            name = _server_call(lambda: c.request("GET", "/api/users/me"))["username"]
    if conf.server.rstrip("/") != server.rstrip("/") or conf.username != name:
        with Ledger(cfg.ledger_path()) as ledger:
            ledger.forget_uploads()  # a new server or account gets everything
    conf.server, conf.api_key, conf.username = server.rstrip("/"), existing, name
    path = conf.save()
    typer.echo(f"Logged in to {conf.server} as {name} (key saved in {path}).")
    if created.get("isAdmin"):
        typer.echo("You are this server's admin (its first account).")
    for team in created.get("teams") or []:
        typer.echo(f"You joined the team {team['name']} ({team['slug']}) as {team['role']}.")
    typer.echo("Next: promptpulse collect")


@app.command()
def logout() -> None:
    """Forget the API key (the local ledger stays)."""
    conf = _config()
    conf.api_key, conf.username = "", ""
    conf.save()
    typer.echo("Logged out.")


@app.command()
def whoami() -> None:
    """The username and server you are logged in to."""
    conf = _config()
    if not conf.api_key:
        raise UserError("not logged in: run promptpulse login")
    typer.echo(f"{conf.username} on {conf.server}")


@app.command()
def dashboard(
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the link instead of opening it.")
    ] = False,
) -> None:
    """Open the dashboard in the browser, already logged in (through a one-time link that
    expires in minutes; the API key never goes into a URL)."""
    import webbrowser

    conf = _config()
    if not conf.api_key or not conf.server:
        raise UserError("not logged in: run promptpulse login")
    with _client(conf.server, conf.api_key) as client:
        link = _server_call(lambda: client.request("POST", "/api/login-links"))
    url = conf.server.rstrip("/") + str(link["path"])
    opened = False
    if not no_browser:
        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
    if opened:
        typer.echo(f"Opened the dashboard of {conf.server} in your browser.")
    else:
        typer.echo(
            f"Open this link to see the dashboard (it works once, for a few minutes):\n{url}"
        )


@config_app.command("show")
def config_show() -> None:
    """Print the settings (the API key masked)."""
    from promptpulse import config as cfg

    conf = _config()
    typer.echo(f"server: {conf.server or '(not set)'}")
    typer.echo(f"username: {conf.username or '(not logged in)'}")
    typer.echo(f"api_key: {conf.masked_key() or '(none)'}")
    typer.echo(f"project_privacy: {conf.project_privacy}")
    price = conf.plan_monthly_usd()
    typer.echo(
        f"plan: {conf.plan or '(not set)'}"
        + (
            f" (${price:,.2f} a month{'' if conf.plan_price is None else ', your price'})"
            if price is not None
            else ""
        )
    )
    typer.echo(f"machine_id: {cfg.machine_id()}")
    typer.echo(f"config file: {cfg.config_path()}")


@config_app.command("set")
def config_set(
    key: Annotated[str, typer.Argument(help="server, project_privacy, plan or plan_price")],
    value: Annotated[str, typer.Argument()],
) -> None:
    """Change one setting. plan: your Claude plan (pro, max5, max20, team or api);
    plan_price: what it costs you a month in USD, when not the list price ('default' clears
    it)."""
    from promptpulse.config import PRIVACY_MODES
    from promptpulse.limits import PLANS

    conf = _config()
    if key == "server":
        if not value.startswith(("http://", "https://")):
            raise UserError(f"server {value!r}: give a URL such as https://example.com")
        conf.server = value.rstrip("/")
    elif key in ("project_privacy", "project-privacy"):
        if value not in PRIVACY_MODES:
            raise UserError(f"project_privacy: one of {', '.join(PRIVACY_MODES)}")
        conf.project_privacy = value
    elif key == "plan":
        value = value.strip().lower()
        if value not in PLANS:
            raise UserError(f"plan: one of {', '.join(PLANS)}")
        conf.plan = value
    elif key in ("plan_price", "plan-price"):
        conf.plan_price = _plan_price(value)
    else:
        raise UserError(f"unknown setting {key!r}: server, project_privacy, plan or plan_price")
    conf.save()
    typer.echo(f"{key} = {value}")


def _plan_price(text: str) -> float | None:
    import math

    if text.strip().lower() in ("default", "none", ""):
        return None
    try:
        price = float(text.strip().lstrip("$").replace(",", ""))
    except ValueError:
        price = -1.0
    if not math.isfinite(price) or not 0 <= price <= 100_000:
        raise UserError(f"plan_price {text!r}: give USD a month, like 100, or 'default'")
    return price


class Granularity(StrEnum):
    daily = "daily"
    session = "session"
    blocks = "blocks"
    all = "all"


class Privacy(StrEnum):
    basename = "basename"
    full = "full"
    hash = "hash"
    none = "none"


@app.command()
def collect(
    granularity: Annotated[Granularity, typer.Option(help="Which rows to send.")] = Granularity.all,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be sent.")] = False,
    since: SinceOpt = None,
    project_privacy: Annotated[
        Privacy | None,
        typer.Option(
            help="How projects are named on the server (default: the config's, basename)."
        ),
    ] = None,
    timezone: TzOpt = None,
    verbose: VerboseOpt = False,
    timestamps: Annotated[
        bool,
        typer.Option(
            "--timestamps", help="Begin every line with the time (the cron job's log does)."
        ),
    ] = False,
) -> None:
    """Sync the ledger, then upload the daily, session and block rows that changed since the
    server last acknowledged them. Exits non-zero when something is left pending; the next
    collect sends it."""
    from promptpulse import collect as collecting
    from promptpulse import config as cfg
    from promptpulse import uploads
    from promptpulse.client import ServerError

    if timestamps:
        _stamp_lines()
    conf = _config()
    if not conf.api_key or not conf.server:
        raise UserError("not logged in: run promptpulse login")
    tz = _timezone(timezone)
    first = _day(since, "--since")
    privacy = project_privacy.value if project_privacy else conf.project_privacy
    with _open_ledger(verbose, quiet=True) as ledger:
        plan = (conf.plan, conf.plan_monthly_usd())
        if dry_run:
            rows = collecting.changed_rows(ledger, tz, granularity.value, first, privacy, _now_ms())
            rows += collecting.account_rows(ledger, *plan)
            pending = len(ledger.pending())
            counts: dict[str, int] = {k: sum(1 for r in rows if r[0] == k) for k in uploads.KINDS}
            typer.echo(
                f"Would send {collecting.summary(counts) or 'nothing new'}"
                + (
                    f", and {collecting.plural(pending, 'batch', 'batches')} kept from an "
                    "earlier collect"
                    if pending
                    else ""
                )
                + "."
            )
            return
        with _client(conf.server, conf.api_key) as client:
            try:
                result = collecting.collect(
                    ledger,
                    client,
                    cfg.machine_id(),
                    tz,
                    granularity.value,
                    first,
                    privacy,
                    _now_ms(),
                    plan,
                )
            except ServerError as exc:
                left = len(ledger.pending())
                kept = collecting.plural(left, "batch", "batches")
                raise UserError(f"{exc}; {kept} kept and sent with the next collect") from exc
    if result.rebuilt:
        refused = collecting.plural(result.rebuilt, "earlier batch", "earlier batches")
        _stderr().print(
            f"[yellow]warning:[/] the server refused {refused} as invalid; what they held "
            "was built again from the ledger"
        )
    sent = collecting.summary(result.sent)
    earlier = collecting.plural(result.resent, "batch", "batches") + " kept from an earlier collect"
    if sent and result.resent:
        typer.echo(f"Sent {sent}, and {earlier}, to {conf.server}.")
    elif sent or result.resent:
        typer.echo(f"Sent {sent or earlier} to {conf.server}.")
    else:
        typer.echo("Nothing new to send.")
    warning = collecting.over_budget_line(result.budgets)
    if warning:
        typer.echo(warning, err=True)


def _stamp_lines() -> None:
    """From now on, every line on stdout and stderr starts with the clock's instant."""
    from promptpulse import clock
    from promptpulse.schedule import StampedLines

    try:
        now = clock.from_env()
    except clock.ClockError as exc:
        raise UserError(str(exc)) from exc
    sys.stdout = StampedLines(sys.stdout, now)
    sys.stderr = StampedLines(sys.stderr, now)


class Interval(StrEnum):
    m15 = "15m"
    m30 = "30m"
    h1 = "1h"
    daily = "daily"


@app.command()
def setup(
    interval: Annotated[Interval, typer.Option(help="How often to collect.")] = Interval.m30,
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove the cron job (or the statusline).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written, change nothing.")
    ] = False,
    statusline: Annotated[
        bool,
        typer.Option(
            "--statusline",
            help="Install promptpulse as Claude Code's statusline instead of the cron job.",
        ),
    ] = False,
    settings: Annotated[
        Path | None,
        typer.Option(
            "--settings",
            help="Claude Code's settings file (default: $CLAUDE_CONFIG_DIR/settings.json, "
            "else ~/.claude/settings.json).",
        ),
    ] = None,
) -> None:
    """Install one cron job that runs collect on a schedule (running it again replaces it);
    with --statusline, make promptpulse Claude Code's statusline instead."""
    if statusline:
        _setup_statusline(settings, remove, dry_run)
        return
    if settings is not None:
        raise UserError("--settings goes with --statusline")
    from promptpulse import schedule

    if dry_run:
        typer.echo(schedule.cron_line(interval.value))
        return
    try:
        if remove:
            n = schedule.remove()
            typer.echo("Removed the cron job." if n else "There was no cron job to remove.")
            return
        line = schedule.install(interval.value)
    except schedule.ScheduleError as exc:
        raise UserError(
            f"{exc}. The line to install by hand:\n{schedule.cron_line(interval.value)}"
        ) from exc
    typer.echo(f"Installed: {line}")


def _setup_statusline(settings: Path | None, remove: bool, dry_run: bool) -> None:
    from promptpulse import claude_settings as cs
    from promptpulse import clock

    path = (settings.expanduser() if settings is not None else cs.settings_path()).absolute()
    entry = cs.statusline_entry(cs.executable(sys.argv[0], python=sys.executable))

    def merge(current: dict[str, Any]) -> Any:
        return cs.without_statusline(current) if remove else cs.with_statusline(current, entry)

    try:
        done = cs.update_file(path, merge, clock.from_env()(), dry_run=dry_run)
    except (cs.SettingsError, clock.ClockError) as exc:
        raise UserError(str(exc)) from exc
    change = done.change
    previous = json.dumps(change.previous, ensure_ascii=False)
    if remove and not change.changed:
        if change.previous is None:
            typer.echo(f"No statusline in {path}: nothing to remove.")
        else:
            typer.echo(f"The statusline in {path} is not promptpulse's; left it alone: {previous}")
        return
    if not remove and not change.changed:
        typer.echo(f"Already installed in {path}: {entry['command']}")
        return
    if dry_run:
        if not remove and change.previous is not None:
            typer.echo(f"It would replace this statusLine: {previous}")
        typer.echo(f"Would write {path} (dry run, nothing changed):")
        sys.stdout.write(done.text)
        return
    if remove:
        typer.echo(f"Removed promptpulse's statusline from {path}.")
    else:
        typer.echo(f"{'Created' if done.created else 'Changed'} {path}: statusLine runs")
        typer.echo(f"  {entry['command']}")
        if change.previous is not None:
            typer.echo(f"It replaced this statusLine (kept in the backup): {previous}")
    if done.backup is not None:
        typer.echo(f"Backup of the previous file: {done.backup}")


@app.command()
def status() -> None:
    """Server, user, pending uploads and the ledger."""
    from promptpulse import config as cfg
    from promptpulse.ledger import Ledger

    conf = _config()
    typer.echo(f"server: {conf.server or '(not set)'}")
    typer.echo(f"user: {conf.username or '(not logged in)'}")
    with Ledger(cfg.ledger_path()) as ledger:
        stats = ledger.stats()
        pending = len(ledger.pending())
        typer.echo(f"pending uploads: {pending} batch{'' if pending == 1 else 'es'}")
        now_ms = _now_ms()
        readings = ledger.readings(from_ms=now_ms - 8 * 86_400_000)
    typer.echo(f"plan: {conf.plan or '(not set: promptpulse config set plan ...)'}")
    typer.echo(f"limits: {_limits_line(readings, now_ms)}")
    typer.echo(
        f"ledger: {cfg.ledger_path()} ({stats['responses']} responses from "
        f"{stats['files']} files, {stats['files_deleted']} of them deleted since)"
    )
    from promptpulse import schedule

    typer.echo(f"cron job: {schedule.installed() or '(none: promptpulse setup)'}")
    if conf.server and conf.api_key:
        for line in _budget_lines(conf.server, conf.api_key):
            typer.echo(line)


def _budget_lines(server: str, api_key: str) -> list[str]:
    """Where each of your budgets (and your teams') stands, from the server."""
    from promptpulse.client import Client, RejectedError, ServerError
    from promptpulse.collect import budget_text

    try:
        with Client(server, api_key, retries=0) as client:
            answer = client.request("GET", "/api/budgets")
    except RejectedError as exc:
        if exc.status == 404:  # a server from before budgets
            return []
        return [f"budgets: ({exc})"]
    except ServerError as exc:
        return [f"budgets: (not known: {exc})"]
    budgets = answer.get("budgets") if isinstance(answer, dict) else None
    if not budgets:
        return ["budgets: (none: add one in the dashboard's Settings, or POST /api/budgets)"]
    lines = ["budgets:"]
    for b in budgets:
        marks = "/".join(str(t) for t in b.get("thresholds") or [])
        if b.get("percent") is None:  # a limit without a current reading
            text = budget_text(b).rsplit(" at ", 1)[0]
            lines.append(f"  #{b.get('id')} {text}: no current reading (alerts at {marks} %)")
        else:
            lines.append(f"  #{b.get('id')} {budget_text(b)} (alerts at {marks} %)")
    return lines


def _limits_line(readings: list[Any], now_ms: int) -> str:
    from promptpulse import limits

    parts = []
    for window in limits.WINDOWS:
        status = limits.current(readings, window, now_ms)
        if status is None:
            continue
        label = limits.WINDOW_LABEL[window]
        if status.expired:
            parts.append(f"{label} reset since the last reading")
        else:
            parts.append(
                f"{label} {status.used_pct:.0f}% (resets in {limits.duration(status.left_ms)})"
            )
    return " · ".join(parts) or "(no official reading: promptpulse setup --statusline)"


# --- teams ----------------------------------------------------------------------------------

team_app = typer.Typer(
    help="Your teams on the server: list, create, invite, join, leave, members.",
    no_args_is_help=True,
)
app.add_typer(team_app, name="team")

TeamArg = Annotated[str, typer.Argument(help="The team's slug or id (team list shows them).")]
OptionalTeamArg = Annotated[
    str | None,
    typer.Argument(help="The team's slug or id (default: your only team)."),
]


def _logged_in() -> Any:
    """A client for the server you are logged in to."""
    conf = _config()
    if not conf.api_key or not conf.server:
        raise UserError("not logged in: run promptpulse login")
    return _client(conf.server, conf.api_key)


def _team(client: Any, wanted: str | None) -> dict[str, Any]:
    """One of your teams by slug (any case) or id; without one, your only team. A server
    admin may also name by id a team they are not in."""
    from promptpulse.client import RejectedError

    teams: list[dict[str, Any]] = _server_call(client.teams)
    slugs = ", ".join(str(t["slug"]) for t in teams)
    if wanted is None:
        if len(teams) == 1:
            return teams[0]
        if not teams:
            raise UserError("you are in no team: promptpulse team create NAME, or team join CODE")
        raise UserError(f"you are in {len(teams)} teams; name one: {slugs}")
    wanted = wanted.strip()
    for t in teams:
        if str(t["slug"]).lower() == wanted.lower() or str(t["id"]) == wanted:
            return t
    if wanted.isdigit():
        try:
            return dict(client.team(int(wanted)))
        except RejectedError as exc:
            if exc.status not in (403, 404):
                raise _server_error(exc) from exc
    raise UserError(f"no team {wanted!r} among yours ({slugs or 'none'}): give its slug or id")


def _stdout() -> Any:
    from rich.console import Console

    return Console(highlight=False)


@team_app.command("list")
def team_list(
    json_out: Annotated[
        bool, typer.Option("--json", "-j", help="Print the server's JSON.")
    ] = False,
) -> None:
    """Your teams: name, slug, your role and how many members."""
    with _logged_in() as client:
        teams = _server_call(client.teams)
    if json_out:
        _print_json({"teams": teams})
        return
    if not teams:
        typer.echo("You are in no team: promptpulse team create NAME, or team join CODE.")
        return
    from promptpulse.display import team_table

    _stdout().print(team_table(teams))


@team_app.command("create")
def team_create(name: Annotated[str, typer.Argument(help="The team's name.")]) -> None:
    """Create a team named NAME; you are its owner."""
    name = name.strip()
    if not name:
        raise UserError("a team needs a name: promptpulse team create NAME")
    with _logged_in() as client:
        team = _server_call(lambda: client.create_team(name))
    typer.echo(f"Created the team {team['name']} ({team['slug']}); you are its {team['role']}.")
    typer.echo(f"Invite people: promptpulse team invite {team['slug']}")


@team_app.command("invite")
def team_invite(
    team: OptionalTeamArg = None,
    max_uses: Annotated[
        int | None,
        typer.Option("--max-uses", help="How many people can join with it, 1-1000 (default 10)."),
    ] = None,
    expires_hours: Annotated[
        int | None,
        typer.Option(
            "--expires-hours", help="Hours until it stops working, 1-720 (default 168: a week)."
        ),
    ] = None,
) -> None:
    """Make an invite code to TEAM (slug or id; default: your only team); owners and admins."""
    if max_uses is not None and not 1 <= max_uses <= 1000:
        raise UserError("--max-uses must be from 1 to 1000")
    if expires_hours is not None and not 1 <= expires_hours <= 720:
        raise UserError("--expires-hours must be from 1 to 720 (30 days)")
    with _logged_in() as client:
        chosen = _team(client, team)
        invite = _server_call(
            lambda: client.create_invite(int(chosen["id"]), max_uses, expires_hours)
        )
    typer.echo(
        f"Invite to {chosen['name']} ({chosen['slug']}): up to {invite['maxUses']} use(s), "
        f"until {invite['expiresAt']}"
    )
    typer.echo(f"code: {invite['code']}")
    typer.echo(f"url:  {invite['url']}")
    typer.echo(
        f"New people: promptpulse login --invite {invite['code']}; "
        f"people with an account: promptpulse team join {invite['code']}"
    )


# the server's codes may start with "-": team join -x1y2 takes it as the code, not an option
@team_app.command("join", context_settings={"ignore_unknown_options": True})
def team_join(
    code: Annotated[str, typer.Argument(help="The invite code, or the invite's URL.")],
) -> None:
    """Join a team with an invite CODE (or its URL): shows the team, then joins it."""
    from promptpulse.client import RejectedError, ServerError

    code = _invite_code(code)
    with _logged_in() as client:
        try:
            preview = client.preview_invite(code)
        except RejectedError as exc:
            if exc.status == 404:
                raise UserError(
                    f"invite code {code!r} does not work: unknown, expired, used up or revoked"
                ) from exc
            raise _server_error(exc) from exc
        except ServerError as exc:
            raise _server_error(exc) from exc
        team = preview.get("team")
        if not team:
            raise UserError(
                f"invite code {code!r} is for signing up, not for a team: it is used with "
                "promptpulse login --invite CODE"
            )
        typer.echo(
            f"Team {team['name']} ({team['slug']}), {team['members']} member(s); "
            f"the invite works until {preview['expiresAt']}."
        )
        joined = _server_call(lambda: client.join(code))
    typer.echo(f"You are in {joined['name']} ({joined['slug']}) as {joined['role']}.")


@team_app.command("leave")
def team_leave(team: TeamArg) -> None:
    """Leave TEAM (slug or id); an owner must first make someone else the owner."""
    from promptpulse.client import RejectedError, ServerError

    with _logged_in() as client:
        chosen = _team(client, team)
        try:
            client.leave(int(chosen["id"]))
        except RejectedError as exc:
            if exc.status == 409:
                raise UserError(
                    f"you own {chosen['name']}: make another member its owner before you "
                    f"leave (the server said: {exc.detail})"
                ) from exc
            raise _server_error(exc) from exc
        except ServerError as exc:
            raise _server_error(exc) from exc
    typer.echo(f"You left {chosen['name']} ({chosen['slug']}).")


@team_app.command("members")
def team_members(
    team: OptionalTeamArg = None,
    json_out: Annotated[
        bool, typer.Option("--json", "-j", help="Print the server's JSON.")
    ] = False,
) -> None:
    """The members of TEAM (slug or id; default: your only team) and their roles."""
    with _logged_in() as client:
        chosen = _team(client, team)
        doc = _server_call(lambda: client.members(int(chosen["id"])))
    if json_out:
        _print_json(doc)
        return
    from promptpulse.display import member_table

    _stdout().print(member_table(chosen, doc["members"]))


# --- entry point ----------------------------------------------------------------------------


def _unwrap(text: str) -> str:
    """A docstring's paragraphs, each on one line with single spaces: the source wraps them at
    100 columns, and --help wraps them again to the terminal's width."""
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())


def _tidy_help(group: typer.Typer) -> None:
    """Give every command its docstring unwrapped as its help (rich markup mode keeps a
    docstring's line breaks in the list of commands)."""
    import inspect

    infos = [*group.registered_commands]
    if group.registered_callback is not None:
        infos.append(group.registered_callback)  # type: ignore[arg-type]
    for info in infos:
        if info.help is None and info.callback is not None:
            info.help = _unwrap(inspect.getdoc(info.callback) or "")
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _tidy_help(sub.typer_instance)


_tidy_help(app)


def main() -> None:
    """Run the CLI; known problems print one line, unexpected ones no traceback."""
    from promptpulse.config import ConfigError

    try:
        app()
    except (UserError, ConfigError) as exc:
        _stderr().print(f"[red]error:[/] {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # pragma: no cover - the last line of defence
        # the ledger's errors, without loading the ledger for commands that never open it
        ledger = sys.modules.get("promptpulse.ledger")
        price_files = sys.modules.get("promptpulse.price_files")
        if (ledger is not None and isinstance(exc, ledger.LedgerError)) or (
            price_files is not None and isinstance(exc, price_files.PriceFileError)
        ):
            _stderr().print(f"[red]error:[/] {exc}")
            sys.exit(2)
        if os.environ.get("PROMPTPULSE_DEBUG"):
            raise
        _stderr().print(
            f"[red]error:[/] unexpected {type(exc).__name__}: {exc} "
            "(set PROMPTPULSE_DEBUG=1 for the traceback)"
        )
        sys.exit(1)
