"""Where promptpulse keeps its files.

Every path comes from platformdirs, and ``PROMPTPULSE_HOME`` moves all of them under one folder
(``config/``, ``data/``, ``state/``), which is what the tests do.
"""

from __future__ import annotations

import json
import os
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


class Config:
    """What ``promptpulse login`` and ``config set`` store (mode 0600: it holds the API key).
    A plain class: the statusline reads it on every Claude Code message, and dataclasses are
    slow to import."""

    _TEXT = ("server", "api_key", "username", "project_privacy", "plan")

    def __init__(
        self,
        server: str = "",
        api_key: str = "",
        username: str = "",
        project_privacy: str = "basename",
        plan: str = "",
        plan_price: float | None = None,
    ) -> None:
        self.server, self.api_key, self.username = server, api_key, username
        self.project_privacy = project_privacy
        self.plan = plan  # pro, max5, max20, team or api; "" when not said
        self.plan_price = plan_price  # USD per month, overriding the price data's

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {name: getattr(self, name) for name in self._TEXT}
        out["plan_price"] = self.plan_price
        return out

    @classmethod
    def load(cls) -> Config:
        path = config_path()
        try:
            raw = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"cannot read {path}: not a JSON object")
        conf = cls(**{f: raw[f] for f in cls._TEXT if isinstance(raw.get(f), str)})
        price = raw.get("plan_price")
        if isinstance(price, int | float) and not isinstance(price, bool) and price >= 0:
            conf.plan_price = float(price)
        return conf

    def save(self) -> Path:
        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.as_dict(), f, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    def plan_monthly_usd(self) -> float | None:
        """The plan's price per month: the override, else the price data's."""
        if self.plan_price is not None:
            return self.plan_price
        if not self.plan:
            return None
        from promptpulse.pricing import plan_price

        return plan_price(self.plan)

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
