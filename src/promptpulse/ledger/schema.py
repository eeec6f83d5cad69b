"""The ledger's database: its tables, opening it, migrating an older one, and re-pricing.

``Store`` opens (or creates) the SQLite file, brings its schema to ``SCHEMA_VERSION`` (each step
only adds: a ledger is history) and re-prices every line when the prices changed. It also holds
what every other part needs: meta values, transactions and the change mark.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from promptpulse import pricing

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS file (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    session_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    read_to INTEGER NOT NULL,
    head BLOB NOT NULL,
    missing INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS line (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES file(id),
    offset INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    message_id TEXT,
    request_id TEXT,
    sidechain INTEGER NOT NULL,
    model TEXT NOT NULL,
    speed TEXT,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    cost_usd REAL,
    calc_cost REAL NOT NULL,
    cwd TEXT NOT NULL,
    counted INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sent_row (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS pending_batch (
    batch_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL,
    rows TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS skipped (
    file_id INTEGER NOT NULL REFERENCES file(id),
    offset INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (file_id, offset)
);
"""
# Each step brings a ledger from the version before to its own; a ledger is history, so a step
# only adds. A new ledger gets _SCHEMA and every step at once.
_MIGRATIONS: dict[int, str] = {
    2: """
CREATE TABLE IF NOT EXISTS limit_reading (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    five_hour_pct REAL,
    five_hour_resets INTEGER,
    seven_day_pct REAL,
    seven_day_resets INTEGER,
    session_id TEXT,
    model TEXT
);
CREATE INDEX IF NOT EXISTS limit_reading_ts ON limit_reading(ts);
""",
    # the statusline finds a session's files by its id on every message
    3: "CREATE INDEX IF NOT EXISTS file_session ON file(session_id);",
    # web search requests per line; the files still there are read again at the next sync (their
    # lines dropped and read back, with the requests), a deleted transcript's lines keep 0
    4: """
ALTER TABLE line ADD COLUMN web_search INTEGER NOT NULL DEFAULT 0;
UPDATE file SET inode = -1 WHERE missing = 0;
""",
}
INDEX_NAMES = ["line_message", "line_file", "line_counted_ts"]
INDEXES = """
CREATE INDEX IF NOT EXISTS line_message ON line(message_id);
CREATE INDEX IF NOT EXISTS line_file ON line(file_id);
CREATE INDEX IF NOT EXISTS line_counted_ts ON line(counted, ts);
"""


class Store:
    """An open ledger database: its connection, meta values and transactions. The other
    parts of ``Ledger`` build on it."""

    def __init__(self, path: Path | str, timeout: float = 60) -> None:
        """Open (or create) the ledger; ``timeout``: how many seconds to wait for a write while
        another process writes."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()
        self._reprice_if_prices_changed()

    def _migrate(self) -> None:
        """Create a new ledger, or bring an older one up to this version, keeping everything."""
        new = not self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if new:
            self.db.executescript(_SCHEMA + INDEXES)  # IF NOT EXISTS: another process may race
        if self._schema_version() == SCHEMA_VERSION:
            return  # the usual case: no write, so no wait behind another process's sync
        with self._transaction():
            version = self._schema_version()
            if version == SCHEMA_VERSION:
                return
            for step in range(max(version, 1) + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            self._set_meta("schema_version", str(SCHEMA_VERSION))
        self.db.executescript(INDEXES)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _schema_version(self) -> int:
        stored = self._meta("schema_version")
        version = 0 if stored is None else int(stored)
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"the ledger at {self.path} was written by a newer promptpulse (schema "
                f"{version}); upgrade promptpulse"
            )
        return version

    # --- meta ---------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _reprice_if_prices_changed(self) -> None:
        version = pricing.prices_version()
        if self._meta("prices_version") == version:
            return
        pricing.price_table()  # a user's price file that is not right says so, even with no lines
        with self._transaction():
            rows = self.db.execute(
                "SELECT id, model, speed, input, output, cache_write, cache_write_1h, cache_read "
                "FROM line"
            ).fetchall()
            self.db.executemany(
                "UPDATE line SET calc_cost = ? WHERE id = ?",
                [
                    (
                        pricing.line_cost(
                            pricing.find_price(model), i, o, cw, cw1h, cr, speed == "fast"
                        ),
                        line_id,
                    )
                    for line_id, model, speed, i, o, cw, cw1h, cr in rows
                ],
            )
            self._set_meta("prices_version", version)
            self._note_change(0)

    # --- what changed (read by ``Sync.changes_since_collect``) ------------------------------

    def _note_change(self, since_ms: int | None) -> None:
        """Remember that counted usage from ``since_ms`` on may have changed."""
        if since_ms is None:
            return
        mark = self._meta("changed_since")
        if mark is None or mark == "" or since_ms < int(mark):
            self._set_meta("changed_since", str(since_ms))
        self._set_meta("change_seq", str(int(self._meta("change_seq") or 0) + 1))


class LedgerError(Exception):
    """The ledger cannot be used (written by a newer version, corrupt)."""
