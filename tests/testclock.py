"""The instant the tests run at. No test reads the system clock: each takes "now" from here.

``NOW`` is a fixed instant (a Wednesday afternoon in September 2026, after every generated log)
unless ``PROMPTPULSE_TEST_NOW`` names another: ``.ci/run`` runs the tests that touch dates
again just before midnight UTC on a Sunday, and when it is already Sunday in Asia/Kolkata but
still Saturday in UTC. With that variable set, ``conftest.py`` also moves this process's system
clock to the same instant (time-machine, ticking), so code that reads the system clock behind
the clock's back sees the awkward instant too, and crosses midnight while the tests run.
"""

from __future__ import annotations

import datetime as dt
import os

from promptpulse import clock

ENV = "PROMPTPULSE_TEST_NOW"
DEFAULT = "2026-09-16T15:04:05Z"

NOW = clock.parse_instant(os.environ.get(ENV) or DEFAULT)
TODAY = NOW.date()  # in UTC
NOW_MS = clock.to_ms(NOW)


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: dt.datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


def iso(moment: dt.datetime) -> str:
    """ccusage's timestamp form: UTC with milliseconds and Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )
