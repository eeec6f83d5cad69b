from __future__ import annotations

from datetime import UTC, datetime

import pytest

from promptpulse.pricing import find_price, line_cost, normalize_model, price_table


def cost(
    model: str, i: int = 0, o: int = 0, cw: int = 0, cw1h: int = 0, cr: int = 0, fast: bool = False
) -> float:
    return line_cost(find_price(model), i, o, cw, cw1h, cr, fast)


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("vertex_ai/claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("Claude-Haiku-4-5", "claude-haiku-4-5"),
    ],
)
def test_model_names_match_their_base_entry(name: str, base: str) -> None:
    assert normalize_model(name) == base
    price = find_price(name)
    assert price is not None and price.name == base


def test_aliases_and_unknown_models() -> None:
    opus4 = find_price("claude-opus-4-0")
    assert opus4 is not None and opus4.name == "claude-opus-4"
    assert find_price("gpt-5") is None
    assert cost("gpt-5", 1000, 1000) == 0.0


def test_cost_of_one_response_worked_by_hand() -> None:
    # 1 × $5 + 50 × $25 + 100 × $6.25 + 1000 × $0.50, per million
    assert cost("claude-opus-4-6", 1, 50, 100, 0, 1000) == pytest.approx(0.00238, abs=1e-15)


def test_one_hour_cache_writes_cost_twice_the_input_rate() -> None:
    # 600 × $6.25 + 400 × $10, per million
    assert cost("claude-opus-4-6", cw=1000, cw1h=400) == pytest.approx(0.00775, abs=1e-15)


def test_fast_mode_multiplies() -> None:
    assert cost("claude-opus-4-6", 5, 5, fast=True) == pytest.approx(0.0009, abs=1e-15)
    assert cost("claude-opus-4-8", 5, 5, fast=True) == pytest.approx(0.0003, abs=1e-15)
    assert cost("claude-sonnet-4-5", 5, 5, fast=True) == cost("claude-sonnet-4-5", 5, 5)


def test_long_context_bills_the_whole_request_at_the_higher_rate() -> None:
    # prompt 250,000 > 200,000: 250,000 × $6 + 10 × $22.50 per million (ccusage: $0.90015)
    assert cost("claude-sonnet-4-5", 250_000, 10) == pytest.approx(1.500225, abs=1e-12)
    # cache reads count toward the prompt; 1-hour writes at twice the long-context input rate
    assert cost("claude-sonnet-4", 1, 0, 1000, 1000, 200_000) == pytest.approx(
        (6 + 1000 * 12 + 200_000 * 0.6) / 1e6, abs=1e-12
    )
    # exactly at the threshold is not over it
    assert cost("claude-sonnet-4-5", 200_000) == pytest.approx(0.6, abs=1e-12)
    # models without a long-context rate are unaffected
    assert cost("claude-opus-4-6", 300_000) == pytest.approx(1.5, abs=1e-12)


def test_prices_carry_the_date_they_were_checked() -> None:
    assert datetime.strptime(price_table().checked, "%Y-%m-%d")


def test_base_rates_agree_with_genai_prices() -> None:
    """The maintained source: our table must not drift from genai-prices' base rates."""
    from genai_prices import Usage, calc_price

    when = datetime(2026, 11, 1, tzinfo=UTC)
    for name, price in price_table().models.items():
        usage = Usage(
            input_tokens=1000, cache_write_tokens=100, cache_read_tokens=200, output_tokens=1000
        )
        theirs = calc_price(usage, name, provider_id="anthropic", genai_request_timestamp=when)
        # genai-prices counts cache tokens inside input_tokens
        ours = line_cost(price, 700, 1000, 100, 0, 200, False)
        assert float(theirs.total_price) == pytest.approx(ours, rel=1e-9), name
