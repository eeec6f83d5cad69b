"""The one place promptpulse asks what time it is.

Code that needs "now" receives a ``Clock`` (a function returning an aware UTC ``datetime``)
instead of reading the system's clock, so tests choose their instant:

- ``system_now`` is the real clock;
- ``fixed(instant)`` always reads that instant;
- ``from_env()`` is the real clock, or, when ``PROMPTPULSE_NOW`` holds an ISO 8601 instant,
  ``fixed`` at that instant. This is how a test hands its instant to a server or collector
  process it starts (a clock that ran on could cross midnight between the test's expectation and
  the process's answer), and how a report or a dashboard can be seen as it was at a moment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

Clock = Callable[[], datetime]

ENV = "PROMPTPULSE_NOW"


class ClockError(ValueError):
    """``PROMPTPULSE_NOW`` is not an instant."""


def system_now() -> datetime:
    return datetime.now(UTC)


def fixed(instant: datetime) -> Clock:
    moment = instant.astimezone(UTC)
    return lambda: moment


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its offset (``Z`` allowed), as aware UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ClockError(f"{ENV}: {text!r} is not an ISO 8601 instant") from exc
    if moment.tzinfo is None:
        raise ClockError(f"{ENV}: {text!r} has no offset (add Z for UTC)")
    return moment.astimezone(UTC)


def from_env() -> Clock:
    text = os.environ.get(ENV, "").strip()
    return fixed(parse_instant(text)) if text else system_now


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, as the collector keeps timestamps."""
    return int(moment.timestamp() * 1000)


def local_timezone() -> tzinfo:
    """The system's time zone: ``TZ``, else what ``/etc/localtime`` names, else UTC."""
    from pathlib import Path
    from zoneinfo import ZoneInfo

    env = os.environ.get("TZ", "").strip().lstrip(":")
    if env:
        return ZoneInfo(env)
    local = Path("/etc/localtime")
    try:
        target = str(local.resolve())
        if "zoneinfo/" in target:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
        with local.open("rb") as f:
            return ZoneInfo.from_file(f)
    except (OSError, ValueError):
        return UTC
