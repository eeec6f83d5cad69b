"""Request and response bodies (msgspec structs), with ccusage's field names in JSON.

Everything a client sends is bounded here, so the OpenAPI document shows the bounds and a
request outside them is refused with a 400 that names the field, before anything is stored:

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
from typing import Annotated, Literal

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
Username = Annotated[str, Meta(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")]
Label = Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)]
MachineKey = Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Text = Annotated[str, Meta(max_length=500, pattern=NO_NUL)]
Hostname = Annotated[str, Meta(max_length=255, pattern=NO_NUL)]
DisplayName = Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)]
_WINDOW = f"between {FIRST_DAY} and {LAST_DAY}"
Day = Annotated[dt.date, Meta(description=f"A day {_WINDOW}")]
# with a UTC offset, like ccusage prints them
Instant = Annotated[dt.datetime, Meta(tz=True, description=f"An instant {_WINDOW}")]


def check_day(day: dt.date, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{field}: {day} is not {_WINDOW}")


def check_instant(moment: dt.datetime | None, field: str) -> None:
    if moment is not None and not FIRST_DAY <= moment.astimezone(dt.UTC).date() <= LAST_DAY:
        raise ValueError(f"{field}: {moment.isoformat()} is not {_WINDOW}")


def check_unique_models(names: list[str], field: str) -> None:
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{field}: {', '.join(map(repr, twice))} listed more than once")


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    pass


# --- usage rows (ccusage's shapes) -------------------------------------------------------------


class ModelBreakdown(Camel):
    model_name: Name
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    cost: Money = 0.0  # web search included
    web_search_requests: Searches = 0
    web_search_cost: Money = 0.0


class DailyRow(Camel):
    """A ``ccusage daily --json`` row. Rows without ``modelBreakdowns`` (older ccusage) are
    stored under the model ``unknown`` with their totals."""

    date: Day
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    total_tokens: Annotated[int, Meta(ge=0, le=4 * MAX_TOKENS)] = 0
    total_cost: Money = 0.0
    models_used: list[Name] = []
    model_breakdowns: list[ModelBreakdown] = []
    web_search_requests: Searches = 0
    web_search_cost: Money = 0.0


class UploadedDay(DailyRow):
    """A daily row as a client sends it: its day in the window, each model once."""

    def __post_init__(self) -> None:
        check_day(self.date, "date")
        check_unique_models([m.model_name for m in self.model_breakdowns], "modelBreakdowns")


class Totals(Camel):
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    total_tokens: Count = 0
    total_cost: Money = 0.0
    web_search_requests: Searches = 0
    web_search_cost: Money = 0.0


class SessionRow(Camel):
    session_id: Name
    project_path: Text
    first_activity: Instant
    last_activity: Instant
    model_breakdowns: list[ModelBreakdown] = []
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_creation_tokens: Count = 0
    cache_read_tokens: Count = 0
    total_tokens: Annotated[int, Meta(ge=0, le=4 * MAX_TOKENS)] = 0
    total_cost: Money = 0.0
    models_used: list[Name] = []
    web_search_requests: Searches = 0
    web_search_cost: Money = 0.0


class UploadedSession(SessionRow):
    """A session row as a client sends it: its instants in the window, each model once."""

    def __post_init__(self) -> None:
        check_instant(self.first_activity, "firstActivity")
        check_instant(self.last_activity, "lastActivity")
        check_unique_models([m.model_name for m in self.model_breakdowns], "modelBreakdowns")


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
    total_tokens: Annotated[int, Meta(ge=0, le=4 * MAX_TOKENS)] = 0
    web_search_requests: Searches = 0
    web_search_cost: Money = 0.0


class UploadedBlock(BlockRow):
    """A block as a client sends it: its instants in the window, in order, each model once."""

    def __post_init__(self) -> None:
        check_instant(self.start_time, "startTime")
        check_instant(self.end_time, "endTime")
        check_instant(self.actual_end_time, "actualEndTime")
        if self.end_time < self.start_time:
            raise ValueError("endTime is before startTime")
        check_unique_models(self.models, "models")


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


class CcusageDaily(Camel):
    """The body of ``ccusage daily --json`` (v18 and v20)."""

    daily: list[UploadedDay]
    totals: Totals | None = None


class BudgetStanding(Camel):
    """A budget with a threshold crossed in its current period, as an upload's answer gives it
    (the collector warns when ``percent`` is 100 or more)."""

    id: int
    team_id: int | None
    kind: Literal["cost", "limit"]
    period: Literal["day", "week", "month"] | None
    window: Literal["five_hour", "seven_day"] | None
    used: float  # US dollars (cost), or percent of the window (limit)
    limit: float  # the budget's dollars, or 100
    percent: float
    crossed: list[int]  # the thresholds passed, lowest first


class UploadResult(Camel):
    batch_id: str
    duplicate: bool
    daily: int
    sessions: int
    blocks: int
    limits: int = 0  # limit readings newly stored
    budgets: list[BudgetStanding] = []  # your budgets (and your teams') past a threshold now


# --- users and keys ----------------------------------------------------------------------------


InviteCode = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class NewUser(Camel):
    username: Username
    display_name: Annotated[str, Meta(max_length=100, pattern=NO_NUL)] | None = None
    invite_code: InviteCode | None = None


class UserOut(Camel):
    username: str
    display_name: str
    created_at: dt.datetime
    leaderboard_opt_in: bool
    timezone: str
    share_with_team: bool
    is_admin: bool = False
    spike_alerts: bool = True
    default_view: Literal["me", "all"] = "me"


class CreatedUser(Camel):
    username: str
    display_name: str
    api_key: str  # shown once
    is_admin: bool = False
    teams: list[TeamOut] = []


class Signup(Camel):
    """Who may sign up here: ``invite`` (a code is needed), ``open`` or ``closed``."""

    mode: Literal["invite", "open", "closed"]
    invite_required: bool


# --- teams -------------------------------------------------------------------------------------

# something besides blanks, and no NUL
TeamName = Annotated[
    str, Meta(min_length=1, max_length=100, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")
]
Role = Literal["owner", "admin", "member"]


class TeamOut(Camel):
    id: int
    name: str
    slug: str
    role: Role | None  # the caller's (None: a server admin who is no member)
    members: int
    created_at: dt.datetime


class TeamList(Camel):
    teams: list[TeamOut]


class NewTeam(Camel):
    name: TeamName


class MemberOut(Camel):
    user_id: int
    username: str
    display_name: str
    role: Role
    joined_at: dt.datetime


class MemberList(Camel):
    members: list[MemberOut]


class RoleChange(Camel):
    role: Role


class NewInvite(Camel):
    max_uses: Annotated[int, Meta(ge=1, le=1000)] = 10
    expires_in_hours: Annotated[int, Meta(ge=1, le=720)] = 168


class InviteOut(Camel):
    code: str
    url: str
    team_id: int | None
    created_at: dt.datetime
    expires_at: dt.datetime
    max_uses: int
    uses: int
    revoked: bool


class InviteList(Camel):
    invites: list[InviteOut]


class TeamPreview(Camel):
    name: str
    slug: str
    members: int


class InvitePreview(Camel):
    team: TeamPreview | None
    expires_at: dt.datetime


class AccountOut(Camel):
    id: int
    username: str
    display_name: str
    is_admin: bool
    disabled: bool
    created_at: dt.datetime
    last_active: dt.datetime | None


class AccountList(Camel):
    users: list[AccountOut]


class ServerSettings(Camel):
    signup_mode: Literal["invite", "open", "closed"]
    team_creation: Literal["anyone", "admins"]


class UserUpdate(Camel):
    display_name: DisplayName | None = None
    leaderboard_opt_in: bool | None = None
    timezone: Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)] | None = None
    share_with_team: bool | None = None
    spike_alerts: bool | None = None
    default_view: Literal["me", "all"] | None = None  # whose usage the dashboard opens on


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


class LeaderboardEntry(Camel, omit_defaults=True):
    rank: int
    display_name: str
    total_tokens: int
    total_cost: float
    username: str | None = None  # a team's board only; the public one shows display names


class Leaderboard(Camel):
    period: Literal["today", "week", "month", "all"]
    by: Literal["cost", "tokens"]
    entries: list[LeaderboardEntry]


class LimitWindow(Camel):
    used_percentage: float
    resets_at: dt.datetime


class PlanOut(Camel):
    """The plan the collector last reported; ``monthlyUsd``: its price (null: pay as you go)."""

    name: str
    monthly_usd: float | None


class LimitReadingOut(Camel):
    recorded_at: dt.datetime
    five_hour: LimitWindow | None
    seven_day: LimitWindow | None
    session_id: str | None
    model: str | None


class LimitReadings(Camel):
    plan: PlanOut | None
    readings: list[LimitReadingOut]


class WindowStatusOut(Camel):
    """Where a window stands now, from its latest reading: ``pace`` is used % over elapsed %
    (above 1, the limit comes before the reset); ``expired``: the window has reset since."""

    used_percentage: float
    resets_at: dt.datetime
    recorded_at: dt.datetime
    elapsed_percentage: float
    pace: float | None
    time_left_seconds: int
    expired: bool
    level: Literal["ok", "warn", "high"]


class CurrentLimits(Camel):
    plan: PlanOut | None
    five_hour: WindowStatusOut | None
    seven_day: WindowStatusOut | None


class TeamRef(Camel):
    id: int
    name: str
    slug: str


class MemberLimits(Camel):
    username: str
    display_name: str
    five_hour: WindowStatusOut | None
    seven_day: WindowStatusOut | None


class TeamLimits(Camel):
    team: TeamRef
    members: list[MemberLimits]


class Health(Camel):
    status: str
    database: str


class LoginLinkOut(Camel):
    """A one-time link that logs a browser into the dashboard."""

    url: str
    path: str
    expires_at: dt.datetime


class ErrorOut(Camel):
    """Every 4xx answer: the status, what is wrong (naming the field), and for a body that
    failed validation, each problem with its field as ``key``."""

    status_code: int = msgspec.field(name="status_code")
    detail: str
    extra: list[dict[str, str]] | dict[str, str] | None = None


# --- budgets and alerts ------------------------------------------------------------------------

MAX_BUDGET_USD = 1_000_000.0
MAX_THRESHOLDS = 10
Threshold = Annotated[int, Meta(ge=1, le=1000, description="A percent of the budget, 1 to 1000")]
Thresholds = Annotated[list[Threshold], Meta(min_length=1, max_length=MAX_THRESHOLDS)]
WebhookUrl = Annotated[
    str,
    Meta(
        min_length=10,
        max_length=2000,
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\x00]+$",
        description="An http or https URL",
    ),
]
EmailAddress = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=254,
        pattern=r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$",
        description="One e-mail address",
    ),
]
TeamId = Annotated[int, Meta(ge=1, le=2**31 - 1)]


def check_thresholds(values: list[int]) -> None:
    if len(set(values)) != len(values):
        raise ValueError("thresholds: each percent once")


class WebhookIn(Camel, tag_field="type", tag="webhook"):
    """A webhook: Slack-compatible (``{"text"}``), Discord-compatible (``{"content"}``) or
    generic JSON, signed with ``X-Promptpulse-Signature: sha256=<hex>`` when a secret is set."""

    url: WebhookUrl
    format: Literal["slack", "discord", "json"] = "json"
    secret: Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)] | None = None

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 (raises on a port out of range)
        except ValueError as exc:
            raise ValueError("channel.url: not a URL") from exc
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("channel.url: an http or https URL with a host")


class EmailIn(Camel, tag_field="type", tag="email"):
    """E-mail over the server's SMTP (``PROMPTPULSE_SMTP_URL``)."""

    to: EmailAddress


Channel = WebhookIn | EmailIn


class CostBudgetIn(Camel, tag_field="kind", tag="cost"):
    """A cost per day, week (from Monday) or month, counted in your time zone (a team's: its
    owner's)."""

    period: Literal["day", "week", "month"]
    amount_usd: Annotated[float, Meta(gt=0, le=MAX_BUDGET_USD)]
    channel: Channel
    thresholds: Thresholds = msgspec.field(default_factory=lambda: [80, 100])
    team_id: TeamId | None = None

    def __post_init__(self) -> None:
        check_thresholds(self.thresholds)


class LimitBudgetIn(Camel, tag_field="kind", tag="limit"):
    """Thresholds on the official used % of a limit window."""

    window: Literal["five_hour", "seven_day"]
    channel: Channel
    thresholds: Thresholds = msgspec.field(default_factory=lambda: [80, 95])
    team_id: TeamId | None = None

    def __post_init__(self) -> None:
        check_thresholds(self.thresholds)


BudgetIn = CostBudgetIn | LimitBudgetIn


class ChannelOut(Camel, omit_defaults=True):
    """A channel as it is shown: a webhook's secret only as ``"set"``; its URL without user or
    password (team members who do not manage the team see neither URL nor address)."""

    type: Literal["webhook", "email"]
    url: str | None = None
    format: Literal["slack", "discord", "json"] | None = None
    secret: Literal["set"] | None = None
    to: str | None = None


class BudgetOut(Camel):
    """A budget and where it stands now: ``used`` (dollars, or the window's %), ``percent`` of
    the budget, the current period's key (its first day, or the window's reset time)."""

    id: int
    team_id: int | None
    kind: Literal["cost", "limit"]
    period: Literal["day", "week", "month"] | None
    window: Literal["five_hour", "seven_day"] | None
    amount_usd: float | None
    thresholds: list[int]
    channel: ChannelOut
    created_at: dt.datetime
    used: float | None
    limit: float | None
    percent: float | None
    period_key: str | None
    crossed: list[int]


class BudgetList(Camel):
    budgets: list[BudgetOut]


class DeliveryOut(Camel):
    """One attempt to deliver something, by ``kind``: a budget's ``alert``, a ``test`` of a
    budget's channel (``test`` is true), a ``digest``, or a ``spike`` (through a budget's
    channel, or, for a user without budgets, a digest's)."""

    id: int
    kind: Literal["alert", "test", "digest", "spike"]
    budget_id: int | None
    digest_id: int | None
    team_id: int | None
    alert_id: int | None
    test: bool
    period_key: str | None
    threshold: int | None
    used: float | None
    limit: float | None
    percent: float | None
    attempt: int
    at: dt.datetime
    status: Literal["ok", "error"]
    error: str | None


class DeliveryList(Camel):
    deliveries: list[DeliveryOut]


# --- the audit log -------------------------------------------------------------------------------


class AuditEntryOut(Camel):
    id: int
    at: dt.datetime
    action: str
    actor: str | None  # a username (None: the command line, or nobody known)
    subject: str | None  # whose account it concerns, when not the actor's
    team_id: int | None
    detail: str
    via: Literal["api", "web", "cli"]
    ip: str | None
    user_agent: str | None


class AuditList(Camel):
    entries: list[AuditEntryOut]
    next_before: int | None  # pass as ``before`` for the next page (None: no more)
