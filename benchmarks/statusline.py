"""The statusline's speed against ``ccusage statusline``, as Claude Code runs it: once after
each new message, on a ledger that holds 500 MB of logs.

    python benchmarks/statusline.py [--size-mb 500] [--runs 40]

Uses the tree of benchmarks/collector.py (generated once under benchmarks/data/), fills a
ledger from it once, then, interleaved and each as a fresh process, after appending one
response to the session's transcript:
  - ``promptpulse statusline`` (the default: the line from the ledger, the sync in the
    background);
  - ``promptpulse statusline --fresh`` (the session synced before the line is drawn);
  - ``ccusage statusline`` (20.0.24, its cache on, the default) and with ``--no-cache``.
The floor, ``python -c 'import json, sqlite3'``, is timed alongside. A pause of 0.3 s between
rounds (Claude Code updates the status line at most that often) lets background work finish.
Prints a Markdown table of wall-clock p50 and p95 for docs/benchmarks.md. Compile the package
first (``python -m compileall src``), as pip does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from logtree import dumps, response  # noqa: E402

from collector import DATA, make_tree  # noqa: E402


def ccusage_exe() -> str:
    given = os.environ.get("PROMPTPULSE_CCUSAGE")
    if given:
        return given
    exe = Path.home() / ".cache" / "promptpulse-dev" / "ccusage" / "node_modules" / ".bin"
    return str(exe / "ccusage")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    tree = DATA / f"tree-{args.size_mb}"
    make_tree(tree, args.size_mb)
    home = DATA / f"statusline-home-{args.size_mb}"
    shutil.rmtree(home, ignore_errors=True)
    promptpulse = shutil.which("promptpulse") or str(Path(sys.executable).with_name("promptpulse"))
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(tree), PROMPTPULSE_HOME=str(home), NO_COLOR="1")
    env.pop("PROMPTPULSE_NOW", None)
    subprocess.run(
        [promptpulse, "report", "daily", "--json"], env=env, check=True, capture_output=True
    )
    ledger = home / "data" / "ledger.sqlite3"
    print(f"ledger: {ledger.stat().st_size / 1e6:.0f} MB from the {args.size_mb} MB tree")

    transcripts = sorted(
        p for p in (tree / "projects").glob("*/*.jsonl") if p.stat().st_size > 50_000
    )
    path = transcripts[len(transcripts) // 2]
    session = path.stem
    now = datetime.now(UTC)
    doc = {
        "session_id": session,
        "transcript_path": str(path),
        "cwd": "/home/dev/project",
        "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
        "cost": {"total_cost_usd": 1.0},
        "context_window": {
            "total_input_tokens": 15234,
            "total_output_tokens": 4521,
            "context_window_size": 200000,
            "used_percentage": 30,
            "current_usage": {
                "input_tokens": 3000,
                "output_tokens": 500,
                "cache_creation_input_tokens": 7000,
                "cache_read_input_tokens": 50000,
            },
        },
        "rate_limits": {
            "five_hour": {"used_percentage": 20, "resets_at": int(now.timestamp()) + 3600},
            "seven_day": {"used_percentage": 10, "resets_at": int(now.timestamp()) + 86400},
        },
        "version": "2.1.90",
    }
    commands = {
        # the floor: the interpreter, and the two modules any statusline in Python needs
        "python -c 'import json, sqlite3'": [sys.executable, "-c", "import json, sqlite3"],
        "promptpulse statusline": [promptpulse, "statusline"],
        "promptpulse statusline --fresh": [promptpulse, "statusline", "--fresh"],
        "ccusage statusline": [ccusage_exe(), "statusline", "--offline"],
        "ccusage statusline --no-cache": [ccusage_exe(), "statusline", "--offline", "--no-cache"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for n in range(args.runs + 2):
        for name, cmd in commands.items():
            with path.open("a") as f:  # a new message, as Claude Code writes it
                at = datetime.now(UTC) - timedelta(seconds=1)
                for line in response(
                    at,
                    f"bench_{n}_{len(name)}",
                    f"breq_{n}_{len(name)}",
                    2,
                    model="claude-opus-4-6",
                    session=session,
                    output=400,
                ):
                    f.write(dumps(line) + "\n")
            doc["rate_limits"]["five_hour"]["used_percentage"] = 20 + n % 50  # type: ignore[index]
            started = time.perf_counter()
            done = subprocess.run(
                cmd, input=json.dumps(doc).encode(), env=env, capture_output=True, check=False
            )
            elapsed = time.perf_counter() - started
            if done.returncode != 0 or (not done.stdout.strip() and "python" not in name):
                raise SystemExit(f"{name} failed: {done.stderr.decode()[:500]}")
            if n >= 2:  # the first rounds warm the page cache and ccusage's cache
                times[name].append(elapsed)
            time.sleep(0.3)
    print(f"\n{args.runs} runs each, interleaved; wall clock in ms\n")
    print("| command | p50 | p95 | p50 against ccusage statusline |")
    print("| --- | ---: | ---: | ---: |")
    base = statistics.median(times["ccusage statusline"])
    for name, values in times.items():
        values.sort()
        p50 = statistics.median(values)
        p95 = values[max(0, int(len(values) * 0.95) - 1)]
        print(f"| `{name}` | {p50 * 1000:.0f} | {p95 * 1000:.0f} | {p50 / base:.2f}× |")
    print(f"\nlast line: {done.stdout.decode().strip()}")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
