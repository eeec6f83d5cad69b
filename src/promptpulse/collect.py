"""``promptpulse collect``: send the server the rows that changed, never losing or doubling one.

Every batch gets an id and is written to the ledger *before* it is sent; it leaves the ledger
only when the server acknowledges it. A batch whose answer was lost is sent again with the same
id, which the server recognises, so nothing is counted twice.
"""

from __future__ import annotations

import json
import socket
import uuid
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any, Literal

from promptpulse import reports, uploads
from promptpulse.client import Client, RejectedError, ServerError
from promptpulse.ledger import Ledger

Granularity = Literal["daily", "session", "blocks", "all"]
_KIND_OF = {"daily": "daily", "session": "sessions", "blocks": "blocks"}


@dataclass
class CollectResult:
    rows_sent: int = 0
    batches_sent: int = 0
    resent: int = 0
    rows_changed: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # rows sent, by kind
    rebuilt: int = 0  # pending batches the server refused, built again from the ledger
    # the server's word, with the last batch, on the budgets past a threshold (see budget_text)
    budgets: list[dict[str, Any]] | None = None


def plural(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


_NOUNS = {
    "daily": ("day", "days"),
    "sessions": ("session", "sessions"),
    "blocks": ("block", "blocks"),
    "limits": ("limits reading", "limits readings"),
}


def summary(counts: dict[str, int]) -> str:
    """Rows by kind in words: ``1 day, 3 sessions and 2 blocks``; "" for none."""
    parts = [plural(counts[k], *_NOUNS[k]) for k in _NOUNS if counts.get(k)]
    if counts.get("plan"):
        parts.append("the plan")
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def changed_rows(
    ledger: Ledger,
    tz: tzinfo,
    granularity: Granularity,
    since: date | None,
    privacy: str,
    now_ms: int,
    from_ms: int = 0,
) -> list[tuple[uploads.Kind, str, dict[str, object]]]:
    """The rows that differ from what the server acknowledged. With ``from_ms`` (the ledger
    changed nothing before it), only the days, sessions and blocks it can have changed are
    built: the same rows, much faster."""
    rows: dict[uploads.Kind, dict[str, dict[str, object]]] = {}
    kinds: set[str] = set(_KIND_OF.values()) if granularity == "all" else {_KIND_OF[granularity]}
    if "daily" in kinds:
        days = reports.by_period(ledger.usage_by_day(tz, from_ms=from_ms), "daily", since=since)
        rows["daily"] = uploads.daily_rows(days)
    if "sessions" in kinds:
        sessions = reports.by_session(ledger.usage_by_session(active_from=from_ms), tz, since=since)
        cwds = ledger.session_cwds(active_from=from_ms)
        rows["sessions"] = uploads.session_rows(sessions, cwds, privacy)
    if "blocks" in kinds:
        chain = ledger.block_chain_start(from_ms, reports.BLOCK_MS) if from_ms else 0
        blocks = reports.by_block(ledger.usage_lines(from_ms=chain), now_ms)
        rows["blocks"] = uploads.block_rows(reports.select_blocks(blocks, now_ms, tz, since=since))
    return uploads.changed(rows, ledger.acknowledged())


def account_rows(
    ledger: Ledger, plan: str, monthly_usd: float | None
) -> list[tuple[uploads.Kind, str, dict[str, object]]]:
    """The new official limits readings, and the plan when it changed: they belong to the
    Claude account and go with every collect, whatever its granularity."""
    acknowledged = ledger.acknowledged()
    rows: dict[uploads.Kind, dict[str, dict[str, object]]] = {
        "limits": uploads.limit_rows(ledger.readings(), acknowledged),
        "plan": uploads.plan_rows(plan, monthly_usd),
    }
    return uploads.changed(rows, acknowledged)


def collect(
    ledger: Ledger,
    client: Client,
    machine_id: str,
    tz: tzinfo,
    granularity: Granularity,
    since: date | None,
    privacy: str,
    now_ms: int,
    plan: tuple[str, float | None] = ("", None),
) -> CollectResult:
    """Send pending batches, then the rows that changed; raise ServerError (with what is left
    pending in the ledger) when the server cannot take them."""
    result = CollectResult()
    for batch_id, saved in ledger.pending():
        try:
            result.budgets = _send(client, json.loads(saved))
        except RejectedError as exc:
            if exc.status not in (400, 422):
                raise
            # The server will never take this batch (a row it finds invalid). Its rows are not
            # acknowledged, so dropping it makes them be built again below, as they are now.
            ledger.drop_pending(batch_id)
            result.rebuilt += 1
            continue
        ledger.acknowledge(batch_id)
        result.resent += 1
    # a whole collect keeps track of what changed since the last one, so it builds only those
    whole = granularity == "all" and since is None
    basis = f"{getattr(tz, 'key', tz)}|{privacy}"
    from_ms, seq = ledger.changes_since_collect(basis) if whole else (0, 0)
    changes = account_rows(ledger, *plan)
    if from_ms is not None:
        changes += changed_rows(ledger, tz, granularity, since, privacy, now_ms, from_ms)
    if from_ms is None and not changes:
        return result
    result.rows_changed = len(changes)
    machine = {"id": machine_id, "hostname": socket.gethostname()}
    for rows in uploads.batches(changes):
        batch_id = uuid.uuid4().hex
        generated = reports.iso_ms(now_ms)
        body = uploads.batch_body(batch_id, generated, machine, rows)
        ledger.add_pending(
            batch_id,
            generated,
            json.dumps(body),
            [(k, key, uploads.digest(row)) for k, key, row in rows],
        )
        result.budgets = _send(client, body)
        ledger.acknowledge(batch_id)
        result.batches_sent += 1
        result.rows_sent += len(rows)
        for kind, _key, _row in rows:
            result.sent[kind] = result.sent.get(kind, 0) + 1
    if whole:
        ledger.mark_collected(seq, basis)
    return result


def _send(client: Client, body: dict[str, object]) -> list[dict[str, Any]]:
    """Send a batch; the budgets the server says are past a threshold (none from a server
    without budgets)."""
    answer = client.request("POST", "/api/v1/uploads", body, gzip_body=True)
    if not isinstance(answer, dict) or answer.get("batchId") != body["batchId"]:
        raise ServerError("the server's answer did not acknowledge the batch")
    budgets = answer.get("budgets")
    return [b for b in budgets if isinstance(b, dict)] if isinstance(budgets, list) else []


PERIODS = {"day": "daily", "week": "weekly", "month": "monthly"}
WINDOWS = {"five_hour": "5-hour", "seven_day": "7-day"}


def budget_text(budget: dict[str, Any]) -> str:
    """One budget as the server gives it, in words: "daily cost $52.10 of $50.00 (104 %)"."""
    try:
        whose = f"team {int(budget['teamId'])} " if budget.get("teamId") else ""
        percent = float(budget.get("percent") or 0)
        if budget.get("kind") == "cost":
            period = PERIODS.get(str(budget.get("period")), str(budget.get("period")))
            used, limit = float(budget.get("used") or 0), float(budget.get("limit") or 0)
            return f"{whose}{period} cost ${used:,.2f} of ${limit:,.2f} ({percent:.0f} %)"
        window = WINDOWS.get(str(budget.get("window")), str(budget.get("window")))
        return f"{whose}{window} limit at {percent:.0f} %"
    except (TypeError, ValueError, KeyError):
        return "a budget (the server's figures could not be read)"


def over_budget_line(budgets: list[dict[str, Any]] | None) -> str | None:
    """The warning ``collect`` prints when the server says a budget is used up, or None."""
    over = [b for b in budgets or [] if _percent(b) >= 100]
    if not over:
        return None
    return "Over budget: " + "; ".join(budget_text(b) for b in over) + "."


def _percent(budget: dict[str, Any]) -> float:
    try:
        return float(budget.get("percent") or 0)
    except (TypeError, ValueError):
        return 0.0
