"""Every SQL statement the server issues. Functions take a SQLAlchemy ``Session`` and plain values
and return models or plain rows; callers commit.

Sums never overflow, whatever is stored: tokens and costs are summed with ``total_of`` (exact
NUMERIC on PostgreSQL, ``total()`` on SQLite, where ``sum()`` raises on overflow), and the token
kinds are added after summing, never row by row in 64-bit integers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    JSON,
    Date,
    Float,
    Integer,
    TypeDecorator,
    UniqueConstraint,
    and_,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from promptpulse import shapes
from promptpulse_server import schemas
from promptpulse_server.models import (
    ApiKey,
    BlockUsage,
    DailyUsage,
    LimitReading,
    LoginLink,
    Machine,
    SessionUsage,
    Upload,
    UsageChange,
    User,
    WebSession,
)

CHUNK = 500  # keys per IN (...) clause
_Row = TypeVar("_Row")
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


# --- sums that cannot overflow -------------------------------------------------------------------


class _WholeNumber(TypeDecorator[int]):
    impl = Integer
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else int(value)


class _Real(TypeDecorator[float]):
    impl = Float
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> float | None:
        return None if value is None else float(value)


class _total(FunctionElement[Any]):
    inherit_cache = True
    name = "total_of"


@compiles(_total)
def _total_exact(element: _total, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum(CAST({compiler.process(element.clauses, **kw)} AS NUMERIC))"


@compiles(_total, "sqlite")
def _total_sqlite(element: _total, compiler: SQLCompiler, **kw: Any) -> str:
    return f"total({compiler.process(element.clauses, **kw)})"


def total_of(column: Any) -> Any:
    """The sum of a token or cost column; 0 for no rows on SQLite, NULL on PostgreSQL."""
    fn = _total(column)
    fn.type = _Real() if isinstance(column.type, Float) else _WholeNumber()
    return fn


def tokens_of(table: Any) -> Any:
    """All four token kinds of a usage table, summed without overflow."""
    return (
        total_of(table.input_tokens)
        + total_of(table.output_tokens)
        + total_of(table.cache_creation_tokens)
        + total_of(table.cache_read_tokens)
    )


# --- users and keys ----------------------------------------------------------------------------


def user_by_name(s: Session, username: str) -> User | None:
    return s.scalar(select(User).where(func.lower(User.username) == username.lower()))


def create_user(
    s: Session, username: str, display_name: str | None, now: dt.datetime, admin: bool = False
) -> User:
    user = User(
        username=username,
        display_name=display_name or username,
        created_at=now,
        leaderboard_opt_in=False,
        timezone="UTC",
        is_admin=admin,
    )
    s.add(user)
    s.flush()
    return user


def list_users(s: Session, viewer: User) -> Sequence[User]:
    """The accounts the viewer may know of: their own and their teams' (all, for an admin)."""
    q = select(User).order_by(User.username)
    if not viewer.is_admin:
        q = q.where(User.id.in_(teams.co_member_ids(s, viewer)))
    return s.scalars(q).all()


def update_user(s: Session, user: User, change: schemas.UserUpdate) -> User:
    if change.display_name is not None:
        user.display_name = change.display_name
    if change.leaderboard_opt_in is not None:
        user.leaderboard_opt_in = change.leaderboard_opt_in
    if change.timezone is not None:
        user.timezone = change.timezone
    if change.share_with_team is not None:
        user.share_with_team = change.share_with_team
    if change.spike_alerts is not None:
        user.spike_alerts = change.spike_alerts
    if change.default_view is not None:
        user.default_view = change.default_view
    s.flush()
    return user


def delete_user(s: Session, user: User) -> None:
    teams.hand_over_teams(s, user)
    machines = select(Machine.id).where(Machine.user_id == user.id)
    for model in (DailyUsage, SessionUsage, BlockUsage, Upload):
        s.execute(delete(model).where(model.machine_id.in_(machines)))
    s.execute(delete(Machine).where(Machine.user_id == user.id))
    alerts.delete_user_budgets(s, user)
    for owned in (ApiKey, WebSession, LoginLink, LimitReading, UsageChange):
        s.execute(delete(owned).where(owned.user_id == user.id))
    s.execute(delete(User).where(User.id == user.id))


def add_key(
    s: Session, user: User, label: str, key_hash: str, prefix: str, now: dt.datetime
) -> ApiKey:
    key = ApiKey(user_id=user.id, label=label, key_hash=key_hash, prefix=prefix, created_at=now)
    s.add(key)
    s.flush()
    return key


def user_for_key_hash(s: Session, key_hash: str, now: dt.datetime) -> tuple[User, ApiKey] | None:
    """The user of a live (not revoked) key; records when the key was last used."""
    row = s.execute(
        select(User, ApiKey)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None), User.disabled_at.is_(None))
    ).first()
    if row is None:
        return None
    user, key = row
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        s.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return user, key


def list_keys(s: Session, user: User) -> Sequence[ApiKey]:
    return s.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)).all()


def revoke_key(s: Session, user: User, key_id: int, now: dt.datetime) -> ApiKey | None:
    key = s.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
    if key is not None and key.revoked_at is None:
        key.revoked_at = now
        s.flush()
    return key


# --- dashboard logins --------------------------------------------------------------------------


def add_login_link(
    s: Session, key: ApiKey, token_hash: str, lifetime: dt.timedelta, now: dt.datetime
) -> LoginLink:
    """A link for the key's user; the session it opens lives as long as the key."""
    link = LoginLink(
        user_id=key.user_id,
        api_key_id=key.id,
        token_hash=token_hash,
        created_at=now,
        expires_at=now + lifetime,
    )
    s.add(link)
    s.flush()
    return link


def use_login_link(s: Session, token_hash: str, now: dt.datetime) -> tuple[User, ApiKey] | None:
    """The user and key of a live link, which is used up by this; None for an unknown, used or
    expired link, or one whose key was revoked since."""
    used = s.execute(
        update(LoginLink)
        .where(
            LoginLink.token_hash == token_hash,
            LoginLink.used_at.is_(None),
            LoginLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(LoginLink.api_key_id)
    ).first()
    if used is None:
        return None
    row = s.execute(
        select(User, ApiKey)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.id == used[0], ApiKey.revoked_at.is_(None), User.disabled_at.is_(None))
    ).first()
    return None if row is None else (row[0], row[1])


def add_web_session(
    s: Session, key: ApiKey, token_hash: str, lifetime: dt.timedelta, now: dt.datetime
) -> None:
    """A dashboard session for the key's user, alive while the key is."""
    s.execute(delete(WebSession).where(WebSession.expires_at <= now))
    s.execute(delete(LoginLink).where(LoginLink.expires_at <= now))
    s.add(
        WebSession(
            user_id=key.user_id,
            api_key_id=key.id,
            token_hash=token_hash,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    s.flush()


def user_for_web_session(s: Session, token_hash: str, now: dt.datetime) -> User | None:
    """The user of a live session whose key is not revoked."""
    return s.scalar(
        select(User)
        .join(WebSession, WebSession.user_id == User.id)
        .join(ApiKey, ApiKey.id == WebSession.api_key_id)
        .where(
            WebSession.token_hash == token_hash,
            WebSession.expires_at > now,
            ApiKey.revoked_at.is_(None),
            User.disabled_at.is_(None),
        )
    )


def end_web_session(s: Session, token_hash: str) -> None:
    s.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


# --- uploads -----------------------------------------------------------------------------------


def machine_for(
    s: Session, user: User, machine_key: str, hostname: str, now: dt.datetime
) -> Machine:
    """The user's machine with this id, created on first sight, its last-seen time updated, and
    its row locked for the rest of the transaction."""
    # locked until the caller commits: one machine's uploads take turns (PostgreSQL; SQLite has
    # one writer at a time anyway), so racing batches never collide on the same rows
    found = (
        select(Machine)
        .where(Machine.user_id == user.id, Machine.machine_key == machine_key)
        .with_for_update()
    )
    machine = s.scalar(found)
    if machine is None:
        # two first uploads of a machine may race: the loser's insert does nothing
        dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
        s.execute(
            dialect.insert(Machine)
            .values(
                user_id=user.id,
                machine_key=machine_key,
                hostname=hostname or machine_key,
                first_seen=now,
                last_seen=now,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "machine_key"])
        )
        machine = s.scalars(found.execution_options(populate_existing=True)).one()
    machine.last_seen = now
    if hostname:
        machine.hostname = hostname
    s.flush()
    return machine


@dataclass
class Stored:
    duplicate: bool = False
    daily: int = 0
    sessions: int = 0
    blocks: int = 0
    limits: int = 0


def store_batch(
    s: Session,
    user: User,
    machine: Machine,
    batch_id: str,
    generated_at: dt.datetime,
    daily: Sequence[shapes.DailyRow],
    sessions: Sequence[shapes.SessionRow],
    blocks: Sequence[shapes.BlockRow],
    source: str,
    now: dt.datetime,
    readings: Sequence[shapes.UploadedLimit] = (),
    plan: shapes.PlanIn | None = None,
) -> Stored:
    """Store one batch of one machine, idempotently (the caller commits it as one transaction).

    A batch id seen before for this machine changes nothing. Each day, session and block
    replaces the machine's row of the same key unless that row came from a newer batch. Limit
    readings are the user's, whichever machine sends them: one the user has is not stored
    again. The plan is the user's too, unless a newer batch already named another."""
    seen = s.scalar(
        select(Upload.id).where(Upload.machine_id == machine.id, Upload.batch_id == batch_id)
    )
    if seen is not None:
        return Stored(duplicate=True)
    out = Stored()
    mid = machine.id
    # a key sent twice in one batch: the last one counts
    daily = list({d.date: d for d in daily}.values())
    sessions = list({(x.project_path, x.session_id): x for x in sessions}.values())
    real_blocks = list({b.start_time: b for b in blocks if not b.is_gap}.values())
    day_models = [(d, m) for d in daily for m in _breakdowns(d)]
    out.daily = _upsert(
        s,
        DailyUsage,
        mid,
        ("date",),
        generated_at,
        [(d.date,) for d in daily],
        {"date": [d.date for d, _ in day_models], **_usage_columns(day_models)},
    )
    session_models = [(x, m) for x in sessions for m in _breakdowns(x)]
    out.sessions = _upsert(
        s,
        SessionUsage,
        mid,
        ("project", "session_id"),
        generated_at,
        [(x.project_path, x.session_id) for x in sessions],
        {
            "project": [x.project_path for x, _ in session_models],
            "session_id": [x.session_id for x, _ in session_models],
            "first_activity": [x.first_activity for x, _ in session_models],
            "last_activity": [x.last_activity for x, _ in session_models],
            **_usage_columns(session_models),
        },
    )
    counts = [b.token_counts for b in real_blocks]
    out.blocks = _upsert(
        s,
        BlockUsage,
        mid,
        ("start",),
        generated_at,
        [(b.start_time,) for b in real_blocks],
        {
            "start": [b.start_time for b in real_blocks],
            "end": [b.end_time for b in real_blocks],
            "last_entry": [b.actual_end_time or b.start_time for b in real_blocks],
            "entries": [b.entries for b in real_blocks],
            "input_tokens": [c.input_tokens for c in counts],
            "output_tokens": [c.output_tokens for c in counts],
            "cache_creation_tokens": [c.cache_creation_input_tokens for c in counts],
            "cache_read_tokens": [c.cache_read_input_tokens for c in counts],
            "cost": [b.cost_usd for b in real_blocks],
            "web_search_requests": [b.web_search_requests for b in real_blocks],
            "web_search_cost": [b.web_search_cost for b in real_blocks],
            "models": [list(b.models) for b in real_blocks],
        },
    )
    out.limits = limits.store_readings(s, user, machine, readings)
    if plan is not None:
        limits.set_plan(s, user, plan, generated_at)
    s.add(
        Upload(
            user_id=user.id,
            machine_id=machine.id,
            batch_id=batch_id,
            source=source,
            received_at=now,
            daily_rows=out.daily,
            session_rows=out.sessions,
            block_rows=out.blocks,
        )
    )
    return out


# a model's counts and cost, named alike in shapes.ModelBreakdown and the usage tables
USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost",
    "web_search_requests",
    "web_search_cost",
)


def _usage_columns(pairs: list[tuple[Any, shapes.ModelBreakdown]]) -> dict[str, list[Any]]:
    """The model and usage columns of (row, model breakdown) pairs, a column at a time."""
    models = [m for _, m in pairs]
    return {
        "model": list(map(attrgetter("model_name"), models)),
        **{c: list(map(attrgetter(c), models)) for c in USAGE_COLUMNS},
    }


def _breakdowns(row: shapes.DailyRow | shapes.SessionRow) -> list[shapes.ModelBreakdown]:
    if row.model_breakdowns:
        return row.model_breakdowns
    if (
        row.input_tokens
        or row.output_tokens
        or row.cache_creation_tokens
        or row.cache_read_tokens
        or row.total_cost
        or row.web_search_requests
    ):
        return [
            shapes.ModelBreakdown(
                model_name="unknown",
                input_tokens=row.input_tokens,
                output_tokens=row.output_tokens,
                cache_creation_tokens=row.cache_creation_tokens,
                cache_read_tokens=row.cache_read_tokens,
                cost=row.total_cost,
                web_search_requests=row.web_search_requests,
                web_search_cost=row.web_search_cost,
            )
        ]
    return []


def _upsert(
    s: Session,
    model: Any,
    machine_id: int,
    key: tuple[str, ...],
    generated_at: dt.datetime,
    keys: list[tuple[Any, ...]],
    columns: dict[str, list[Any]],
) -> int:
    """Store one machine's rows, given as columns, as a set; the number of keys (days,
    sessions or blocks) stored.

    A key the machine holds from a newer batch is kept as it is. Every other key is replaced as
    a whole: its rows (all models of a day, say) are deleted, then the batch's rows inserted in
    one bulk ``INSERT … ON CONFLICT (key, model) DO UPDATE … WHERE`` the stored row is not
    newer, so even a racing writer can never put an older row over a newer one. One query finds
    the newer keys (usually none), one statement deletes (``_delete_keys``), one inserts: no
    ORM object and no SQLAlchemy parameter processing per row."""
    if not keys:
        return 0
    table = model.__table__
    cols = tuple(table.c[k] for k in key)
    mine = table.c.machine_id == machine_id
    newer = {
        tuple(r)
        for r in s.execute(select(*cols).distinct().where(mine, table.c.uploaded_at > generated_at))
    }
    unique = list(dict.fromkeys(keys))
    if newer:
        unique = [k for k in unique if k not in newer]
        keep = [k not in newer for k in zip(*(columns[k] for k in key), strict=True)]
        columns = {c: list(compress(values, keep)) for c, values in columns.items()}
    if unique:
        _delete_keys(s, table, machine_id, generated_at, key, unique)
    rows = len(columns[key[0]])
    if rows:
        _bulk_upsert(
            s,
            table,
            {"machine_id": [machine_id] * rows, "uploaded_at": [generated_at] * rows, **columns},
        )
    return len(unique)


def _delete_keys(
    s: Session,
    table: Any,
    machine_id: int,
    generated_at: dt.datetime,
    key: tuple[str, ...],
    keys: list[tuple[Any, ...]],
) -> None:
    """Delete the machine's rows of these keys that are not newer than ``generated_at``.
    SQLite: one prepared DELETE, sent once per key by sqlite3's executemany; PostgreSQL: one
    DELETE whose keys are arrays (``… IN (SELECT * FROM unnest(…))``)."""
    bind = s.get_bind()
    name = bind.dialect.name
    columns: dict[str, list[Any]] = {k: [row[i] for row in keys] for i, k in enumerate(key)}
    for k in key:
        columns[k] = _converted(table.c[k].type, name, columns[k])
    (when,) = _converted(table.c.uploaded_at.type, name, [generated_at])
    quote = bind.dialect.identifier_preparer.quote
    where = (
        f"DELETE FROM {quote(table.name)} WHERE machine_id = %(mid)s AND uploaded_at <= %(when)s"
    )
    if name == "postgresql":
        arrays = ", ".join(
            f"%({k})s::{table.c[k].type.compile(dialect=bind.dialect)}[]" for k in key
        )
        keyed = ", ".join(quote(k) for k in key)
        sql = f"{where} AND ({keyed}) IN (SELECT * FROM unnest({arrays}))"
        s.connection().exec_driver_sql(sql, {"mid": machine_id, "when": when, **columns})
        return
    sql = where.replace("%(mid)s", "?").replace("%(when)s", "?")
    sql += "".join(f" AND {quote(k)} = ?" for k in key)
    rows = zip(*(columns[k] for k in key), strict=True)
    s.connection().exec_driver_sql(sql, [(machine_id, when, *row) for row in rows])


def _converted(kind: Any, dialect: str, values: list[Any]) -> list[Any]:
    convert = _to_driver(kind, dialect)
    return values if convert is None else convert(values)


def _bulk_upsert(s: Session, table: Any, columns: dict[str, list[Any]]) -> None:
    """``INSERT … ON CONFLICT (the unique key) DO UPDATE SET … WHERE`` the stored row is not
    newer. Each column is converted for the driver at once, the way its type would
    (``_to_driver``; a value repeated down a column, like the batch's time, is converted
    once). SQLite: one executemany of the compiled statement; PostgreSQL: one statement over
    arrays (``_unnest_upsert``)."""
    bind = s.get_bind()
    name = bind.dialect.name
    conflict = [c.name for c in _unique_key(table)]
    for k in columns:
        columns[k] = _converted(table.c[k].type, name, columns[k])
    if name == "postgresql":
        _unnest_upsert(s, table, columns, conflict)
        return
    stmt = sqlite.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=conflict,
        set_={c: stmt.excluded[c] for c in columns if c not in conflict},
        where=table.c.uploaded_at <= stmt.excluded.uploaded_at,
    )
    compiled = stmt.compile(dialect=bind.dialect, column_keys=list(columns))
    order = list(compiled.positiontup or ())
    params = list(zip(*(columns[k] for k in order), strict=True))
    s.connection().exec_driver_sql(compiled.string, params)


def _unnest_upsert(
    s: Session, table: Any, columns: dict[str, list[Any]], conflict: list[str]
) -> None:
    """PostgreSQL: the same upsert as one statement over arrays, one array a column
    (``INSERT … SELECT * FROM unnest(…) ON CONFLICT … DO UPDATE … WHERE``): psycopg sends
    each column once instead of a statement a row."""
    dialect = s.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    names = list(columns)
    typed = ", ".join(f"%({k})b::{table.c[k].type.compile(dialect=dialect)}[]" for k in names)
    updates = ", ".join(f"{quote(k)} = excluded.{quote(k)}" for k in names if k not in conflict)
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in names)}) "
        f"SELECT * FROM unnest({typed}) "
        f"ON CONFLICT ({', '.join(quote(k) for k in conflict)}) DO UPDATE SET {updates} "
        f"WHERE {quote(table.name)}.uploaded_at <= excluded.uploaded_at"
    )
    s.connection().exec_driver_sql(sql, columns)


def _to_driver(kind: Any, dialect: str) -> Callable[[list[Any]], list[Any]] | None:
    """What SQLAlchemy's bind processing does to the values of a column of this type, for a
    whole column (None: nothing to do)."""
    from promptpulse_server.models import UTCDateTime

    if isinstance(kind, UTCDateTime) and dialect == "sqlite":
        # SQLite's DATETIME text, as SQLAlchemy stores it: naive UTC, always microseconds
        return _each_once(lambda v: _naive_utc(v).isoformat(" ", "microseconds"))
    if isinstance(kind, JSON):
        return lambda values: [None if v is None else json.dumps(v) for v in values]
    if isinstance(kind, Date) and dialect == "sqlite":
        return _each_once(dt.date.isoformat)
    return None  # psycopg sends dates and aware datetimes as they are


def _each_once(convert: Callable[[Any], Any]) -> Callable[[list[Any]], list[Any]]:
    """A column's conversion that converts each distinct value once (None stays None)."""

    def column(values: list[Any]) -> list[Any]:
        done = {v: None if v is None else convert(v) for v in set(values)}
        return [done[v] for v in values]

    return column


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: store aware UTC datetimes only")
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _unique_key(table: Any) -> list[Any]:
    """The columns of the table's one unique constraint (machine, key and, for usage, model)."""
    (found,) = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    return list(found.columns)


def _key_in(cols: tuple[Any, ...], keys: list[tuple[Any, ...]]) -> Any:
    if len(cols) == 1:
        return cols[0].in_([k[0] for k in keys])
    if len(keys) <= 50:
        return or_(*(and_(*(c == v for c, v in zip(cols, k, strict=True))) for k in keys))
    return tuple_(*cols).in_(keys)


# --- reports -----------------------------------------------------------------------------------


def _machines_in(user_ids: tuple[int, ...]) -> Any:
    return select(Machine.id).where(Machine.user_id.in_(user_ids))


def _machines_of(user: User) -> Any:
    return select(Machine.id).where(Machine.user_id == user.id)


def daily_rows(
    s: Session,
    user: User,
    since: dt.date | None = None,
    until: dt.date | None = None,
    machine: str | None = None,
    model: str | None = None,
) -> list[Any]:
    """(date, model, input, output, cache write, cache read, cost, web search requests, web
    search cost), summed over machines; the cost includes the web search cost."""
    q = (
        select(
            DailyUsage.date,
            DailyUsage.model,
            total_of(DailyUsage.input_tokens),
            total_of(DailyUsage.output_tokens),
            total_of(DailyUsage.cache_creation_tokens),
            total_of(DailyUsage.cache_read_tokens),
            total_of(DailyUsage.cost),
            total_of(DailyUsage.web_search_requests),
            total_of(DailyUsage.web_search_cost),
        )
        .join(Machine, Machine.id == DailyUsage.machine_id)
        .where(Machine.user_id == user.id)
        .group_by(DailyUsage.date, DailyUsage.model)
        .order_by(DailyUsage.date)
    )
    if since:
        q = q.where(DailyUsage.date >= since)
    if until:
        q = q.where(DailyUsage.date <= until)
    if machine:
        q = q.where(Machine.machine_key == machine)
    if model:
        q = q.where(DailyUsage.model == model)
    return list(s.execute(q).all())


def machines(s: Session, user: User) -> list[Any]:
    totals = (
        select(
            DailyUsage.machine_id.label("mid"),
            tokens_of(DailyUsage).label("tokens"),
            total_of(DailyUsage.cost).label("cost"),
        )
        .group_by(DailyUsage.machine_id)
        .subquery()
    )
    q = (
        select(Machine, totals.c.tokens, totals.c.cost)
        .outerjoin(totals, totals.c.mid == Machine.id)
        .where(Machine.user_id == user.id)
        .order_by(Machine.last_seen.desc())
    )
    # no coalesce in SQL: PostgreSQL would turn an exact sum into a double, which may overflow
    return [(m, tokens or 0, cost or 0.0) for m, tokens, cost in s.execute(q)]


def session_rows(
    s: Session,
    user: User,
    limit: int,
    project: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[Any]:
    """Per-model rows of the user's most recent ``limit`` sessions (newest first)."""
    key = (SessionUsage.machine_id, SessionUsage.project, SessionUsage.session_id)
    recent = (
        select(*key, func.max(SessionUsage.last_activity).label("last"))
        .where(SessionUsage.machine_id.in_(_machines_of(user)))
        .group_by(*key)
    )
    if project:
        recent = recent.where(SessionUsage.project == project)
    if since:
        recent = recent.having(
            func.max(SessionUsage.last_activity) >= dt.datetime.combine(since, dt.time(), dt.UTC)
        )
    if until:
        recent = recent.having(
            func.max(SessionUsage.last_activity)
            < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        )
    top = recent.order_by(func.max(SessionUsage.last_activity).desc()).limit(limit).subquery()
    q = (
        select(SessionUsage, Machine.machine_key)
        .join(
            top,
            and_(
                top.c.machine_id == SessionUsage.machine_id,
                top.c.project == SessionUsage.project,
                top.c.session_id == SessionUsage.session_id,
            ),
        )
        .join(Machine, Machine.id == SessionUsage.machine_id)
        .order_by(top.c.last.desc(), SessionUsage.session_id)
    )
    return list(s.execute(q).all())


def block_rows(
    s: Session, user: User, active_at: dt.datetime | None = None, limit: int = 500
) -> Sequence[BlockUsage]:
    """The user's blocks, newest first; with ``active_at``, only those active then."""
    q = select(BlockUsage).where(BlockUsage.machine_id.in_(_machines_of(user)))
    if active_at is not None:
        q = q.where(BlockUsage.end > active_at, BlockUsage.start <= active_at)
    return s.scalars(q.order_by(BlockUsage.start.desc()).limit(limit)).all()


def block_hours(s: Session, user: User) -> list[Any]:
    """(block start, tokens, cost) of all the user's blocks, for the usage patterns."""
    q = select(
        BlockUsage.start,
        BlockUsage.input_tokens,
        BlockUsage.output_tokens,
        BlockUsage.cache_creation_tokens,
        BlockUsage.cache_read_tokens,
        BlockUsage.cost,
    ).where(BlockUsage.machine_id.in_(_machines_of(user)))
    return [(start, i + o + cw + cr, cost) for start, i, o, cw, cr, cost in s.execute(q)]


def costs_by(
    s: Session,
    user: User,
    group_by: Literal["project", "model", "machine", "day"],
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[Any]:
    """(key, tokens, cost) grouped as asked, costliest first."""
    if group_by == "project":
        table: Any = SessionUsage
        key: Any = SessionUsage.project
    else:
        table = DailyUsage
        key = {"model": DailyUsage.model, "day": DailyUsage.date, "machine": Machine.hostname}[
            group_by
        ]
    q = (
        select(key, tokens_of(table), total_of(table.cost))
        .join(Machine, Machine.id == table.machine_id)
        .where(Machine.user_id == user.id)
        .group_by(key)
        .order_by(total_of(table.cost).desc())
    )
    if table is DailyUsage:
        if since:
            q = q.where(DailyUsage.date >= since)
        if until:
            q = q.where(DailyUsage.date <= until)
    else:
        if since:
            q = q.where(SessionUsage.last_activity >= dt.datetime.combine(since, dt.time(), dt.UTC))
        if until:
            q = q.where(
                SessionUsage.last_activity
                < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
            )
    return list(s.execute(q).all())


def leaderboard(
    s: Session, since: dict[str, dt.date] | None, team_ids: Sequence[int] | None = None
) -> list[Any]:
    """(user, tokens, cost) of users who opted in, or (``team_ids``) of those team members who
    share their usage; ``since`` maps each user's time zone to the first day that counts in it
    (None: all time)."""
    q = (
        select(User, tokens_of(DailyUsage), total_of(DailyUsage.cost))
        .join(Machine, Machine.user_id == User.id)
        .join(DailyUsage, DailyUsage.machine_id == Machine.id)
        .where(
            User.leaderboard_opt_in.is_(True)
            if team_ids is None
            else and_(User.id.in_(team_ids), User.share_with_team.is_(True))
        )
        .group_by(User.id)
    )
    if since is not None:
        if not since:
            return []
        q = q.where(
            or_(
                *(
                    and_(User.timezone == zone, DailyUsage.date >= first)
                    for zone, first in since.items()
                )
            )
        )
    return list(s.execute(q).all())


def opted_in_timezones(s: Session, team_ids: Sequence[int] | None = None) -> list[str]:
    """The time zones of the users a leaderboard counts (see ``leaderboard``)."""
    who = User.leaderboard_opt_in.is_(True) if team_ids is None else User.id.in_(team_ids)
    return list(s.scalars(select(User.timezone).where(who).distinct()))


def ping(s: Session) -> None:
    s.execute(select(1))


# --- dashboard -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose usage a dashboard page shows, and which part of it."""

    user_ids: tuple[int, ...]
    since: dt.date | None = None
    until: dt.date | None = None
    machine: str | None = None  # the collector's machine id
    model: str | None = None
    project: str | None = None
    zone: str = "UTC"  # the viewer's, for the bounds of sessions and blocks

    def instant(self, day: dt.date) -> dt.datetime:
        from zoneinfo import ZoneInfo

        return dt.datetime.combine(day, dt.time(), ZoneInfo(self.zone)).astimezone(dt.UTC)


def visible_users(s: Session, viewer: User, team_ids: Sequence[int] | None = None) -> list[User]:
    """Whose usage the viewer sees, by name: themselves, and the members of their teams who
    share their usage (a server admin: everyone who shares). With ``team_ids``, only those."""
    others: Any = User.share_with_team.is_(True)
    if not viewer.is_admin:
        others = and_(others, User.id.in_(teams.co_member_ids(s, viewer)))
    q = select(User).where(or_(User.id == viewer.id, others))
    if team_ids is not None:
        q = q.where(User.id.in_(team_ids))
    return list(s.scalars(q.order_by(func.lower(User.display_name))))


def _daily_scope(q: Any, scope: Scope) -> Any:
    q = q.where(Machine.user_id.in_(scope.user_ids))
    if scope.since:
        q = q.where(DailyUsage.date >= scope.since)
    if scope.until:
        q = q.where(DailyUsage.date <= scope.until)
    if scope.machine:
        q = q.where(Machine.machine_key == scope.machine)
    if scope.model:
        q = q.where(DailyUsage.model == scope.model)
    return q


def _session_scope(q: Any, scope: Scope) -> Any:
    q = q.where(Machine.user_id.in_(scope.user_ids))
    if scope.since:
        q = q.where(SessionUsage.last_activity >= scope.instant(scope.since))
    if scope.until:
        q = q.where(SessionUsage.first_activity < scope.instant(scope.until + dt.timedelta(days=1)))
    if scope.machine:
        q = q.where(Machine.machine_key == scope.machine)
    if scope.model:
        q = q.where(SessionUsage.model == scope.model)
    if scope.project:
        q = q.where(SessionUsage.project == scope.project)
    return q


_DAILY_SUMS: tuple[Any, ...] = (
    total_of(DailyUsage.input_tokens),
    total_of(DailyUsage.output_tokens),
    total_of(DailyUsage.cache_creation_tokens),
    total_of(DailyUsage.cache_read_tokens),
    total_of(DailyUsage.cost),
)
_SESSION_SUMS: tuple[Any, ...] = (
    total_of(SessionUsage.input_tokens),
    total_of(SessionUsage.output_tokens),
    total_of(SessionUsage.cache_creation_tokens),
    total_of(SessionUsage.cache_read_tokens),
    total_of(SessionUsage.cost),
)


def scope_daily(s: Session, scope: Scope) -> list[Any]:
    """(date, model, input, output, cache write, cache read, cost, web search requests, web
    search cost) summed over the scope; the cost includes the web search cost."""
    q = (
        select(
            DailyUsage.date,
            DailyUsage.model,
            *_DAILY_SUMS,
            total_of(DailyUsage.web_search_requests),
            total_of(DailyUsage.web_search_cost),
        )
        .join(Machine, Machine.id == DailyUsage.machine_id)
        .group_by(DailyUsage.date, DailyUsage.model)
        .order_by(DailyUsage.date)
    )
    return list(s.execute(_daily_scope(q, scope)).all())


def scope_session_usage(s: Session, scope: Scope) -> list[Any]:
    """(project, first activity, model, input, output, cache write, cache read, cost, web search
    requests, web search cost) of every session in the scope: a project's usage, counted on the
    day its session started."""
    q = select(
        SessionUsage.project,
        SessionUsage.first_activity,
        SessionUsage.model,
        SessionUsage.input_tokens,
        SessionUsage.output_tokens,
        SessionUsage.cache_creation_tokens,
        SessionUsage.cache_read_tokens,
        SessionUsage.cost,
        SessionUsage.web_search_requests,
        SessionUsage.web_search_cost,
    ).join(Machine, Machine.id == SessionUsage.machine_id)
    return list(s.execute(_session_scope(q, scope)).all())


def scope_per_user(s: Session, scope: Scope) -> list[Any]:
    """(user id, model, input, output, cache write, cache read, cost, last day) per user and
    model."""
    q = (
        select(Machine.user_id, DailyUsage.model, *_DAILY_SUMS, func.max(DailyUsage.date))
        .join(Machine, Machine.id == DailyUsage.machine_id)
        .group_by(Machine.user_id, DailyUsage.model)
    )
    return list(s.execute(_daily_scope(q, scope)).all())


def scope_machines(s: Session, scope: Scope) -> list[Any]:
    """(machine, owner's username, model, input, output, cache write, cache read, cost) for each
    machine of the scope's users and model used in the period; machines without usage in it
    come with a None model."""
    sums = _daily_scope(
        select(DailyUsage.machine_id.label("mid"), DailyUsage.model.label("model"))
        .add_columns(*(c.label(f"c{n}") for n, c in enumerate(_DAILY_SUMS)))
        .join(Machine, Machine.id == DailyUsage.machine_id)
        .group_by(DailyUsage.machine_id, DailyUsage.model),
        scope,
    ).subquery()
    q = (
        select(Machine, User.username, sums.c.model, *(sums.c[f"c{n}"] for n in range(5)))
        .join(User, User.id == Machine.user_id)
        .outerjoin(sums, sums.c.mid == Machine.id)
        .where(Machine.user_id.in_(scope.user_ids))
        .order_by(Machine.last_seen.desc())
    )
    if scope.machine:
        q = q.where(Machine.machine_key == scope.machine)
    return list(s.execute(q).all())


SESSION_SORTS = ("last", "cost", "tokens", "duration", "first")


def scope_sessions(
    s: Session, scope: Scope, sort: str, descending: bool, offset: int, limit: int
) -> tuple[int, list[Any]]:
    """(how many sessions, one page of them): (machine key, hostname, username, project,
    session id, first, last, input, output, cache write, cache read, cost, models joined
    by commas)."""
    key = (SessionUsage.machine_id, SessionUsage.project, SessionUsage.session_id)
    first, last = func.min(SessionUsage.first_activity), func.max(SessionUsage.last_activity)
    grouped = _session_scope(
        select(*key, first.label("first"), last.label("last"), *_SESSION_SUMS)
        .join(Machine, Machine.id == SessionUsage.machine_id)
        .group_by(*key),
        scope,
    ).subquery()
    total = s.scalar(select(func.count()).select_from(grouped)) or 0
    c = grouped.c
    tokens = c[5] + c[6] + c[7] + c[8]
    order = {
        "last": c.last,
        "first": c.first,
        "cost": c[9],
        "tokens": tokens,
        "duration": c.last - c.first
        if s.get_bind().dialect.name != "sqlite"
        else (func.julianday(c.last) - func.julianday(c.first)),
    }[sort]
    page = list(
        s.execute(
            select(
                Machine.machine_key,
                Machine.hostname,
                User.username,
                c.project,
                c.session_id,
                c.first,
                c.last,
                c[5],
                c[6],
                c[7],
                c[8],
                c[9],
            )
            .join(Machine, Machine.id == c.machine_id)
            .join(User, User.id == Machine.user_id)
            .order_by(order.desc() if descending else order.asc(), c.session_id)
            .offset(offset)
            .limit(limit)
        ).all()
    )
    return total, page


def session_models(
    s: Session, user_ids: tuple[int, ...], keys: list[tuple[str, str, str, str]]
) -> dict[tuple[str, ...], list[str]]:
    """The models of some sessions of these users, given as (username, machine key, project,
    session id)."""
    out: dict[tuple[str, ...], list[str]] = {}
    cols = (User.username, Machine.machine_key, SessionUsage.project, SessionUsage.session_id)
    for i in range(0, len(keys), CHUNK):
        chunk = [tuple(k) for k in keys[i : i + CHUNK]]
        rows = s.execute(
            select(*cols, SessionUsage.model)
            .join(Machine, Machine.id == SessionUsage.machine_id)
            .join(User, User.id == Machine.user_id)
            .where(Machine.user_id.in_(user_ids), _key_in(cols, chunk))
            .order_by(SessionUsage.cost.desc())
        )
        for username, mk, project, sid, model in rows:
            out.setdefault((username, mk, project, sid), []).append(model)
    return out


def scope_blocks(s: Session, scope: Scope, limit: int = 2000) -> list[Any]:
    """(block, hostname, username) of the scope, newest first."""
    q = (
        select(BlockUsage, Machine.hostname, User.username)
        .join(Machine, Machine.id == BlockUsage.machine_id)
        .join(User, User.id == Machine.user_id)
        .where(Machine.user_id.in_(scope.user_ids))
    )
    if scope.since:
        q = q.where(BlockUsage.end > scope.instant(scope.since))
    if scope.until:
        q = q.where(BlockUsage.start < scope.instant(scope.until + dt.timedelta(days=1)))
    if scope.machine:
        q = q.where(Machine.machine_key == scope.machine)
    return list(s.execute(q.order_by(BlockUsage.start.desc()).limit(limit)).all())


def active_blocks(s: Session, user_ids: tuple[int, ...], now: dt.datetime) -> list[BlockUsage]:
    return list(
        s.scalars(
            select(BlockUsage)
            # "+ 0": search by end time, not by machine (SQLite would, without statistics)
            .where(
                (BlockUsage.machine_id + 0).in_(_machines_in(user_ids)),
                BlockUsage.start <= now,
                BlockUsage.end > now,
            )
        )
    )


def scope_choices(s: Session, scope: Scope) -> tuple[list[Any], list[str], list[str]]:
    """What the filters offer: (machines as (key, hostname), models, projects); models and
    projects are those with usage from the period's first day on."""
    machines_ = list(
        s.execute(
            select(Machine.machine_key, Machine.hostname)
            .where(Machine.user_id.in_(scope.user_ids))
            .order_by(Machine.hostname)
        ).all()
    )
    models_q = (
        select(DailyUsage.model)
        .join(Machine, Machine.id == DailyUsage.machine_id)
        .where(Machine.user_id.in_(scope.user_ids))
        .distinct()
    )
    projects_q = (
        select(SessionUsage.project)
        .join(Machine, Machine.id == SessionUsage.machine_id)
        .where(Machine.user_id.in_(scope.user_ids), SessionUsage.project != "")
        .distinct()
    )
    if scope.since:
        models_q = models_q.where(DailyUsage.date >= scope.since)
        # by machine and time from ix_session_usage_machine_last alone (migration 0013)
        projects_q = (
            select(SessionUsage.project)
            .where(
                SessionUsage.machine_id.in_(_machines_in(scope.user_ids)),
                SessionUsage.project != "",
                SessionUsage.last_activity >= scope.instant(scope.since),
            )
            .distinct()
        )
    models = set(s.scalars(models_q))
    projects = set(s.scalars(projects_q))
    # a chosen filter stays on offer, with or without usage in the period
    models.update(m for m in (scope.model,) if m)
    projects.update(p for p in (scope.project,) if p)
    return machines_, sorted(models), sorted(projects)


def export_rows(s: Session, user: User) -> dict[str, list[Any]]:
    """Everything stored for one user, for the settings page's export."""
    daily = s.execute(
        select(Machine.machine_key, Machine.hostname, DailyUsage)
        .join(Machine, Machine.id == DailyUsage.machine_id)
        .where(Machine.user_id == user.id)
        .order_by(DailyUsage.date, Machine.machine_key, DailyUsage.model)
    ).all()
    sessions_ = s.execute(
        select(Machine.machine_key, Machine.hostname, SessionUsage)
        .join(Machine, Machine.id == SessionUsage.machine_id)
        .where(Machine.user_id == user.id)
        .order_by(SessionUsage.first_activity, SessionUsage.session_id, SessionUsage.model)
    ).all()
    blocks_ = s.execute(
        select(Machine.machine_key, Machine.hostname, BlockUsage)
        .join(Machine, Machine.id == BlockUsage.machine_id)
        .where(Machine.user_id == user.id)
        .order_by(BlockUsage.start)
    ).all()
    return {"daily": list(daily), "sessions": list(sessions_), "blocks": list(blocks_)}


from promptpulse_server.queries import alerts, limits, teams  # noqa: E402  (uses the models only)
from promptpulse_server.queries import live as live  # noqa: E402  (for queries.live)
