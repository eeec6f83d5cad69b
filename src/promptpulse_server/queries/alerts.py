"""Budgets, the alerts they fire and the log of their deliveries.

An alert is unique by (budget, period, threshold) in the database: ``claim_alert`` inserts it
with INSERT … ON CONFLICT DO NOTHING and says whether this call made it, and only the caller
that made it delivers it. A retried upload, or the same upload on a second server process,
finds the row there and delivers nothing.

Cost periods are counted in a zone: the user's own, or for a team's budget its owner's; a day's
usage is the machines' local day, as every other report counts it. Weeks start on Monday."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from promptpulse_server.models import (
    Alert,
    Budget,
    DailyUsage,
    Delivery,
    Digest,
    Machine,
    Membership,
    SpikeAlert,
    Team,
    User,
)

MAX_BUDGETS = 50  # per user, and per team
MAX_DELIVERIES = 200  # in one answer


def _insert(s: Session) -> Any:
    return (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert


# --- budgets ------------------------------------------------------------------------------------


def add_budget(s: Session, values: dict[str, Any], now: dt.datetime) -> Budget:
    budget = Budget(**values, created_at=now)
    s.add(budget)
    s.flush()
    return budget


def update_budget(s: Session, budget: Budget, values: dict[str, Any]) -> Budget:
    for name, value in values.items():
        setattr(budget, name, value)
    s.flush()
    return budget


def delete_budget(s: Session, budget: Budget) -> None:
    s.execute(delete(Delivery).where(Delivery.budget_id == budget.id))
    s.execute(delete(Alert).where(Alert.budget_id == budget.id))
    s.execute(delete(Budget).where(Budget.id == budget.id))


def budget_by_id(s: Session, budget_id: int) -> Budget | None:
    return s.get(Budget, budget_id)


def count_budgets(s: Session, user_id: int | None, team_id: int | None) -> int:
    q = select(Budget.id).where(
        Budget.user_id == user_id if user_id is not None else Budget.team_id == team_id
    )
    return len(s.scalars(q).all())


def user_budgets(s: Session, user: User) -> list[Budget]:
    return list(s.scalars(select(Budget).where(Budget.user_id == user.id).order_by(Budget.id)))


def team_budgets(s: Session, team_ids: Sequence[int]) -> list[Budget]:
    if not team_ids:
        return []
    q = select(Budget).where(Budget.team_id.in_(list(team_ids))).order_by(Budget.id)
    return list(s.scalars(q))


def team_ids_of(s: Session, user: User) -> list[int]:
    return list(s.scalars(select(Membership.team_id).where(Membership.user_id == user.id)))


def managed_team_ids(s: Session, user: User) -> list[int]:
    q = select(Membership.team_id).where(
        Membership.user_id == user.id, Membership.role.in_(("owner", "admin"))
    )
    return list(s.scalars(q))


# --- where a budget stands ------------------------------------------------------------------------


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def period_days(period: str, zone: ZoneInfo, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and last day of the period that holds ``now`` in ``zone``."""
    today = now.astimezone(zone).date()
    if period == "day":
        return today, today
    if period == "week":
        first = today - dt.timedelta(days=today.weekday())
        return first, first + dt.timedelta(days=6)
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def team_owner_zone(s: Session, team_id: int) -> str:
    zone = s.scalar(
        select(User.timezone)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == team_id, Membership.role == "owner")
    )
    return zone or "UTC"


def team_sharing_ids(s: Session, team_id: int) -> list[int]:
    """The members whose usage a team's cost counts: those who share it with their teams."""
    q = (
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.team_id == team_id, User.share_with_team.is_(True))
    )
    return list(s.scalars(q))


def cost_between(s: Session, user_ids: Sequence[int], first: dt.date, last: dt.date) -> float:
    """The cost of these users' machines on the days ``first`` to ``last``."""
    if not user_ids:
        return 0.0
    rows = s.scalars(
        select(DailyUsage.cost)
        .join(Machine, Machine.id == DailyUsage.machine_id)
        .where(
            Machine.user_id.in_(list(user_ids)),
            DailyUsage.date >= first,
            DailyUsage.date <= last,
        )
    )
    return float(sum(rows))


def active_days(s: Session, user_id: int, first: dt.date, last: dt.date) -> dict[dt.date, float]:
    """The days from ``first`` to ``last`` on which the user's machines cost anything."""
    rows = s.execute(
        select(DailyUsage.date, DailyUsage.cost)
        .join(Machine, Machine.id == DailyUsage.machine_id)
        .where(Machine.user_id == user_id, DailyUsage.date >= first, DailyUsage.date <= last)
    ).all()
    days: dict[dt.date, float] = {}
    for day, cost in rows:
        days[day] = days.get(day, 0.0) + float(cost or 0)
    return {d: c for d, c in days.items() if c > 0}


class Figures(NamedTuple):
    """Where a budget stands in its current period (for a team's limit budget: one member)."""

    period_key: str
    used: float
    limit: float
    percent: float
    user_id: int | None = None


def cost_figures(s: Session, budget: Budget, now: dt.datetime) -> Figures:
    if budget.team_id is not None:
        zone = zone_of(team_owner_zone(s, budget.team_id))
        ids = team_sharing_ids(s, budget.team_id)
    else:
        assert budget.user_id is not None
        owner = s.get(User, budget.user_id)
        zone = zone_of(owner.timezone if owner else "UTC")
        ids = [budget.user_id]
    first, last = period_days(budget.period or "day", zone, now)
    used = cost_between(s, ids, first, last)
    amount = budget.amount_usd or 0.0
    percent = used / amount * 100 if amount > 0 else 0.0
    return Figures(f"{budget.period}:{first.isoformat()}", used, amount, percent)


# --- alerts and deliveries ------------------------------------------------------------------------


def claim_alert(
    s: Session, budget: Budget, figures: Figures, threshold: int, now: dt.datetime
) -> int | None:
    """Record that ``threshold`` was crossed in the period; the new alert's id, or None when
    it was there already (someone else delivers it)."""
    made = s.execute(
        _insert(s)(Alert)
        .values(
            budget_id=budget.id,
            period_key=figures.period_key,
            threshold=threshold,
            user_id=figures.user_id,
            used=figures.used,
            limit_amount=figures.limit,
            percent=figures.percent,
            state="pending",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["budget_id", "period_key", "threshold"])
        .returning(Alert.id)
    ).first()
    return None if made is None else int(made[0])


def claim_spike(
    s: Session, user: User, day: dt.date, cost: float, median: float, now: dt.datetime
) -> int | None:
    """Record that ``user``'s ``day`` was a spike (told through their digests' channels): the
    new row's id, or None when it was there already."""
    made = s.execute(
        _insert(s)(SpikeAlert)
        .values(user_id=user.id, day=day, cost=cost, median=median, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "day"])
        .returning(SpikeAlert.id)
    ).first()
    return None if made is None else int(made[0])


def user_digests(s: Session, user: User) -> list[Digest]:
    return list(s.scalars(select(Digest).where(Digest.user_id == user.id).order_by(Digest.id)))


def team_digests(s: Session, team_id: int) -> list[Digest]:
    return list(s.scalars(select(Digest).where(Digest.team_id == team_id).order_by(Digest.id)))


def log_delivery(
    s: Session,
    budget_id: int | None,
    alert_id: int | None,
    attempt: int,
    now: dt.datetime,
    error: str | None,
    digest_id: int | None = None,
    spike_id: int | None = None,
) -> None:
    s.add(
        Delivery(
            budget_id=budget_id,
            digest_id=digest_id,
            alert_id=alert_id,
            spike_id=spike_id,
            attempt=attempt,
            at=now,
            status="ok" if error is None else "error",
            error=None if error is None else error[:500],
        )
    )
    if alert_id is not None:
        state = "sent" if error is None else "failed"
        s.execute(update(Alert).where(Alert.id == alert_id).values(state=state))
    s.flush()


class Logged(NamedTuple):
    """One delivery attempt and what it delivered: a budget's alert or test (``budget``,
    ``alert``), a digest (``digest``), or a spike through a digest's channel (``digest``,
    ``spike``)."""

    delivery: Delivery
    budget: Budget | None
    alert: Alert | None
    digest: Digest | None
    spike: SpikeAlert | None


def deliveries(
    s: Session, user_id: int | None, team_ids: Sequence[int], limit: int = MAX_DELIVERIES
) -> list[Logged]:
    """The latest delivery attempts of a user's budgets and digests and of these teams'
    budgets and digests, newest first."""
    whose: list[Any] = []
    if user_id is not None:
        whose += [Budget.user_id == user_id, Digest.user_id == user_id]
    if team_ids:
        whose += [Budget.team_id.in_(list(team_ids)), Digest.team_id.in_(list(team_ids))]
    if not whose:
        return []
    rows = s.execute(
        select(Delivery, Budget, Alert, Digest, SpikeAlert)
        .outerjoin(Budget, Budget.id == Delivery.budget_id)
        .outerjoin(Alert, Alert.id == Delivery.alert_id)
        .outerjoin(Digest, Digest.id == Delivery.digest_id)
        .outerjoin(SpikeAlert, SpikeAlert.id == Delivery.spike_id)
        .where(or_(*whose))
        .order_by(Delivery.at.desc(), Delivery.id.desc())
        .limit(limit)
    ).all()
    return [Logged(*row) for row in rows]


def team_names(s: Session, team_ids: Sequence[int]) -> dict[int, str]:
    if not team_ids:
        return {}
    return dict(s.execute(select(Team.id, Team.name).where(Team.id.in_(list(team_ids)))).all())


def delete_user_budgets(s: Session, user: User) -> None:
    """A user's own budgets, their alerts and deliveries (a team's budgets stay with it)."""
    for budget in user_budgets(s, user):
        delete_budget(s, budget)
