"""``/metrics``: the server's counters in Prometheus' text format (prometheus-client).

What is counted, and nothing per user:

- every HTTP request, by method, route template (``/api/teams/{team_id}``, never the path
  as sent; ``unmatched`` for a path no route has) and status, with its latency;
- uploads stored, rows ingested (by kind: daily, session, block), and batches skipped because
  the server already had them;
- the database pool: connections checked out, and the pool's configured size;
- alert, test and digest deliveries, by what was delivered, the channel (webhook or email)
  and the outcome (ok or error), one per attempt. Digests are sent by ``send-digests``, its own
  process: its figures reach a scrape when it runs with the server's ``PROMETHEUS_MULTIPROC_DIR``.

Per user, only when the admin turns it on (``PROMPTPULSE_METRICS_PER_USER=1``): each account's
cost and tokens over the last 30 days and its last upload, read from the database at each
scrape (``promptpulse_user_*``).

The route exists only when ``PROMPTPULSE_METRICS_TOKEN`` is set, and answers only a request
that carries it (``Authorization: Bearer TOKEN``). With several worker processes
(``serve --workers N``) the workers write their figures to files in ``PROMETHEUS_MULTIPROC_DIR``
(``serve`` makes one when it is not set) and every scrape sums them.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from promptpulse_server.queries import metrics as metrics_q

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "promptpulse_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "promptpulse_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPLOADS = Counter(
    "promptpulse_uploads", "Upload batches stored, by source (collector, ccusage).", ["source"]
)
DUPLICATES = Counter(
    "promptpulse_upload_duplicates",
    "Upload batches skipped because the server already had them (the same batch id).",
    ["source"],
)
ROWS = Counter(
    "promptpulse_rows_ingested",
    "Usage rows stored by uploads, by kind (daily, session, block).",
    ["kind"],
)
DELIVERIES = Counter(
    "promptpulse_deliveries",
    "Delivery attempts of alerts, test messages and digests, by channel and outcome.",
    ["kind", "channel", "outcome"],
)
POOL_CHECKED_OUT = Gauge(
    "promptpulse_db_pool_checked_out",
    "Database connections in use now (summed over the server's processes).",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "promptpulse_db_pool_size",
    "Database connections the pools keep (summed over the server's processes).",
    multiprocess_mode="livesum",
)


def upload_stored(source: str, duplicate: bool, daily: int, sessions: int, blocks: int) -> None:
    """Count one upload the API has committed."""
    if duplicate:
        DUPLICATES.labels(source).inc()
        return
    UPLOADS.labels(source).inc()
    ROWS.labels("daily").inc(daily)
    ROWS.labels("session").inc(sessions)
    ROWS.labels("block").inc(blocks)


def delivered(kind: str, channel: dict[str, Any], error: str | None) -> None:
    """Count one delivery attempt of an ``alert``, a ``test`` or a ``digest``."""
    through = "email" if channel.get("type") == "email" else "webhook"
    DELIVERIES.labels(kind, through, "ok" if error is None else "error").inc()


def watch_pool(engine: Engine) -> None:
    """Keep the pool gauges up to date from the engine's pool events."""
    size = getattr(engine.pool, "size", None)
    if callable(size):
        POOL_SIZE.inc(size())

    @event.listens_for(engine, "checkout")
    def _checkout(*_: Any) -> None:
        POOL_CHECKED_OUT.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(*_: Any) -> None:
        POOL_CHECKED_OUT.dec()


def forget_pool(engine: Engine) -> None:
    size = getattr(engine.pool, "size", None)
    if callable(size):
        POOL_SIZE.dec(size())


def process_exits() -> None:
    """A worker that stops takes its live gauges out of the multi-process sum."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class RequestMetrics:
    """Outermost ASGI wrapper: counts and times every HTTP request, 404s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("path_template") or "unmatched"
            method = str(scope.get("method", ""))
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)


PER_USER_DAYS = 30


class PerUser:
    """A collector of each account's usage, read from the database when scraped."""

    def __init__(self, sessions: sessionmaker[Session], now: dt.datetime) -> None:
        self.sessions = sessions
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        since = self.now.date() - dt.timedelta(days=PER_USER_DAYS - 1)
        with self.sessions() as s:
            rows = metrics_q.usage_by_user(s, since)
        cost = GaugeMetricFamily(
            "promptpulse_user_cost_usd",
            f"Cost of each account's usage on the last {PER_USER_DAYS} days (UTC dates).",
            labels=["user"],
        )
        tokens = GaugeMetricFamily(
            "promptpulse_user_tokens",
            f"Tokens of each account's usage on the last {PER_USER_DAYS} days (UTC dates).",
            labels=["user"],
        )
        last = GaugeMetricFamily(
            "promptpulse_user_last_upload_timestamp_seconds",
            "When each account's last upload arrived (Unix time; 0: never).",
            labels=["user"],
        )
        for row in rows:
            cost.add_metric([row.username], row.cost)
            tokens.add_metric([row.username], row.tokens)
            last.add_metric([row.username], row.last_upload.timestamp() if row.last_upload else 0)
        yield from (cost, tokens, last)


@get("/metrics", sync_to_thread=True, include_in_schema=False)
def metrics(request: Request[Any, Any, State]) -> Response[bytes]:
    """The figures, for a scraper that sends the token."""
    state = request.app.state
    token: str = state.settings.metrics_token
    given = request.headers.get("authorization", "")
    scheme, _, credential = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        credential.strip().encode(), token.encode()
    ):
        raise NotAuthorizedException(
            "Authorization: Bearer PROMPTPULSE_METRICS_TOKEN required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    registry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    figures = generate_latest(registry)
    if state.settings.metrics_per_user:
        per_user = CollectorRegistry()
        per_user.register(PerUser(state.sessions, state.settings.clock()))
        figures += generate_latest(per_user)
    return Response(
        figures,
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )
