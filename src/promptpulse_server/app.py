"""``create_app()``: the Litestar application.

The server's log (stderr) says one line for a request the client got wrong (a 4xx: method, path,
status, detail) and the whole traceback only for an unexpected error (a 5xx); no response ever
carries a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.logging import LoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.types import Logger, Scope

from promptpulse import __version__
from promptpulse_server import (
    api,
    audit,
    audit_api,
    budget_pages,
    budgets_api,
    db,
    digest_pages,
    digests,
    limits_api,
    live,
    logs,
    metrics,
    pages,
    rate_limits,
    schema_page,
    team_api,
    team_pages,
    web,
)
from promptpulse_server.gzip_body import GzipRequestMiddleware
from promptpulse_server.settings import Settings

TOO_DEEP = "JSON is nested too deeply"


def _too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    return Response({"status_code": 400, "detail": TOO_DEEP}, status_code=400)


def log_exception(logger: Logger, scope: Scope, traceback: list[str]) -> None:
    """Litestar calls this, inside its ``except``, for every exception a request raised."""
    exc = sys.exc_info()[1]
    if isinstance(exc, web.LoginRequired):
        return  # a redirect to the login page, not an error
    if isinstance(exc, RecursionError):  # answered as the 400 of _too_deep
        status, detail = 400, TOO_DEEP
    elif isinstance(exc, HTTPException):
        status, detail = exc.status_code, exc.detail
    else:
        status, detail = 500, ""
    method = scope["method"] if scope["type"] == ScopeType.HTTP else str(scope["type"])
    path = _one_line(scope["path"])
    if status < 500:
        logger.info("%s %s %d %s", method, path, status, _one_line(str(detail)))
    else:
        logger.exception("%s %s %d: unexpected error", method, path, status)


def _one_line(text: str) -> str:
    """A client's text (a decoded path, a detail quoting the body) cannot start a log line."""
    return " ".join(text.split())


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    engine = db.engine_for(settings)
    metrics.watch_pool(engine)
    sessions = db.session_factory(engine)
    limiter = rate_limits.Limiter(
        {
            "signup": settings.signup_per_minute,
            "upload": settings.uploads_per_minute,
            "login": settings.logins_per_minute,
            "invite": settings.invite_guesses_per_minute,
        },
        sessions,
        settings.clock,
    )

    def on_startup(app: Litestar) -> None:
        if settings.migrate_on_start:
            db.migrate(engine)

    async def start_live(app: Litestar) -> None:
        app.state.live_undo = live.on_startup(app.state)

    def stop_live(app: Litestar) -> None:
        app.state.live.close()  # the streams still open end now
        app.state.live_undo()

    def on_shutdown(app: Litestar) -> None:
        metrics.forget_pool(engine)
        engine.dispose()
        metrics.process_exits()

    channels = live.plugin(settings)
    log_pieces = logs.handlers(logs.json_lines(settings.log_format))
    routes: list[Any] = [
        api.router,
        audit_api.router,
        limits_api.router,
        budgets_api.router,
        digests.router,
        team_api.router,
        web.router,
        team_pages.router,
        budget_pages.router,
        digest_pages.router,
        live.router,
    ]
    if settings.metrics_token:  # without a token there is no /metrics at all
        routes.append(metrics.metrics)
    app = Litestar(
        route_handlers=routes,
        template_config=pages.template_config(),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="pp_csrf",
            cookie_httponly=True,
            # the API authenticates with a header, which a browser never sends across sites
            exclude=["^/api/", "^/claude-code-stats$", "^/health$"],
        ),
        after_request=pages.security_headers,
        # pages and JSON answers; static files are compressed once, ahead of time
        compression_config=CompressionConfig(
            backend="gzip", gzip_compress_level=6, minimum_size=1024, exclude=["^/static/"]
        ),
        state=State(
            {
                "engine": engine,
                "sessions": sessions,
                "settings": settings,
                "upload_gate": db.UploadGate(engine, settings.upload_concurrency),
                "channels": channels,
            }
        ),
        plugins=[channels],
        on_startup=[on_startup, start_live],
        on_shutdown=[stop_live, on_shutdown],
        middleware=[
            DefineMiddleware(GzipRequestMiddleware, max_bytes=settings.max_body_bytes),
            rate_limits.RateLimitMiddleware(limiter),
        ],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="promptpulse",
            version=__version__,
            path="/schema",
            render_plugins=[schema_page.EndpointsPage()],
        ),
        exception_handlers={
            RecursionError: _too_deep,
            web.LoginRequired: web.to_login,
            HTTPException: pages.error_page,
        },
        debug=False,
        # tracebacks go to the server's log, never into a response; 4xx are one line there
        # JSON lines (unless on a terminal) carrying the request's id, secrets redacted
        logging_config=LoggingConfig(
            formatters=log_pieces["formatters"],
            filters=log_pieces["filters"],
            handlers=log_pieces["handlers"],
            root={"handlers": ["console"], "level": settings.log_level.upper()},
            loggers={
                "litestar": {
                    "handlers": ["console"],
                    "level": settings.log_level.upper(),
                    "propagate": False,
                }
            },
            log_exceptions="always",
            exception_logging_handler=log_exception,
        ),
    )
    # outside Litestar's routing, so that requests no route answers are counted and logged too
    app.asgi_handler = logs.RequestId(audit.RecordOrigin(metrics.RequestMetrics(app.asgi_handler)))
    return app
