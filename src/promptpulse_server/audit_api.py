"""``GET /api/audit``: the audit log, newest first, a page at a time.

Who sees what: your own entries (what you did, and what was done to your account); a server
admin sees everyone's, and may narrow them to one user's (``user``). Both may narrow them to one
``action``. Pages hold ``limit`` entries (at most 200); ``nextBefore`` asks for the next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, get_args

from litestar import Router, get
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import QueryParameter
from sqlalchemy.orm import Session

from promptpulse_server import api, audit, queries, schemas
from promptpulse_server.api import DB, CurrentUser
from promptpulse_server.models import AuditEntry, User
from promptpulse_server.queries import audit as audit_q

MAX_PAGE = 200
ACTIONS: tuple[str, ...] = get_args(audit.Action)


def entry_out(e: AuditEntry) -> schemas.AuditEntryOut:
    return schemas.AuditEntryOut(
        id=e.id,
        at=e.at,
        action=e.action,
        actor=e.actor_name,
        subject=e.subject_name,
        team_id=e.team_id,
        detail=e.detail,
        via=e.via,  # type: ignore[arg-type]
        ip=e.ip,
        user_agent=e.user_agent,
    )


def visible_entries(
    db: Session,
    viewer: User,
    username: str | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Sequence[AuditEntry]:
    """The page of entries ``viewer`` may see, under the filters; 403/404 naming the field."""
    involving: int | None = viewer.id
    if username is not None and username != viewer.username:
        if not viewer.is_admin:
            raise PermissionDeniedException("user: only server admins see others' entries")
        found = queries.user_by_name(db, username)
        if found is None:
            raise NotFoundException(f"user: no user {username!r}")
        involving = found.id
    elif username is None and viewer.is_admin:
        involving = None
    return audit_q.entries(db, involving=involving, action=action, before=before, limit=limit)


AuditAction = Annotated[
    str | None,
    QueryParameter(name="action", max_length=40, pattern="^(" + "|".join(ACTIONS) + ")$"),
]


@get("/api/audit", sync_to_thread=True, tags=["audit"], responses=api.ERRORS)
def audit_log(
    db: DB,
    user: CurrentUser,
    username: Annotated[
        str | None, QueryParameter(name="user", max_length=50, pattern=r"^[A-Za-z0-9_-]+$")
    ] = None,
    action: AuditAction = None,
    before: Annotated[int | None, QueryParameter(name="before", ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, QueryParameter(name="limit", ge=1, le=MAX_PAGE)] = 50,
) -> schemas.AuditList:
    """Your entries, newest first (a server admin: everyone's, or ``user``'s); ``action`` keeps
    one kind; ``before`` (an entry id, from ``nextBefore``) turns the page."""
    rows = visible_entries(db, user, username, action, before, limit)
    more = len(rows) == limit
    return schemas.AuditList(
        entries=[entry_out(e) for e in rows], next_before=rows[-1].id if rows and more else None
    )


router = Router(
    path="/",
    route_handlers=[audit_log],
    dependencies=api.DEPENDENCIES,
    guards=[api.strict_json],
)
