"""Collector speed and memory: cold and warm `promptpulse report daily --json` against ccusage.

    python benchmarks/collector.py [--size-mb 500] [--big-file-mb 600] [--runs 3]

Generates (once, under benchmarks/data/) a tree of about 6,000 files and 115k usage lines in
500 MB, then measures, each as a fresh process, with peak memory (max RSS of the process and its
workers):
  - cold: an empty ledger;
  - warm: after about 1 MB of new lines is appended;
  - ccusage 20.0.24 on the same tree (~/.cache/promptpulse-dev/ccusage or $PROMPTPULSE_CCUSAGE);
  - cold again with one extra 600 MB log file among the rest (memory).
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from logtree import TreeSpec, dumps, generate, response, user

DATA = Path(__file__).resolve().parent / "data"


def make_tree(root: Path, size_mb: int) -> None:
    marker = root / f".complete-{size_mb}"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    # ~6,000 files: 5,000 sessions plus their subagent files; ~115k usage lines.
    spec = TreeSpec(
        projects=25,
        sessions=130,
        responses=14,
        days=60,
        filler=int(2700 * size_mb / 500),
        bad_lines=True,
    )
    generate(root, spec, seed=42)
    marker.touch()


def make_big_file(root: Path, size_mb: int) -> Path:
    path = root / "projects" / "-big" / "big-session.jsonl"
    if path.exists() and path.stat().st_size >= size_mb << 20:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    t = datetime(2026, 2, 1, tzinfo=UTC)
    with path.open("w") as f:
        n = 0
        while f.tell() < size_mb << 20:
            t += timedelta(seconds=40)
            f.write(dumps(user(t, "go", tool_result="q" * 20000)) + "\n")
            for line in response(t, f"big_{n}", f"bigreq_{n}", 3, output=300, text="w" * 3000):
                f.write(dumps(line) + "\n")
            n += 1
    return path


def append_new_lines(root: Path, megabytes: float) -> None:
    files = sorted((root / "projects").rglob("*.jsonl"))[:50]
    t = datetime(2026, 6, 1, tzinfo=UTC)
    per_file = int(megabytes * (1 << 20) / len(files))
    for i, path in enumerate(files):
        written = 0
        with path.open("a") as f:
            n = 0
            while written < per_file:
                for line in response(
                    t + timedelta(minutes=n),
                    f"new_{i}_{n}_{time.time_ns()}",
                    f"newreq_{i}_{n}",
                    2,
                    text="n" * 1500,
                ):
                    text = dumps(line) + "\n"
                    f.write(text)
                    written += len(text)
                n += 1


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one run in a fresh process."""
    wrapper = [
        sys.executable,
        "-c",
        "import resource,subprocess,sys,time;t=time.perf_counter();"
        "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
        "d=time.perf_counter()-t;"
        "print(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024, r.returncode)",
        *cmd,
    ]
    out = subprocess.run(wrapper, env=env, capture_output=True, text=True, check=True).stdout
    seconds, rss, rc = out.split()
    if rc != "0":
        raise SystemExit(f"{cmd} failed with {rc}")
    return float(seconds), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--big-file-mb", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = DATA / f"tree-{args.size_mb}"
    make_tree(root, args.size_mb)
    files = list((root / "projects").rglob("*.jsonl"))
    size = sum(f.stat().st_size for f in files)
    usage_lines = sum(f.read_bytes().count(b'"usage":{"input_tokens"') for f in files)
    print(f"tree: {len(files)} files, {size / 1e6:.0f} MB, {usage_lines} usage lines")

    home = DATA / "home"
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(root), PROMPTPULSE_HOME=str(home), TZ="UTC")
    pp = [shutil.which("promptpulse") or "promptpulse", "report", "daily", "--json"]
    ccusage = os.environ.get("PROMPTPULSE_CCUSAGE") or str(
        Path.home() / ".cache/promptpulse-dev/ccusage/node_modules/.bin/ccusage"
    )
    rows = []

    cold = []
    for _ in range(args.runs):
        shutil.rmtree(home, ignore_errors=True)
        cold.append(timed(pp, env))
    rows.append(("promptpulse cold (empty ledger)", cold))
    if Path(ccusage).exists():
        cc = [
            timed([ccusage, "claude", "daily", "--json", "--offline"], env)
            for _ in range(args.runs)
        ]
        rows.append(("ccusage 20.0.24 `claude daily --json --offline`", cc))
    unchanged = [timed(pp, env) for _ in range(args.runs)]
    rows.append(("promptpulse warm, nothing new", unchanged))
    warm = []
    for _ in range(args.runs):
        append_new_lines(root, 1.0)
        warm.append(timed(pp, env))
    rows.append(("promptpulse warm, 1 MB of new lines", warm))
    (root / f".complete-{args.size_mb}").unlink()  # the tree changed; regenerate next time

    if args.big_file_mb:
        make_big_file(root, args.big_file_mb)
        shutil.rmtree(home, ignore_errors=True)
        rows.append(
            (f"promptpulse cold with one {args.big_file_mb} MB file added", [timed(pp, env)])
        )

    print("\n| run | median s | max s | peak RSS MB |\n| --- | --- | --- | --- |")
    for name, runs in rows:
        secs = [r[0] for r in runs]
        print(
            f"| {name} | {statistics.median(secs):.2f} | {max(secs):.2f} | "
            f"{max(r[1] for r in runs):.0f} |"
        )
    print(
        f"\n(cpu: {os.cpu_count()} cores; "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB in the harness)"
    )


if __name__ == "__main__":
    main()
