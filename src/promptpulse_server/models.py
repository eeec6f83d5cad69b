"""The tables. Singular snake_case names; instants are stored in UTC and come back aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import func
from sqlalchemy.sql.expression import false, true


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database (SQLite keeps no zone; PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    leaderboard_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # shown in the team view to everyone on this server (a team server's point; can be turned off)
    share_with_team: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # an alert when a day costs far more than usual (alerts.spike); on unless turned off
    spike_alerts: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # whose usage the dashboard's pages open on: "me" or "all" (everyone the viewer may see)
    default_view: Mapped[str] = mapped_column(String(10), default="me", server_default="me")
    # a server admin sees everyone and manages accounts; the first account is one
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # a disabled account's keys and dashboard sessions stop working at once
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the Claude plan the collector last reported (pro, max5, max20, team, api), its monthly
    # price in USD (None: the plan's list price, or pay-as-you-go) and the generatedAt of the
    # batch that said so: an older batch sent late does not overwrite a newer plan
    plan: Mapped[str | None] = mapped_column(String(10), nullable=True)
    plan_monthly_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    plan_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# usernames are unique without regard to case: "bob" and "BOB" racing each other make one account
Index("uq_user_account_username_lower", func.lower(User.username), unique=True)


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    prefix: Mapped[str] = mapped_column(String(16))  # shown to tell keys apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_api_key_user", "user_id"),)


class Machine(Base):
    __tablename__ = "machine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    machine_key: Mapped[str] = mapped_column(String(200))  # the collector's machine id
    hostname: Mapped[str] = mapped_column(String(255))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("user_id", "machine_key"),)


class DailyUsage(Base):
    """One machine's usage of one model on one day (the machine's local day)."""

    __tablename__ = "daily_usage"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_creation_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[float] = mapped_column(Float)  # web search included
    web_search_requests: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    web_search_cost: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("machine_id", "date", "model"),
        # the dashboard's period sums read this index alone (migration 0013)
        Index(
            "ix_daily_usage_period",
            "date",
            "model",
            "machine_id",
            "input_tokens",
            "output_tokens",
            "cache_creation_tokens",
            "cache_read_tokens",
            "cost",
            "web_search_requests",
            "web_search_cost",
        ),
    )


class SessionUsage(Base):
    """One machine's usage of one model in one Claude Code session."""

    __tablename__ = "session_usage"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"))
    project: Mapped[str] = mapped_column(String(500))
    session_id: Mapped[str] = mapped_column(String(200))
    first_activity: Mapped[datetime] = mapped_column(UTCDateTime())
    last_activity: Mapped[datetime] = mapped_column(UTCDateTime())
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_creation_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[float] = mapped_column(Float)  # web search included
    web_search_requests: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    web_search_cost: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("machine_id", "project", "session_id", "model"),
        Index("ix_session_usage_last", "last_activity"),
        # the filters' projects of a period, by machine and time (migration 0013)
        Index("ix_session_usage_machine_last", "machine_id", "last_activity", "project"),
    )


class BlockUsage(Base):
    """One machine's 5-hour billing block."""

    __tablename__ = "block_usage"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    last_entry: Mapped[datetime] = mapped_column(UTCDateTime())
    entries: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_creation_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[float] = mapped_column(Float)  # web search included
    web_search_requests: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    web_search_cost: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    models: Mapped[list[str]] = mapped_column(JSON)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("machine_id", "start"),
        Index("ix_block_usage_end", "end"),  # the running blocks: end > now
    )


class Upload(Base):
    """The upload log: one row per accepted batch; a batch id seen before changes nothing."""

    __tablename__ = "upload"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    machine_id: Mapped[int] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))  # "collector" or "ccusage"
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    daily_rows: Mapped[int] = mapped_column(Integer)
    session_rows: Mapped[int] = mapped_column(Integer)
    block_rows: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("machine_id", "batch_id"),)


class LimitReading(Base):
    """One official reading of the plan's limits (Claude Code's statusline ``rate_limits``): the
    5-hour and 7-day windows' used % and reset times. A limit belongs to the Claude account,
    not to a machine: readings of all of a user's machines merge by time, one per instant."""

    __tablename__ = "limit_reading"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # the machine that reported it first (kept when the machine goes)
    machine_id: Mapped[int | None] = mapped_column(
        ForeignKey("machine.id", ondelete="SET NULL"), nullable=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    five_hour_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    five_hour_resets_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    seven_day_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    seven_day_resets_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)

    # the unique key is also the index of a user's readings by time
    __table_args__ = (UniqueConstraint("user_id", "recorded_at"),)


class WebSession(Base):
    """A browser's login to the dashboard; the cookie holds the token, the table its hash. It
    lives only as long as the API key that opened it (directly, or through a login link)."""

    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (Index("ix_web_session_user", "user_id"),)


class LoginLink(Base):
    """A one-time, short-lived link that logs a browser in (``promptpulse dashboard``)."""

    __tablename__ = "login_link"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    __table_args__ = (Index("ix_login_link_user", "user_id"),)


class Team(Base):
    """People who see each other's usage. Members have one role each: owner, admin or member."""

    __tablename__ = "team"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Membership(Base):
    __tablename__ = "membership"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(10))  # owner | admin | member
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (
        UniqueConstraint("team_id", "user_id"),
        Index("ix_membership_user", "user_id"),
    )


class Invite(Base):
    """A code that lets people sign up (in ``invite`` mode) and, with a team, join it. It
    expires, has a use limit and can be revoked."""

    __tablename__ = "invite"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), nullable=True
    )
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    __table_args__ = (Index("ix_invite_team", "team_id"),)


class Budget(Base):
    """A user's or a team's budget: a cost per day, week or month (``amount_usd``), or a
    threshold on an official limit window (``five_hour``, ``seven_day``), with the percents
    that alert (``thresholds``) and where alerts go (``channel``, JSON; a webhook's secret is
    kept here and never shown)."""

    __tablename__ = "budget"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # exactly one of user_id and team_id
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # cost | limit
    period: Mapped[str | None] = mapped_column(String(10), nullable=True)  # day | week | month
    window: Mapped[str | None] = mapped_column(String(10), nullable=True)  # five_hour | seven_day
    amount_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    thresholds: Mapped[list[int]] = mapped_column(JSON)
    channel: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (Index("ix_budget_user", "user_id"), Index("ix_budget_team", "team_id"))


class Alert(Base):
    """A threshold of a budget crossed in one period. The unique key (budget, period, threshold)
    makes each fire once: whoever inserts the row delivers it, every other upload (a retry, a
    second server process) finds it there and does nothing."""

    __tablename__ = "alert"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budget.id", ondelete="CASCADE"))
    # the period's first day (cost), or the window's reset instant (limit), with the member's
    # id for a team's limit budget
    period_key: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[int] = mapped_column(Integer)
    # whose usage crossed it (a team's limit budget alerts per member)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    used: Mapped[float] = mapped_column(Float)  # dollars, or percent of the window
    limit_amount: Mapped[float] = mapped_column(Float)  # the budget's dollars, or 100 (percent)
    percent: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(10))  # pending | sent | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (UniqueConstraint("budget_id", "period_key", "threshold"),)


class Delivery(Base):
    """One attempt to deliver an alert (or a test message: no alert) through a budget's
    channel; the error says what went wrong without the channel's secret or credentials."""

    __tablename__ = "delivery"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # exactly one of budget_id (an alert or a test) and digest_id (a digest)
    budget_id: Mapped[int | None] = mapped_column(
        ForeignKey("budget.id", ondelete="CASCADE"), nullable=True
    )
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digest.id", ondelete="CASCADE"), nullable=True
    )
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert.id", ondelete="CASCADE"), nullable=True
    )
    # a spike told through a digest's channel (its user has no budget): with digest_id
    spike_id: Mapped[int | None] = mapped_column(
        ForeignKey("spike_alert.id", ondelete="CASCADE"), nullable=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))  # ok | error
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    __table_args__ = (
        Index("ix_delivery_budget", "budget_id"),
        Index("ix_delivery_digest", "digest_id"),
    )


class Digest(Base):
    """A subscription to a daily or weekly summary of a user's or a team's usage, sent by
    ``promptpulse-server send-digests`` through ``channel`` (JSON, as a budget's)."""

    __tablename__ = "digest"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # exactly one of user_id and team_id
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), nullable=True
    )
    period: Mapped[str] = mapped_column(String(10))  # daily | weekly
    channel: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (Index("ix_digest_user", "user_id"), Index("ix_digest_team", "team_id"))


class DigestSent(Base):
    """A digest's period, claimed before it is sent: unique by (digest, period's first day),
    so that a digest is never sent twice for a period, whoever runs send-digests."""

    __tablename__ = "digest_sent"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digest.id", ondelete="CASCADE"))
    period_start: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10))  # pending | sent | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (UniqueConstraint("digest_id", "period_start"),)


class UsageChange(Base):
    """The live dashboard's change marker on SQLite: one row per user whose usage an upload
    changed, with a number that grows on every change (``seq``, the largest so far plus one:
    SQLite has one writer at a time). Each server process that has someone watching reads the
    rows past the last number it saw, once a second (see ``live``). PostgreSQL needs no marker:
    an upload sends a NOTIFY instead."""

    __tablename__ = "usage_change"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_usage_change_seq", "seq"),)


class SpikeAlert(Base):
    """A spike told to a user who has no budget, through their digests' channels: unique by
    (user, day), so that it is told once a day, whichever upload or process finds it first.
    (A user with budgets is told through their channels, claimed as ``Alert`` rows.)"""

    __tablename__ = "spike_alert"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    cost: Mapped[float] = mapped_column(Float)
    median: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (UniqueConstraint("user_id", "day"),)


class RateLimitCount(Base):
    """Requests of one kind (sign-up, upload, login, invite) from one client address in one
    minute, counted by every server process that shares the database. The key holds the kind,
    the window and the address; a row past ``expires_at`` is spent and gets deleted."""

    __tablename__ = "rate_limit_count"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (Index("ix_rate_limit_count_expires", "expires_at"),)


class AuditEntry(Base):
    """Who did what: one account, key, team, membership, invite or admin change, or a login
    (failed ones too), written in the same transaction as the change. The names are kept as
    they were, so an entry still says who after an account or a team is gone. Never a key, a
    token, a cookie or an invite code."""

    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(40))
    # who did it (None: the command line, or a login with a key nobody has)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    actor_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    # whose account it concerns, when not the actor's own
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    subject_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    team_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # kept after the team
    detail: Mapped[str] = mapped_column(String(300))
    via: Mapped[str] = mapped_column(String(10))  # api | web | cli
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(200), nullable=True)
    __table_args__ = (
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_actor", "actor_id"),
        Index("ix_audit_entry_subject", "subject_id"),
    )
