"""Rate-limit counters shared by every server process on the database.

A request adds one to its window's counter and reads the new count in the same statement
(INSERT … ON CONFLICT DO UPDATE … RETURNING, on PostgreSQL and SQLite alike), so two processes
counting at once each see a different number: exactly the limit gets through, wherever the
requests land."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from promptpulse_server.models import RateLimitCount


def count_hit(s: Session, key: str, expires_at: dt.datetime) -> int:
    """One more request under ``key``; the count with it."""
    insert = (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert
    stmt = insert(RateLimitCount).values(key=key, hits=1, expires_at=expires_at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RateLimitCount.key], set_={"hits": RateLimitCount.hits + 1}
    ).returning(RateLimitCount.hits)
    hits: int = s.execute(stmt).scalar_one()
    return hits


def forget_expired(s: Session, now: dt.datetime) -> int:
    """Delete the counters of windows that are over; how many."""
    result = s.execute(delete(RateLimitCount).where(RateLimitCount.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
