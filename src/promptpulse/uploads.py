"""What ``collect`` sends: the server's rows built from the local reports, and which of them
changed since the server last acknowledged them. Pure functions.

A cost includes its web search cost; ``webSearchRequests`` and ``webSearchCost`` are sent only
for a model (or block) that has web searches."""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from promptpulse.limits import Reading
from promptpulse.reports import Block, PeriodUsage, SessionUsage, Tokens, Usage, iso_ms

Kind = Literal["daily", "sessions", "blocks", "limits", "plan"]
KINDS: tuple[Kind, ...] = ("daily", "sessions", "blocks", "limits", "plan")
BATCH_ROWS = 2000


def _web_search(t: Tokens) -> dict[str, Any]:
    """A row's web search fields, only when it has some: a row without any is sent as before
    (its digest unchanged, so it is not sent again)."""
    if not t.web_search:
        return {}
    return {"webSearchRequests": t.web_search, "webSearchCost": t.web_search_cost}


def _breakdowns(u: Usage) -> list[dict[str, Any]]:
    return [
        {
            "modelName": m,
            "inputTokens": t.input,
            "outputTokens": t.output,
            "cacheCreationTokens": t.cache_write,
            "cacheReadTokens": t.cache_read,
            "cost": t.cost,
            **_web_search(t),
        }
        for m, t in u.breakdown()
    ]


def project_name(cwd: str, folder: str, privacy: str) -> str:
    """How a project is named on the server: ``basename`` (default), ``full`` path, ``hash``
    (stable, not reversible), or ``none``. Applied before anything leaves the machine."""
    path = cwd or folder
    if privacy == "full":
        return path
    if privacy == "hash":
        return "project-" + hashlib.sha256(path.encode()).hexdigest()[:12]
    if privacy == "none":
        return ""
    return posixpath.basename(path.rstrip("/")) or path


def daily_rows(days: Iterable[PeriodUsage]) -> dict[str, dict[str, Any]]:
    return {d.key: {"date": d.key, "modelBreakdowns": _breakdowns(d.usage)} for d in days}


def session_rows(
    sessions: Iterable[SessionUsage], cwds: dict[tuple[str, str], str], privacy: str
) -> dict[str, dict[str, Any]]:
    out = {}
    for s in sessions:
        project = project_name(cwds.get((s.project, s.session_id), ""), s.project, privacy)
        out[f"{project}\0{s.session_id}"] = {
            "sessionId": s.session_id,
            "projectPath": project,
            "firstActivity": iso_ms(s.first_ts),
            "lastActivity": iso_ms(s.last_ts),
            "modelBreakdowns": _breakdowns(s.usage),
        }
    return out


def block_rows(blocks: Iterable[Block]) -> dict[str, dict[str, Any]]:
    out = {}
    for b in blocks:
        if b.is_gap:
            continue
        t = b.usage.totals
        out[iso_ms(b.start)] = {
            "startTime": iso_ms(b.start),
            "endTime": iso_ms(b.end),
            "actualEndTime": iso_ms(b.actual_end) if b.actual_end is not None else None,
            "entries": b.entries,
            "costUSD": t.cost,
            "models": b.usage.models_used(),
            "tokenCounts": {
                "inputTokens": t.input,
                "outputTokens": t.output,
                "cacheCreationInputTokens": t.cache_write,
                "cacheReadInputTokens": t.cache_read,
            },
            **_web_search(t),
        }
    return out


def limit_rows(
    readings: Iterable[Reading], acknowledged: dict[tuple[str, str], str]
) -> dict[str, dict[str, Any]]:
    """The official limits readings the server has not acknowledged (a reading never changes,
    so one it has is never sent again)."""
    out = {}
    for r in readings:
        key = iso_ms(r.ts)
        if ("limits", key) in acknowledged or not _acceptable(r):
            continue
        windows: dict[str, Any] = {}
        for field, figures in (
            ("fiveHour", r.window("five_hour")),
            ("sevenDay", r.window("seven_day")),
        ):
            windows[field] = (
                None
                if figures is None
                else {"usedPercentage": figures[0], "resetsAt": iso_ms(figures[1])}
            )
        out[key] = {"recordedAt": key, **windows, "sessionId": r.session_id, "model": r.model}
    return out


def _acceptable(r: Reading) -> bool:
    """A reading whose instants the server takes (an older statusline kept any)."""
    from promptpulse.limits import FIRST_MS, LAST_MS

    instants = [r.ts, r.five_hour_resets, r.seven_day_resets]
    return all(t is None or FIRST_MS <= t <= LAST_MS for t in instants)


def plan_rows(plan: str, monthly_usd: float | None) -> dict[str, dict[str, Any]]:
    """The plan the user said they are on (``config set plan``), when they said."""
    return {"plan": {"name": plan, "monthlyUsd": monthly_usd}} if plan else {}


def digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()[:32]


def changed(
    rows: dict[Kind, dict[str, dict[str, Any]]], acknowledged: dict[tuple[str, str], str]
) -> list[tuple[Kind, str, dict[str, Any]]]:
    """The rows whose content differs from what the server acknowledged."""
    return [
        (kind, key, row)
        for kind in KINDS
        for key, row in rows.get(kind, {}).items()
        if acknowledged.get((kind, key)) != digest(row)
    ]


def batches(
    rows: list[tuple[Kind, str, dict[str, Any]]], size: int = BATCH_ROWS
) -> Iterator[list[tuple[Kind, str, dict[str, Any]]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def batch_body(
    batch_id: str,
    generated_at: str,
    machine: dict[str, str],
    rows: list[tuple[Kind, str, dict[str, Any]]],
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "batchId": batch_id,
        "generatedAt": generated_at,
        "machine": machine,
        "daily": [],
        "sessions": [],
        "blocks": [],
    }
    for kind, _key, row in rows:
        if kind == "plan":
            body["plan"] = row
        else:
            body.setdefault(kind, []).append(row)  # limits only when there are some
    return body
