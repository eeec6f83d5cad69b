"""The server's log: one line per event on stderr, JSON lines when stderr is not a terminal.

Every line written while a request is handled carries that request's id, which the answer
also carries in its ``X-Request-ID`` header. A client (or the proxy in front) may send its own
``X-Request-ID``: it is kept when it is 1 to 128 letters, digits or ``._:-``, and replaced by a
new one otherwise.

Secrets never reach the log: every line (its message and any traceback) is rewritten before it
is written, so that API keys (``pp_…``), login-link tokens and invite codes in paths, secret-like
query parameters, bearer tokens and the session and CSRF cookies read ``[redacted]``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_REDACTIONS = [
    # API keys wherever they appear
    (re.compile(r"pp_[A-Za-z0-9_-]{6,}"), "pp_[redacted]"),
    # one-time login links, invite codes in join and invite paths
    (re.compile(r"(/login/|/join/|/invites/)[^/\s?\"'#]+"), r"\1[redacted]"),
    # query parameters whose name says they are secret
    (
        re.compile(
            r"([?&;][^=&\s\"']*(?:token|key|code|secret|pass|session|invite|auth)[^=&\s\"']*=)"
            r"[^&\s\"']*",
            re.IGNORECASE,
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"(Bearer|Basic)\s+[^\s\"',]+", re.IGNORECASE), r"\1 [redacted]"),
    (re.compile(r"(pp_session|pp_csrf)=[^;\s\"',]+"), r"\1=[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or None outside a request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class Formatter(logging.Formatter):
    """A JSON object per line (``time``, ``level``, ``logger``, ``message``, ``request_id``,
    ``exception``), or a plain line for a person at a terminal; secrets redacted in both."""

    def __init__(self, json_lines: bool = True) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        if not self.json_lines:
            line = super().format(record)
            return redact(f"[{request_id}] {line}" if request_id else line)
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": request_id,
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False)


def json_lines(choice: str = "auto") -> bool:
    """``PROMPTPULSE_LOG_FORMAT``: ``json``, ``text``, or ``auto`` (JSON unless on a terminal)."""
    if choice == "auto":
        return not sys.stderr.isatty()
    return choice == "json"


def handlers(json_out: bool) -> dict[str, dict[str, Any]]:
    """``logging.config.dictConfig``'s pieces: one handler on stderr with the request-id filter
    and the formatter (as ``formatters``, ``filters``, ``handlers``)."""
    return {
        "formatters": {"standard": {"()": Formatter, "json_lines": json_out}},
        "filters": {"request_id": {"()": RequestIdFilter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "standard",
                "filters": ["request_id"],
            },
            # Litestar's own queue handler would lose the request's context: not used
            "queue_listener": {"class": "logging.NullHandler"},
        },
    }


def process_config(level: str, json_out: bool) -> dict[str, Any]:
    """The whole process's logging (and uvicorn's ``log_config``): every logger, uvicorn's
    server and access lines among them, to the one handler, at ``level``."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        **handlers(json_out),
        "root": {"handlers": ["console"], "level": upper},
        "loggers": {
            "uvicorn": {"handlers": ["console"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": ["console"], "level": upper, "propagate": False},
        },
    }


class RequestId:
    """Outermost ASGI wrapper: gives each HTTP request its id, for the log and the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == HEADER.encode()),
            "",
        )
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[HEADER] = request_id
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
