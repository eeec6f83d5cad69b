"""Build Claude Code log trees the way Claude Code writes them, for tests and benchmarks.

``assistant(...)`` makes one assistant line; ``response(...)`` the several streaming lines of one
API response; ``generate(...)`` a whole random but reproducible tree with subagents, progress
records, web searches and (optionally) the patterns where ccusage's reports disagree with each
other.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MODELS = [
    "claude-opus-4-6",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-4-1",
    "claude-sonnet-4-20250514",
    "claude-opus-4-5-20251101",
    "claude-3-5-haiku-20241022",
]


def iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def assistant(
    ts: datetime | str,
    msg_id: str | None,
    req_id: str | None,
    model: str = "claude-sonnet-4-5",
    *,
    input: int = 10,
    output: int = 20,
    cache_write: int = 0,
    cache_read: int = 0,
    cache_1h: int = 0,
    sidechain: bool = False,
    speed: str | None = None,
    cost_usd: float | None = None,
    cwd: str = "/home/u/proj",
    session: str = "s1",
    text: str = "ok",
    with_cache_creation: bool = True,
    web_search: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": input,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": output,
        "service_tier": "standard",
    }
    if web_search is not None:  # as Claude Code logs server tools' use
        usage["server_tool_use"] = {"web_search_requests": web_search, "web_fetch_requests": 0}
    if with_cache_creation:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": cache_write - cache_1h,
            "ephemeral_1h_input_tokens": cache_1h,
        }
    if speed is not None:
        usage["speed"] = speed
    message: dict[str, Any] = {
        "model": model,
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "stop_reason": None,
        "usage": usage,
    }
    if msg_id is not None:
        message["id"] = msg_id
    line: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.1.39",
        "gitBranch": "main",
        "type": "assistant",
        "uuid": str(uuid.uuid4()),
        "timestamp": ts if isinstance(ts, str) else iso(ts),
        "message": message,
    }
    if req_id is not None:
        line["requestId"] = req_id
    if cost_usd is not None:
        line["costUSD"] = cost_usd
    line.update(extra)
    return line


def response(
    ts: datetime, msg_id: str, req_id: str | None, chunks: int = 3, **kw: Any
) -> list[dict[str, Any]]:
    """One API response as Claude Code streams it: placeholder output counts, then the final."""
    final = kw.pop("output", 200)
    lines = []
    for n in range(chunks):
        out = final if n == chunks - 1 else n + 1
        lines.append(
            assistant(ts + timedelta(milliseconds=300 * n), msg_id, req_id, output=out, **kw)
        )
    return lines


def user(
    ts: datetime,
    text: str,
    *,
    cwd: str = "/home/u/proj",
    session: str = "s1",
    tool_result: str | None = None,
) -> dict[str, Any]:
    content: Any = text
    if tool_result is not None:
        content = [{"type": "tool_result", "tool_use_id": "toolu_1", "content": tool_result}]
    return {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.1.39",
        "type": "user",
        "message": {"role": "user", "content": content},
        "uuid": str(uuid.uuid4()),
        "timestamp": iso(ts),
    }


def progress(line: dict[str, Any]) -> dict[str, Any]:
    """A parent-transcript progress record carrying a nested copy of a subagent line."""
    return {
        "type": "progress",
        "timestamp": line["timestamp"],
        "sessionId": line["sessionId"],
        "data": {"type": "agent_progress", "message": line},
    }


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


def write(
    path: Path, records: Sequence[dict[str, Any] | str], *, tail: str = "", mode: str = "w"
) -> Path:
    """Write records (dicts, or raw strings for bad lines) one per line, then ``tail``
    without a newline (a torn last line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else dumps(r)) + "\n")
        f.write(tail)
    return path


@dataclass
class TreeSpec:
    projects: int = 3
    sessions: int = 6
    responses: int = 40  # per session
    subagents: bool = True
    start: datetime = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    days: int = 20
    filler: int = 200  # bytes of text per content block
    disagreeing_patterns: bool = False  # /btw replays and chunks without requestId
    bad_lines: bool = True
    long_context: float = 0.03  # share of requests with a prompt over 200k tokens
    web_search: float = 0.08  # share of requests that searched the web (1 to 5 searches)


def generate(root: Path, spec: TreeSpec | None = None, seed: int = 1) -> list[Path]:
    """A realistic tree under ``root/projects``; returns the files written."""
    spec = spec or TreeSpec()
    rnd = random.Random(seed)
    # web searches drawn apart, so that a seed's tree is otherwise the same as without them
    searches = random.Random(seed * 7919 + 1)
    written = []
    for p in range(spec.projects):
        cwd = f"/home/dev/work/project.{p}" if p % 2 else f"/home/dev/project-{p}"
        folder = cwd.replace("/", "-").replace(".", "-")
        for s in range(spec.sessions):
            sid = str(uuid.UUID(int=rnd.getrandbits(128)))
            t = spec.start + timedelta(
                days=rnd.randrange(spec.days), minutes=rnd.randrange(24 * 60)
            )
            main: list[dict[str, Any] | str] = []
            agent: list[dict[str, Any] | str] = []
            for r in range(spec.responses):
                t += timedelta(seconds=rnd.choice([5, 30, 90, 600, 3600, 7 * 3600]))
                model = rnd.choice(MODELS)
                kw: dict[str, Any] = dict(
                    model=model,
                    input=rnd.randrange(1, 5000),
                    output=rnd.randrange(1, 4000),
                    cache_write=rnd.randrange(0, 30000),
                    cache_read=rnd.randrange(0, 150000),
                    cwd=cwd,
                    session=sid,
                    text="x" * rnd.randrange(spec.filler + 1),
                )
                roll = rnd.random()
                if roll < 0.05 and "opus-4-6" in model:
                    kw["speed"] = "fast"
                elif roll < 0.1:
                    kw["speed"] = "standard"
                if rnd.random() < 0.1:
                    kw["cache_1h"] = rnd.randrange(0, kw["cache_write"] + 1)
                if rnd.random() < spec.long_context:
                    kw["cache_read"] = 210_000  # a long-context request
                if rnd.random() < 0.05:
                    kw["cost_usd"] = round(rnd.random(), 6)
                roll = searches.random()
                if roll < spec.web_search:
                    kw["web_search"] = searches.randrange(1, 6)
                elif roll < 0.5:
                    kw["web_search"] = 0
                msg, req = f"msg_{p}_{s}_{r}", f"req_{p}_{s}_{r}"
                main.append(
                    user(
                        t - timedelta(seconds=2),
                        "do it",
                        cwd=cwd,
                        session=sid,
                        tool_result="y" * rnd.randrange(spec.filler * 4 + 1),
                    )
                )
                if spec.subagents and rnd.random() < 0.2:
                    lines = response(
                        t, msg, req, rnd.randrange(1, 4), sidechain=True, agentId="a1", **kw
                    )
                    agent.extend(lines)
                    main.append(progress(lines[-1]))
                    continue
                if spec.disagreeing_patterns and rnd.random() < 0.05:
                    main.extend(response(t, msg, None, 3, **kw))
                    continue
                lines = response(t, msg, req, rnd.randrange(1, 5), **kw)
                main.extend(lines)
                if spec.disagreeing_patterns and rnd.random() < 0.05:
                    agent.append(
                        assistant(
                            t + timedelta(seconds=40),
                            msg,
                            req + "_btw",
                            sidechain=True,
                            **{**kw, "output": kw["output"]},
                        )
                    )
            if spec.bad_lines and rnd.random() < 0.3:
                main.append('{"type":"assistant","message":{"usage":{"input_tokens":1,')
                main.append("")
                main.append(
                    dumps(
                        assistant(
                            t,
                            f"err_{p}_{s}",
                            f"rq_err_{p}_{s}",
                            "<synthetic>",
                            input=0,
                            output=0,
                            isApiErrorMessage=True,
                        )
                    )
                )
            base = root / "projects" / folder
            written.append(write(base / f"{sid}.jsonl", main))
            if agent:
                written.append(write(base / sid / "subagents" / "agent-a1.jsonl", agent))
    return written
