"""Prices and model matching: the cost of one counted response.

Prices live in ``prices.json`` beside this module (with the date they were checked); the table
``prices update`` fetched and the user's overrides (``price_files``) go over it, model by model:
override > updated table > packaged. A model
name is matched after removing a provider prefix (``anthropic/``, ``us.anthropic.``,
``vertex_ai/``), a version suffix (``-v1:0``, ``@20250929``) and a date (``-20250514``).

Long context: for models with a ``long_context`` entry, a request whose prompt (input + cache
writes + cache reads) exceeds the threshold is billed entirely at the higher rate, as Anthropic
bills it. (ccusage applies the higher rate per token kind only to the part above the threshold,
so its costs differ on such requests.)

Web search: each request (``usage.server_tool_use.web_search_requests``) costs ``WEB_SEARCH_USD``,
whatever the model; the ledger keeps the count and the reports price it (``web_search_cost``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

UNKNOWN_MODEL_COST = 0.0
WEB_SEARCH_USD = 10 / 1000  # per web search request: Anthropic's $10 per 1,000, every model
SYNTHETIC_MODEL = "<synthetic>"
_DATE_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_VERSION_SUFFIX = re.compile(r"(?:-v\d+(?::\d+)?|@\d{8}|@latest)$")
_REGION_PREFIX = re.compile(r"^(?:(?:us|eu|apac|global|jp|au)\.)?anthropic\.")
PRICES_FILE = Path(__file__).with_name("prices.json")


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token."""

    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True, slots=True)
class ModelPrice:
    name: str
    base: Rates
    long_context: Rates | None = None
    long_context_above: int = 0
    fast_multiplier: float = 1.0
    source: str = "packaged"  # or "updated" (prices update) or "override" (prices set)


@dataclass(frozen=True, slots=True)
class PriceTable:
    checked: str  # the day the packaged prices were checked
    models: dict[str, ModelPrice]
    aliases: dict[str, str]
    updated: str = ""  # the day the updated table was fetched, "" without one
    updated_from: str = ""


def _rates(d: dict[str, float]) -> Rates:
    m = 1e-6
    return Rates(d["input"] * m, d["output"] * m, d["cache_write"] * m, d["cache_read"] * m)


def packaged() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(PRICES_FILE.read_text("utf-8"))
    return raw


def build_table(
    packaged: dict[str, Any],
    updated: dict[str, dict[str, Any]] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    updated_day: str = "",
    updated_from: str = "",
) -> PriceTable:
    """The effective table: each model's entry from the packaged data, then the updated table's
    fields over it, then the user's override's. Names are matched as logged names are."""
    aliases = dict(packaged["aliases"])
    entries: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for source, models in (
        ("packaged", packaged["models"]),
        ("updated", updated or {}),
        ("override", overrides or {}),
    ):
        for name, entry in models.items():
            key = canonical_name(name, aliases)
            entries[key] = {**entries.get(key, {}), **entry}
            sources[key] = source
    table = {}
    for name, p in entries.items():
        lc = p.get("long_context")
        table[name] = ModelPrice(
            name=name,
            base=_rates(p),
            long_context=_rates(lc) if lc else None,
            long_context_above=int(lc["above"]) if lc else 0,
            fast_multiplier=float(p.get("fast_multiplier", 1)),
            source=sources[name],
        )
    return PriceTable(packaged["checked"], table, aliases, updated_day, updated_from)


@cache
def price_table() -> PriceTable:
    """The prices in effect: override > updated table > packaged (``PriceFileError`` when a
    user's file is not right)."""
    from promptpulse import price_files

    fetched = price_files.updated()
    return build_table(
        packaged(),
        fetched.models if fetched else None,
        price_files.overrides(),
        fetched.checked if fetched else "",
        fetched.source if fetched else "",
    )


def reload() -> None:
    """Forget the loaded table: the next look-up reads the price files again."""
    price_table.cache_clear()
    find_price.cache_clear()


def canonical_name(model: str, aliases: dict[str, str] | None = None) -> str:
    """The name a model's price is kept under: normalized, and an alias resolved."""
    name = normalize_model(model)
    if aliases is None:
        aliases = price_table().aliases
    return aliases.get(name, name)


def normalize_model(model: str) -> str:
    """The base name a model is priced under: no provider prefix, version or date."""
    name = model.strip().lower()
    name = name.rsplit("/", 1)[-1]
    name = _REGION_PREFIX.sub("", name)
    name = _VERSION_SUFFIX.sub("", name)
    return _DATE_SUFFIX.sub("", name)


@cache
def find_price(model: str) -> ModelPrice | None:
    """The price entry for a model name as Claude Code logs it, or None when unknown."""
    table = price_table()
    name = normalize_model(model)
    return table.models.get(name) or table.models.get(table.aliases.get(name, ""))


def line_cost(
    price: ModelPrice | None,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int,
    cache_write_1h_tokens: int,
    cache_read_tokens: int,
    fast: bool,
) -> float:
    """Cost in USD of one response; ``cache_write_tokens`` includes the 1-hour writes."""
    if price is None:
        return UNKNOWN_MODEL_COST
    rates = price.base
    if price.long_context is not None and (
        input_tokens + cache_write_tokens + cache_read_tokens > price.long_context_above
    ):
        rates = price.long_context
    cost = (
        input_tokens * rates.input
        + output_tokens * rates.output
        + (cache_write_tokens - cache_write_1h_tokens) * rates.cache_write
        + cache_write_1h_tokens * 2 * rates.input
        + cache_read_tokens * rates.cache_read
    )
    return cost * price.fast_multiplier if fast else cost


def web_search_cost(requests: int) -> float:
    """Cost in USD of some web search requests."""
    return requests * WEB_SEARCH_USD


def prices_version() -> str:
    """Changes whenever the price data changes (the packaged table, the updated table or the
    overrides); the ledger re-prices when it does. Cheap: the statusline opens the ledger."""
    import zlib  # a checksum is enough to notice a change, and loads in no time

    from promptpulse.price_files import override_path, updated_path

    data = PRICES_FILE.read_bytes()
    version = f"{len(data):x}-{zlib.crc32(data):08x}"
    for tag, path in (("u", updated_path()), ("o", override_path())):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # no file (the usual case); an unreadable one is reported when loaded
        version += f"+{tag}{len(data):x}-{zlib.crc32(data):08x}"
    return version


def money_per_million(per_token: float) -> str:
    """A rate per token as USD per million tokens: ``$3.00``, ``$0.30``, ``$0.003``."""
    value = round(per_token * 1e6, 10)
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:g}"


def rates_text(r: Rates) -> dict[str, str]:
    """The four rates, per million tokens, by name."""
    return {
        "input": money_per_million(r.input),
        "output": money_per_million(r.output),
        "cache write": money_per_million(r.cache_write),
        "cache read": money_per_million(r.cache_read),
    }


def _rates_json(r: Rates) -> dict[str, float]:
    return {
        "input": round(r.input * 1e6, 10),
        "output": round(r.output * 1e6, 10),
        "cacheWrite": round(r.cache_write * 1e6, 10),
        "cacheRead": round(r.cache_read * 1e6, 10),
    }


def table_json(table: PriceTable, overrides: Path | None) -> dict[str, Any]:
    """``prices --json``: every model's rates (USD per million tokens) and where they came
    from."""
    models = []
    for name in sorted(table.models):
        p = table.models[name]
        long_context = None
        if p.long_context is not None:
            long_context = {"above": p.long_context_above, **_rates_json(p.long_context)}
        models.append(
            {
                "model": name,
                **_rates_json(p.base),
                "longContext": long_context,
                "fastMultiplier": p.fast_multiplier,
                "source": p.source,
            }
        )
    return {
        "checked": table.checked,
        "updated": {"fetched": table.updated, "from": table.updated_from}
        if table.updated
        else None,
        "overrides": str(overrides) if overrides else None,
        "units": "USD per million tokens",
        "models": models,
        "aliases": table.aliases,
    }


def plan_price(plan: str) -> float | None:
    """USD per month of a Claude plan (None for the API, which is pay-as-you-go, or unknown)."""
    raw = json.loads(PRICES_FILE.read_text("utf-8"))
    value = raw.get("plans", {}).get(plan)
    return float(value) if isinstance(value, int | float) else None
