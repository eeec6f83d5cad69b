"""``promptpulse prices update``: a fresh price table from a maintained source.

The source is LiteLLM's ``model_prices_and_context_window.json`` (USD per token); its
``claude-*`` entries become promptpulse's entries (USD per million tokens, a long-context rate
from the ``*_above_200k_tokens`` fields). Fetching is the only step that needs the network;
converting and comparing are pure.
"""

from __future__ import annotations

import math
from typing import Any

from promptpulse import pricing
from promptpulse.price_files import CACHE_READ_RATIO, CACHE_WRITE_RATIO, Entry

LITELLM_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)
TIMEOUT_S = 20.0
_LONG = "_above_200k_tokens"


class UpdateError(Exception):
    """The table could not be fetched or holds no Claude prices; nothing was changed."""


def fetch(url: str, timeout: float = TIMEOUT_S) -> object:
    """The JSON document at ``url``."""
    import httpx

    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        return response.json()
    except httpx.HTTPStatusError as exc:
        raise UpdateError(f"{url} answered {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise UpdateError(f"cannot fetch {url}: {exc or type(exc).__name__}") from exc
    except ValueError as exc:
        raise UpdateError(f"{url} did not send JSON") from exc


def _per_million(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return float(f"{value * 1e6:.10g}")  # 3e-06 is $3, not $3.0000000000000004


def _rates(entry: dict[str, Any], suffix: str = "") -> Entry | None:
    rate_in = _per_million(entry.get("input_cost_per_token" + suffix))
    rate_out = _per_million(entry.get("output_cost_per_token" + suffix))
    if rate_in is None or rate_out is None:
        return None
    write = _per_million(entry.get("cache_creation_input_token_cost" + suffix))
    read = _per_million(entry.get("cache_read_input_token_cost" + suffix))
    return {
        "input": rate_in,
        "output": rate_out,
        "cache_write": write if write is not None else round(rate_in * CACHE_WRITE_RATIO, 10),
        "cache_read": read if read is not None else round(rate_in * CACHE_READ_RATIO, 10),
    }


def from_litellm(doc: object, aliases: dict[str, str]) -> dict[str, Entry]:
    """promptpulse's entries for the ``claude-*`` models of a LiteLLM price document. A dated
    name and its undated one are one model; the undated entry wins."""
    if not isinstance(doc, dict):
        return {}
    names = [k for k, v in doc.items() if k.startswith("claude-") and isinstance(v, dict)]
    # dated names first, so that an undated entry (the model's own) has the last word
    names.sort(key=lambda k: (pricing.normalize_model(k) == k.lower(), k))
    models: dict[str, Entry] = {}
    for key in names:
        entry = doc[key]
        base = _rates(entry)
        if base is None:
            continue
        long_context = _rates(entry, _LONG)
        if long_context is not None:
            base["long_context"] = {"above": 200_000, **long_context}
        models[pricing.canonical_name(key, aliases)] = base
    return models


def changes(before: pricing.PriceTable, after: pricing.PriceTable) -> list[str]:
    """One line per model added or whose prices changed, in name order."""
    lines = []
    for name in sorted(after.models):
        new = after.models[name]
        old = before.models.get(name)
        now = pricing.rates_text(new.base)
        if old is None:
            lines.append(f"added {name}: " + ", ".join(f"{k} {v}" for k, v in now.items()))
            continue
        was = pricing.rates_text(old.base)
        diff = [f"{k} {was[k]} → {now[k]}" for k in now if now[k] != was[k]]
        if (old.long_context, old.long_context_above) != (new.long_context, new.long_context_above):
            diff.append("long-context rates")
        if diff:
            lines.append(f"changed {name}: " + ", ".join(diff))
    return lines
