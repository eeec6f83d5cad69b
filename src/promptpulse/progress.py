"""The bar shown while a sync reads the logs, and only when reading takes more than a moment.

rich is imported when the bar is drawn, not before: a report that is quick, piped or printed as
JSON starts without it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptpulse.ledger import ProgressCallback

PROGRESS_AFTER_S = 0.5


@contextmanager
def sync_progress(console: Any) -> Iterator[ProgressCallback]:
    """A progress callback that draws a bar on ``console`` (a rich Console, or anything that
    makes one on first use) once reading has taken ``PROGRESS_AFTER_S``, on a terminal."""
    started = time.monotonic()
    bar: Any = None
    task = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            if time.monotonic() - started < PROGRESS_AFTER_S or not console.is_terminal:
                return
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            bar = Progress(
                TextColumn("Reading Claude Code logs"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            bar.start()
            task = bar.add_task("read", total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()
