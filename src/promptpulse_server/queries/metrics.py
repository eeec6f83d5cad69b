"""What ``/metrics`` reads from the database: each account's usage (only when the admin has
turned per-user figures on)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from promptpulse_server.models import DailyUsage, Machine, Upload, User
from promptpulse_server.queries import tokens_of, total_of


class UserUsage(NamedTuple):
    username: str
    cost: float
    tokens: int
    last_upload: dt.datetime | None


def usage_by_user(s: Session, since: dt.date) -> list[UserUsage]:
    """Every account, with its cost and tokens on days from ``since`` and its last upload."""
    usage = {
        user_id: (float(cost or 0), int(tokens or 0))
        for user_id, cost, tokens in s.execute(
            select(Machine.user_id, total_of(DailyUsage.cost), tokens_of(DailyUsage))
            .join(Machine, Machine.id == DailyUsage.machine_id)
            .where(DailyUsage.date >= since)
            .group_by(Machine.user_id)
        )
    }
    last = dict(
        s.execute(
            select(Upload.user_id, func.max(Upload.received_at)).group_by(Upload.user_id)
        ).all()
    )
    users = s.execute(select(User.id, User.username).order_by(User.username)).all()
    found = []
    for user_id, name in users:
        cost, tokens = usage.get(user_id, (0.0, 0))
        found.append(UserUsage(name, cost, tokens, last.get(user_id)))  # max() keeps the type
    return found
