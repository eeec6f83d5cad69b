"""The user's two price files, beside the packaged table: reading, checking and writing them.

- **Overrides**: ``prices.json`` in the config dir, written by ``promptpulse prices set`` or by
  hand: ``{"models": {"claude-x": {"input": 3, "output": 15, ...}}}``.
- **The updated table**: ``prices-updated.json`` in the data dir, written by ``promptpulse
  prices update``: the same shape, with the day it was fetched (``checked``) and its ``source``.

Prices are USD per million tokens, as in the packaged ``prices.json``. An entry needs ``input``
and ``output``; ``cache_write`` and ``cache_read`` default to Anthropic's ratios (1.25× and 0.1×
the input rate); ``long_context`` and ``fast_multiplier`` are optional. Anything else, a
negative or non-finite number, or a file that is not JSON is a ``PriceFileError`` whose message
is one line naming the file, the model and the field.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from promptpulse import config

RATE_KEYS = ("input", "output", "cache_write", "cache_read")
_ENTRY_KEYS = {*RATE_KEYS, "long_context", "fast_multiplier"}
_LONG_KEYS = {*RATE_KEYS, "above"}
CACHE_WRITE_RATIO = 1.25
CACHE_READ_RATIO = 0.1

Entry = dict[str, Any]


class PriceFileError(Exception):
    """A price file cannot be read or holds a value that is not allowed."""


def override_path() -> Path:
    return config.config_dir() / "prices.json"


def updated_path() -> Path:
    return config.data_dir() / "prices-updated.json"


# --- checking ---------------------------------------------------------------------------------


def _number(value: object, where: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PriceFileError(f"{where} must be a number, not {json.dumps(value)}")
    if not math.isfinite(value) or value < minimum:
        raise PriceFileError(f"{where} must be a finite number of at least {minimum:g}")
    return float(value)


def _rates(raw: dict[str, Any], where: str) -> Entry:
    for key in ("input", "output"):
        if key not in raw:
            raise PriceFileError(f"{where}: {key} is missing (USD per million tokens)")
    out = {key: _number(raw[key], f"{where}.{key}") for key in RATE_KEYS if key in raw}
    out.setdefault("cache_write", round(out["input"] * CACHE_WRITE_RATIO, 10))
    out.setdefault("cache_read", round(out["input"] * CACHE_READ_RATIO, 10))
    return out


def _unknown(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise PriceFileError(
            f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def check_entry(raw: object, where: str) -> Entry:
    """One model's prices, checked and completed; ``where`` names it in errors."""
    if not isinstance(raw, dict):
        raise PriceFileError(f"{where} must be an object of prices, not {json.dumps(raw)}")
    _unknown(raw, _ENTRY_KEYS, where)
    entry = _rates(raw, where)
    if "fast_multiplier" in raw:
        entry["fast_multiplier"] = _number(raw["fast_multiplier"], f"{where}.fast_multiplier", 1)
    if "long_context" in raw:
        lc = raw["long_context"]
        lc_where = f"{where}.long_context"
        if not isinstance(lc, dict):
            raise PriceFileError(f"{lc_where} must be an object of prices")
        _unknown(lc, _LONG_KEYS, lc_where)
        if "above" not in lc:
            raise PriceFileError(f"{lc_where}: above is missing (a number of prompt tokens)")
        above = _number(lc["above"], f"{lc_where}.above", 1)
        entry["long_context"] = {"above": int(above), **_rates(lc, lc_where)}
    return entry


def check_models(raw: object, path: Path, extra_keys: tuple[str, ...] = ()) -> dict[str, Entry]:
    """The models of a price file's JSON document, every entry checked."""
    if not isinstance(raw, dict):
        raise PriceFileError(f'{path}: not a JSON object with "models"')
    _unknown(raw, {"models", *extra_keys}, str(path))
    models = raw.get("models", {})
    if not isinstance(models, dict):
        raise PriceFileError(f'{path}: "models" must be an object of model names')
    out: dict[str, Entry] = {}
    for name, entry in models.items():
        if not name.strip():
            raise PriceFileError(f"{path}: a model name is empty")
        out[name] = check_entry(entry, f"{path}: {name}")
    return out


def _read(path: Path) -> object | None:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PriceFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        doc: object = json.loads(text)
    except ValueError as exc:
        raise PriceFileError(f"{path}: not valid JSON ({exc})") from exc
    return doc


# --- reading ----------------------------------------------------------------------------------


def overrides() -> dict[str, Entry]:
    """The user's corrections and additions (nothing when there is no file)."""
    path = override_path()
    raw = _read(path)
    return {} if raw is None else check_models(raw, path)


class UpdatedTable:
    """The table ``prices update`` fetched: its models, the day and where from."""

    def __init__(self, models: dict[str, Entry], checked: str, source: str) -> None:
        self.models, self.checked, self.source = models, checked, source


def updated() -> UpdatedTable | None:
    path = updated_path()
    raw = _read(path)
    if raw is None:
        return None
    models = check_models(raw, path, ("checked", "source"))
    assert isinstance(raw, dict)
    return UpdatedTable(models, str(raw.get("checked", "")), str(raw.get("source", "")))


# --- writing ----------------------------------------------------------------------------------


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, path)


def set_override(name: str, entry: Entry) -> Path:
    """Add or replace one model's override; the file written."""
    models = overrides()
    models[name] = check_entry(entry, f"{override_path()}: {name}")
    _write(override_path(), {"models": models})
    return override_path()


def unset_override(name: str) -> bool:
    """Remove one model's override (the file goes with the last); False when there was none."""
    models = overrides()
    if models.pop(name, None) is None:
        return False
    if models:
        _write(override_path(), {"models": models})
    else:
        override_path().unlink()
    return True


def save_updated(models: dict[str, Entry], checked: str, source: str) -> Path:
    _write(updated_path(), {"checked": checked, "source": source, "models": models})
    return updated_path()
