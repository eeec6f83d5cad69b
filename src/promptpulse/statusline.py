"""``promptpulse statusline``: the line Claude Code shows under its prompt.

Claude Code runs the command after every message and hands it a JSON document on stdin (the
session, its transcript, the model, its own cost figures and, since v2.1.80 for subscription
accounts, ``rate_limits``). This module reads it tolerantly (fields come and go between
versions) and prints one line drawn from the ledger with a few indexed reads
(``ledger_glance``). Then, in a detached background process, it brings the ledger up to date
with that one session's files and keeps the official limits reading; so the line shows the
ledger as of the previous message, unless ``--fresh`` asks to sync first (slower: it loads the
log reader). It never touches the network, never waits for the ledger, and never prints a
traceback into the status bar: on any failure it prints one word and notes the error in
``statusline.log`` in the state dir.

Placeholders for ``--format`` (a missing figure shows as ``-``)::

    {model} {session_cost} {today_cost} {block_cost} {block_left} {burn_rate}
    {context_pct} {context_tokens} {five_hour_pct} {five_hour_left} {five_hour_pace}
    {seven_day_pct} {seven_day_left} {seven_day_pace} {claude_cost}
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys

from promptpulse import ledger_glance as glance
from promptpulse import limits

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every message
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import IO, Any

FALLBACK = "promptpulse"
MAX_INPUT = 4 << 20  # Claude Code's document is a few kB; never read without bound
LEDGER_WAIT_S = 0.2  # --fresh: how long to wait for a ledger another process is writing
DEFAULT_CONTEXT = 200_000
PLACEHOLDERS = (
    "model",
    "session_cost",
    "today_cost",
    "block_cost",
    "block_left",
    "burn_rate",
    "context_pct",
    "context_tokens",
    "five_hour_pct",
    "five_hour_left",
    "five_hour_pace",
    "seven_day_pct",
    "seven_day_left",
    "seven_day_pace",
    "claude_cost",
)
USAGE = (
    "usage: promptpulse statusline [--format TEMPLATE] [--no-color] [--fresh]\n"
    "Reads Claude Code's statusline JSON on stdin and prints one line.\n"
    "Placeholders: " + " ".join("{" + p + "}" for p in PLACEHOLDERS) + "\n"
)
_COLOURS = {"ok": "32", "warn": "33", "high": "31", "dim": "2"}


# --- what Claude Code sends -------------------------------------------------------------------


class Input:
    """The fields of Claude Code's statusline JSON that promptpulse uses; each may be absent."""

    __slots__ = (
        "claude_cost",
        "context_pct",
        "context_size",
        "context_tokens",
        "exceeds_200k",
        "five_hour",
        "model_id",
        "model_name",
        "session_id",
        "seven_day",
        "transcript_path",
    )

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.transcript_path: str | None = None
        self.model_id: str | None = None
        self.model_name: str | None = None
        self.claude_cost: float | None = None
        self.context_pct: float | None = None
        self.context_size: int | None = None
        self.context_tokens: int | None = None  # the prompt's size, as Claude Code counts it
        self.exceeds_200k = False
        self.five_hour: tuple[float, int] | None = None
        self.seven_day: tuple[float, int] | None = None

    def reading(self, now_ms: int) -> limits.Reading | None:
        """The official limits reading this input carries, if any."""
        if self.five_hour is None and self.seven_day is None:
            return None
        five = self.five_hour or (None, None)
        seven = self.seven_day or (None, None)
        return limits.Reading(
            now_ms, five[0], five[1], seven[0], seven[1], self.session_id, self.model_id
        )


def _text(value: object, limit: int = 500) -> str | None:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        return None
    return value.strip()[:limit]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _window(value: object) -> tuple[float, int] | None:
    window = _object(value)
    pct = limits.percent(window.get("used_percentage"))
    resets = limits.resets_at_ms(window.get("resets_at"))
    return None if pct is None or resets is None else (pct, resets)


def parse_input(raw: bytes | str) -> Input:
    """Claude Code's document, read tolerantly: garbage, a missing field or a field of the
    wrong type leaves that field empty; it never raises."""
    inp = Input()
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return inp
    doc = _object(doc)
    inp.session_id = _text(doc.get("session_id"), 200)
    inp.transcript_path = _text(doc.get("transcript_path"), 4096)
    model = doc.get("model")
    if isinstance(model, str):  # some versions send the id alone
        inp.model_id = _text(model, 200)
    else:
        inp.model_id = _text(_object(model).get("id"), 200)
        inp.model_name = _text(_object(model).get("display_name"), 100)
    inp.claude_cost = _number(_object(doc.get("cost")).get("total_cost_usd"))
    context = _object(doc.get("context_window"))
    size = _number(context.get("context_window_size"))
    inp.context_size = int(size) if size and size > 0 else None
    inp.context_pct = limits.percent(context.get("used_percentage"))
    current = _object(context.get("current_usage"))
    if inp.context_pct is None and current and inp.context_size:
        parts = [
            _number(current.get(k))
            for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        ]
        if all(p is not None and p >= 0 for p in parts):
            used = sum(p for p in parts if p is not None)
            inp.context_pct = limits.percent(min(100.0 * used / inp.context_size, 100.0))
    if current:
        parts = [
            _number(current.get(k))
            for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        ]
        if all(p is not None and 0 <= p < 1e12 for p in parts):
            inp.context_tokens = int(sum(p for p in parts if p is not None))
    inp.exceeds_200k = doc.get("exceeds_200k_tokens") is True
    rate_limits = _object(doc.get("rate_limits"))
    inp.five_hour = _window(rate_limits.get("five_hour"))
    inp.seven_day = _window(rate_limits.get("seven_day"))
    return inp


# --- the figures ------------------------------------------------------------------------------


class Figures:
    """What the line shows, computed from the input, the ledger and the clock."""

    def __init__(self) -> None:
        self.session_cost: float | None = None
        self.today_cost: float | None = None
        self.block_cost: float | None = None
        self.block_left_ms: int | None = None
        self.burn_rate: float | None = None  # USD per hour
        self.context_tokens: int | None = None
        self.context_pct: float | None = None
        self.five_hour: limits.WindowStatus | None = None
        self.seven_day: limits.WindowStatus | None = None


def compute(inp: Input, db: sqlite3.Connection | None, now_ms: int) -> Figures:
    """The figures from the input and the ledger (None: there is no ledger yet); days are the
    system time zone's."""
    fig = Figures()
    fig.session_cost = inp.claude_cost
    fig.context_tokens = inp.context_tokens
    if db is not None:
        if inp.session_id:
            cost, tokens = glance.session_cost(db, inp.session_id)
            if tokens:
                fig.session_cost = cost
            fig.context_tokens = inp.context_tokens or glance.context_tokens(db, inp.session_id)
        fig.today_cost = glance.cost_between(db, *glance.local_day_bounds(now_ms))
        block = glance.active_block(db, now_ms)
        if block is not None:
            fig.block_cost = block.cost
            fig.block_left_ms = block.end - now_ms
            fig.burn_rate = block.cost_per_hour
    if inp.context_pct is not None:
        fig.context_pct = inp.context_pct
    elif fig.context_tokens is not None:
        size = inp.context_size or (1_000_000 if inp.exceeds_200k else DEFAULT_CONTEXT)
        fig.context_pct = min(100.0 * fig.context_tokens / size, 100.0)
    if inp.five_hour is not None:
        fig.five_hour = limits.window_status("five_hour", *inp.five_hour, now_ms)
    if inp.seven_day is not None:
        fig.seven_day = limits.window_status("seven_day", *inp.seven_day, now_ms)
    return fig


# --- the line ---------------------------------------------------------------------------------


def _money(value: float | None) -> str | None:
    return None if value is None else f"${value:,.2f}"


def _paint(text: str, level: str, colour: bool) -> str:
    return f"\x1b[{_COLOURS[level]}m{text}\x1b[0m" if colour else text


def _context_level(pct: float) -> limits.Level:
    return "high" if pct >= 80 else "warn" if pct >= 60 else "ok"


def fields(inp: Input, fig: Figures, colour: bool) -> dict[str, str | None]:
    """Every placeholder's text (None when the figure is unknown)."""
    out: dict[str, str | None] = {
        "model": inp.model_name or inp.model_id,
        "session_cost": _money(fig.session_cost),
        "today_cost": _money(fig.today_cost),
        "block_cost": _money(fig.block_cost),
        "block_left": None if fig.block_left_ms is None else limits.duration(fig.block_left_ms),
        "burn_rate": None if fig.burn_rate is None else f"${fig.burn_rate:,.2f}/h",
        "context_tokens": None if fig.context_tokens is None else f"{fig.context_tokens:,}",
        "context_pct": None
        if fig.context_pct is None
        else _paint(f"{fig.context_pct:.0f}%", _context_level(fig.context_pct), colour),
        "claude_cost": _money(inp.claude_cost),
    }
    for name, status in (("five_hour", fig.five_hour), ("seven_day", fig.seven_day)):
        if status is None:
            out[f"{name}_pct"] = out[f"{name}_left"] = out[f"{name}_pace"] = None
            continue
        out[f"{name}_pct"] = _paint(f"{status.used_pct:.0f}%", status.level, colour)
        out[f"{name}_left"] = "reset" if status.expired else limits.duration(status.left_ms)
        out[f"{name}_pace"] = None if status.pace is None else f"{status.pace:.1f}"
    return out


def default_line(values: Mapping[str, str | None], colour: bool) -> str:
    """The line without ``--format``: each part only when its figures are known."""
    parts: list[str] = []
    if values["model"]:
        parts.append(str(values["model"]))
    costs = [
        f"{values[key]} {label}"
        for key, label in (
            ("session_cost", "session"),
            ("today_cost", "today"),
            ("block_cost", "block"),
        )
        if values[key] is not None
    ]
    if values["block_left"] is not None and values["block_cost"] is not None:
        costs[-1] += f" ({values['block_left']} left)"
    if costs:
        parts.append(" · ".join(costs))
    if values["burn_rate"]:
        parts.append(str(values["burn_rate"]))
    if values["context_pct"]:
        parts.append(f"ctx {values['context_pct']}")
    windows = []
    for name in limits.WINDOWS:
        if values[f"{name}_pct"] is None:
            continue
        left = values[f"{name}_left"]
        detail = "reset since" if left == "reset" else f"resets {left}"
        if values[f"{name}_pace"] is not None:
            detail += f", pace {values[f'{name}_pace']}"
        windows.append(
            f"{limits.WINDOW_LABEL[name]} {values[f'{name}_pct']} "
            + _paint(f"({detail})", "dim", colour)
        )
    if windows:
        parts.append(" · ".join(windows))
    return " | ".join(parts) or FALLBACK


def render(template: str, values: Mapping[str, str | None]) -> str:
    """``--format``: each ``{placeholder}`` replaced, an unknown figure as ``-``; anything else
    (an unknown placeholder, a stray brace) printed as written."""
    import re  # already loaded by json

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        return "-" if value is None else value

    return re.sub(r"\{([a-z_]+)\}", fill, template)


# --- running it -------------------------------------------------------------------------------


def _ledger_step(what: Callable[[], object]) -> None:
    """Run a ledger write; when another process holds the ledger, go on without it."""
    try:
        what()
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise


def sync(inp: Input, now_ms: int, wait_s: float) -> None:
    """Bring the ledger up to date with the session's files and keep the limits reading."""
    from promptpulse import config
    from promptpulse.ledger import Ledger
    from promptpulse.sources import claude_roots, session_files

    files = session_files(inp.transcript_path, claude_roots()) if inp.transcript_path else []
    reading = inp.reading(now_ms)
    if not files and reading is None:
        return
    with Ledger(config.ledger_path(), timeout=wait_s) as ledger:
        if files:
            ledger.sync_files(files)
        if reading is not None:
            ledger.add_reading(reading)


def draw(inp: Input, now_ms: int, template: str | None, colour: bool) -> str:
    from promptpulse import config

    db = glance.open_ledger(str(config.ledger_path()))
    try:
        fig = compute(inp, db, now_ms)
    finally:
        if db is not None:
            db.close()
    values = fields(inp, fig, colour)
    return render(template, values) if template is not None else default_line(values, colour)


def in_background(job: Callable[[], None]) -> None:
    """Run ``job`` in a detached child process; this one returns at once. The pipes Claude
    Code reads are let go of before the fork, so Claude Code does not wait for the child."""
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if os.fork():
        return
    try:
        os.setsid()
        job()
    except BaseException as exc:  # a detached child has no one else to tell
        _note_failure(exc)
    finally:
        os._exit(0)


def _note_failure(exc: BaseException) -> None:
    """Keep the last failures in ``statusline.log`` (the status bar only shows a word)."""
    try:
        from promptpulse import clock, config

        path = config.state_dir() / "statusline.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > 256_000:
            path.unlink()
        import traceback

        with path.open("a", encoding="utf-8") as f:
            f.write(f"{clock.system_now().isoformat(timespec='seconds')} ")
            f.write("".join(traceback.format_exception(exc)))
    except OSError:
        pass


def parse_args(argv: list[str]) -> tuple[str | None, bool, bool] | None:
    """(template, colour, fresh) from the arguments; None when they are unknown."""
    template: str | None = None
    colour, fresh = True, False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--no-color":
            colour = False
        elif arg == "--fresh":
            fresh = True
        elif arg == "--format" and args:
            template = args.pop(0)
        elif arg.startswith("--format="):
            template = arg.removeprefix("--format=")
        else:
            return None
    return template, colour, fresh


def run(
    argv: list[str],
    stdin: IO[bytes],
    stdout: IO[str],
    env: Mapping[str, str],
    now_ms: int | None = None,
    background: bool = False,
) -> int:
    """The command: always prints a line and exits 0 (a status bar has no use for errors),
    except for unknown arguments (2). With ``background`` (the real command), the session's
    sync runs in a detached child after the line is out; otherwise, or with ``--fresh``,
    before the line is drawn."""
    parsed = parse_args(argv)
    if parsed is None:
        sys.stderr.write(USAGE)
        return 2
    template, colour, fresh = parsed
    colour = colour and not env.get("NO_COLOR")
    job: Callable[[], None] | None = None
    try:
        if now_ms is None:
            from promptpulse import clock

            now_ms = clock.to_ms(clock.from_env()())
        inp = parse_input(stdin.read(MAX_INPUT))
        at = now_ms

        def job_now() -> None:
            sync(inp, at, LEDGER_WAIT_S if fresh else 30.0)

        if fresh or not background or not hasattr(os, "fork"):
            _ledger_step(job_now)
        else:
            job = job_now
        text = draw(inp, now_ms, template, colour)
    except (Exception, RecursionError) as exc:  # the status bar never shows a traceback
        _note_failure(exc)
        text = FALLBACK
    stdout.write(text.replace("\n", " ") + "\n")
    stdout.flush()
    if job is not None:
        in_background(job)
    return 0


def main(argv: list[str]) -> int:
    return run(argv, sys.stdin.buffer, sys.stdout, os.environ, background=True)
