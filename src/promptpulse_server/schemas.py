"""Request and response bodies (msgspec structs), with ccusage's field names in JSON.

The upload bodies (``UploadBatch``, ``CcusageDaily``) and ccusage's usage rows are defined
once, in ``promptpulse.shapes``, with their bounds; the collector builds what it sends from
the same structs. Everything else a client sends is bounded here too, so the OpenAPI document
shows the bounds and a request outside them is refused with a 400 that names the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# the upload bodies and ccusage's rows are promptpulse.shapes, shared with the collector
from promptpulse import shapes
from promptpulse.shapes import MAX_ENTRIES as MAX_ENTRIES
from promptpulse.shapes import NO_NUL as NO_NUL
from promptpulse.shapes import PlanName as PlanName


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    pass


Username = Annotated[str, Meta(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")]
Label = Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)]
DisplayName = Annotated[str, Meta(min_length=1, max_length=100, pattern=NO_NUL)]


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
    sessions: list[shapes.SessionRow]


class BlockList(Camel):
    blocks: list[shapes.BlockRow]


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
