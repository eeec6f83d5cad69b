"""Prices and model matching: the cost of one counted response.

Prices live in ``prices.json`` beside this module (with the date they were checked). A model
name is matched after removing a provider prefix (``anthropic/``, ``us.anthropic.``,
``vertex_ai/``), a version suffix (``-v1:0``, ``@20250929``) and a date (``-20250514``).

Long context: for models with a ``long_context`` entry, a request whose prompt (input + cache
writes + cache reads) exceeds the threshold is billed entirely at the higher rate, as Anthropic
bills it. (ccusage applies the higher rate per token kind only to the part above the threshold,
so its costs differ on such requests.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

UNKNOWN_MODEL_COST = 0.0
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


@dataclass(frozen=True, slots=True)
class PriceTable:
    checked: str
    models: dict[str, ModelPrice]
    aliases: dict[str, str]


def _rates(d: dict[str, float]) -> Rates:
    m = 1e-6
    return Rates(d["input"] * m, d["output"] * m, d["cache_write"] * m, d["cache_read"] * m)


@cache
def price_table() -> PriceTable:
    raw = json.loads(PRICES_FILE.read_text("utf-8"))
    models = {}
    for name, p in raw["models"].items():
        lc = p.get("long_context")
        models[name] = ModelPrice(
            name=name,
            base=_rates(p),
            long_context=_rates(lc) if lc else None,
            long_context_above=int(lc["above"]) if lc else 0,
            fast_multiplier=float(p.get("fast_multiplier", 1)),
        )
    return PriceTable(checked=raw["checked"], models=models, aliases=dict(raw["aliases"]))


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


def prices_version() -> str:
    """Changes whenever the price data changes; the ledger re-prices when it does."""
    import zlib  # a checksum is enough to notice a change, and loads in no time

    data = PRICES_FILE.read_bytes()
    return f"{len(data):x}-{zlib.crc32(data):08x}"


def plan_price(plan: str) -> float | None:
    """USD per month of a Claude plan (None for the API, which is pay-as-you-go, or unknown)."""
    raw = json.loads(PRICES_FILE.read_text("utf-8"))
    value = raw.get("plans", {}).get(plan)
    return float(value) if isinstance(value, int | float) else None
