"""What ``collect`` sends: the server's rows built from the local reports, and which of them
changed since the server last acknowledged them. Pure functions.

Each row is a ``promptpulse.shapes`` struct, the one the server decodes it into (a day and a
session are the rows ``report daily/session --json`` prints, a block too without its burn
rate), kept as JSON-ready builtins so that its digest and a pending batch are plain JSON."""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any, Literal, cast

import msgspec

from promptpulse import reports, shapes
from promptpulse.limits import Reading
from promptpulse.reports import Block, PeriodUsage, SessionUsage, iso_ms
from promptpulse.shapes import to_json

Kind = Literal["daily", "sessions", "blocks", "limits", "plan"]
KINDS: tuple[Kind, ...] = ("daily", "sessions", "blocks", "limits", "plan")
BATCH_ROWS = 2000


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
    return {d.key: to_json(reports.day_shape(d)) for d in days}


def session_rows(
    sessions: Iterable[SessionUsage], cwds: dict[tuple[str, str], str], privacy: str
) -> dict[str, dict[str, Any]]:
    out = {}
    for s in sessions:
        project = project_name(cwds.get((s.project, s.session_id), ""), s.project, privacy)
        row = msgspec.structs.replace(reports.session_shape(s), project_path=project)
        out[f"{project}\0{s.session_id}"] = to_json(row)
    return out


def block_rows(blocks: Iterable[Block]) -> dict[str, dict[str, Any]]:
    return {iso_ms(b.start): to_json(reports.block_shape(b)) for b in blocks if not b.is_gap}


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
        windows = [
            None
            if figures is None
            else shapes.LimitWindowIn(
                used_percentage=figures[0], resets_at=reports.instant(figures[1])
            )
            for figures in (r.window("five_hour"), r.window("seven_day"))
        ]
        reading = shapes.UploadedLimit(
            recorded_at=reports.instant(r.ts),
            five_hour=windows[0],
            seven_day=windows[1],
            session_id=r.session_id,
            model=r.model,
        )
        out[key] = to_json(reading)
    return out


def _acceptable(r: Reading) -> bool:
    """A reading whose instants the server takes (an older statusline kept any)."""
    from promptpulse.limits import FIRST_MS, LAST_MS

    instants = [r.ts, r.five_hour_resets, r.seven_day_resets]
    return all(t is None or FIRST_MS <= t <= LAST_MS for t in instants)


def plan_rows(plan: str, monthly_usd: float | None) -> dict[str, dict[str, Any]]:
    """The plan the user said they are on (``config set plan``), when they said."""
    if not plan:
        return {}
    name = cast(shapes.PlanName, plan)  # the server refuses a plan it does not know
    return {"plan": to_json(shapes.PlanIn(name=name, monthly_usd=monthly_usd))}


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
