"""Request and response bodies (msgspec structs), with ccusage's field names in JSON.

Token counts are whole numbers of at least 0 and costs are at least 0: anything else is refused
with a 400 that names the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Count = Annotated[int, Meta(ge=0)]
Money = Annotated[float, Meta(ge=0)]
Username = Annotated[str, Meta(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")]
Label = Annotated[str, Meta(min_length=1, max_length=100)]
MachineKey = Annotated[str, Meta(min_length=1, max_length=200)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Instant = Annotated[dt.datetime, Meta(tz=True)]  # with a UTC offset, like ccusage prints them


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    pass


# --- usage rows (ccusage's shapes) -------------------------------------------------------------


class ModelBreakdown(Camel):
    model_name: Name
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    cost: Money = 0.0


class DailyRow(Camel):
    """A ``ccusage daily --json`` row. Rows without ``modelBreakdowns`` (older ccusage) are
    stored under the model ``unknown`` with their totals."""

    date: dt.date
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    total_tokens: Count = 0
    total_cost: Money = 0.0
    models_used: list[str] = []
    model_breakdowns: list[ModelBreakdown] = []


class Totals(Camel):
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    total_tokens: Count = 0
    total_cost: Money = 0.0


class SessionRow(Camel):
    session_id: Name
    project_path: Annotated[str, Meta(max_length=500)]
    first_activity: Instant
    last_activity: Instant
    model_breakdowns: list[ModelBreakdown] = []
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    total_tokens: Count = 0
    total_cost: Money = 0.0
    models_used: list[str] = []


class BlockTokens(Camel):
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_input_tokens: Count = 0
    cache_read_input_tokens: Count = 0


class BlockRow(Camel):
    start_time: Instant
    end_time: Instant
    actual_end_time: Instant | None = None
    entries: Count = 0
    token_counts: BlockTokens = msgspec.field(default_factory=BlockTokens)
    cost_usd: Money = msgspec.field(default=0.0, name="costUSD")
    models: list[str] = []
    id: str = ""
    is_active: bool = False
    is_gap: bool = False
    total_tokens: Count = 0

    def __post_init__(self) -> None:
        if self.end_time < self.start_time:
            raise ValueError("endTime is before startTime")


class MachineIn(Camel):
    id: MachineKey
    hostname: Annotated[str, Meta(max_length=255)] = ""


class UploadBatch(Camel):
    """What the collector sends: rows of one machine. A batch id seen before changes nothing;
    a row replaces the machine's row of the same day, session or block unless that one came
    from a newer batch."""

    batch_id: Annotated[str, Meta(min_length=1, max_length=64)]
    machine: MachineIn
    generated_at: Instant
    daily: list[DailyRow] = []
    sessions: list[SessionRow] = []
    blocks: list[BlockRow] = []


class CcusageDaily(Camel):
    """The body of ``ccusage daily --json`` (v18 and v20)."""

    daily: list[DailyRow]
    totals: Totals | None = None


class UploadResult(Camel):
    batch_id: str
    duplicate: bool
    daily: int
    sessions: int
    blocks: int


# --- users and keys ----------------------------------------------------------------------------


class NewUser(Camel):
    username: Username
    display_name: Annotated[str, Meta(max_length=100)] | None = None


class UserOut(Camel):
    username: str
    display_name: str
    created_at: dt.datetime
    leaderboard_opt_in: bool
    timezone: str
    share_with_team: bool


class CreatedUser(Camel):
    username: str
    display_name: str
    api_key: str  # shown once


class UserUpdate(Camel):
    display_name: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    leaderboard_opt_in: bool | None = None
    timezone: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    share_with_team: bool | None = None


class NewKey(Camel):
    label: Label = "collector"


class KeyOut(Camel):
    id: int
    label: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class CreatedKey(Camel):
    id: int
    label: str
    api_key: str  # shown once


# --- reports -----------------------------------------------------------------------------------


class DailyReport(Camel):
    daily: list[DailyRow]
    totals: Totals


class MachineOut(Camel):
    id: str
    hostname: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    total_tokens: int
    total_cost: float


class MachineList(Camel):
    machines: list[MachineOut]


class SessionList(Camel):
    sessions: list[SessionRow]


class BlockList(Camel):
    blocks: list[BlockRow]


class PatternPoint(Camel):
    key: int  # hour 0-23, or weekday 0 (Monday) - 6 (Sunday)
    total_tokens: int
    total_cost: float


class Patterns(Camel):
    period: Literal["day", "week"]
    timezone: str
    points: list[PatternPoint]


class CostItem(Camel):
    key: str
    total_tokens: int
    total_cost: float


class CostReport(Camel):
    group_by: Literal["project", "model", "machine", "day"]
    items: list[CostItem]


class LeaderboardEntry(Camel):
    rank: int
    username: str
    display_name: str
    total_tokens: int
    total_cost: float


class Leaderboard(Camel):
    period: Literal["today", "week", "month", "all"]
    by: Literal["cost", "tokens"]
    entries: list[LeaderboardEntry]


class Health(Camel):
    status: str
    database: str


class LoginLinkOut(Camel):
    """A one-time link that logs a browser into the dashboard."""

    url: str
    path: str
    expires_at: dt.datetime
