"""Prices users can correct: overrides, the updated table, ``promptpulse prices``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from logtree import assistant, write

from promptpulse import config, price_files, price_update, pricing
from promptpulse.ledger import Ledger
from promptpulse.price_files import PriceFileError

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

LITELLM = {
    "sample_spec": {"input_cost_per_token": 0, "output_cost_per_token": 0},
    "claude-sonnet-4-5": {
        "input_cost_per_token": 2.5e-06,
        "output_cost_per_token": 1.5e-05,
        "cache_creation_input_token_cost": 3.75e-06,
        "cache_read_input_token_cost": 3e-07,
        "input_cost_per_token_above_200k_tokens": 6e-06,
        "output_cost_per_token_above_200k_tokens": 2.25e-05,
        "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06,
        "cache_read_input_token_cost_above_200k_tokens": 6e-07,
    },
    "claude-sonnet-4-5-20250929": {"input_cost_per_token": 9e-06, "output_cost_per_token": 1e-05},
    "claude-brand-new-7-20270101": {"input_cost_per_token": 4e-06, "output_cost_per_token": 2e-05},
    "claude-4-opus-20250514": {
        "input_cost_per_token": 1.5e-05,
        "output_cost_per_token": 7.5e-05,
        "cache_creation_input_token_cost": 1.875e-05,
        "cache_read_input_token_cost": 1.5e-06,
    },
    "anthropic/claude-haiku-4-5": {"input_cost_per_token": 1, "output_cost_per_token": 1},
    "gpt-5": {"input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05},
    "claude-broken": {"input_cost_per_token": "free"},
}


def pp(*args: str, columns: int = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run(
        [sys.executable, "-m", "promptpulse", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def litellm_url() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving a LiteLLM-shaped price document."""
    body = json.dumps(LITELLM).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/prices.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prices.json"
    finally:
        server.shutdown()
        server.server_close()


def write_overrides(doc: object) -> Path:
    path = price_files.override_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    pricing.reload()
    return path


# --- the effective table ----------------------------------------------------------------------


def test_an_override_corrects_a_packaged_model_and_adds_a_new_one() -> None:
    write_overrides(
        {
            "models": {
                "claude-sonnet-4-5-20250929": {"input": 4, "output": 16, "cache_read": 0.5},
                "claude-mystery-9": {"input": 2, "output": 8},
                "claude-4-opus": {"input": 1, "output": 2},
            }
        }
    )
    sonnet = pricing.find_price("claude-sonnet-4-5-20250929")
    assert sonnet is not None and sonnet.source == "override"
    assert sonnet.base.input == pytest.approx(4e-6)
    assert sonnet.base.cache_write == pytest.approx(5e-6)  # 1.25 × input when not given
    assert sonnet.base.cache_read == pytest.approx(0.5e-6)
    assert sonnet.long_context is not None  # the packaged long-context rate still applies
    mystery = pricing.find_price("claude-mystery-9-20260101")
    assert mystery is not None and mystery.base.cache_read == pytest.approx(0.2e-6)
    opus4 = pricing.find_price("claude-opus-4-20250514")  # an alias names the same model
    assert opus4 is not None and opus4.base.input == pytest.approx(1e-6)
    haiku = pricing.find_price("claude-haiku-4-5")
    assert haiku is not None and haiku.source == "packaged"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"models": {"claude-x": {"input": -1, "output": 2}}}, "claude-x.input must be"),
        ({"models": {"claude-x": {"input": 1, "output": 1e999}}}, "claude-x.output must be"),
        ({"models": {"claude-x": {"input": 1, "output": 2, "cost": 1}}}, "unknown key 'cost'"),
        ({"models": {"claude-x": {"input": 1}}}, "claude-x: output is missing"),
        ({"models": {"claude-x": {"input": True, "output": 1}}}, "claude-x.input must be"),
        ({"prices": {}}, "unknown key 'prices'"),
        ([1, 2], 'not a JSON object with "models"'),
        (
            {"models": {"claude-x": {"input": 1, "output": 1, "long_context": {"input": 2}}}},
            "claude-x.long_context: above is missing",
        ),
    ],
)
def test_a_bad_override_file_is_one_line_naming_the_file_and_field(
    doc: object, message: str
) -> None:
    path = write_overrides(doc)
    with pytest.raises(PriceFileError) as caught:
        pricing.price_table()
    text = str(caught.value)
    assert str(path) in text and message in text
    assert "\n" not in text


def test_the_ledger_reprices_when_an_override_changes(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    write(
        root / "projects" / "p" / "s.jsonl",
        [assistant(T, "m1", "r1", "claude-mystery-9", input=1_000_000, output=0)],
    )
    with Ledger(config.ledger_path()) as ledger:
        ledger.sync([root])
        version = pricing.prices_version()
    assert ledger_cost() == 0
    write_overrides({"models": {"claude-mystery-9": {"input": 2, "output": 8}}})
    assert pricing.prices_version() != version
    assert ledger_cost() == pytest.approx(2.0)
    write_overrides({"models": {"claude-mystery-9": {"input": 3, "output": 8}}})
    assert ledger_cost() == pytest.approx(3.0)
    price_files.override_path().unlink()
    pricing.reload()
    assert pricing.prices_version() == version
    assert ledger_cost() == 0


def ledger_cost() -> float:
    with Ledger(config.ledger_path()) as ledger:
        (cost,) = ledger.db.execute("SELECT coalesce(sum(calc_cost), 0) FROM line").fetchone()
    return float(cost)


def test_without_user_files_the_version_is_the_packaged_one() -> None:
    """An upgrade does not re-price every ledger for nothing."""
    import zlib

    data = pricing.PRICES_FILE.read_bytes()
    assert pricing.prices_version() == f"{len(data):x}-{zlib.crc32(data):08x}"


# --- LiteLLM's table --------------------------------------------------------------------------


def test_litellm_entries_become_ours_for_claude_models_only() -> None:
    models = price_update.from_litellm(LITELLM, pricing.price_table().aliases)
    assert set(models) == {"claude-sonnet-4-5", "claude-brand-new-7", "claude-opus-4"}
    sonnet = models["claude-sonnet-4-5"]  # the undated entry wins over the dated one
    assert sonnet["input"] == 2.5 and sonnet["output"] == 15 and sonnet["cache_read"] == 0.3
    assert sonnet["long_context"] == {
        "above": 200_000,
        "input": 6,
        "output": 22.5,
        "cache_write": 7.5,
        "cache_read": 0.6,
    }
    new = models["claude-brand-new-7"]
    assert (new["cache_write"], new["cache_read"]) == (5.0, 0.4)
    assert "long_context" not in models["claude-opus-4"]
    for entry in models.values():
        price_files.check_entry(entry, "converted")
    assert price_update.from_litellm([], {}) == {}


def test_prices_update_fetches_shows_changes_and_keeps_the_table(litellm_url: str) -> None:
    out = pp("prices", "update", "--url", litellm_url)
    assert out.returncode == 0, out.stderr
    assert "Fetched 3 Claude models" in out.stdout
    assert "added claude-brand-new-7: input $4.00, output $20.00" in out.stdout
    assert "changed claude-sonnet-4-5: input $3.00 → $2.50" in out.stdout
    assert "claude-opus-4:" not in out.stdout  # the same prices: not a change
    saved = json.loads(price_files.updated_path().read_text())
    assert saved["checked"] == "2026-09-16" and saved["source"] == litellm_url
    listing = json.loads(pp("prices", "--json").stdout)
    assert listing["updated"] == {"fetched": "2026-09-16", "from": litellm_url}
    by_name = {m["model"]: m for m in listing["models"]}
    assert by_name["claude-sonnet-4-5"]["source"] == "updated"
    assert by_name["claude-sonnet-4-5"]["input"] == 2.5
    assert by_name["claude-opus-4-6"]["fastMultiplier"] == 6  # kept from the packaged entry
    assert by_name["claude-haiku-4-5"]["source"] == "packaged"
    # an override wins over the updated table
    assert pp("prices", "set", "claude-sonnet-4-5", "--input", "7", "--output", "9").returncode == 0
    by_name = {m["model"]: m for m in json.loads(pp("prices", "--json").stdout)["models"]}
    assert by_name["claude-sonnet-4-5"]["source"] == "override"
    assert by_name["claude-sonnet-4-5"]["input"] == 7
    again = pp("prices", "update", "--url", litellm_url)
    assert "No price changed." in again.stdout


def test_prices_update_offline_is_one_line_and_changes_nothing(litellm_url: str) -> None:
    closed = "http://127.0.0.1:9/prices.json"  # the discard port: nothing listens
    for url, message in [
        (closed, f"cannot fetch {closed}"),
        (litellm_url.replace("prices.json", "nothing"), "answered 404"),
    ]:
        out = pp("prices", "update", "--url", url)
        assert out.returncode == 2
        assert message in out.stderr and "prices unchanged" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
        assert not price_files.updated_path().exists()


# --- the commands -----------------------------------------------------------------------------


def test_prices_lists_the_table_its_date_and_sources() -> None:
    pp("prices", "set", "claude-mystery-9-20260101", "--input", "2", "--output", "8")
    out = pp("prices", columns=80)
    assert out.returncode == 0, out.stderr
    assert "claude-mystery-9" in out.stdout and "override" in out.stdout
    assert "above 200,000" in out.stdout  # a long-context row
    assert f"checked {pricing.price_table().checked}" in out.stdout
    assert f"Overrides in {price_files.override_path()}" in out.stdout
    table = [line for line in out.stdout.splitlines() if line.startswith(("│", "╭", "╰"))]
    assert max(len(line) for line in table) <= 80


def test_prices_set_and_unset_edit_the_override_file() -> None:
    out = pp("prices", "set", "claude-sonnet-4-5-20250929", "--input", "4", "--output", "16")
    assert out.returncode == 0, out.stderr
    assert "claude-sonnet-4-5: input $4.00, output $16.00, cache write $5.00" in out.stdout
    doc = json.loads(price_files.override_path().read_text())
    assert doc["models"]["claude-sonnet-4-5"]["input"] == 4
    bad = pp("prices", "set", "claude-x", "--input", "nan", "--output", "1")
    assert bad.returncode == 2 and "claude-x.input must be a finite number" in bad.stderr
    assert pp("prices", "unset", "claude-sonnet-4-5").returncode == 0
    assert not price_files.override_path().exists()
    missing = pp("prices", "unset", "claude-sonnet-4-5")
    assert missing.returncode == 2 and "no price of yours for claude-sonnet-4-5" in missing.stderr


def test_a_report_with_a_bad_override_file_says_so_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    write(root / "projects" / "p" / "s.jsonl", [assistant(T, "m1", "r1")])
    write_overrides({"models": {"claude-x": {"input": 1, "output": 1, "typo": 2}}})
    out = subprocess.run(
        [sys.executable, "-m", "promptpulse", "report", "daily"],
        env=dict(os.environ, CLAUDE_CONFIG_DIR=str(root)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"error: {price_files.override_path()}: claude-x: unknown key 'typo' (allowed: "
        "cache_read, cache_write, fast_multiplier, input, long_context, output)"
    )
