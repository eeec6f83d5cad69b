from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from logtree import assistant, dumps, write

from promptpulse.sources import (
    Skipped,
    UsageLine,
    claude_roots,
    find_log_files,
    parse_line,
    parse_timestamp_ms,
    read_file,
    session_of,
)

T = datetime(2026, 2, 12, 16, 2, 34, 480000, tzinfo=UTC)


def _root(path: Path) -> Path:
    (path / "projects").mkdir(parents=True)
    return path


def test_roots_from_claude_config_dir_with_commas(tmp_path: Path) -> None:
    a, b = _root(tmp_path / "a"), _root(tmp_path / "b")
    (tmp_path / "no-projects").mkdir()
    env = {"CLAUDE_CONFIG_DIR": f" {a} ,{b}/projects,{tmp_path / 'no-projects'},,"}
    assert claude_roots(env) == [a, b]


def test_roots_default_to_xdg_and_dot_claude(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    xdg = _root(tmp_path / "xdg" / "claude")
    dot = _root(tmp_path / ".claude")
    assert claude_roots({"XDG_CONFIG_HOME": str(tmp_path / "xdg")}) == [xdg, dot]
    assert claude_roots({}) == [dot]  # ~/.config/claude does not exist


def test_roots_expand_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    root = _root(tmp_path / "cfg")
    assert claude_roots({"CLAUDE_CONFIG_DIR": "~/cfg"}) == [Path("~/cfg").expanduser()]
    assert root.exists()


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("-home-u-proj", "abc.jsonl"), ("-home-u-proj", "abc")),
        (("-home-u-proj", "abc", "subagents", "agent-1.jsonl"), ("-home-u-proj", "abc")),
        (("oldproj", "sess", "file.jsonl"), ("oldproj", "sess")),
        (("loose.jsonl",), ("", "loose")),
    ],
)
def test_session_of(parts: tuple[str, ...], expected: tuple[str, str]) -> None:
    assert session_of(parts) == expected


def test_find_log_files_recursive_and_sorted(tmp_path: Path) -> None:
    root = _root(tmp_path / "r")
    write(root / "projects" / "p" / "s2.jsonl", [])
    write(root / "projects" / "p" / "s1" / "subagents" / "agent-x.jsonl", [])
    write(root / "projects" / "p" / "notes.txt", [])
    files = find_log_files([root])
    assert [(f.project, f.session_id) for f in files] == [("p", "s1"), ("p", "s2")]


def test_parse_line_reads_the_fields_that_count() -> None:
    raw = dumps(
        assistant(
            T,
            "msg_1",
            "req_1",
            "claude-opus-4-6",
            input=1,
            output=81,
            cache_write=1598,
            cache_1h=98,
            cache_read=26447,
            speed="fast",
            cost_usd=0.5,
            sidechain=True,
        )
    ).encode()
    line = parse_line(raw, 7)
    assert line == UsageLine(
        7,
        1770912154480,
        "msg_1",
        "req_1",
        True,
        "claude-opus-4-6",
        "fast",
        1,
        81,
        1598,
        98,
        26447,
        0.5,
        "/home/u/proj",
    )


def test_cache_write_falls_back_to_the_flat_field() -> None:
    raw = dumps(assistant(T, "m", "r", cache_write=300, with_cache_creation=False)).encode()
    line = parse_line(raw, 0)
    assert isinstance(line, UsageLine)
    assert (line.cache_write_tokens, line.cache_write_1h_tokens) == (300, 0)


def test_cache_write_is_5m_plus_1h_when_given() -> None:
    rec = assistant(T, "m", "r", cache_write=999)
    rec["message"]["usage"]["cache_creation"] = {
        "ephemeral_5m_input_tokens": 10,
        "ephemeral_1h_input_tokens": 5,
    }
    line = parse_line(dumps(rec).encode(), 0)
    assert isinstance(line, UsageLine)
    assert (line.cache_write_tokens, line.cache_write_1h_tokens) == (15, 5)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r["message"].__setitem__("id", None), "unusable"),
        (lambda r: r.__setitem__("requestId", None), "unusable"),
        (lambda r: r.__setitem__("cwd", None), "unusable"),
        (lambda r: r.__setitem__("costUSD", None), "unusable"),
        (lambda r: r["message"]["usage"].__setitem__("cache_read_input_tokens", None), "unusable"),
        (lambda r: r["message"]["usage"].__setitem__("output_tokens", "12"), "unusable"),
        (lambda r: r["message"]["usage"].__setitem__("speed", "turbo"), "unknown speed"),
        (lambda r: r.__setitem__("timestamp", "yesterday"), "invalid timestamp"),
        (lambda r: r.pop("timestamp"), "no timestamp"),
    ],
)
def test_lines_ccusage_refuses_are_skipped_with_a_reason(change: object, reason: str) -> None:
    rec = assistant(T, "m", "r")
    change(rec)  # type: ignore[operator]
    parsed = parse_line(dumps(rec).encode(), 3)
    assert isinstance(parsed, Skipped)
    assert parsed.offset == 3
    assert reason in parsed.reason


def test_lines_without_usage_are_not_skips() -> None:
    assert parse_line(b'{"type":"user","message":{"role":"user","content":"hi"}}', 0) is None
    tool = b'{"type":"user","message":"plain","toolUseResult":{"usage":{"x":1}}}'
    assert parse_line(tool, 0) is None
    assert isinstance(parse_line(b'{"message":{"usage":', 0), Skipped)


def test_timestamps_with_offsets() -> None:
    assert parse_timestamp_ms("2026-02-12T16:02:34.480Z") == 1770912154480
    assert parse_timestamp_ms("2026-02-12T21:32:34.480+05:30") == 1770912154480
    assert parse_timestamp_ms("2026-02-12T16:02:34") == 1770912154000
    assert parse_timestamp_ms("not a time") is None


def test_read_file_skips_bad_lines_and_leaves_a_torn_tail(tmp_path: Path) -> None:
    good = assistant(T, "m1", "r1")
    path = write(
        tmp_path / "s.jsonl",
        [good, "", "{not json", '{"message":{"usage":{"x"', assistant(T, "m2", "r2")],
        tail=dumps(assistant(T, "m3", "r3"))[:50],
    )
    read = read_file(str(path))
    assert [line.message_id for line in read.lines] == ["m1", "m2"]
    assert [s.reason for s in read.skipped] == ["invalid JSON"]
    assert read.torn_tail
    assert read.end == path.stat().st_size - 50


def test_read_file_counts_a_complete_last_line_without_newline(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl", [assistant(T, "m1", "r1")], tail=dumps(assistant(T, "m2", "r2"))
    )
    read = read_file(str(path))
    assert [line.message_id for line in read.lines] == ["m1", "m2"]
    assert read.end == path.stat().st_size
    assert not read.torn_tail


def test_read_file_in_small_blocks_gives_the_same_lines(tmp_path: Path) -> None:
    records = [assistant(T, f"m{i}", f"r{i}", text="z" * (i * 37)) for i in range(60)]
    path = write(tmp_path / "s.jsonl", records)
    whole = read_file(str(path))
    for block in [64, 100, 1000, 4096]:
        small = read_file(str(path), block_size=block)
        assert small.lines == whole.lines
        assert small.end == whole.end == path.stat().st_size


def test_read_file_from_an_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", [assistant(T, "m1", "r1")])
    start = path.stat().st_size
    write(path, [assistant(T, "m2", "r2")], mode="a")
    read = read_file(str(path), start)
    assert [line.message_id for line in read.lines] == ["m2"]
    assert read.lines[0].offset == start


def test_unreadable_file_is_reported_not_raised(tmp_path: Path) -> None:
    read = read_file(str(tmp_path / "gone.jsonl"))
    assert read.error is not None and "FileNotFoundError" in read.error
