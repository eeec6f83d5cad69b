"""Sync: bring the ledger up to date with the log files, and say what changed since a collect.

A sync reads only the bytes appended since the last one; a file that shrank or was replaced is
read again from the start (its old lines are dropped first); a deleted file's lines stay. Which
lines count is recomputed (``counting.select_counted``) for every message id a sync touches, so
deduplication works across old and new lines alike. Every change leaves a mark
(``Store._note_change``) that ``changes_since_collect`` reads back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from promptpulse import pricing
from promptpulse.counting import Candidate, select_counted
from promptpulse.ledger.reading import ProgressCallback, read_all
from promptpulse.ledger.schema import INDEX_NAMES, INDEXES, Store
from promptpulse.sources import HEAD_BYTES, FileRead, LogFile, Skipped, find_log_files


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


# id, path, project, session id, size, mtime_ns, inode, read to, head
_FileRow = tuple[int, str, str, str, int, int, int, int, bytes]


class Sync(Store):
    """Reading the logs into the ledger, and the change mark a collect goes by."""

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
        columns = "SELECT id, path, size, mtime_ns, inode, read_to, head, missing FROM file"
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
            file_id, _path, size, mtime_ns, inode, read_to, head, _missing = row
            if st.st_size == size and st.st_mtime_ns == mtime_ns and st.st_ino == inode:
                continue
            if st.st_ino == inode and st.st_size >= read_to and _head(log.path) == head:
                work.append(_Work(file_id, log, st, read_to, head))
            else:
                reset_ids.append(file_id)
                work.append(_Work(file_id, log, st, 0, b""))
        seen = {f.path for f in files}
        missing = [
            (row[0],)
            for path, row in known.items()
            if every_file and path not in seen and not row[7]
        ]
        if not (work or reset_ids or missing):
            return result  # nothing to write: no transaction, no wait behind another writer

        fresh = self._next_id("line") == 1  # a first sync: index after loading, much faster
        with self._transaction(), _collector_paused():
            self.db.executemany("UPDATE file SET missing = 1 WHERE id = ?", missing)
            touched, dropped_from = self._drop_lines_of(reset_ids)
            if fresh:
                for name in INDEX_NAMES:
                    self.db.execute(f"DROP INDEX IF EXISTS {name}")
            first_id = next_id = self._next_id("line")
            candidates: list[Candidate] = []
            file_rows: list[_FileRow] = []
            pending: list[tuple[_Work, FileRead]] = []
            pending_lines = 0
            # Store results as they arrive, so that this process works while others read.
            items = [(w.log.path, w.start, max(w.stat.st_size - w.start, 0)) for w in work]
            for index, read in read_all(items, progress):
                w = work[index]
                if read.error is not None:
                    result.unreadable.append((w.log.path, read.error))
                    continue
                pending.append((w, read))
                file_rows.append(_file_row(w, read))
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
            self._store_files(file_rows)
            if fresh:
                for statement in INDEXES.strip().splitlines():
                    self.db.execute(statement)
            recounted_from = self._mark_counted(candidates, touched, not fresh)
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

    def _store_files(self, rows: list[_FileRow]) -> None:
        """Save how far each file was read: in one statement, in id order (the order of the
        table and of its path index for new files, so each row is appended)."""
        rows.sort()
        self.db.executemany(
            "INSERT INTO file(id, path, project, session_id, size, mtime_ns, inode, read_to, "
            "head) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode, "
            "read_to = excluded.read_to, head = excluded.head, missing = 0",
            rows,
        )

    def _store(
        self, reads: list[tuple[_Work, FileRead]], next_id: int, candidates: list[Candidate]
    ) -> int:
        """Save the lines read from some files, all counted until ``_mark_counted`` marks the
        few that lose to another copy; the next line id."""
        self.db.executemany(
            "INSERT OR REPLACE INTO skipped(file_id, offset, reason) VALUES (?, ?, ?)",
            [(w.file_id, s.offset, s.reason) for w, read in reads for s in read.skipped],
        )
        rows: list[tuple[object, ...]] = []
        find_price, line_cost = pricing.find_price, pricing.line_cost
        for w, read in reads:
            path, file_id = w.log.path, w.file_id
            for line in read.lines:
                offset, _ts, mid, rid, side, model, speed, i, o, cw, cw1h, cr, _usd, cwd, web = line
                total = i + o + cw + cr
                candidates.append(
                    Candidate(next_id, mid, rid, side, total, speed is not None, path, offset)
                )
                cost = line_cost(find_price(model), i, o, cw, cw1h, cr, speed == "fast")
                # the line's fields in order, with the calculated cost before the cwd
                rows.append((next_id, file_id, *line[:13], cost, cwd, web))
                next_id += 1
        self.db.executemany(
            "INSERT INTO line(id, file_id, offset, ts, message_id, request_id, sidechain, model, "
            "speed, input, output, cache_write, cache_write_1h, cache_read, cost_usd, calc_cost, "
            "cwd, web_search, counted) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            rows,
        )
        return next_id

    def _mark_counted(
        self, new: list[Candidate], touched: set[str], search_old: bool
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
        # New lines were stored as counted: mark the few that lose. Old ones are marked again.
        self.db.executemany(
            "UPDATE line SET counted = 0 WHERE id = ?",
            [(c.id,) for c in new if c.id not in counted],
        )
        self.db.executemany(
            "UPDATE line SET counted = ? WHERE id = ?",
            [(c.id in counted, c.id) for c in existing],
        )
        return oldest if isinstance(oldest, int) else None

    # --- what changed since the last collect ----------------------------------------------

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


def _file_row(w: _Work, read: FileRead) -> _FileRow:
    """The ``file`` row of a file read: where it is and how far it was read."""
    return (
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


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError:
        return b""
