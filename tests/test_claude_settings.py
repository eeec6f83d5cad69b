"""promptpulse as Claude Code's statusline: merging into settings.json, and `setup --statusline`."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import testclock
from promptpulse import claude_settings as cs

PP = [sys.executable, "-m", "promptpulse"]
ENTRY = cs.statusline_entry("/opt/pp/bin/promptpulse")
AT = testclock.NOW
STAMP = AT.strftime("%Y%m%dT%H%M%SZ")

# other settings, in an order that is not sorted, with values json must keep as they are
OTHER = (
    "{\n"
    '  "permissions": {"allow": ["Bash(git *)"], "deny": []},\n'
    '  "model": "opus",\n'
    '  "env": {"GREETING": "grüß dich ✓", "N": "1"},\n'
    '  "cleanupPeriodDays": 99999,\n'
    '  "ratio": 0.1,\n'
    '  "big": 12345678901234567890,\n'
    '  "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "echo \\"done\\""}]}]},\n'
    '  "includeCoAuthoredBy": false,\n'
    '  "nothing": null,\n'
    '  "apiKeyHelper": "a\\u0000b"\n'
    "}\n"
)
THEIRS = {"type": "command", "command": "~/.claude/statusline.sh", "padding": 2}


def merge_in(settings: dict[str, Any]) -> cs.Change:
    return cs.with_statusline(settings, ENTRY)


def backups(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{cs.BACKUP_INFIX}*"))


# --- pure -------------------------------------------------------------------------------------


def test_other_keys_keep_their_values_and_order() -> None:
    before = json.loads(OTHER)
    change = cs.with_statusline(cs.parse(OTHER), ENTRY)
    assert change.changed and change.previous is None
    after = json.loads(cs.render(change.settings))
    assert list(after) == [*before, "statusLine"]
    for key, value in before.items():
        assert after[key] == value and type(after[key]) is type(value)
    assert after["statusLine"] == ENTRY
    assert "grüß dich ✓" in cs.render(change.settings)  # not \\u-escaped
    assert cs.render(change.settings).endswith("}\n")


def test_an_existing_statusline_is_replaced_in_place_and_reported() -> None:
    settings = {"model": "opus", "statusLine": THEIRS, "env": {}}
    change = cs.with_statusline(settings, ENTRY)
    assert change.previous == THEIRS
    assert list(change.settings) == ["model", "statusLine", "env"]
    assert change.settings["statusLine"] == ENTRY
    assert settings["statusLine"] == THEIRS  # the input is not changed


def test_installing_again_changes_nothing() -> None:
    once = cs.with_statusline({"a": 1}, ENTRY).settings
    again = cs.with_statusline(once, ENTRY)
    assert not again.changed and again.settings == once


@pytest.mark.parametrize(
    "command",
    [
        "/home/u/.local/bin/promptpulse statusline",
        "'/home/u/my tools/promptpulse' statusline",
        "/usr/bin/python3 -m promptpulse statusline --format '{model}'",
        "ppulse statusline",
    ],
)
def test_our_statusline_is_recognised(command: str) -> None:
    assert cs.is_ours({"type": "command", "command": command})
    assert not cs.without_statusline({"statusLine": {"command": command}}).settings


@pytest.mark.parametrize(
    "value",
    [THEIRS, {"command": "npx ccusage statusline"}, "promptpulse statusline", None, {}],
)
def test_someone_elses_statusline_is_left_alone(value: Any) -> None:
    settings = {"statusLine": value, "x": 1}
    change = cs.without_statusline(settings)
    assert not change.changed and change.settings == settings and change.previous == value


def test_remove_without_a_statusline_changes_nothing() -> None:
    change = cs.without_statusline({"x": 1})
    assert not change.changed and change.previous is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1,\n  "b": }', "not valid JSON (Expecting value at line 2 column 8)"),
        ("[1, 2]", "holds a JSON array, not an object"),
        ('"text"', "holds a JSON string, not an object"),
        ("null", "holds a JSON null, not an object"),
    ],
)
def test_what_is_not_an_object_is_refused(text: str, message: str) -> None:
    with pytest.raises(cs.SettingsError, match="nothing was changed") as caught:
        cs.parse(text, "/x/settings.json")
    assert str(caught.value).startswith("/x/settings.json ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_empty_text_is_no_settings() -> None:
    assert cs.parse("") == {} and cs.parse(" \n") == {}


def test_the_settings_file_follows_claude_config_dir(tmp_path: Path) -> None:
    home = Path.home()
    assert cs.settings_path({}) == home / ".claude" / "settings.json"
    assert cs.settings_path({"CLAUDE_CONFIG_DIR": str(tmp_path)}) == tmp_path / "settings.json"
    assert cs.settings_path({"CLAUDE_CONFIG_DIR": f" {tmp_path}/projects, /b"}) == (
        tmp_path / "settings.json"
    )
    assert cs.settings_path({"CLAUDE_CONFIG_DIR": "~/cc"}) == home / "cc" / "settings.json"


def test_the_executable_is_found_robustly(tmp_path: Path) -> None:
    script = tmp_path / "my bin" / "ppulse"
    script.parent.mkdir()
    script.touch()
    never = lambda name: None  # noqa: E731
    assert cs.executable(str(script), never, "/py") == f"'{script}'"
    on_path = {"promptpulse": "/usr/local/bin/promptpulse"}.get
    assert cs.executable("/x/promptpulse/__main__.py", on_path, "/py") == (
        "/usr/local/bin/promptpulse"
    )
    assert cs.executable("promptpulse", never, "/py") == "/py -m promptpulse"  # not found
    assert cs.executable("-c", never, "/my py/python3") == "'/my py/python3' -m promptpulse"


# --- the file -----------------------------------------------------------------------------------


def test_no_file_and_no_folder_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "settings.json"
    done = cs.update_file(path, merge_in, AT)
    assert done.created and done.backup is None
    assert json.loads(path.read_text()) == {"statusLine": ENTRY}
    assert backups(path.parent) == []


def test_a_change_is_backed_up_first_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(OTHER, encoding="utf-8")
    path.chmod(0o640)
    done = cs.update_file(path, merge_in, AT)
    assert done.backup == tmp_path / f"settings.json{cs.BACKUP_INFIX}{STAMP}"
    assert done.backup.read_bytes() == OTHER.encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(path.read_text())["statusLine"] == ENTRY
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_older_backup_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"statusLine": {"command": "theirs"}}')
    first = cs.update_file(path, merge_in, AT).backup
    second = cs.update_file(path, cs.without_statusline, AT).backup  # the same second
    assert first is not None and second is not None and first != second
    assert first.read_text() == '{"statusLine": {"command": "theirs"}}'
    assert json.loads(second.read_text())["statusLine"] == ENTRY


def test_nothing_to_change_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(cs.render({"statusLine": ENTRY}))
    before = path.stat()
    done = cs.update_file(path, merge_in, AT)
    assert not done.change.changed and done.backup is None
    assert path.stat().st_mtime_ns == before.st_mtime_ns and backups(tmp_path) == []


@pytest.mark.parametrize("text", ['{"model": "opus",}', "[]", "\x00\xff"])
def test_a_file_that_cannot_be_read_is_left_byte_identical(tmp_path: Path, text: str) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(cs.SettingsError, match=re.escape(str(path))):
        cs.update_file(path, merge_in, AT)
    assert path.read_bytes() == text.encode("latin-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    done = cs.update_file(path, merge_in, AT, dry_run=True)
    assert json.loads(done.text) == {"statusLine": ENTRY}
    assert not path.exists()


def test_a_linked_settings_file_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "settings.json"
    real.parent.mkdir()
    real.write_text('{"model": "opus"}')
    link = tmp_path / "settings.json"
    link.symlink_to(real)
    cs.update_file(link, merge_in, AT)
    assert link.is_symlink()
    assert json.loads(real.read_text()) == {"model": "opus", "statusLine": ENTRY}


# --- the command ----------------------------------------------------------------------------------


def pp(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        CLAUDE_CONFIG_DIR=str(tmp_path / "claude"),
        PROMPTPULSE_CRONTAB_FILE=str(tmp_path / "crontab"),
        COLUMNS="200",
    )
    return subprocess.run([*PP, *args], env=env, capture_output=True, text=True, timeout=60)


def test_setup_statusline_installs_replaces_and_removes(tmp_path: Path) -> None:
    path = tmp_path / "claude" / "settings.json"
    path.parent.mkdir()
    original = OTHER.replace('"ratio"', f'"statusLine": {json.dumps(THEIRS)},\n  "ratio"')
    path.write_text(original)

    out = pp(tmp_path, "setup", "--statusline")
    assert out.returncode == 0, out.stderr
    settings = json.loads(path.read_text())
    assert settings["statusLine"]["type"] == "command" and settings["statusLine"]["padding"] == 0
    assert cs.is_ours(settings["statusLine"])
    assert settings["statusLine"]["command"].endswith(" statusline")
    home = os.environ["PROMPTPULSE_HOME"]  # every test has its own: the command carries it
    assert settings["statusLine"]["command"].startswith(f"PROMPTPULSE_HOME={shlex.quote(home)} ")
    assert f"Changed {path}" in out.stdout
    assert "~/.claude/statusline.sh" in out.stdout  # says what it replaced
    backup = tmp_path / "claude" / f"settings.json{cs.BACKUP_INFIX}{STAMP}"
    assert f"Backup of the previous file: {backup}" in out.stdout
    assert backup.read_text() == original
    assert {k: v for k, v in settings.items() if k != "statusLine"} == {
        k: v for k, v in json.loads(original).items() if k != "statusLine"
    }
    assert not (tmp_path / "crontab").exists()  # the cron job is another thing

    again = pp(tmp_path, "setup", "--statusline")
    assert "Already installed" in again.stdout and len(backups(path.parent)) == 1

    removed = pp(tmp_path, "setup", "--statusline", "--remove")
    assert removed.returncode == 0, removed.stderr
    assert f"Removed promptpulse's statusline from {path}" in removed.stdout
    assert "statusLine" not in json.loads(path.read_text())
    assert len(backups(path.parent)) == 2

    nothing = pp(tmp_path, "setup", "--statusline", "--remove")
    assert "nothing to remove" in nothing.stdout and len(backups(path.parent)) == 2


def test_setup_statusline_remove_leaves_someone_elses(tmp_path: Path) -> None:
    path = tmp_path / "claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"statusLine": THEIRS}))
    out = pp(tmp_path, "setup", "--statusline", "--remove")
    assert out.returncode == 0
    assert "not promptpulse's; left it alone" in out.stdout
    assert json.loads(path.read_text()) == {"statusLine": THEIRS}
    assert backups(path.parent) == []


def test_setup_statusline_refuses_invalid_json_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(b'{\n  "model": "opus"\n  "env": {}\n}\n')
    out = pp(tmp_path, "setup", "--statusline", "--settings", str(path))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"error: {path} is not valid JSON (Expecting ',' delimiter at line 3 column 3); "
        "fix it or move it away, nothing was changed"
    )
    assert path.read_bytes() == b'{\n  "model": "opus"\n  "env": {}\n}\n'


def test_setup_statusline_dry_run_and_settings_option(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "settings.json"
    out = pp(tmp_path, "setup", "--statusline", "--dry-run", "--settings", str(path))
    assert out.returncode == 0, out.stderr
    assert f"Would write {path}" in out.stdout
    assert '"statusLine": {' in out.stdout
    assert not path.parent.exists()
    made = pp(tmp_path, "setup", "--statusline", "--settings", str(path))
    assert f"Created {path}" in made.stdout and "Backup" not in made.stdout
    assert not (tmp_path / "claude").exists()


def test_settings_without_statusline_is_refused(tmp_path: Path) -> None:
    out = pp(tmp_path, "setup", "--settings", str(tmp_path / "s.json"))
    assert out.returncode == 2 and "--settings goes with --statusline" in out.stderr


def test_help_names_the_options_and_the_default_file(tmp_path: Path) -> None:
    out = pp(tmp_path, "setup", "--help")
    for text in ["--statusline", "--settings", "--remove", "--dry-run", "~/.claude/settings.json"]:
        assert text in out.stdout
