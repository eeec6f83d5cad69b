"""Where promptpulse keeps its files.

Every path comes from platformdirs, and ``PROMPTPULSE_HOME`` moves all of them under one folder
(``config/``, ``data/``, ``state/``), which is what the tests do.
"""

from __future__ import annotations

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
