"""`promptpulse collect` against a real local server (SQLite): nothing new, and one new day.

    python benchmarks/collect.py [--size-mb 500] [--runs 5]

Uses the tree of benchmarks/collector.py (about 6,000 files, 120k usage lines, 60 days), starts
`promptpulse-server serve` on 127.0.0.1, logs in and sends everything once, then times, each as
a fresh process:
  - a collect with nothing new;
  - a collect after one new day of work (a session of 300 responses) is written.
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from logtree import response, write

from collector import DATA, make_tree


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{cmd} failed: {out.stderr}")
    return took


def new_day(root: Path, day: int) -> None:
    t = datetime(2026, 7, 1, 9, tzinfo=UTC) + timedelta(days=day)
    lines = []
    for n in range(300):
        lines += response(
            t + timedelta(minutes=n), f"day{day}_{n}", f"dayreq{day}_{n}", 2, cwd="/work/bench"
        )
    write(root / "projects" / "-work-bench" / f"day-{day}.jsonl", lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    root = DATA / f"tree-{args.size_mb}"
    make_tree(root, args.size_mb)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_env = dict(
            os.environ,
            PORT=str(port),
            HOST="127.0.0.1",
            PROMPTPULSE_HOME=f"{tmp}/server",
            PROMPTPULSE_UPLOADS_PER_MINUTE="100000",
        )
        server = subprocess.Popen(
            [shutil.which("promptpulse-server") or "promptpulse-server", "serve"],
            env=server_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            env = dict(
                os.environ,
                CLAUDE_CONFIG_DIR=str(root),
                PROMPTPULSE_HOME=f"{tmp}/me",
                TZ="UTC",
                MACHINE_ID="bench",
            )
            pp = shutil.which("promptpulse") or "promptpulse"
            run([pp, "login", "--server", base, "--username", "bench"], env)
            first = run([pp, "collect"], env)
            nothing = [run([pp, "collect"], env) for _ in range(args.runs)]
            one_day = []
            for day in range(args.runs):
                new_day(root, day)
                one_day.append(run([pp, "collect"], env))
        finally:
            server.terminate()
            server.wait()
            shutil.rmtree(root / "projects" / "-work-bench", ignore_errors=True)
    print("\n| collect | median s | max s |\n| --- | --- | --- |")
    print(f"| first (everything, {args.size_mb} MB tree) | {first:.2f} | {first:.2f} |")
    for name, secs in (("nothing new", nothing), ("one new day", one_day)):
        print(f"| {name} | {statistics.median(secs):.2f} | {max(secs):.2f} |")


if __name__ == "__main__":
    main()
