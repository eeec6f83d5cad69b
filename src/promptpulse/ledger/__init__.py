"""The local ledger: every usage line ever read, and how far each log file has been read.

A SQLite file in the data dir. A sync reads only the bytes appended since the last one; a file
that shrank or was replaced is read again from the start (its old lines are dropped first); a
deleted file's lines stay, so history outlives Claude Code's 30-day cleanup. Which lines count
is recomputed (``counting.select_counted``) for every message id a sync touches, so
deduplication works across old and new lines alike.

One job per module, one class for callers:

- ``schema``: the tables, opening and migrating a ledger, re-pricing (``Store``);
- ``sync``: reading the logs in, and what changed since the last collect (``Sync``);
- ``reading``: reading files, on every core when there is enough;
- ``queries``: counted usage for the reports and the statusline, limits readings (``Queries``);
- ``outbox``: upload batches until the server acknowledges them (``Outbox``).

The statusline's fast path reads the ledger without any of this: ``promptpulse.ledger_glance``.
"""

from __future__ import annotations

from promptpulse.ledger.outbox import Outbox
from promptpulse.ledger.queries import CostMode, Queries
from promptpulse.ledger.reading import ProgressCallback
from promptpulse.ledger.schema import SCHEMA_VERSION, LedgerError
from promptpulse.ledger.sync import Sync, SyncResult

__all__ = ["SCHEMA_VERSION", "CostMode", "Ledger", "LedgerError", "ProgressCallback", "SyncResult"]


class Ledger(Sync, Queries, Outbox):
    """One open ledger database."""
