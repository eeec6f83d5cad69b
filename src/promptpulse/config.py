"""Where promptpulse keeps its files.

Every path comes from platformdirs, and ``PROMPTPULSE_HOME`` moves all of them under one folder
(``config/``, ``data/``, ``state/``), which is what the tests do.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

APP_NAME = "promptpulse"


def _home() -> Path | None:
    home = os.environ.get("PROMPTPULSE_HOME", "").strip()
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    home = _home()
    if home:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    home = _home()
    if home:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def state_dir() -> Path:
    home = _home()
    if home:
        return home / "state"
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME))


def ledger_path() -> Path:
    return data_dir() / "ledger.sqlite3"


def config_path() -> Path:
    return config_dir() / "config.json"


PRIVACY_MODES = ("basename", "full", "hash", "none")


@dataclass
class Config:
    """What ``promptpulse login`` and ``config set`` store (mode 0600: it holds the API key)."""

    server: str = ""
    api_key: str = ""
    username: str = ""
    project_privacy: str = "basename"

    @classmethod
    def load(cls) -> Config:
        path = config_path()
        try:
            raw = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        known = {
            f: raw[f]
            for f in ("server", "api_key", "username", "project_privacy")
            if isinstance(raw.get(f), str)
        }
        return cls(**known)

    def save(self) -> Path:
        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    def masked_key(self) -> str:
        return self.api_key[:9] + "…" + self.api_key[-4:] if self.api_key else ""


class ConfigError(Exception):
    """The configuration cannot be read or a value is not allowed."""


def machine_id() -> str:
    """A stable id for this machine: ``MACHINE_ID``, else one generated once and kept."""
    given = os.environ.get("MACHINE_ID", "").strip()
    if given:
        return given
    path = state_dir() / "machine-id"
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        pass
    import uuid

    value = uuid.uuid4().hex
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n", "utf-8")
    return value
