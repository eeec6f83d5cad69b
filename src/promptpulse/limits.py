"""Claude's plan limits: the official 5-hour and 7-day readings, where a window stands, and
what a subscription is worth. Pure functions, shared by the collector and the server.

Claude Code (v2.1.80 and later, subscription accounts) hands a statusline command
``rate_limits.five_hour`` and ``rate_limits.seven_day``, each with ``used_percentage`` and
``resets_at`` (seen both as Unix seconds and as ISO text).

The statusline imports this module on every Claude Code message, so it imports nothing heavy:
plain classes with ``__slots__`` instead of dataclasses, and typing only for the type checker.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any, Literal

    Window = Literal["five_hour", "seven_day"]
    Plan = Literal["pro", "max5", "max20", "team", "api"]
    Level = Literal["ok", "warn", "high"]


class _Record:
    """A small value class: its ``_fields`` in order, compared and printed by value."""

    __slots__: tuple[str, ...] = ()
    _fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self._fields
        defaults = getattr(type(self), "_defaults", {})
        values = dict(zip(names, args, strict=False))
        values.update(kwargs)
        for name in names:
            object.__setattr__(self, name, values[name] if name in values else defaults[name])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self._fields
        )

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self._fields))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({fields})"


WINDOWS: tuple[Window, ...] = ("five_hour", "seven_day")
WINDOW_MS: dict[Window, int] = {"five_hour": 5 * 3_600_000, "seven_day": 7 * 86_400_000}
WINDOW_LABEL: dict[Window, str] = {"five_hour": "5h", "seven_day": "7d"}

PLANS: tuple[Plan, ...] = ("pro", "max5", "max20", "team", "api")

MAX_PERCENT = 1000.0  # a reading above this is not a reading
# instants the server takes (2000-01-01 to the end of 2100), in epoch ms
FIRST_MS = 946_684_800_000
LAST_MS = 4_133_980_799_999
# pace is noise at the very start of a window: judge it only after this share has elapsed
PACE_AFTER = 10.0


class Reading(_Record):
    """One official reading: when it was seen, and each window's used % and reset time (ms)."""

    _fields = (
        "ts",
        "five_hour_pct",
        "five_hour_resets",
        "seven_day_pct",
        "seven_day_resets",
        "session_id",
        "model",
    )
    __slots__ = _fields
    _defaults: dict[str, Any] = dict.fromkeys(_fields[1:])
    ts: int
    five_hour_pct: float | None
    five_hour_resets: int | None
    seven_day_pct: float | None
    seven_day_resets: int | None
    session_id: str | None
    model: str | None

    def window(self, window: Window) -> tuple[float, int] | None:
        """(used %, reset time in ms) of one window, when this reading has it."""
        if window == "five_hour":
            pct, resets = self.five_hour_pct, self.five_hour_resets
        else:
            pct, resets = self.seven_day_pct, self.seven_day_resets
        return None if pct is None or resets is None else (pct, resets)

    def same_figures(self, other: Reading) -> bool:
        return (
            self.five_hour_pct == other.five_hour_pct
            and self.five_hour_resets == other.five_hour_resets
            and self.seven_day_pct == other.seven_day_pct
            and self.seven_day_resets == other.seven_day_resets
        )


class WindowStatus(_Record):
    """Where one window stands at a moment."""

    _fields = (
        "window",
        "used_pct",
        "resets_at",
        "elapsed_pct",
        "left_ms",
        "pace",
        "expired",
        "level",
    )
    __slots__ = _fields
    window: Window
    used_pct: float
    resets_at: int  # ms
    elapsed_pct: float  # how much of the window has passed
    left_ms: int  # until the reset
    pace: float | None  # used % over elapsed %: above 1, the limit comes before the reset
    expired: bool  # the reset has passed since the reading: the window started again
    level: Level


def percent(value: object) -> float | None:
    """A used percentage as Claude Code sends it, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        pct = float(value)
    except ValueError:
        return None
    if not math.isfinite(pct) or not 0 <= pct <= MAX_PERCENT:
        return None
    return pct


def resets_at_ms(value: object) -> int | None:
    """A reset time in epoch ms, from Unix seconds, milliseconds, or ISO text (without a zone:
    UTC); None for anything else, or a time before 2000 or after 2100."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            from datetime import UTC, datetime

            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            value = moment.timestamp() * 1000
        else:
            value = number
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    # seconds until the year 5138; milliseconds after
    ms = value * 1000 if value < 1e11 else value
    if not FIRST_MS <= ms <= LAST_MS:  # before 2000 or after 2100: not a reset time
        return None
    return int(ms)


def level_of(used_pct: float, elapsed_pct: float, pace: float | None) -> Level:
    """Green, yellow or red: red at 90 % used or at a pace over 1.25, yellow at 70 % or a pace
    over 1 (pace counts once a tenth of the window has passed)."""
    judged = pace if pace is not None and elapsed_pct >= PACE_AFTER else None
    if used_pct >= 90 or (judged is not None and judged > 1.25):
        return "high"
    if used_pct >= 70 or (judged is not None and judged > 1.0):
        return "warn"
    return "ok"


def window_status(window: Window, used_pct: float, resets_at: int, now_ms: int) -> WindowStatus:
    """Where a window stands at ``now_ms``, from its last reading."""
    length = WINDOW_MS[window]
    if now_ms >= resets_at:  # it reset since: nothing is known of the new window yet
        return WindowStatus(window, 0.0, resets_at, 100.0, 0, None, True, "ok")
    start = resets_at - length
    elapsed = min(max(now_ms - start, 0), length)
    elapsed_pct = 100.0 * elapsed / length
    pace = used_pct / elapsed_pct if elapsed_pct > 0 else None
    level = level_of(used_pct, elapsed_pct, pace)
    return WindowStatus(
        window, used_pct, resets_at, elapsed_pct, resets_at - now_ms, pace, False, level
    )


def current(readings: list[Reading], window: Window, now_ms: int) -> WindowStatus | None:
    """The window's status from the latest reading that has it."""
    for reading in sorted(readings, key=lambda r: r.ts, reverse=True):
        figures = reading.window(window)
        if figures is not None:
            return window_status(window, figures[0], figures[1], now_ms)
    return None


def duration(ms: int) -> str:
    """A short time left: ``3h12m``, ``45m``, ``2d4h``."""
    minutes = max(ms, 0) // 60_000
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{mins:02d}m"
    return f"{mins}m"


class WindowPeak(_Record):
    """One window (one reset time) and what its readings said: the last and the peak %."""

    _fields = (
        "window",
        "resets_at",
        "first_seen",
        "last_seen",
        "last_pct",
        "peak_pct",
        "readings",
    )
    __slots__ = _fields
    window: Window
    resets_at: int
    first_seen: int
    last_seen: int
    last_pct: float
    peak_pct: float
    readings: int


def windows_of(readings: list[Reading], window: Window) -> list[WindowPeak]:
    """Readings grouped by the window they describe (its reset time), oldest first."""
    groups: dict[int, list[tuple[int, float]]] = {}
    for r in readings:
        figures = r.window(window)
        if figures is not None:
            groups.setdefault(figures[1], []).append((r.ts, figures[0]))
    out = []
    for resets, seen in sorted(groups.items()):
        seen.sort()
        out.append(
            WindowPeak(
                window,
                resets,
                seen[0][0],
                seen[-1][0],
                seen[-1][1],
                max(p for _, p in seen),
                len(seen),
            )
        )
    return out


def subscription_value(api_cost: float, plan_price: float | None) -> float | None:
    """How many times its price a month of use was worth at API prices (None without a price)."""
    if not plan_price:
        return None
    return api_cost / plan_price
