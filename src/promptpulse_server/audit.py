"""The audit log's writing side: ``record`` adds an entry to the caller's session, so that the
entry commits (or rolls back) with the change it records.

Where a change came from (the API, the dashboard or the command line; the client's address and
user agent, bounded) is set once per HTTP request by ``RecordOrigin``, the outermost ASGI
wrapper, and read from a context variable; outside a request it is the command line. Nothing a
client sends goes into an entry unbounded, and never a key, a token, a cookie or an invite code.
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from typing import Literal, NamedTuple

from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.orm import Session

from promptpulse_server.models import AuditEntry, Team, User
from promptpulse_server.queries import audit as audit_q

Action = Literal[
    "account_created",
    "account_deleted",
    "login",
    "login_failed",
    "key_created",
    "key_revoked",
    "team_created",
    "team_renamed",
    "team_deleted",
    "member_joined",
    "member_left",
    "member_removed",
    "role_changed",
    "invite_created",
    "invite_revoked",
    "user_disabled",
    "user_enabled",
    "user_promoted",
    "user_demoted",
]
ADMIN_ACTIONS: dict[str, Action] = {
    "disable": "user_disabled",
    "enable": "user_enabled",
    "promote": "user_promoted",
    "demote": "user_demoted",
}
MAX_AGENT = 200
MAX_DETAIL = 300


class Origin(NamedTuple):
    via: str  # api | web | cli
    ip: str | None
    user_agent: str | None


COMMAND_LINE = Origin("cli", None, None)
ORIGIN: ContextVar[Origin] = ContextVar("audit_origin", default=COMMAND_LINE)


def _printable(text: str, limit: int) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


class RecordOrigin:
    """ASGI wrapper: notes each HTTP request's origin for the entries it records."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        agent = Headers.from_scope(scope).get("user-agent")
        via = "api" if scope["path"].startswith("/api/") else "web"
        token = ORIGIN.set(
            Origin(
                via,
                _printable(client[0], 64) if client else None,
                _printable(agent, MAX_AGENT) if agent else None,
            )
        )
        try:
            await self.app(scope, receive, send)
        finally:
            ORIGIN.reset(token)


def record(
    s: Session,
    now: dt.datetime,
    action: Action,
    actor: User | None,
    *,
    subject: User | None = None,
    team: Team | None = None,
    detail: str = "",
    subject_gone: bool = False,
) -> None:
    """Add an entry for ``action`` by ``actor`` (None: the command line, or nobody known) to
    ``s``. ``subject_gone``: the subject's account is being deleted, so only its name is kept."""
    origin = ORIGIN.get()
    if team is not None:
        detail = f"team {team.slug}" + (f": {detail}" if detail else "")
    audit_q.add_entry(
        s,
        AuditEntry(
            at=now,
            action=action,
            actor_id=actor.id if actor and not (subject_gone and actor is subject) else None,
            actor_name=actor.username if actor else None,
            subject_id=subject.id if subject and not subject_gone else None,
            subject_name=subject.username if subject else None,
            team_id=team.id if team else None,
            detail=_printable(detail, MAX_DETAIL),
            via=origin.via,
            ip=origin.ip,
            user_agent=origin.user_agent,
        ),
    )
