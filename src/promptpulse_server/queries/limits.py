"""Plan limits: the official readings of each user's 5-hour and 7-day windows, and their plan.

A limit belongs to the Claude account, not to a machine: a user's readings are unique by the
instant they were taken, whichever machine sent them, and one sent again (a retried batch, a
second machine) is stored once, with INSERT … ON CONFLICT DO NOTHING on both databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from promptpulse import shapes
from promptpulse.pricing import plan_price
from promptpulse_server.models import LimitReading, Machine, User

CHUNK = 500  # rows per INSERT: 10 values each, well under SQLite's limit on parameters
MAX_READINGS = 10_000  # in one answer


def _insert(s: Session) -> Any:
    return (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert


def store_readings(
    s: Session, user: User, machine: Machine, readings: Sequence[shapes.UploadedLimit]
) -> int:
    """Store the readings the user has not got yet (by instant); how many were new. A reading
    without either window says nothing, and is not kept."""
    rows: dict[dt.datetime, dict[str, Any]] = {}
    for r in readings:
        if r.five_hour is None and r.seven_day is None:
            continue
        at = r.recorded_at.astimezone(dt.UTC)
        rows.setdefault(
            at,
            dict(
                user_id=user.id,
                machine_id=machine.id,
                recorded_at=at,
                five_hour_pct=r.five_hour.used_percentage if r.five_hour else None,
                five_hour_resets_at=r.five_hour.resets_at if r.five_hour else None,
                seven_day_pct=r.seven_day.used_percentage if r.seven_day else None,
                seven_day_resets_at=r.seven_day.resets_at if r.seven_day else None,
                session_id=r.session_id,
                model=r.model,
            ),
        )
    values = list(rows.values())
    stored = 0
    for i in range(0, len(values), CHUNK):
        added = s.execute(
            _insert(s)(LimitReading)
            .values(values[i : i + CHUNK])
            .on_conflict_do_nothing(index_elements=["user_id", "recorded_at"])
            .returning(LimitReading.id)
        ).all()
        stored += len(added)
    return stored


def set_plan(s: Session, user: User, plan: shapes.PlanIn, generated_at: dt.datetime) -> None:
    """The user's plan, unless a batch generated later already said otherwise."""
    if user.plan_at is not None and user.plan_at > generated_at:
        return
    user.plan = plan.name
    user.plan_monthly_usd = plan.monthly_usd
    user.plan_at = generated_at
    s.flush()


def readings(
    s: Session,
    user_id: int,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = MAX_READINGS,
) -> list[LimitReading]:
    """The user's readings taken from ``start`` until before ``end``, oldest first; the latest
    ``limit`` of them when there are more."""
    q = select(LimitReading).where(LimitReading.user_id == user_id)
    if start is not None:
        q = q.where(LimitReading.recorded_at >= start)
    if end is not None:
        q = q.where(LimitReading.recorded_at < end)
    newest = s.scalars(q.order_by(LimitReading.recorded_at.desc()).limit(limit)).all()
    return list(reversed(newest))


def latest(s: Session, user_ids: Iterable[int]) -> dict[int, list[LimitReading]]:
    """Each user's latest reading of the 5-hour window and latest of the 7-day one (one row
    when it is the same reading)."""
    ids = list(user_ids)
    out: dict[int, list[LimitReading]] = {uid: [] for uid in ids}
    if not ids:
        return out
    for pct, resets in (
        (LimitReading.five_hour_pct, LimitReading.five_hour_resets_at),
        (LimitReading.seven_day_pct, LimitReading.seven_day_resets_at),
    ):
        last = (
            select(LimitReading.user_id, func.max(LimitReading.recorded_at).label("recorded_at"))
            .where(LimitReading.user_id.in_(ids), pct.is_not(None), resets.is_not(None))
            .group_by(LimitReading.user_id)
            .subquery()
        )
        for row in s.scalars(
            select(LimitReading).join(
                last,
                and_(
                    last.c.user_id == LimitReading.user_id,
                    last.c.recorded_at == LimitReading.recorded_at,
                ),
            )
        ):
            if all(r.id != row.id for r in out[row.user_id]):
                out[row.user_id].append(row)
    return out


def plan_of(user: User) -> tuple[str, float | None] | None:
    """(plan, monthly price) of a user: the price they reported, else the plan's list price
    (None for the API, which is pay as you go)."""
    if user.plan is None:
        return None
    price = user.plan_monthly_usd if user.plan_monthly_usd is not None else plan_price(user.plan)
    return user.plan, price
