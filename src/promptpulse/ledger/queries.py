"""The ledger's read side: counted usage for the reports, a session's figures for the
statusline, and the official limits readings kept.

Only counted lines (``line.counted = 1``) make usage; a cost comes from one of three modes
(``CostMode``), chosen in SQL. Web search requests are priced wherever promptpulse calculates a
line's cost (``calculate``, and ``auto`` for a line without a logged ``costUSD``, which would
include them); ``display`` shows logged costs only. A cost includes its web search cost.
"""

from __future__ import annotations

from datetime import date, tzinfo
from typing import Literal

from promptpulse.ledger.schema import Store
from promptpulse.limits import Reading
from promptpulse.pricing import WEB_SEARCH_USD
from promptpulse.reports import DayRow, SessionRow, UsageRow, local_date, offset_spans

CostMode = Literal["auto", "calculate", "display"]

_WEB_SEARCH_COST_SQL: dict[str, str] = {
    "auto": f"(CASE WHEN l.cost_usd IS NULL THEN l.web_search * {WEB_SEARCH_USD!r} ELSE 0 END)",
    "calculate": f"(l.web_search * {WEB_SEARCH_USD!r})",
    "display": "0",
}
_COST_SQL: dict[str, str] = {
    "auto": f"COALESCE(l.cost_usd, l.calc_cost + l.web_search * {WEB_SEARCH_USD!r})",
    "calculate": f"(l.calc_cost + {_WEB_SEARCH_COST_SQL['calculate']})",
    "display": "COALESCE(l.cost_usd, 0)",
}
# the line's session has a counted line from a given time on
_ACTIVE_SESSION_SQL = (
    "f.id IN (SELECT fs.id FROM file fs JOIN (SELECT DISTINCT f2.project, f2.session_id "
    "FROM line l2 JOIN file f2 ON f2.id = l2.file_id WHERE l2.counted = 1 AND l2.ts >= ?) a "
    "ON a.project = fs.project AND a.session_id = fs.session_id)"
)
_MODEL_SQL = "CASE WHEN l.speed = 'fast' THEN l.model || '-fast' ELSE l.model END"


class Queries(Store):
    """What the reports, the statusline and collect read from the ledger."""

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
            f"SUM(l.output), SUM(l.cache_write), SUM(l.cache_read), SUM({_COST_SQL[mode]}), "
            f"SUM(l.web_search), SUM({_WEB_SEARCH_COST_SQL[mode]}) "
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
            f"{_COST_SQL[mode]}, l.web_search, {_WEB_SEARCH_COST_SQL[mode]} "
            f"FROM line l WHERE {where} ORDER BY l.ts, l.id"
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
            f"SUM({_COST_SQL[mode]}), SUM(l.web_search), SUM({_WEB_SEARCH_COST_SQL[mode]}) "
            f"FROM line l JOIN file f ON f.id = l.file_id "
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

    def stats(self) -> dict[str, int]:
        files, missing = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(missing), 0) FROM file"
        ).fetchone()
        lines, counted = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(counted), 0) FROM line"
        ).fetchone()
        return {"files": files, "files_deleted": missing, "lines": lines, "responses": counted}
