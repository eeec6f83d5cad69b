"""Server speed against a real `promptpulse-server serve` on 127.0.0.1, on SQLite and PostgreSQL.

    python benchmarks/server.py [--postgres URL] [--users 100]
    python benchmarks/server.py --load [--postgres URL] [--uploads 96] [--workers 2]

Measures, with ``--load``, per database: ingest under 24 concurrent uploaders against
``serve --workers 2`` (each upload a year of one machine: 365 days x 5 models, 1,500 sessions
x 2 models, 860 blocks = 2,725 rows), as uploads/s and rows/s, upload p50/p99, and the p50 and
p95 of GET /api/usage/aggregate, /api/machines and the dashboard's overview page (logged in by
a one-time link), sent one at a time, in turn, while the uploads run.

Measures, per database:
  - one upload of a year of one machine (365 days x 5 models, 3,000 sessions, 2,500 blocks);
  - a daily incremental upload (one day, 10 sessions, 2 blocks), median and p95 of 50;
  - GET /api/usage/aggregate for one month with 100 users x 365 days x 5 models stored, p95 of
    300 requests.
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

MODELS = [
    "claude-opus-4-6",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-4-1",
    "claude-sonnet-4-6",
]
START = dt.date(2025, 1, 1)


def breakdowns(rnd: random.Random, models: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "modelName": m,
            "inputTokens": rnd.randrange(10**6),
            "outputTokens": rnd.randrange(10**6),
            "cacheCreationTokens": rnd.randrange(10**7),
            "cacheReadTokens": rnd.randrange(10**8),
            "cost": rnd.random() * 50,
        }
        for m in models
    ]


def year_batch(
    rnd: random.Random,
    machine: str,
    days: int = 365,
    sessions: int = 3000,
    blocks: int = 2500,
    first: dt.date = START,
) -> dict[str, Any]:
    base = dt.datetime.combine(first, dt.time(), dt.UTC)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
    return {
        "batchId": uuid.uuid4().hex,
        "generatedAt": iso(dt.datetime.now(dt.UTC)),
        "machine": {"id": machine, "hostname": machine},
        "daily": [
            {
                "date": (first + dt.timedelta(days=d)).isoformat(),
                "modelBreakdowns": breakdowns(rnd, MODELS),
            }
            for d in range(days)
        ],
        "sessions": [
            {
                "sessionId": str(uuid.UUID(int=rnd.getrandbits(128))),
                "projectPath": f"-home-dev-project-{n % 40}",
                "firstActivity": iso(base + dt.timedelta(hours=n * 2.9)),
                "lastActivity": iso(base + dt.timedelta(hours=n * 2.9 + 1)),
                "modelBreakdowns": breakdowns(rnd, MODELS[:2]),
            }
            for n in range(sessions)
        ],
        "blocks": [
            {
                "startTime": iso(base + dt.timedelta(hours=n * 3.5 // 1)),
                "endTime": iso(base + dt.timedelta(hours=n * 3.5 // 1 + 5)),
                "actualEndTime": iso(base + dt.timedelta(hours=n * 3.5 // 1 + 2)),
                "entries": 40,
                "costUSD": rnd.random() * 30,
                "models": MODELS[:2],
                "tokenCounts": {
                    "inputTokens": 1,
                    "outputTokens": 2,
                    "cacheCreationInputTokens": 3,
                    "cacheReadInputTokens": 4,
                },
            }
            for n in range(blocks)
        ],
    }


def start_server(
    database_url: str, home: str, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        PORT=str(port),
        PROMPTPULSE_HOME=home,
        PROMPTPULSE_UPLOADS_PER_MINUTE="100000",
        PROMPTPULSE_SIGNUPS_PER_MINUTE="100000",
        PROMPTPULSE_SIGNUP="open",  # the benchmark signs up many users without invites
        PROMPTPULSE_INVITE_GUESSES_PER_MINUTE="100000",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from promptpulse_server.cli import main; main()",
            "serve",
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


def run(name: str, database_url: str, users: int) -> list[tuple[str, str]]:
    home = tempfile.mkdtemp()
    proc, base = start_server(database_url, home)
    rnd = random.Random(1)
    rows = []
    try:
        with httpx.Client(base_url=base, timeout=60) as c:
            key = {"X-API-Key": c.post("/api/users", json={"username": "bench-0"}).json()["apiKey"]}
            body = year_batch(rnd, "m-0")
            t = time.perf_counter()
            r = c.post("/api/v1/uploads", headers=key, json=body)
            year = time.perf_counter() - t
            assert r.status_code == 201, r.text
            rows.append((f"{name}: upload a year of one machine", f"{year * 1000:.0f} ms"))
            daily = []
            for n in range(50):
                small = year_batch(
                    rnd,
                    "m-0",
                    days=1,
                    sessions=10,
                    blocks=2,
                    first=START + dt.timedelta(days=365 + n),
                )
                t = time.perf_counter()
                assert c.post("/api/v1/uploads", headers=key, json=small).status_code == 201
                daily.append(time.perf_counter() - t)
            rows.append(
                (
                    f"{name}: daily incremental upload (median / p95)",
                    f"{statistics.median(daily) * 1000:.1f} / {p95(daily) * 1000:.1f} ms",
                )
            )
            keys = [key]
            for u in range(1, users):
                k = {
                    "X-API-Key": c.post("/api/users", json={"username": f"bench-{u}"}).json()[
                        "apiKey"
                    ]
                }
                keys.append(k)
                assert (
                    c.post(
                        "/api/v1/uploads",
                        headers=k,
                        json=year_batch(rnd, f"m-{u}", sessions=0, blocks=0),
                    ).status_code
                    == 201
                )
            times = []
            for _ in range(300):
                k = rnd.choice(keys)
                month = rnd.randrange(12) + 1
                t = time.perf_counter()
                r = c.get(
                    "/api/usage/aggregate",
                    headers=k,
                    params={"since": f"2025-{month:02d}-01", "until": f"2025-{month:02d}-28"},
                )
                times.append(time.perf_counter() - t)
                assert r.status_code == 200 and len(r.json()["daily"]) == 28
            rows.append(
                (
                    f"{name}: aggregate one month, {users} users x 365 days stored (p95)",
                    f"{p95(times) * 1000:.1f} ms",
                )
            )
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(home, ignore_errors=True)
    return rows


LOAD_ROWS = 365 + 1500 + 860  # days, sessions and blocks of one load upload


def load(name: str, database_url: str, uploads: int, workers: int) -> list[tuple[str, str]]:
    """24 uploaders send ``uploads`` years (users x 2 machines) while one reader measures."""
    import json
    import threading
    from concurrent.futures import ThreadPoolExecutor

    home = tempfile.mkdtemp()
    proc, base = start_server(database_url, home, workers)
    rnd = random.Random(2)
    try:
        with httpx.Client(base_url=base, timeout=120) as c:
            keys = [
                {"X-API-Key": c.post("/api/users", json={"username": f"load-{u}"}).json()["apiKey"]}
                for u in range((uploads + 1) // 2)
            ]
            # a reader's own year, so its aggregate has rows to sum
            assert (
                c.post(
                    "/api/v1/uploads",
                    headers=keys[0],
                    json=year_batch(rnd, "reader", sessions=0, blocks=0),
                ).status_code
                == 201
            )
            bodies = [
                (
                    keys[n // 2],
                    json.dumps(year_batch(rnd, f"m-{n % 2}", sessions=1500, blocks=860)).encode(),
                )
                for n in range(uploads)
            ]
            link = c.post("/api/login-links", headers=keys[0]).json()["path"]
        done = threading.Event()
        # (kind, seconds): the API's aggregate and machines, and the dashboard's overview page
        reads: list[tuple[str, float]] = []
        kinds = [
            ("aggregate", "/api/usage/aggregate", {"since": "2025-03-01", "until": "2025-03-28"}),
            ("machines", "/api/machines", {}),
            ("dashboard", "/", {"period": "month"}),
        ]

        def reader() -> None:
            with httpx.Client(base_url=base, timeout=120, headers=keys[0]) as r:
                assert r.get(link, follow_redirects=True).status_code == 200  # the cookie
                n = 0
                while not done.is_set():
                    kind, path, params = kinds[n % len(kinds)]
                    t = time.perf_counter()
                    assert r.get(path, params=params).status_code == 200
                    reads.append((kind, time.perf_counter() - t))
                    n += 1
                    time.sleep(0.05)

        local = threading.local()

        failed: list[int] = []

        def send(item: tuple[dict[str, str], bytes]) -> float:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=base, timeout=300)
            headers = dict(item[0], **{"Content-Type": "application/json"})
            t = time.perf_counter()
            r = local.client.post("/api/v1/uploads", headers=headers, content=item[1])
            if r.status_code != 201:
                failed.append(r.status_code)  # counted, and its rows are not
            return time.perf_counter() - t

        watcher = threading.Thread(target=reader)
        watcher.start()
        t = time.perf_counter()
        with ThreadPoolExecutor(24) as pool:
            took = list(pool.map(send, bodies))
        wall = time.perf_counter() - t
        done.set()
        watcher.join()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(home, ignore_errors=True)
    took.sort()
    return [
        (
            f"{name}: uploads/s (24 uploaders, {uploads} years; failed)",
            f"{(uploads - len(failed)) / wall:.1f} ({len(failed)} failed {sorted(set(failed))})",
        ),
        (f"{name}: rows/s", f"{(uploads - len(failed)) * LOAD_ROWS / wall:,.0f}"),
        (
            f"{name}: upload p50 / p99 / max",
            f"{statistics.median(took):.2f} / {took[int(len(took) * 0.99) - 1]:.2f}"
            f" / {took[-1]:.2f} s",
        ),
    ] + [
        (
            f"{name}: {kind} during ingest p50 / p95 / max ({len(times)})",
            f"{statistics.median(times) * 1000:.0f} / {p95(times) * 1000:.0f}"
            f" / {max(times) * 1000:.0f} ms",
        )
        for kind, times in [
            ("API reads (aggregate and machines)", [t for k, t in reads if k != "dashboard"]),
            *((kind, [t for k, t in reads if k == kind]) for kind, _, _ in kinds),
        ]
        if times
    ]


def databases(postgres: str | None) -> Iterator[tuple[str, str]]:
    """(name, URL) of a fresh SQLite database, then of PostgreSQL (emptied) when given one."""
    with tempfile.TemporaryDirectory() as tmp:
        yield "SQLite", f"sqlite:///{tmp}/bench.sqlite3"
    if postgres:
        from sqlalchemy import create_engine, text

        from promptpulse_server.settings import database_url

        engine = create_engine(database_url(postgres))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        yield "PostgreSQL", postgres


def print_table(rows: list[tuple[str, str]]) -> None:
    print("| measure | figure |\n| --- | --- |")
    for name, figure in rows:
        print(f"| {name} | {figure} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=os.environ.get("PROMPTPULSE_TEST_POSTGRES_URL"))
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--load", action="store_true", help="the 24-uploader ingest benchmark")
    ap.add_argument("--uploads", type=int, default=96)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.load:
        print_table(
            [
                r
                for name, url in databases(args.postgres)
                for r in load(name, url, args.uploads, args.workers)
            ]
        )
        return
    print_table([r for name, url in databases(args.postgres) for r in run(name, url, args.users)])


if __name__ == "__main__":
    main()
