"""Which usage lines count: every API response exactly once.

Claude Code writes one response as several lines (one per content block) that share
``message.id`` and ``requestId``; subagent transcripts and ``/btw`` side questions repeat
responses too. The rule, the same in every report, follows ccusage v20 but does not depend on
the order in which files are read:

- lines are grouped by ``(message.id, requestId)``, or by ``message.id`` alone when there is no
  ``requestId``; a line without ``message.id`` is never grouped;
- in a group, the line kept is the non-sidechain one, else the one with the larger token total,
  else one with ``speed``, else the first in path-sorted file order;
- a group made only of sidechain lines that shares its ``message.id`` with another group (a
  ``/btw`` replay under a new ``requestId``) is dropped when that group's line ranks higher.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from promptpulse.sources import UsageLine


class Candidate(NamedTuple):
    """What deduplication needs to know of one usage line."""

    id: int
    message_id: str | None
    request_id: str | None
    sidechain: bool
    total_tokens: int
    has_speed: bool
    path: str
    offset: int


def _rank(c: Candidate) -> tuple[bool, int, bool, str, int]:
    """Smaller is better."""
    return (c.sidechain, -c.total_tokens, not c.has_speed, c.path, c.offset)


def select_counted(candidates: Iterable[Candidate]) -> set[int]:
    """The ids of the lines that count."""
    counted: set[int] = set()
    groups: dict[tuple[str, str | None], Candidate] = {}
    for c in candidates:
        if c.message_id is None:
            counted.add(c.id)
            continue
        key = (c.message_id, c.request_id)
        best = groups.get(key)
        if best is None:
            groups[key] = c
        elif _rank(c) < _rank(best):
            groups[key] = c  # a group's winner is a sidechain line only if all its lines are
    by_message: dict[str, list[Candidate]] = {}
    for (message_id, _request), winner in groups.items():
        by_message.setdefault(message_id, []).append(winner)
    for winners in by_message.values():
        if len(winners) == 1:
            counted.add(winners[0].id)
            continue
        counted.update(_replays_removed(winners))
    return counted


def _replays_removed(winners: Sequence[Candidate]) -> list[int]:
    """Of several groups sharing a message id, drop the sidechain-only ones that a better group
    already accounts for."""
    mains = [w for w in winners if not w.sidechain]
    if mains:
        return [w.id for w in mains]
    return [min(winners, key=_rank).id]


def strongest_copies(lines: Sequence[UsageLine]) -> list[UsageLine]:
    """Of the lines read from one file, the best copy in each group (lines without a message id
    all stay). Every other copy loses to it wherever the rest of the group is, so storing only
    these changes no count; it drops the streaming placeholders early."""
    best: dict[tuple[str, str | None], UsageLine] = {}
    out: list[UsageLine] = []
    for line in lines:
        mid = line[2]
        if mid is None:
            out.append(line)
            continue
        key = (mid, line[3])
        kept = best.get(key)
        if kept is None or _line_rank(line) < _line_rank(kept):
            best[key] = line
    out.extend(best.values())
    out.sort(key=lambda line: line[0])
    return out


def _line_rank(line: UsageLine) -> tuple[bool, int, bool, int]:
    """The rank of ``_rank`` for lines of one file (the path is the same; offsets order them)."""
    total = (
        line.input_tokens + line.output_tokens + line.cache_write_tokens + line.cache_read_tokens
    )
    return (line.sidechain, -total, line.speed is None, line.offset)
