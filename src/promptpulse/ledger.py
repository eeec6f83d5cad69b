"""The local ledger: every usage line ever read, and how far each log file has been read.

A SQLite file in the data dir. A sync reads only the bytes appended since the last one; a file
that shrank or was replaced is read again from the start (its old lines are dropped first); a
deleted file's lines stay, so history outlives Claude Code's 30-day cleanup. Which lines count
is recomputed (``counting.select_counted``) for every message id a sync touches, so
deduplication works across old and new lines alike.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, tzinfo
from pathlib import Path
from typing import Literal, NamedTuple

from promptpulse import pricing
from promptpulse.counting import Candidate, select_counted, strongest_copies
from promptpulse.limits import Reading
from promptpulse.reports import DayRow, SessionRow, UsageRow, local_date, offset_spans
from promptpulse.sources import HEAD_BYTES, FileRead, LogFile, Skipped, find_log_files, read_file

SCHEMA_VERSION = 3
PARALLEL_BYTES = 16 << 20  # below this, one process reads faster than two start
CostMode = Literal["auto", "calculate", "display"]

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
}
_INDEX_NAMES = ["line_message", "line_file", "line_counted_ts"]
_INDEXES = """
CREATE INDEX IF NOT EXISTS line_message ON line(message_id);
CREATE INDEX IF NOT EXISTS line_file ON line(file_id);
CREATE INDEX IF NOT EXISTS line_counted_ts ON line(counted, ts);
"""

_COST_SQL: dict[str, str] = {
    "auto": "COALESCE(l.cost_usd, l.calc_cost)",
    "calculate": "l.calc_cost",
    "display": "COALESCE(l.cost_usd, 0)",
}
# the line's session has a counted line from a given time on
_ACTIVE_SESSION_SQL = (
    "f.id IN (SELECT fs.id FROM file fs JOIN (SELECT DISTINCT f2.project, f2.session_id "
    "FROM line l2 JOIN file f2 ON f2.id = l2.file_id WHERE l2.counted = 1 AND l2.ts >= ?) a "
    "ON a.project = fs.project AND a.session_id = fs.session_id)"
)
_MODEL_SQL = "CASE WHEN l.speed = 'fast' THEN l.model || '-fast' ELSE l.model END"


@dataclass
class SyncResult:
    files: int = 0
    files_read: int = 0
    bytes_read: int = 0
    lines_added: int = 0
    skipped: list[tuple[str, Skipped]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)


class _Work(NamedTuple):
    """A file to read: where it goes in the ledger and where to start."""

    file_id: int
    log: LogFile
    stat: os.stat_result
    start: int
    head: bytes  # what the ledger knows of its beginning


ProgressCallback = Callable[[int, int], None]


class Ledger:
    """One open ledger database."""

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
            self.db.executescript(_SCHEMA + _INDEXES)  # IF NOT EXISTS: another process may race
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
        self.db.executescript(_INDEXES)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
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

    # --- sync ---------------------------------------------------------------------------

    def sync(self, roots: Sequence[Path], progress: ProgressCallback | None = None) -> SyncResult:
        """Bring the ledger up to date with the log files below ``roots``; a file that is gone
        is marked deleted (its lines stay)."""
        unreadable: list[tuple[str, str]] = []
        files = find_log_files(list(roots), unreadable)
        result = self._sync(files, progress, every_file=True)
        result.unreadable[:0] = unreadable
        return result

    def sync_files(self, files: Sequence[LogFile]) -> SyncResult:
        """Bring the ledger up to date with some log files only (the statusline's session)."""
        return self._sync(files, None, every_file=False)

    def _sync(
        self, files: Sequence[LogFile], progress: ProgressCallback | None, every_file: bool
    ) -> SyncResult:
        result = SyncResult(files=len(files))
        columns = "SELECT id, path, size, mtime_ns, inode, read_to, head FROM file"
        if every_file:
            rows = self.db.execute(columns).fetchall()
        else:
            rows = [
                row
                for f in files
                for row in self.db.execute(columns + " WHERE path = ?", (f.path,))
            ]
        known = {row[1]: row for row in rows}
        next_file_id = self._next_id("file")
        work: list[_Work] = []
        reset_ids: list[int] = []
        for log in files:
            try:
                st = os.stat(log.path)
            except OSError as exc:
                result.unreadable.append((log.path, exc.strerror or str(exc)))
                continue
            row = known.get(log.path)
            if row is None:
                work.append(_Work(next_file_id, log, st, 0, b""))
                next_file_id += 1
                continue
            file_id, _path, size, mtime_ns, inode, read_to, head = row
            if st.st_size == size and st.st_mtime_ns == mtime_ns and st.st_ino == inode:
                continue
            if st.st_ino == inode and st.st_size >= read_to and _head(log.path) == head:
                work.append(_Work(file_id, log, st, read_to, head))
            else:
                reset_ids.append(file_id)
                work.append(_Work(file_id, log, st, 0, b""))
        seen = {f.path for f in files}
        missing = [(row[0],) for path, row in known.items() if every_file and path not in seen]

        fresh = self._next_id("line") == 1  # a first sync: index after loading, much faster
        with self._transaction(), _collector_paused():
            self.db.executemany("UPDATE file SET missing = 1 WHERE id = ?", missing)
            touched, dropped_from = self._drop_lines_of(reset_ids)
            if fresh:
                for name in _INDEX_NAMES:
                    self.db.execute(f"DROP INDEX IF EXISTS {name}")
            first_id = next_id = self._next_id("line")
            candidates: list[Candidate] = []
            pending: list[tuple[_Work, FileRead]] = []
            pending_lines = 0
            # Store results as they arrive, so that this process works while others read.
            items = [(w.log.path, w.start, max(w.stat.st_size - w.start, 0)) for w in work]
            for index, read in _read_all(items, progress):
                w = work[index]
                if read.error is not None:
                    result.unreadable.append((w.log.path, read.error))
                    continue
                pending.append((w, read))
                pending_lines += len(read.lines)
                result.files_read += 1
                result.bytes_read += read.end - read.start
                result.skipped.extend((w.log.path, s) for s in read.skipped)
                if read.torn_tail:
                    result.torn.append(w.log.path)
                if pending_lines >= 2000:
                    next_id = self._store(pending, next_id, candidates)
                    pending, pending_lines = [], 0
            next_id = self._store(pending, next_id, candidates)
            if fresh:
                for statement in _INDEXES.strip().splitlines():
                    self.db.execute(statement)
            recounted_from = self._mark_counted(candidates, touched, first_id, not fresh)
            added_from = self.db.execute(
                "SELECT MIN(ts) FROM line WHERE id >= ?", (first_id,)
            ).fetchone()[0]
            self._note_change(
                min(
                    (t for t in (dropped_from, recounted_from, added_from) if t is not None),
                    default=None,
                )
            )
            result.lines_added = next_id - first_id
        return result

    def _drop_lines_of(self, file_ids: list[int]) -> tuple[set[str], int | None]:
        """Delete the lines of files that are read again; the message ids they had, and the
        time of the oldest."""
        touched: set[str] = set()
        oldest: int | None = None
        for file_id in file_ids:
            (first,) = self.db.execute(
                "SELECT MIN(ts) FROM line WHERE file_id = ?", (file_id,)
            ).fetchone()
            if first is not None:
                oldest = first if oldest is None else min(oldest, first)
            for (mid,) in self.db.execute(
                "SELECT message_id FROM line WHERE file_id = ? AND message_id IS NOT NULL",
                (file_id,),
            ):
                touched.add(mid)
            self.db.execute("DELETE FROM line WHERE file_id = ?", (file_id,))
            self.db.execute("DELETE FROM skipped WHERE file_id = ?", (file_id,))
        return touched, oldest

    def _store(
        self, reads: list[tuple[_Work, FileRead]], next_id: int, candidates: list[Candidate]
    ) -> int:
        """Save what was read of some files, their new lines not counted yet; the next line id."""
        self.db.executemany(
            "INSERT INTO file(id, path, project, session_id, size, mtime_ns, inode, read_to, "
            "head) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode, "
            "read_to = excluded.read_to, head = excluded.head, missing = 0",
            [
                (
                    w.file_id,
                    w.log.path,
                    w.log.project,
                    w.log.session_id,
                    w.stat.st_size,
                    w.stat.st_mtime_ns,
                    w.stat.st_ino,
                    read.end,
                    read.head if read.head is not None else w.head,
                )
                for w, read in reads
            ],
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO skipped(file_id, offset, reason) VALUES (?, ?, ?)",
            [(w.file_id, s.offset, s.reason) for w, read in reads for s in read.skipped],
        )
        rows: list[tuple[object, ...]] = []
        find_price, line_cost = pricing.find_price, pricing.line_cost
        for w, read in reads:
            path, file_id = w.log.path, w.file_id
            for line in read.lines:
                offset, _ts, mid, rid, side, model, speed, i, o, cw, cw1h, cr, _usd, cwd = line
                total = i + o + cw + cr
                candidates.append(
                    Candidate(next_id, mid, rid, side, total, speed is not None, path, offset)
                )
                cost = line_cost(find_price(model), i, o, cw, cw1h, cr, speed == "fast")
                # the line's fields in order, with the calculated cost before the cwd
                rows.append((next_id, file_id, *line[:13], cost, cwd))
                next_id += 1
        self.db.executemany(
            "INSERT INTO line(id, file_id, offset, ts, message_id, request_id, sidechain, model, "
            "speed, input, output, cache_write, cache_write_1h, cache_read, cost_usd, calc_cost, "
            "cwd, counted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            rows,
        )
        return next_id

    def _mark_counted(
        self, new: list[Candidate], touched: set[str], first_new: int, search_old: bool
    ) -> int | None:
        """Mark which lines count, among the new ones and the old ones they may replace; the
        time of the oldest old line whose standing may have changed."""
        existing: list[Candidate] = []
        oldest = None
        if search_old:
            mids = touched | {c.message_id for c in new if c.message_id is not None}
            existing = self._candidates_for(mids)
            (oldest,) = self.db.execute(
                "SELECT MIN(l.ts) FROM wanted w JOIN line l ON l.message_id = w.message_id"
            ).fetchone()
        counted = select_counted([*existing, *new])
        self.db.executemany(
            "UPDATE line SET counted = 1 WHERE id = ?",
            [(i,) for i in counted if i >= first_new],
        )
        changed = [(c.id in counted, c.id) for c in existing]
        self.db.executemany("UPDATE line SET counted = ? WHERE id = ?", changed)
        return oldest if isinstance(oldest, int) else None

    # --- what changed since the last collect ----------------------------------------------

    def _note_change(self, since_ms: int | None) -> None:
        """Remember that counted usage from ``since_ms`` on may have changed."""
        if since_ms is None:
            return
        mark = self._meta("changed_since")
        if mark is None or mark == "" or since_ms < int(mark):
            self._set_meta("changed_since", str(since_ms))
        self._set_meta("change_seq", str(int(self._meta("change_seq") or 0) + 1))

    def changes_since_collect(self, basis: str) -> tuple[int | None, int]:
        """(time from which usage may have changed since the last complete collect made on
        ``basis``, or None when nothing did; a sequence number for ``mark_collected``).
        0 means everything: never collected, or collected on another basis."""
        seq = int(self._meta("change_seq") or 0)
        if self._meta("collect_basis") != basis:
            return 0, seq
        mark = self._meta("changed_since")
        return (None if mark == "" else int(mark or 0)), seq

    def mark_collected(self, seq: int, basis: str) -> None:
        """Everything up to change ``seq`` reached the server; later changes stay marked."""
        with self._transaction():
            if int(self._meta("change_seq") or 0) == seq:
                self._set_meta("changed_since", "")
                self._set_meta("collect_basis", basis)

    def _next_id(self, table: Literal["file", "line"]) -> int:
        row = self.db.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()
        return int(row[0])

    def _candidates_for(self, message_ids: Iterable[str]) -> list[Candidate]:
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (message_id TEXT PRIMARY KEY)")
        self.db.execute("DELETE FROM wanted")
        self.db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", ((m,) for m in message_ids))
        rows = self.db.execute(
            "SELECT l.id, l.message_id, l.request_id, l.sidechain, "
            "l.input + l.output + l.cache_write + l.cache_read, l.speed IS NOT NULL, f.path, "
            "l.offset FROM wanted w JOIN line l ON l.message_id = w.message_id "
            "JOIN file f ON f.id = l.file_id"
        ).fetchall()
        return [Candidate(r[0], r[1], r[2], bool(r[3]), r[4], bool(r[5]), r[6], r[7]) for r in rows]

    # --- queries ------------------------------------------------------------------------

    def _where(self, project: str | None) -> tuple[str, list[object]]:
        if not project:
            return "l.counted = 1", []
        # a project is named by its folder under projects/, its path, or the path's basename
        return (
            "l.counted = 1 AND (l.file_id IN (SELECT id FROM file WHERE project = ?) "
            "OR l.cwd = ? OR substr(l.cwd, -length(?) - 1) = '/' || ?)",
            [project, project, project, project],
        )

    def usage_by_day(
        self, tz: tzinfo, mode: CostMode = "auto", project: str | None = None, from_ms: int = 0
    ) -> list[DayRow]:
        """Counted usage summed per local day (in ``tz``) and model, computed in SQL: the UTC
        offset is constant between the zone's transitions, so each span shifts by its own.
        With ``from_ms``, only the days from the one that contains it."""
        where, args = self._where(project)
        epoch = date(1970, 1, 1).toordinal()
        having = ""
        if from_ms:
            # no zone is more than a day from UTC: a bound for the index, then the exact day
            where += " AND l.ts >= ?"
            args.append(from_ms - 2 * 86_400_000)
            having = f" HAVING d >= {local_date(from_ms, tz).toordinal() - epoch}"
        first, last = self.db.execute(
            f"SELECT MIN(l.ts), MAX(l.ts) FROM line l WHERE {where}", args
        ).fetchone()
        if first is None:
            return []
        spans = offset_spans(tz, first, last)
        shift = " ".join(
            f"WHEN l.ts >= {start} THEN {offset}" for start, offset in reversed(spans[1:])
        )
        shift = f"CASE {shift} ELSE {spans[0][1]} END" if shift else str(spans[0][1])
        sql = (
            f"SELECT (l.ts + {shift}) / 86400000 AS d, {_MODEL_SQL} AS m, SUM(l.input), "
            f"SUM(l.output), SUM(l.cache_write), SUM(l.cache_read), SUM({_COST_SQL[mode]}) "
            f"FROM line l WHERE {where} GROUP BY d, m{having} ORDER BY d"
        )
        return [DayRow(date.fromordinal(epoch + r[0]), *r[1:]) for r in self.db.execute(sql, args)]

    def usage_lines(
        self, mode: CostMode = "auto", project: str | None = None, from_ms: int = 0
    ) -> list[UsageRow]:
        """Every counted line (from ``from_ms`` on), oldest first."""
        where, args = self._where(project)
        if from_ms:
            where += " AND l.ts >= ?"
            args.append(from_ms)
        sql = (
            f"SELECT l.ts, {_MODEL_SQL}, l.input, l.output, l.cache_write, l.cache_read, "
            f"{_COST_SQL[mode]} FROM line l WHERE {where} ORDER BY l.ts, l.id"
        )
        return [UsageRow(*r) for r in self.db.execute(sql, args)]

    def usage_by_session(
        self, mode: CostMode = "auto", project: str | None = None, active_from: int = 0
    ) -> list[SessionRow]:
        """Counted usage per session and model; with ``active_from``, only the sessions with a
        counted line from that time on."""
        where, args = self._where(project)
        if active_from:
            where += f" AND {_ACTIVE_SESSION_SQL}"
            args.append(active_from)
        sql = (
            f"SELECT f.project, f.session_id, MIN(l.ts), MAX(l.ts), {_MODEL_SQL} AS m, "
            f"SUM(l.input), SUM(l.output), SUM(l.cache_write), SUM(l.cache_read), "
            f"SUM({_COST_SQL[mode]}) FROM line l JOIN file f ON f.id = l.file_id "
            f"WHERE {where} GROUP BY f.project, f.session_id, m"
        )
        return [SessionRow(*r) for r in self.db.execute(sql, args)]

    def models_used(self, project: str | None = None) -> list[str]:
        where, args = self._where(project)
        return [
            r[0]
            for r in self.db.execute(f"SELECT DISTINCT l.model FROM line l WHERE {where}", args)
        ]

    def skipped_lines(self) -> list[tuple[str, int, str]]:
        """Every line that carried usage but could not be counted: (path, offset, reason)."""
        return [
            (r[0], r[1], r[2])
            for r in self.db.execute(
                "SELECT f.path, s.offset, s.reason FROM skipped s JOIN file f ON f.id = s.file_id "
                "ORDER BY f.path, s.offset"
            )
        ]

    def session_cwds(self, active_from: int = 0) -> dict[tuple[str, str], str]:
        """The working directory each session ran in (from the lines' ``cwd``)."""
        where = _ACTIVE_SESSION_SQL if active_from else "1"
        return {
            (r[0], r[1]): r[2]
            for r in self.db.execute(
                "SELECT f.project, f.session_id, MAX(l.cwd) FROM line l "
                f"JOIN file f ON f.id = l.file_id WHERE {where} GROUP BY f.project, f.session_id",
                (active_from,) if active_from else (),
            )
        }

    def block_chain_start(self, ms: int, gap_ms: int) -> int:
        """The time of the last counted line at or before ``ms`` that follows a silence longer
        than ``gap_ms``: 5-hour blocks from there on do not depend on anything earlier."""
        later = None
        for (ts,) in self.db.execute(
            "SELECT ts FROM line WHERE counted = 1 AND ts <= ? ORDER BY ts DESC", (ms,)
        ):
            if later is not None and later - ts > gap_ms:
                return int(later)
            later = ts
        return 0

    def session_usage(self, session_id: str, mode: CostMode = "auto") -> tuple[float, int]:
        """(cost, tokens) counted in one session, subagents included."""
        cost, tokens = self.db.execute(
            f"SELECT COALESCE(SUM({_COST_SQL[mode]}), 0), "
            "COALESCE(SUM(l.input + l.output + l.cache_write + l.cache_read), 0) "
            "FROM line l WHERE +l.counted = 1 AND l.file_id IN "
            "(SELECT id FROM file WHERE session_id = ?)",
            (session_id,),
        ).fetchone()
        return float(cost), int(tokens)

    def context_tokens(self, session_id: str) -> int | None:
        """The prompt size of the session's latest main-thread response: how full the context
        is (input, cache writes and cache reads)."""
        row = self.db.execute(
            "SELECT l.input + l.cache_write + l.cache_read FROM line l "
            "WHERE l.sidechain = 0 AND l.file_id IN (SELECT id FROM file WHERE session_id = ?) "
            "ORDER BY l.ts DESC, l.id DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        return None if row is None else int(row[0])

    # --- plan limits ----------------------------------------------------------------------

    def add_reading(self, reading: Reading) -> bool:
        """Keep an official limits reading when its figures differ from the latest one kept;
        whether it was new."""
        with self._transaction():
            last = self.db.execute(
                "SELECT five_hour_pct, five_hour_resets, seven_day_pct, seven_day_resets "
                "FROM limit_reading ORDER BY ts DESC, id DESC LIMIT 1"
            ).fetchone()
            if last is not None and Reading(0, *last).same_figures(reading):
                return False
            self.db.execute(
                "INSERT INTO limit_reading(ts, five_hour_pct, five_hour_resets, seven_day_pct, "
                "seven_day_resets, session_id, model) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    reading.ts,
                    reading.five_hour_pct,
                    reading.five_hour_resets,
                    reading.seven_day_pct,
                    reading.seven_day_resets,
                    reading.session_id,
                    reading.model,
                ),
            )
        return True

    def readings(self, from_ms: int = 0) -> list[Reading]:
        """The official limits readings kept (from ``from_ms`` on), oldest first."""
        return [
            Reading(*row)
            for row in self.db.execute(
                "SELECT ts, five_hour_pct, five_hour_resets, seven_day_pct, seven_day_resets, "
                "session_id, model FROM limit_reading WHERE ts >= ? ORDER BY ts, id",
                (from_ms,),
            )
        ]

    # --- uploads ------------------------------------------------------------------------

    def acknowledged(self) -> dict[tuple[str, str], str]:
        """(kind, key) -> digest of every row the server acknowledged, or that waits in a
        pending batch (it is sent again with that batch, never twice with new ids)."""
        rows = {
            (k, key): d for k, key, d in self.db.execute("SELECT kind, key, digest FROM sent_row")
        }
        for (raw,) in self.db.execute("SELECT rows FROM pending_batch"):
            for kind, key, d in json.loads(raw):
                rows[(kind, key)] = d
        return rows

    def add_pending(
        self, batch_id: str, created_at: str, body: str, rows: list[tuple[str, str, str]]
    ) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT INTO pending_batch VALUES (?, ?, ?, ?)",
                (batch_id, created_at, body, json.dumps(rows)),
            )

    def pending(self) -> list[tuple[str, str]]:
        """(batch id, body) of the batches not yet acknowledged, oldest first."""
        return [
            (r[0], r[1])
            for r in self.db.execute(
                "SELECT batch_id, body FROM pending_batch ORDER BY created_at, batch_id"
            )
        ]

    def acknowledge(self, batch_id: str) -> None:
        with self._transaction():
            row = self.db.execute(
                "SELECT rows FROM pending_batch WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                return
            self.db.executemany(
                "INSERT INTO sent_row(kind, key, digest) VALUES (?, ?, ?) "
                "ON CONFLICT(kind, key) DO UPDATE SET digest = excluded.digest",
                [tuple(r) for r in json.loads(row[0])],
            )
            self.db.execute("DELETE FROM pending_batch WHERE batch_id = ?", (batch_id,))

    def drop_pending(self, batch_id: str) -> None:
        """Forget a batch that was never acknowledged: its rows count as not sent."""
        with self._transaction():
            self.db.execute("DELETE FROM pending_batch WHERE batch_id = ?", (batch_id,))

    def forget_uploads(self) -> None:
        """After a change of server or account: everything is sent again."""
        with self._transaction():
            self.db.execute("DELETE FROM sent_row")
            self.db.execute("DELETE FROM pending_batch")
            self.db.execute("DELETE FROM meta WHERE key = 'collect_basis'")

    def stats(self) -> dict[str, int]:
        files, missing = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(missing), 0) FROM file"
        ).fetchone()
        lines, counted = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(counted), 0) FROM line"
        ).fetchone()
        return {"files": files, "files_deleted": missing, "lines": lines, "responses": counted}


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector: a sync makes hundreds of thousands of small
    tuples and no cycles, and the collector's passes over them cost a tenth of the time."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class LedgerError(Exception):
    """The ledger cannot be used (written by a newer version, corrupt)."""


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError:
        return b""


def _read_all(
    items: list[tuple[str, int, int]], progress: ProgressCallback | None
) -> Iterator[tuple[int, FileRead]]:
    """Read files (path, offset, bytes to read), yielding (index, result) as each is done; on
    every core when there is enough to read."""
    sizes = [size for _path, _start, size in items]
    starts = [(path, start) for path, start, _size in items]
    total = sum(sizes)
    workers = min(os.cpu_count() or 1, 4)
    if total < PARALLEL_BYTES or workers < 2 or len(items) < 2:
        done = 0
        for index, ((path, start), size) in enumerate(zip(starts, sizes, strict=True)):
            yield index, _read_one(path, start)
            done += size
            if progress:
                progress(done, total)
        return
    yield from _read_parallel(starts, sizes, total, workers, progress)


def _read_parallel(
    items: list[tuple[str, int]],
    sizes: list[int],
    total: int,
    workers: int,
    progress: ProgressCallback | None,
) -> Iterator[tuple[int, FileRead]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # Balanced batches, biggest files first, each to the lightest batch; small enough that
    # results stream back while the rest is read.
    batches: list[list[int]] = [[] for _ in range(workers * 8)]
    loads = [0] * len(batches)
    for i in sorted(range(len(items)), key=lambda i: -sizes[i]):
        j = loads.index(min(loads))
        batches[j].append(i)
        loads[j] += sizes[i]
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {
            pool.submit(_read_batch, [items[i] for i in batch]): (batch, load)
            for batch, load in zip(batches, loads, strict=True)
            if batch
        }
        for fut in as_completed(futures):
            batch, load = futures[fut]
            for i, read in zip(batch, fut.result(), strict=True):
                yield i, read
            done += load
            if progress:
                progress(done, total)


def _read_one(path: str, start: int) -> FileRead:
    read = read_file(path, start)
    read.lines = strongest_copies(read.lines)
    return read


def _read_batch(items: list[tuple[str, int]]) -> list[FileRead]:
    """Read in a worker process; lines travel back as plain tuples, which pickle fast."""
    reads = [_read_one(path, start) for path, start in items]
    for read in reads:
        read.lines = [tuple(line) for line in read.lines]  # type: ignore[misc]
    return reads
