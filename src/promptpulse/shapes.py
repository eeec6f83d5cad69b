"""The one definition of the JSON the collector prints and sends: ccusage's usage rows (with
its camelCase field names) and the upload batch, as msgspec structs. The collector builds its
upload rows from them; the server decodes upload request bodies into them, so a renamed or
retyped field is a type error on both sides at once. Pure: msgspec only, never the server.

Everything a client sends is bounded here, so the server's OpenAPI document shows the bounds
and a request outside them is refused with a 400 that names the field, before anything is
stored:

- token counts are whole numbers from 0 to ``MAX_TOKENS`` per row, entries up to
  ``MAX_ENTRIES``: a century of rows at the limit, summed, fits a 64-bit integer many times;
- costs are finite, from 0 to ``MAX_COST`` US dollars per row (a cost includes its web search
  cost, ``webSearchCost``); web search requests up to ``MAX_ENTRIES`` per row, 0 when a client
  (an older collector, ccusage) does not send them;
- days and instants fall between ``FIRST_DAY`` and ``LAST_DAY``;
- strings have a maximum length and no NUL character (PostgreSQL cannot store one);
- a model appears once per row;
- a limit reading's used percentages are from 0 to ``limits.MAX_PERCENT``, at most
  ``MAX_LIMIT_READINGS`` of them per batch.
"""

from __future__ import annotations

import datetime as dt
import operator
from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import Meta

from promptpulse import limits

MAX_TOKENS = 10**12  # per count per row: 1,000 times a very heavy day
MAX_ENTRIES = 10**7  # responses in one 5-hour block
MAX_COST = 1e9  # US dollars per row
MAX_LIMIT_READINGS = 10_000  # per batch: weeks of statusline readings
MAX_PLAN_USD = 100_000.0  # a month
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)
NO_NUL = r"^[^\x00]*$"

Count = Annotated[int, Meta(ge=0, le=MAX_TOKENS)]
Searches = Annotated[int, Meta(ge=0, le=MAX_ENTRIES)]  # web search requests per row
Entries = Annotated[int, Meta(ge=0, le=MAX_ENTRIES)]
Money = Annotated[float, Meta(ge=0, le=MAX_COST)]
MachineKey = Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Text = Annotated[str, Meta(max_length=500, pattern=NO_NUL)]
Hostname = Annotated[str, Meta(max_length=255, pattern=NO_NUL)]
_WINDOW = f"between {FIRST_DAY} and {LAST_DAY}"
Day = Annotated[dt.date, Meta(description=f"A day {_WINDOW}")]
# with a UTC offset, like ccusage prints them
Instant = Annotated[dt.datetime, Meta(tz=True, description=f"An instant {_WINDOW}")]


# the window as instants: the first and the last microsecond of it, in UTC
FIRST_INSTANT = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
LAST_INSTANT = dt.datetime.combine(LAST_DAY, dt.time.max, dt.UTC)


def check_instant(moment: dt.datetime | None, field: str) -> None:
    if moment is not None and not FIRST_INSTANT <= moment <= LAST_INSTANT:
        raise ValueError(f"{field}: {moment.isoformat()} is not {_WINDOW}")


def check_window(rows: str, field: str, values: list[Any], first: Any, last: Any) -> None:
    """Every value of a column (None aside) within ``first``…``last``: one ``min`` and one
    ``max`` over the column; only when they fall outside is the first row at fault looked for,
    to name it (``daily[3].date``)."""
    present = [v for v in values if v is not None]
    if not present or (first <= min(present) and max(present) <= last):
        return
    n, bad = next((n, v) for n, v in enumerate(values) if v is not None and not first <= v <= last)
    shown = bad.isoformat() if isinstance(bad, dt.date) else bad
    raise ValueError(f"{rows}[{n}].{field}: {shown} is not {_WINDOW}")


def check_models_once(rows: str, field: str, names: list[list[str]]) -> None:
    """No model twice in a row, for a column of rows at once: each row's names as a set is as
    long as the row (``map`` over the column, no Python per row unless one is at fault)."""
    if list(map(len, map(set, names))) == list(map(len, names)):
        return
    n = next(n for n, row in enumerate(names) if len(set(row)) != len(row))
    twice = sorted({m for m in names[n] if names[n].count(m) > 1})
    raise ValueError(f"{rows}[{n}].{field}: {', '.join(map(repr, twice))} listed more than once")


def check_rows(
    daily: list[UploadedDay],
    sessions: list[UploadedSession] | None = None,
    blocks: list[UploadedBlock] | None = None,
) -> None:
    """The bounds of an uploaded batch's rows that a type cannot say, checked a column at a
    time: days and instants in the window, a block's end not before its start, each model
    once per row."""
    sessions, blocks = sessions or [], blocks or []
    check_window("daily", "date", [d.date for d in daily], FIRST_DAY, LAST_DAY)
    check_models_once(
        "daily", "modelBreakdowns", [[m.model_name for m in d.model_breakdowns] for d in daily]
    )
    for name in ("first_activity", "last_activity"):
        values = [getattr(x, name) for x in sessions]
        check_window("sessions", _camel(name), values, FIRST_INSTANT, LAST_INSTANT)
    check_models_once(
        "sessions",
        "modelBreakdowns",
        [[m.model_name for m in x.model_breakdowns] for x in sessions],
    )
    starts = [b.start_time for b in blocks]
    ends = [b.end_time for b in blocks]
    check_window("blocks", "startTime", starts, FIRST_INSTANT, LAST_INSTANT)
    check_window("blocks", "endTime", ends, FIRST_INSTANT, LAST_INSTANT)
    actual = [b.actual_end_time for b in blocks]
    check_window("blocks", "actualEndTime", actual, FIRST_INSTANT, LAST_INSTANT)
    if any(map(operator.lt, ends, starts)):
        n = next(n for n, (start, end) in enumerate(zip(starts, ends, strict=True)) if end < start)
        raise ValueError(f"blocks[{n}].endTime: before startTime")
    check_models_once("blocks", "models", [b.models for b in blocks])


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    pass


# --- usage rows (ccusage's shapes) -------------------------------------------------------------
# The report commands print these (``report ... --json``), the collector uploads them, and the
# server takes them from the collector and from ``ccusage daily --json``.

RowTokens = Annotated[int, Meta(ge=0, le=4 * MAX_TOKENS)]  # the four counts of a row, summed


class TokenCounts(Camel, kw_only=True):
    """The four token counts and the web searches, as a model, a row and the totals have them."""

    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    web_search_requests: Searches = 0
    web_search_cost: Money = 0.0


class ModelBreakdown(TokenCounts, kw_only=True):
    model_name: Name
    cost: Money = 0.0  # web search included


class Usage(TokenCounts, kw_only=True):
    """What a day, week, month or session used, in all and per model."""

    total_tokens: RowTokens = 0
    total_cost: Money = 0.0
    models_used: list[Name] = []
    model_breakdowns: list[ModelBreakdown] = []


class DailyRow(Usage, kw_only=True):
    """A ``ccusage daily --json`` row. Rows without ``modelBreakdowns`` (older ccusage) are
    stored under the model ``unknown`` with their totals."""

    date: Day


class UploadedDay(DailyRow, kw_only=True):
    """A daily row as a client sends it: its day in the window, each model once (checked for
    the whole batch at once, ``check_rows``)."""


class WeeklyRow(Usage, kw_only=True):
    week: str  # the day it starts


class MonthlyRow(Usage, kw_only=True):
    month: str  # YYYY-MM


class Totals(TokenCounts, kw_only=True):
    total_tokens: Count = 0
    total_cost: Money = 0.0


class SessionRow(Usage, kw_only=True):
    session_id: Name
    project_path: Text
    first_activity: Instant
    last_activity: Instant


class UploadedSession(SessionRow, kw_only=True):
    """A session row as a client sends it: its instants in the window, each model once
    (``check_rows``)."""


class BlockTokens(Camel):
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_input_tokens: Count = 0
    cache_read_input_tokens: Count = 0


class BlockRow(Camel):
    start_time: Instant
    end_time: Instant
    actual_end_time: Instant | None = None
    entries: Entries = 0
    token_counts: BlockTokens = msgspec.field(default_factory=BlockTokens)
    cost_usd: Money = msgspec.field(default=0.0, name="costUSD")
    models: list[Name] = []
    id: Annotated[str, Meta(max_length=64, pattern=NO_NUL)] = ""
    is_active: bool = False
    is_gap: bool = False
    total_tokens: RowTokens = 0
    web_search_requests: Searches = 0
    web_search_cost: Money = 0.0


class UploadedBlock(BlockRow):
    """A block as a client sends it: its instants in the window, in order, each model once
    (``check_rows``)."""


Percent = Annotated[float, Meta(ge=0, le=limits.MAX_PERCENT)]


class LimitWindowIn(Camel):
    """One window of a reading: how much of it is used, and when it starts again."""

    used_percentage: Percent
    resets_at: Instant

    def __post_init__(self) -> None:
        check_instant(self.resets_at, "resetsAt")


class UploadedLimit(Camel):
    """One official reading of the plan's limits, as Claude Code gave it to the statusline."""

    recorded_at: Instant
    five_hour: LimitWindowIn | None = None
    seven_day: LimitWindowIn | None = None
    session_id: Name | None = None
    model: Name | None = None

    def __post_init__(self) -> None:
        check_instant(self.recorded_at, "recordedAt")


# limits.PLANS, spelled out: msgspec needs the Literal at run time, and promptpulse.limits
# keeps typing out of the statusline's imports (a test holds the two equal)
PlanName = Literal["pro", "max5", "max20", "team", "api"]


class PlanIn(Camel):
    """The user's Claude plan; ``monthlyUsd`` null: its list price (``api``: pay as you go)."""

    name: PlanName
    monthly_usd: Annotated[float, Meta(ge=0, le=MAX_PLAN_USD)] | None = None


class MachineIn(Camel):
    id: MachineKey
    hostname: Hostname = ""


class UploadBatch(Camel):
    """What the collector sends: rows of one machine. A batch id seen before changes nothing;
    a row replaces the machine's row of the same day, session or block unless that one came
    from a newer batch."""

    batch_id: Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)]
    machine: MachineIn
    generated_at: Instant
    daily: list[UploadedDay] = []
    sessions: list[UploadedSession] = []
    blocks: list[UploadedBlock] = []
    # both optional: a collector from before plan limits sends neither
    plan: PlanIn | None = None
    limits: Annotated[list[UploadedLimit], Meta(max_length=MAX_LIMIT_READINGS)] = []

    def __post_init__(self) -> None:
        check_instant(self.generated_at, "generatedAt")
        check_rows(self.daily, self.sessions, self.blocks)


class CcusageDaily(Camel):
    """The body of ``ccusage daily --json`` (v18 and v20)."""

    daily: list[UploadedDay]
    totals: Totals | None = None

    def __post_init__(self) -> None:
        check_rows(self.daily)


# --- the reports' documents --------------------------------------------------------------------


class DailyReport(Camel):
    """``report daily --json``, and the server's ``/api/usage/daily``."""

    daily: list[DailyRow]
    totals: Totals


class WeeklyReport(Camel):
    weekly: list[WeeklyRow]
    totals: Totals


class MonthlyReport(Camel):
    monthly: list[MonthlyRow]
    totals: Totals


class SessionReport(Camel):
    sessions: list[SessionRow]
    totals: Totals


class BurnRate(Camel):
    tokens_per_minute: float
    tokens_per_minute_for_indicator: float
    cost_per_hour: float


class Projection(Camel):
    total_tokens: int
    total_cost: float
    remaining_minutes: int


class TokenLimitStatus(Camel):
    limit: int
    projected_usage: int
    percent_used: float
    status: Literal["ok", "warning", "exceeds"]


class ReportBlock(BlockRow):
    """A block as ``report blocks --json`` prints it; ``tokenLimitStatus`` only with a token
    limit and a projection."""

    burn_rate: BurnRate | None = None
    projection: Projection | None = None
    token_limit_status: TokenLimitStatus | msgspec.UnsetType = msgspec.UNSET


class BlockReport(Camel):
    blocks: list[ReportBlock]


def to_json(shape: msgspec.Struct) -> dict[str, Any]:
    """A shape as JSON-ready builtins, its instants the way ccusage prints them: UTC, to the
    millisecond, with a ``Z``."""
    return cast(dict[str, Any], _instants(msgspec.to_builtins(shape, builtin_types=(dt.datetime,))))


def _instants(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_instants(v) for v in value]
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return value
