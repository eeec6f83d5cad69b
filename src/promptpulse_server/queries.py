"""Every SQL statement the server issues. Functions take a SQLAlchemy ``Session`` and plain values
and return models or plain rows; callers commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from promptpulse_server import schemas
from promptpulse_server.models import (
    ApiKey,
    BlockUsage,
    DailyUsage,
    Machine,
    SessionUsage,
    Upload,
    User,
)

CHUNK = 500  # keys per IN (...) clause
_Row = TypeVar("_Row")
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- users and keys ----------------------------------------------------------------------------


def user_by_name(s: Session, username: str) -> User | None:
    return s.scalar(select(User).where(func.lower(User.username) == username.lower()))


def create_user(s: Session, username: str, display_name: str | None) -> User:
    user = User(
        username=username,
        display_name=display_name or username,
        created_at=utcnow(),
        leaderboard_opt_in=False,
        timezone="UTC",
    )
    s.add(user)
    s.flush()
    return user


def list_users(s: Session) -> Sequence[User]:
    return s.scalars(select(User).order_by(User.username)).all()


def update_user(s: Session, user: User, change: schemas.UserUpdate) -> User:
    if change.display_name is not None:
        user.display_name = change.display_name
    if change.leaderboard_opt_in is not None:
        user.leaderboard_opt_in = change.leaderboard_opt_in
    if change.timezone is not None:
        user.timezone = change.timezone
    s.flush()
    return user


def delete_user(s: Session, user: User) -> None:
    machines = select(Machine.id).where(Machine.user_id == user.id)
    for model in (DailyUsage, SessionUsage, BlockUsage, Upload):
        s.execute(delete(model).where(model.machine_id.in_(machines)))
    s.execute(delete(Machine).where(Machine.user_id == user.id))
    s.execute(delete(ApiKey).where(ApiKey.user_id == user.id))
    s.execute(delete(User).where(User.id == user.id))


def add_key(s: Session, user: User, label: str, key_hash: str, prefix: str) -> ApiKey:
    key = ApiKey(
        user_id=user.id, label=label, key_hash=key_hash, prefix=prefix, created_at=utcnow()
    )
    s.add(key)
    s.flush()
    return key


def user_for_key_hash(s: Session, key_hash: str) -> tuple[User, ApiKey] | None:
    """The user of a live (not revoked) key; records when the key was last used."""
    row = s.execute(
        select(User, ApiKey)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    user, key = row
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        s.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return user, key


def list_keys(s: Session, user: User) -> Sequence[ApiKey]:
    return s.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)).all()


def revoke_key(s: Session, user: User, key_id: int) -> ApiKey | None:
    key = s.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
        s.flush()
    return key


# --- uploads -----------------------------------------------------------------------------------


def machine_for(s: Session, user: User, machine_key: str, hostname: str) -> Machine:
    """The user's machine with this id, created on first sight; its last-seen time updated."""
    now = utcnow()
    machine = s.scalar(
        select(Machine).where(Machine.user_id == user.id, Machine.machine_key == machine_key)
    )
    if machine is None:
        machine = Machine(
            user_id=user.id,
            machine_key=machine_key,
            hostname=hostname or machine_key,
            first_seen=now,
            last_seen=now,
        )
        s.add(machine)
        s.flush()
    else:
        machine.last_seen = now
        if hostname:
            machine.hostname = hostname
    return machine


@dataclass
class Stored:
    duplicate: bool = False
    daily: int = 0
    sessions: int = 0
    blocks: int = 0


def store_batch(
    s: Session,
    user: User,
    machine: Machine,
    batch_id: str,
    generated_at: dt.datetime,
    daily: Sequence[schemas.DailyRow],
    sessions: Sequence[schemas.SessionRow],
    blocks: Sequence[schemas.BlockRow],
    source: str,
) -> Stored:
    """Store one batch of one machine, idempotently (the caller commits it as one transaction).

    A batch id seen before for this machine changes nothing. Each day, session and block
    replaces the machine's row of the same key unless that row came from a newer batch."""
    seen = s.scalar(
        select(Upload.id).where(Upload.machine_id == machine.id, Upload.batch_id == batch_id)
    )
    if seen is not None:
        return Stored(duplicate=True)
    out = Stored()
    days = _newest(
        s, DailyUsage, machine.id, (DailyUsage.date,), generated_at, {(d.date,): d for d in daily}
    )
    out.daily = len(days)
    _replace(
        s,
        DailyUsage,
        machine.id,
        (DailyUsage.date,),
        list(days),
        [
            dict(
                machine_id=machine.id,
                date=row.date,
                model=m.model_name,
                uploaded_at=generated_at,
                **_tokens(m),
            )
            for row in days.values()
            for m in _breakdowns(row)
        ],
    )
    sess = _newest(
        s,
        SessionUsage,
        machine.id,
        (SessionUsage.project, SessionUsage.session_id),
        generated_at,
        {(x.project_path, x.session_id): x for x in sessions},
    )
    out.sessions = len(sess)
    _replace(
        s,
        SessionUsage,
        machine.id,
        (SessionUsage.project, SessionUsage.session_id),
        list(sess),
        [
            dict(
                machine_id=machine.id,
                project=x.project_path,
                session_id=x.session_id,
                first_activity=x.first_activity,
                last_activity=x.last_activity,
                model=m.model_name,
                uploaded_at=generated_at,
                **_tokens(m),
            )
            for x in sess.values()
            for m in _breakdowns(x)
        ],
    )
    real_blocks = {(b.start_time,): b for b in blocks if not b.is_gap}
    blks = _newest(s, BlockUsage, machine.id, (BlockUsage.start,), generated_at, real_blocks)
    out.blocks = len(blks)
    _replace(
        s,
        BlockUsage,
        machine.id,
        (BlockUsage.start,),
        list(blks),
        [
            dict(
                machine_id=machine.id,
                start=b.start_time,
                end=b.end_time,
                last_entry=b.actual_end_time or b.start_time,
                entries=b.entries,
                input_tokens=b.token_counts.input_tokens,
                output_tokens=b.token_counts.output_tokens,
                cache_creation_tokens=b.token_counts.cache_creation_input_tokens,
                cache_read_tokens=b.token_counts.cache_read_input_tokens,
                cost=b.cost_usd,
                models=list(b.models),
                uploaded_at=generated_at,
            )
            for b in blks.values()
        ],
    )
    s.add(
        Upload(
            user_id=user.id,
            machine_id=machine.id,
            batch_id=batch_id,
            source=source,
            received_at=utcnow(),
            daily_rows=out.daily,
            session_rows=out.sessions,
            block_rows=out.blocks,
        )
    )
    return out


def _tokens(m: schemas.ModelBreakdown) -> dict[str, Any]:
    return dict(
        input_tokens=m.input_tokens,
        output_tokens=m.output_tokens,
        cache_creation_tokens=m.cache_creation_tokens,
        cache_read_tokens=m.cache_read_tokens,
        cost=m.cost,
    )


def _breakdowns(row: schemas.DailyRow | schemas.SessionRow) -> list[schemas.ModelBreakdown]:
    if row.model_breakdowns:
        return row.model_breakdowns
    if (
        row.input_tokens
        or row.output_tokens
        or row.cache_creation_tokens
        or row.cache_read_tokens
        or row.total_cost
    ):
        return [
            schemas.ModelBreakdown(
                model_name="unknown",
                input_tokens=row.input_tokens,
                output_tokens=row.output_tokens,
                cache_creation_tokens=row.cache_creation_tokens,
                cache_read_tokens=row.cache_read_tokens,
                cost=row.total_cost,
            )
        ]
    return []


def _newest(
    s: Session,
    model: Any,
    machine_id: int,
    key_cols: tuple[Any, ...],
    generated_at: dt.datetime,
    incoming: dict[tuple[Any, ...], _Row],
) -> dict[tuple[Any, ...], _Row]:
    """The incoming rows that are not older than what the machine already has."""
    if not incoming:
        return {}
    stored: dict[tuple[Any, ...], dt.datetime] = {}
    keys = list(incoming)
    for i in range(0, len(keys), CHUNK):
        part = keys[i : i + CHUNK]
        for row in s.execute(
            select(*key_cols, func.max(model.uploaded_at))
            .where(model.machine_id == machine_id, _key_in(key_cols, part))
            .group_by(*key_cols)
        ):
            stored[tuple(row[:-1])] = row[-1]
    return {k: v for k, v in incoming.items() if k not in stored or stored[k] <= generated_at}


def _replace(
    s: Session,
    model: Any,
    machine_id: int,
    key_cols: tuple[Any, ...],
    keys: list[tuple[Any, ...]],
    rows: list[dict[str, Any]],
) -> None:
    for i in range(0, len(keys), CHUNK):
        s.execute(
            delete(model).where(
                model.machine_id == machine_id, _key_in(key_cols, keys[i : i + CHUNK])
            )
        )
    if rows:
        s.execute(insert(model), rows)


def _key_in(cols: tuple[Any, ...], keys: list[tuple[Any, ...]]) -> Any:
    if len(cols) == 1:
        return cols[0].in_([k[0] for k in keys])
    if len(keys) <= 50:
        return or_(*(and_(*(c == v for c, v in zip(cols, k, strict=True))) for k in keys))
    return tuple_(*cols).in_(keys)


# --- reports -----------------------------------------------------------------------------------


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
    """(date, model, input, output, cache write, cache read, cost), summed over machines."""
    q = (
        select(
            DailyUsage.date,
            DailyUsage.model,
            func.sum(DailyUsage.input_tokens),
            func.sum(DailyUsage.output_tokens),
            func.sum(DailyUsage.cache_creation_tokens),
            func.sum(DailyUsage.cache_read_tokens),
            func.sum(DailyUsage.cost),
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
            func.sum(
                DailyUsage.input_tokens
                + DailyUsage.output_tokens
                + DailyUsage.cache_creation_tokens
                + DailyUsage.cache_read_tokens
            ).label("tokens"),
            func.sum(DailyUsage.cost).label("cost"),
        )
        .group_by(DailyUsage.machine_id)
        .subquery()
    )
    q = (
        select(Machine, func.coalesce(totals.c.tokens, 0), func.coalesce(totals.c.cost, 0.0))
        .outerjoin(totals, totals.c.mid == Machine.id)
        .where(Machine.user_id == user.id)
        .order_by(Machine.last_seen.desc())
    )
    return list(s.execute(q).all())


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
        BlockUsage.input_tokens
        + BlockUsage.output_tokens
        + BlockUsage.cache_creation_tokens
        + BlockUsage.cache_read_tokens,
        BlockUsage.cost,
    ).where(BlockUsage.machine_id.in_(_machines_of(user)))
    return list(s.execute(q).all())


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
    tokens = func.sum(
        table.input_tokens
        + table.output_tokens
        + table.cache_creation_tokens
        + table.cache_read_tokens
    )
    q = (
        select(key, tokens, func.sum(table.cost))
        .join(Machine, Machine.id == table.machine_id)
        .where(Machine.user_id == user.id)
        .group_by(key)
        .order_by(func.sum(table.cost).desc())
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


def leaderboard(s: Session, since: dict[str, dt.date] | None) -> list[Any]:
    """(user, tokens, cost) of users who opted in; ``since`` maps each user's time zone to the
    first day that counts in it (None: all time)."""
    tokens = func.sum(
        DailyUsage.input_tokens
        + DailyUsage.output_tokens
        + DailyUsage.cache_creation_tokens
        + DailyUsage.cache_read_tokens
    )
    q = (
        select(User, tokens, func.sum(DailyUsage.cost))
        .join(Machine, Machine.user_id == User.id)
        .join(DailyUsage, DailyUsage.machine_id == Machine.id)
        .where(User.leaderboard_opt_in.is_(True))
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


def opted_in_timezones(s: Session) -> list[str]:
    return list(
        s.scalars(select(User.timezone).where(User.leaderboard_opt_in.is_(True)).distinct())
    )


def ping(s: Session) -> None:
    s.execute(select(1))
