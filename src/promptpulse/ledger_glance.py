"""A glance at the ledger: the few indexed reads the statusline makes after every Claude Code
message. It imports nothing beyond sqlite3 and never writes, so it neither waits for nor blocks
a running sync (the ledger is in WAL mode). The schema lives in ``ledger/schema.py``; the block
rule is ``reports.by_block``'s, and a test holds the two to the same answers.
"""

from __future__ import annotations

import os
import sqlite3
import time

HOUR_MS = 3_600_000
BLOCK_MS = 5 * HOUR_MS
# the reports' default cost mode, auto: a logged cost, else the tokens' and web searches' (at
# pricing.WEB_SEARCH_USD each; a test holds the two equal)
_COST = "COALESCE(l.cost_usd, l.calc_cost + l.web_search * 0.01)"
_SESSION_FILES = "l.file_id IN (SELECT id FROM file WHERE session_id = ?)"
# the ledger schema these reads are written for (ledger.schema.SCHEMA_VERSION; a test holds them
# equal): an older ledger is read as none until the background sync has migrated it
SCHEMA_VERSION = 4


class Block:
    """The active 5-hour block: its cost, end, and burn rate in USD per hour."""

    __slots__ = ("cost", "cost_per_hour", "end", "start", "tokens")

    def __init__(
        self, start: int, end: int, cost: float, tokens: int, cost_per_hour: float | None
    ) -> None:
        self.start, self.end, self.cost = start, end, cost
        self.tokens, self.cost_per_hour = tokens, cost_per_hour


def open_ledger(path: str) -> sqlite3.Connection | None:
    """The ledger for reading, or None when there is none yet or its schema is not the one these
    reads know (the sync that follows migrates it)."""
    if not os.path.exists(path):
        return None
    db = sqlite3.connect(path, timeout=0.2)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table yet: a ledger still being created
        row = None
    if row is None or int(row[0]) != SCHEMA_VERSION:
        db.close()
        return None
    return db


def session_cost(db: sqlite3.Connection, session_id: str) -> tuple[float, int]:
    """(cost, tokens) counted in one session, subagents included."""
    cost, tokens = db.execute(
        f"SELECT COALESCE(SUM({_COST}), 0), "
        "COALESCE(SUM(l.input + l.output + l.cache_write + l.cache_read), 0) "
        # "+": look lines up by their file, not by the counted index (most lines are counted)
        f"FROM line l WHERE +l.counted = 1 AND {_SESSION_FILES}",
        (session_id,),
    ).fetchone()
    return float(cost), int(tokens)


def context_tokens(db: sqlite3.Connection, session_id: str) -> int | None:
    """The prompt size of the session's latest main-thread response (input, cache writes and
    cache reads): how full its context is."""
    row = db.execute(
        "SELECT l.input + l.cache_write + l.cache_read FROM line l "
        f"WHERE l.sidechain = 0 AND {_SESSION_FILES} ORDER BY l.ts DESC, l.id DESC LIMIT 1",
        (session_id,),
    ).fetchone()
    return None if row is None else int(row[0])


def local_day_bounds(now_ms: int) -> tuple[int, int]:
    """The start and end (ms) of ``now_ms``'s day in the system's time zone (``TZ``)."""
    t = time.localtime(now_ms / 1000)
    start = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
    end = time.mktime((t.tm_year, t.tm_mon, t.tm_mday + 1, 0, 0, 0, 0, 0, -1))
    return int(start * 1000), int(end * 1000)


def cost_between(db: sqlite3.Connection, start_ms: int, end_ms: int) -> float:
    (cost,) = db.execute(
        f"SELECT COALESCE(SUM({_COST}), 0) FROM line l "
        "WHERE l.counted = 1 AND l.ts >= ? AND l.ts < ?",
        (start_ms, end_ms),
    ).fetchone()
    return float(cost)


def active_block(db: sqlite3.Connection, now_ms: int) -> Block | None:
    """The 5-hour block active at ``now_ms``, as ``reports.by_block`` draws blocks from the
    lines logged until then: from the last silence longer than a block on, a block starts at
    its first line's hour and ends 5 hours later, or at the next silence of 5 hours."""
    chain = 0
    later = None
    for (ts,) in db.execute(
        "SELECT ts FROM line WHERE counted = 1 AND ts <= ? ORDER BY ts DESC", (now_ms,)
    ):
        if later is not None and later - ts > BLOCK_MS:
            chain = later
            break
        later = ts
    start = first = last = -1
    cost, tokens = 0.0, 0
    for ts, line_cost, line_tokens in db.execute(
        f"SELECT l.ts, {_COST}, l.input + l.output + l.cache_write + l.cache_read FROM line l "
        "WHERE l.counted = 1 AND l.ts >= ? AND l.ts <= ? ORDER BY l.ts, l.id",
        (chain, now_ms),
    ):
        if start < 0 or ts - start > BLOCK_MS or ts - last > BLOCK_MS:
            start, first, cost, tokens = ts - ts % HOUR_MS, ts, 0.0, 0
        cost += line_cost
        tokens += line_tokens
        last = ts
    if start < 0 or now_ms - last >= BLOCK_MS or now_ms >= start + BLOCK_MS:
        return None
    rate = cost / (last - first) * HOUR_MS if last > first else None
    return Block(start, start + BLOCK_MS, cost, tokens, rate)
