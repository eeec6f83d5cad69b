"""The cron job that runs ``promptpulse collect`` (python-crontab).

One job, marked by a comment; installing again replaces it. ``PROMPTPULSE_CRONTAB_FILE`` points
at a crontab file instead of the user's crontab (the tests use it). The job runs ``collect
--timestamps``, so that every line of its log (``collect.log`` in the state dir) starts with the
instant it was written.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import IO, Any

from promptpulse import config
from promptpulse.clock import Clock

MARKER = "promptpulse collect"
INTERVALS = {"15m": "*/15 * * * *", "30m": "*/30 * * * *", "1h": "0 * * * *", "daily": "0 9 * * *"}
KEPT_ENV = ("PROMPTPULSE_HOME", "CLAUDE_CONFIG_DIR", "XDG_CONFIG_HOME", "MACHINE_ID", "TZ")


class ScheduleError(Exception):
    pass


def command() -> str:
    """The collect command with this installation's absolute Python and the environment that
    locates the logs and the ledger (cron starts with almost none)."""
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in KEPT_ENV if os.environ.get(k))
    log = config.state_dir() / "collect.log"
    run = f"{shlex.quote(sys.executable)} -m promptpulse collect --timestamps"
    return f"{env + ' ' if env else ''}{run} >> {shlex.quote(str(log))} 2>&1"


def cron_line(interval: str) -> str:
    return f"{INTERVALS[interval]} {command()} # {MARKER}"


def _tab() -> Any:
    from crontab import CronTab

    path = os.environ.get("PROMPTPULSE_CRONTAB_FILE")
    if path:
        Path(path).touch()
        return CronTab(tabfile=path)
    if shutil.which("crontab") is None:
        raise ScheduleError(
            "no crontab command on this machine: install cron "
            "(Debian/Ubuntu: sudo apt-get install cron; macOS has it)"
        )
    return CronTab(user=True)


def install(interval: str) -> str:
    """Install (or replace) the job; the line installed."""
    tab = _tab()
    tab.remove_all(comment=MARKER)
    job = tab.new(command=command(), comment=MARKER)
    job.setall(INTERVALS[interval])
    config.state_dir().mkdir(parents=True, exist_ok=True)
    tab.write()
    return str(job)


def remove() -> int:
    tab = _tab()
    removed = len(list(tab.find_comment(MARKER)))
    tab.remove_all(comment=MARKER)
    tab.write()
    return removed


def installed() -> str | None:
    try:
        tab = _tab()
    except ScheduleError:
        return None
    jobs = list(tab.find_comment(MARKER))
    return str(jobs[0]) if jobs else None


class StampedLines:
    """A text stream that starts every line written to ``target`` with the clock's instant
    (``2026-09-16T15:04:05Z ``): the cron job's log says when each run said what."""

    def __init__(self, target: IO[str], now: Clock) -> None:
        self.target, self.now = target, now
        self.at_line_start = True
        self.encoding = getattr(target, "encoding", "utf-8")
        self.errors = getattr(target, "errors", "strict")

    def write(self, text: str) -> int:
        out = []
        for piece in text.splitlines(keepends=True):
            if self.at_line_start:
                out.append(self.now().strftime("%Y-%m-%dT%H:%M:%SZ "))
            out.append(piece)
            self.at_line_start = piece.endswith("\n")
        self.target.write("".join(out))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.target.fileno()
