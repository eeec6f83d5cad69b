"""The audit log: entries added in the caller's transaction (it commits them with the change
they record), and read newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from promptpulse_server.models import AuditEntry


def add_entry(s: Session, entry: AuditEntry) -> None:
    """Add ``entry`` to the session; the caller's commit writes it with its change."""
    s.add(entry)


def entries(
    s: Session,
    *,
    involving: int | None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Sequence[AuditEntry]:
    """Newest first: those where ``involving`` is the actor or the subject (None: all),
    of ``action`` if given, with ids below ``before``; at most ``limit``."""
    q = select(AuditEntry)
    if involving is not None:
        q = q.where(or_(AuditEntry.actor_id == involving, AuditEntry.subject_id == involving))
    if action is not None:
        q = q.where(AuditEntry.action == action)
    if before is not None:
        q = q.where(AuditEntry.id < before)
    return s.scalars(q.order_by(AuditEntry.id.desc()).limit(limit)).all()
