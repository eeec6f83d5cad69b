"""Where Claude Code's logs live, and how their lines become usage records.

Roots: ``CLAUDE_CONFIG_DIR`` (comma separated) when set, else ``$XDG_CONFIG_HOME/claude`` and
``~/.claude``. Every ``*.jsonl`` below ``<root>/projects/`` is read.

Reading is byte-oriented and tolerant: a byte prefilter finds the lines that mention
``"usage"``, a typed decoder builds only the fields that are needed, and a line that cannot be
counted (invalid JSON, a null where ccusage refuses one, a bad timestamp) is skipped and reported,
never fatal. A last line without its newline is left for the next read unless it is complete.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, NamedTuple

import msgspec
from msgspec import UNSET, UnsetType

BLOCK_SIZE = 8 << 20
HEAD_BYTES = 256  # how much of a file's beginning identifies it
_MARKER = b'"usage"'
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


# --- where the logs are ----------------------------------------------------------------------


def claude_roots(env: dict[str, str] | None = None) -> list[Path]:
    """The Claude config folders whose ``projects/`` hold logs, as ccusage finds them."""
    env = dict(os.environ) if env is None else env
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    candidates: list[Path] = []
    if configured:
        for part in configured.split(","):
            part = part.strip()
            if not part:
                continue
            path = Path(part).expanduser()
            if path.name == "projects":
                path = path.parent
            candidates.append(path)
    else:
        xdg = env.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
        candidates = [Path(xdg).expanduser() / "claude", Path.home() / ".claude"]
    roots: list[Path] = []
    seen: set[Path] = set()
    for path in candidates:
        if (path / "projects").is_dir():
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                roots.append(path)
    return roots


@dataclass(frozen=True, slots=True)
class LogFile:
    path: str
    project: str  # the encoded folder under projects/
    session_id: str  # the file name; subagent files fold into their parent session


def session_of(relative: tuple[str, ...]) -> tuple[str, str]:
    """(project, session id) of a log file from its path parts below ``projects/``."""
    project = relative[0] if len(relative) > 1 else ""
    if len(relative) <= 2:
        return project, relative[-1].removesuffix(".jsonl")
    if relative[-2] == "subagents" and len(relative) >= 4:
        return project, relative[-3]
    return project, relative[-2]


def find_log_files(
    roots: list[Path], unreadable: list[tuple[str, str]] | None = None
) -> list[LogFile]:
    """Every ``*.jsonl`` below each root's ``projects/``, sorted by path; the folders that
    cannot be listed go to ``unreadable`` with the reason."""
    files: list[LogFile] = []
    for root in roots:
        projects = str(root / "projects")
        for path in _jsonl_below(projects, unreadable):
            project, session = session_of(tuple(path[len(projects) + 1 :].split(os.sep)))
            files.append(LogFile(path, project, session))
    files.sort(key=lambda f: f.path)
    return files


def session_files(transcript: str, roots: list[Path]) -> list[LogFile]:
    """The log files of one session, from its transcript's path: the transcript and its
    subagents' files, spelled as ``find_log_files`` spells them (so the ledger knows them as the
    same files). Nothing when the transcript is not below one of ``roots``' ``projects/``."""
    if not transcript.endswith(".jsonl"):
        return []
    path = Path(transcript)
    for root in roots:
        projects = root / "projects"
        relative = _below(path, projects)
        if relative is None or len(relative) != 2:
            continue
        spelled = str(projects.joinpath(*relative))
        project, session = session_of(relative)
        files = [LogFile(spelled, project, session)]
        own = str(projects / relative[0] / session)
        for sub in sorted(_jsonl_below(own)):
            sub_project, sub_session = session_of(
                tuple(sub[len(str(projects)) + 1 :].split(os.sep))
            )
            files.append(LogFile(sub, sub_project, sub_session))
        return files
    return []


def _below(path: Path, folder: Path) -> tuple[str, ...] | None:
    """``path``'s parts below ``folder``, also when one of them is spelled through a link."""
    for candidate, base in ((path, folder), (path.resolve(), folder.resolve())):
        try:
            return candidate.relative_to(base).parts
        except ValueError:
            continue
    return None


def _jsonl_below(folder: str, unreadable: list[tuple[str, str]] | None = None) -> list[str]:
    found: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    found.extend(_jsonl_below(entry.path, unreadable))
                elif entry.name.endswith(".jsonl"):  # a broken link too: it is reported
                    found.append(entry.path)
    except (FileNotFoundError, NotADirectoryError):
        pass  # a folder that vanished while it was listed: nothing there to read
    except OSError as exc:  # one that cannot be listed is reported, as a file is
        if unreadable is not None:
            unreadable.append((folder, exc.strerror or str(exc)))
    return found


# --- one line ---------------------------------------------------------------------------------


class _CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0


class _ServerToolUse(msgspec.Struct):
    web_search_requests: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation: _CacheCreation | None = None
    speed: str | UnsetType = UNSET
    server_tool_use: _ServerToolUse | None = None


class _Message(msgspec.Struct):
    usage: _Usage | None = None
    model: str | UnsetType = UNSET
    id: str | UnsetType = UNSET


class _Record(msgspec.Struct):
    timestamp: str | UnsetType = UNSET
    message: _Message | None = None
    requestId: str | UnsetType = UNSET
    isSidechain: bool | None = None
    costUSD: float | UnsetType = UNSET
    cwd: str | UnsetType = UNSET
    sessionId: str | UnsetType = UNSET
    version: str | UnsetType = UNSET
    isApiErrorMessage: bool | UnsetType = UNSET


_decode_record = msgspec.json.Decoder(_Record).decode
_decode_any = msgspec.json.Decoder().decode


class UsageLine(NamedTuple):
    """One log line that carries usage and counts (before deduplication)."""

    offset: int
    timestamp_ms: int
    message_id: str | None
    request_id: str | None
    sidechain: bool
    model: str
    speed: str | None
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int  # 5-minute and 1-hour writes
    cache_write_1h_tokens: int
    cache_read_tokens: int
    cost_usd: float | None
    cwd: str
    web_search_requests: int = 0


_new_line = tuple.__new__  # builds a UsageLine without the keyword-handling constructor


class Skipped(NamedTuple):
    offset: int
    reason: str


def parse_timestamp_ms(text: str) -> int | None:
    """Milliseconds since the epoch of an ISO-8601 timestamp (UTC when it has no offset)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MILLISECOND  # floor, as the days/seconds arithmetic was


def parse_line(raw: bytes | memoryview, offset: int) -> UsageLine | Skipped | None:
    """A usage line, a reason to skip it, or None when the line carries no usage."""
    try:
        rec = _decode_record(raw)
    except msgspec.ValidationError as exc:
        if not _mentions_usage(raw):
            return None
        return Skipped(offset, f"unusable usage line: {exc}")
    except msgspec.DecodeError:
        return Skipped(offset, "invalid JSON")
    msg = rec.message
    if msg is None:
        return None
    usage = msg.usage
    if usage is None:
        return None
    # After validation a field is its type or UNSET: ``is`` tests are the cheap way to tell.
    timestamp = rec.timestamp
    if timestamp is UNSET:
        return Skipped(offset, "no timestamp")
    ts = parse_timestamp_ms(timestamp)
    if ts is None:
        return Skipped(offset, f"invalid timestamp {timestamp!r}")
    speed = None if usage.speed is UNSET else usage.speed
    if speed is not None and speed != "standard" and speed != "fast":
        return Skipped(offset, f"unknown speed {speed!r}")
    cc = usage.cache_creation
    if cc is not None:
        write_1h = cc.ephemeral_1h_input_tokens
        write = cc.ephemeral_5m_input_tokens + write_1h
    else:
        write_1h = 0
        write = usage.cache_creation_input_tokens
    mid, rid, model, cost, cwd = msg.id, rec.requestId, msg.model, rec.costUSD, rec.cwd
    tools = usage.server_tool_use
    return _new_line(
        UsageLine,
        (
            offset,
            ts,
            None if mid is UNSET else mid,
            None if rid is UNSET else rid,
            rec.isSidechain is True,
            "unknown" if model is UNSET else model,
            speed,
            usage.input_tokens,
            usage.output_tokens,
            write,
            write_1h,
            usage.cache_read_input_tokens,
            None if cost is UNSET else cost,
            "" if cwd is UNSET else cwd,
            (tools.web_search_requests or 0) if tools is not None else 0,
        ),
    )


def _mentions_usage(raw: bytes | memoryview) -> bool:
    try:
        obj = _decode_any(raw)
    except msgspec.DecodeError:
        return True
    msg = obj.get("message") if isinstance(obj, dict) else None
    return isinstance(msg, dict) and "usage" in msg


# --- one file ---------------------------------------------------------------------------------


@dataclass(slots=True)
class FileRead:
    """What reading one file from an offset gave."""

    path: str
    start: int
    end: int  # offset after the last line consumed (a torn last line is not consumed)
    lines: list[UsageLine] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    error: str | None = None
    torn_tail: bool = False
    head: bytes | None = None  # the file's first HEAD_BYTES, when read from the start


def read_file(path: str, start: int = 0, block_size: int = BLOCK_SIZE) -> FileRead:
    """Read the usage lines of ``path`` from byte ``start`` on, in blocks of bounded size."""
    result = FileRead(path, start, start)
    try:
        with open(path, "rb") as f:
            f.seek(start)
            _scan(f, start, block_size, result)
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc.strerror or exc}"
    return result


def _scan(f: BinaryIO, start: int, block_size: int, result: FileRead) -> None:
    carry = b""
    base = start  # file offset of buf[0]
    remaining = os.fstat(f.fileno()).st_size - start
    while True:
        # Reading a small file whole is several times faster than asking for a large block.
        whole = remaining < block_size
        block = f.read() if whole else f.read(block_size)
        remaining -= len(block)
        at_eof = whole or len(block) < block_size
        buf = carry + block if carry else block
        if base == 0 and result.head is None:
            result.head = buf[:HEAD_BYTES]
        complete = buf.rfind(b"\n") + 1  # up to and including the last newline
        consumed = complete
        if at_eof and complete < len(buf):
            tail = buf[complete:]
            if _complete_json(tail):  # a whole last line that merely lacks its newline
                buf += b"\n"
                consumed = len(tail) + complete
                complete = len(buf)
            else:
                result.torn_tail = bool(tail.strip())
        _scan_lines(buf, complete, base, result)
        base += consumed
        result.end = base
        if at_eof:
            break
        carry = buf[complete:]


def _complete_json(tail: bytes) -> bool:
    try:
        _decode_any(tail)
    except msgspec.DecodeError:
        return False
    return True


def _scan_lines(buf: bytes, limit: int, base: int, result: FileRead) -> None:
    view = memoryview(buf)
    find = buf.find
    pos = find(_MARKER, 0, limit)
    while pos != -1:
        begin = buf.rfind(b"\n", 0, pos) + 1
        stop = find(b"\n", pos, limit)
        if stop == -1:
            stop = limit
        parsed = parse_line(view[begin:stop], base + begin)
        if isinstance(parsed, UsageLine):
            result.lines.append(parsed)
        elif parsed is not None:
            result.skipped.append(parsed)
        pos = find(_MARKER, stop, limit)
