"""Rate limits shared by every server process on the database.

A route opts in with ``opt={"rate_limit": KIND}`` (``signup``, ``upload``, ``login``,
``invite``); each kind allows a number of requests per client address per minute (fixed
windows, on the server's clock). The counts live in the database (``queries.rate_limits``), so
two processes behind a load balancer, or the workers of ``serve --workers N``, grant one budget
between them, not one each. A request over the budget gets a 429 with ``Retry-After`` (seconds
to the next window); every limited answer carries ``RateLimit-Limit``, ``RateLimit-Remaining``
and ``RateLimit-Reset``. Windows that are over are deleted by the first request of a later
window in each process: no cron job is needed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import anyio.to_thread
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.orm import Session, sessionmaker

from promptpulse.clock import Clock
from promptpulse_server.queries import rate_limits as counts

WINDOW = dt.timedelta(minutes=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def window_end(now: dt.datetime) -> dt.datetime:
    """The end of the minute ``now`` is in (windows start on the minute, in UTC)."""
    elapsed = (now - _EPOCH) // WINDOW
    return _EPOCH + (elapsed + 1) * WINDOW


class Limiter:
    """The budgets (requests per minute by kind) and the database that counts them."""

    def __init__(
        self, per_minute: Mapping[str, int], sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        self.per_minute = dict(per_minute)
        self.sessions = sessions
        self.clock = clock
        self._swept_until = _EPOCH  # this process's last deletion of spent windows

    def hit(self, kind: str, client: str) -> tuple[int, dt.datetime, dt.datetime]:
        """Count one request (in a worker thread: it writes); the count, now and the window's
        end."""
        now = self.clock()
        end = window_end(now)
        key = f"{kind}:{int(end.timestamp())}:{client}"[:200]
        with self.sessions() as s:
            hits = counts.count_hit(s, key, end)
            if now >= self._swept_until:
                counts.forget_expired(s, now)
                self._swept_until = end
            s.commit()
        return hits, now, end


class RateLimitMiddleware(ASGIMiddleware):
    """Counts the requests of routes that name a kind of limit, and refuses those over it."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        kind = scope["route_handler"].opt.get("rate_limit")
        limit = self.limiter.per_minute.get(kind) if isinstance(kind, str) else None
        if limit is None:
            await next_app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "127.0.0.1"
        hits, now, end = await anyio.to_thread.run_sync(self.limiter.hit, str(kind), address)
        reset = max(1, math.ceil((end - now).total_seconds()))
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(0, limit - hits)),
            "RateLimit-Reset": str(reset),
        }
        if hits > limit:
            raise TooManyRequestsException(
                detail=f"Too many requests from this address; try again in {reset} seconds",
                headers={**headers, "Retry-After": str(reset)},
            )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                answer = MutableScopeHeaders(message)
                for name, value in headers.items():
                    answer[name] = value
            await send(message)

        await next_app(scope, receive, send_with_headers)
