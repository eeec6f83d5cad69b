"""What the live dashboard reads and writes: the mark an upload leaves for the pages watching
its user, and the changes a SQLite process's watcher has not seen yet.

``mark_changed`` runs inside the upload's transaction, so that a page hears of a change only
once it is committed: on PostgreSQL it is ``pg_notify`` (delivered at commit to every process
that LISTENs); on SQLite it moves the user's row of ``usage_change`` past every other."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from promptpulse_server.models import UsageChange

CHANNEL = "promptpulse_usage"  # the PostgreSQL NOTIFY channel, and the channels plugin's


def mark_changed(s: Session, user_id: int) -> None:
    """Tell the live pages that ``user_id``'s usage changed, when the transaction commits."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(
            text("SELECT pg_notify(:channel, :user)"), {"channel": CHANNEL, "user": str(user_id)}
        )
        return
    following = select(func.coalesce(func.max(UsageChange.seq), 0) + 1).scalar_subquery()
    insert: Any = sqlite.insert(UsageChange).values(user_id=user_id, seq=following)
    s.execute(
        insert.on_conflict_do_update(index_elements=["user_id"], set_={"seq": insert.excluded.seq})
    )


def latest(s: Session) -> int:
    """The number of the newest change (0: none yet)."""
    return int(s.scalar(select(func.coalesce(func.max(UsageChange.seq), 0))) or 0)


def changed_since(s: Session, seq: int) -> list[tuple[int, int]]:
    """(user id, number) of each user whose usage changed after change number ``seq``."""
    rows = s.execute(
        select(UsageChange.user_id, UsageChange.seq)
        .where(UsageChange.seq > seq)
        .order_by(UsageChange.seq)
    ).all()
    return [(int(u), int(n)) for u, n in rows]
