"""Collector speed and memory: cold and warm `promptpulse report daily --json` against ccusage.

    python benchmarks/collector.py [--size-mb 500 | --tree DIR] [--rounds 5]
        [--baseline-src DIR] [--big-file-mb 600] [--skip-startup] [--skip-warm]

Generates (once, under benchmarks/data/) a tree of about 6,000 files and 115k usage lines in
500 MB (2000: four times the text, the same lines), then measures each run as a fresh process:
wall time, CPU time (user + system, workers included) and peak RSS (the largest process).
The machine is shared, so ccusage 20.0.24 (~/.cache/promptpulse-dev/ccusage or
$PROMPTPULSE_CCUSAGE) runs in the same rounds, interleaved, and the ratios are the medians of
each round's ratio:
  - cold: an empty ledger, against ccusage on the same tree;
  - start-up: `--help`, and `report daily --json` on an empty tree (a new ledger);
  - warm: nothing new, then after about 1 MB of new lines is appended;
  - with --baseline-src, an older promptpulse in the same rounds;
  - with --big-file-mb, cold again with one such log file among the rest (memory).
Prints Markdown tables for docs/benchmarks.md, with the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

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


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds of the process and every process it waited for
    rss: float  # MB, the largest of the process and its descendants


def timed(cmd: list[str], env: dict[str, str]) -> Run:
    """One run in a fresh process: its wall time, CPU time and peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed with {status}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def interleaved(pairs: dict[str, Callable[[], Run]], rounds: int) -> dict[str, list[Run]]:
    """Each command once per round, the order alternating between rounds, so that both see the
    same load on this shared machine."""
    runs: dict[str, list[Run]] = {name: [] for name in pairs}
    names = list(pairs)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            runs[name].append(pairs[name]())
    return runs


def ratios(ours: list[Run], theirs: list[Run], field: str) -> float:
    """The median, over rounds, of our figure divided by theirs in the same round."""
    return statistics.median(
        float(getattr(a, field)) / float(getattr(b, field))
        for a, b in zip(ours, theirs, strict=True)
    )


def table(title: str, runs: dict[str, list[Run]], versus: str | None) -> None:
    print(f"\n{title}\n")
    print("| run | wall s (median) | CPU s (median) | peak RSS MB (max) | wall ratio | CPU ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, rs in runs.items():
        wall = statistics.median(r.wall for r in rs)
        cpu = statistics.median(r.cpu for r in rs)
        rss = max(r.rss for r in rs)
        if versus is not None and name != versus:
            ratio = (
                f"{ratios(rs, runs[versus], 'wall'):.2f}× | {ratios(rs, runs[versus], 'cpu'):.2f}×"
            )
        else:
            ratio = "1.00× | 1.00×" if name == versus else "– | –"
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {ratio} |")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per measure")
    ap.add_argument("--big-file-mb", type=int, default=0, help="also: cold with one such file")
    ap.add_argument("--skip-startup", action="store_true", help="no --help / empty report runs")
    ap.add_argument("--skip-warm", action="store_true", help="no warm runs (they change the tree)")
    ap.add_argument("--tree", type=Path, help="an existing tree to read (not changed: no warm)")
    ap.add_argument(
        "--baseline-src",
        type=Path,
        help="also run the promptpulse whose src/ folder this is, in the same rounds "
        "(e.g. `git archive main src | tar -x -C /tmp/base`)",
    )
    args = ap.parse_args()
    if args.tree:
        root, args.skip_warm = args.tree, True
    else:
        root = DATA / f"tree-{args.size_mb}"
        make_tree(root, args.size_mb)
    files = list((root / "projects").rglob("*.jsonl"))
    size = sum(f.stat().st_size for f in files)
    print(f"tree: {len(files)} files, {size / 1e6:.0f} MB; {os.cpu_count()} cores; load {load()}")

    home = DATA / "home"
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(root), PROMPTPULSE_HOME=str(home), TZ="UTC")
    pp = [sys.executable, "-m", "promptpulse"]
    base_env = {}
    if args.baseline_src:
        base_env = {"PYTHONPATH": str(args.baseline_src.resolve())}
    # As installed from a wheel: byte-compiled (PYTHONDONTWRITEBYTECODE would otherwise make
    # every run compile the package's sources again, a tenth of a second).
    import promptpulse

    for src in [Path(promptpulse.__file__).parent.parent, args.baseline_src]:
        if src is not None:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
    ccusage = os.environ.get("PROMPTPULSE_CCUSAGE") or str(
        Path.home() / ".cache/promptpulse-dev/ccusage/node_modules/.bin/ccusage"
    )
    if not Path(ccusage).exists():
        raise SystemExit(f"ccusage not found at {ccusage}: run tests/test_ccusage_agreement.py")

    def pp_cold() -> Run:
        shutil.rmtree(home, ignore_errors=True)
        return timed([*pp, "report", "daily", "--json"], env)

    def cc_cold() -> Run:
        return timed([ccusage, "claude", "daily", "--json", "--offline"], env)

    def base_cold() -> Run:
        shutil.rmtree(home, ignore_errors=True)
        return timed([*pp, "report", "daily", "--json"], dict(env, **base_env))

    contenders = {"ccusage": cc_cold, "promptpulse cold": pp_cold}
    if base_env:
        contenders["promptpulse before, cold"] = base_cold
    cold = interleaved(contenders, args.rounds)
    table(f"Cold, {size / 1e6:.0f} MB (load after: {load()})", cold, "ccusage")

    if not args.skip_startup:
        empty = DATA / "empty"
        (empty / "projects").mkdir(parents=True, exist_ok=True)
        empty_env = dict(env, CLAUDE_CONFIG_DIR=str(empty), PROMPTPULSE_HOME=str(DATA / "h0"))
        shutil.rmtree(DATA / "h0", ignore_errors=True)
        starts: dict[str, Callable[[], Run]] = {
            "ccusage --help": lambda: timed([ccusage, "--help"], empty_env),
            "promptpulse --help": lambda: timed([*pp, "--help"], empty_env),
            "ccusage daily --json, empty tree": lambda: timed(
                [ccusage, "daily", "--json", "--offline"], empty_env
            ),
            "promptpulse report daily --json, empty tree": lambda: timed(
                [*pp, "report", "daily", "--json"], empty_env
            ),
        }
        if base_env:
            before_env = dict(empty_env, **base_env)
            starts["promptpulse before --help"] = lambda: timed([*pp, "--help"], before_env)
            starts["promptpulse before report daily --json, empty tree"] = lambda: timed(
                [*pp, "report", "daily", "--json"], before_env
            )
        startup = interleaved(starts, args.rounds * 2)
        table(f"Start-up (load after: {load()})", startup, None)
        for ours, theirs in (
            ("promptpulse --help", "ccusage --help"),
            ("promptpulse report daily --json, empty tree", "ccusage daily --json, empty tree"),
        ):
            wall = ratios(startup[ours], startup[theirs], "wall")
            cpu = ratios(startup[ours], startup[theirs], "cpu")
            print(f"- {ours}: {wall:.2f}× the wall time, {cpu:.2f}× the CPU of {theirs}")

    if not args.skip_warm:
        pp_cold()
        warm: dict[str, list[Run]] = {
            "promptpulse warm, nothing new": [],
            "promptpulse warm, 1 MB new": [],
        }
        for _ in range(args.rounds):
            warm["promptpulse warm, nothing new"].append(
                timed([*pp, "report", "daily", "--json"], env)
            )
            append_new_lines(root, 1.0)
            warm["promptpulse warm, 1 MB new"].append(
                timed([*pp, "report", "daily", "--json"], env)
            )
        (root / f".complete-{args.size_mb}").unlink()  # the tree changed; regenerate next time
        table(f"Warm (load after: {load()})", warm, None)

    if args.big_file_mb:
        make_big_file(root, args.big_file_mb)
        big = interleaved({"ccusage": cc_cold, "promptpulse cold": pp_cold}, args.rounds)
        table(
            f"Cold with one {args.big_file_mb} MB file added (load after: {load()})", big, "ccusage"
        )


if __name__ == "__main__":
    main()
