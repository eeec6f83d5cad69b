"""Installing promptpulse as Claude Code's statusline, in Claude Code's ``settings.json``.

The merge is pure: ``parse`` turns the file's text into a dict (or raises ``SettingsError``
naming the file and the position of the JSON error), ``with_statusline`` and
``without_statusline`` return a new dict and say what they replaced, ``render`` writes the text
back (indent 2, non-ASCII kept, a trailing newline). Every other key keeps its place and its
value; a new ``statusLine`` goes last, a replaced one stays where it was.

``update_file`` is the one function that touches the disk: it reads the file (none is an empty
object), refuses text it cannot parse without changing a byte, writes a backup of the original
bytes next to it before any change (``settings.json.promptpulse-backup-<UTC time>``, never over
an older backup), then writes the new text atomically (a temporary file in the same folder,
``os.replace``), keeping the file's mode.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEY = "statusLine"
BACKUP_INFIX = ".promptpulse-backup-"
_OURS = re.compile(r"""(?:promptpulse|ppulse)['"]?\s+statusline\b""")
_SCRIPTS = ("promptpulse", "ppulse")


class SettingsError(Exception):
    """The settings file cannot be used as it is; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Change:
    """What a merge did: the new settings, the ``statusLine`` it replaced or removed (None when
    there was none), and whether anything changed."""

    settings: dict[str, Any]
    previous: Any
    changed: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``update_file`` did: the merge, the file, its backup (None when there was no file,
    nothing changed, or it was a dry run), the new text, and whether the file was created."""

    change: Change
    path: Path
    backup: Path | None
    text: str
    created: bool


def settings_path(env: Mapping[str, str] | None = None) -> Path:
    """Claude Code's user settings: ``$CLAUDE_CONFIG_DIR/settings.json`` when that is set (its
    first folder, if it lists several), else ``~/.claude/settings.json``."""
    env = os.environ if env is None else env
    for part in env.get("CLAUDE_CONFIG_DIR", "").split(","):
        part = part.strip()
        if part:
            folder = Path(part).expanduser()
            if folder.name == "projects":
                folder = folder.parent
            return folder / "settings.json"
    return Path.home() / ".claude" / "settings.json"


def executable(
    argv0: str,
    which: Callable[[str], str | None] = shutil.which,
    python: str = "",
) -> str:
    """The shell words that run this promptpulse: the script being run (``promptpulse`` or
    ``ppulse``) by its absolute path, else ``promptpulse`` found on PATH, else this Python with
    ``-m promptpulse``. Symbolic links are not followed, so an upgrade that moves the target
    keeps working."""
    name = Path(argv0).name
    if name in _SCRIPTS:
        found = argv0 if os.sep in argv0 else which(argv0)
        if found and os.path.isfile(found):
            return shlex.quote(os.path.abspath(found))
    found = which("promptpulse")
    if found:
        return shlex.quote(os.path.abspath(found))
    return f"{shlex.quote(python)} -m promptpulse"


def statusline_entry(command_words: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``statusLine`` setting; with ``PROMPTPULSE_HOME`` set (in ``env``), the command
    carries it, so the statusline uses the same ledger as the other commands, whatever
    environment Claude Code was started in."""
    home = (os.environ if env is None else env).get("PROMPTPULSE_HOME", "").strip()
    prefix = f"PROMPTPULSE_HOME={shlex.quote(home)} " if home else ""
    return {"type": "command", "command": f"{prefix}{command_words} statusline", "padding": 0}


def is_ours(value: Any) -> bool:
    """A ``statusLine`` that runs ``promptpulse statusline`` (or ``ppulse statusline``)."""
    if not isinstance(value, dict):
        return False
    command = value.get("command")
    return isinstance(command, str) and _OURS.search(command) is not None


def parse(text: str, path: Path | str = "settings.json") -> dict[str, Any]:
    """The settings in ``text`` (empty or blank text is no settings)."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "fix it or move it away, nothing was changed"
        ) from exc
    if not isinstance(value, dict):
        raise SettingsError(
            f"{path} holds a JSON {_kind(value)}, not an object; nothing was changed"
        )
    return value


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def render(settings: Mapping[str, Any]) -> str:
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


def with_statusline(settings: Mapping[str, Any], entry: Mapping[str, Any]) -> Change:
    """``settings`` with ``entry`` as its ``statusLine``."""
    previous = settings.get(KEY)
    new = dict(settings)
    new[KEY] = dict(entry)  # keeps the key's place when it was there
    return Change(new, previous, previous != new[KEY])


def without_statusline(settings: Mapping[str, Any]) -> Change:
    """``settings`` without promptpulse's ``statusLine``; someone else's stays (``changed`` is
    False, ``previous`` is theirs)."""
    previous = settings.get(KEY)
    if KEY not in settings or not is_ours(previous):
        return Change(dict(settings), previous, False)
    return Change({k: v for k, v in settings.items() if k != KEY}, previous, True)


def backup_path(path: Path, now: datetime) -> Path:
    """A backup name next to ``path`` that is not taken yet."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}{BACKUP_INFIX}{stamp}")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}{BACKUP_INFIX}{stamp}-{n}")
        n += 1
    return candidate


def update_file(
    path: Path,
    merge: Callable[[dict[str, Any]], Change],
    now: datetime,
    *,
    dry_run: bool = False,
) -> Outcome:
    """Apply ``merge`` to the settings file at ``path``; see the module's docstring."""
    target = path.resolve() if path.is_symlink() else path  # write through a dotfiles link
    try:
        original: bytes | None = target.read_bytes()
    except FileNotFoundError:
        original = None
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if original is None:
        text = ""
    else:
        try:
            text = original.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SettingsError(
                f"{path} is not UTF-8 text (byte {exc.start}); nothing was changed"
            ) from exc
    change = merge(parse(text, path))
    new_text = render(change.settings)
    if not change.changed or dry_run:
        return Outcome(change, path, None, new_text, original is None)
    backup = None
    try:
        if original is None:
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = 0o666 & ~_umask()
        else:
            mode = stat.S_IMODE(target.stat().st_mode)
            backup = _write_backup(target, original, mode, now)
        _replace(target, new_text.encode("utf-8"), mode)
    except OSError as exc:
        raise SettingsError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return Outcome(change, path, backup, new_text, original is None)


def _write_backup(target: Path, original: bytes, mode: int, now: datetime) -> Path:
    while True:
        backup = backup_path(target, now)
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:  # taken between the check and the open: try the next name
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(original)
            f.flush()
            os.fsync(f.fileno())
        return backup


def _replace(target: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
