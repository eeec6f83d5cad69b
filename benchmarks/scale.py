"""The overview at scale: 10 to 10,000 users against a real `promptpulse-server serve`.

    python benchmarks/scale.py [--postgres URL] [--scales 10x365,100x365,1000x365,10000x90]
                               [--rounds 30]

For each scale (users x days) and database: a fresh database is migrated by the server itself,
the first account (the admin, who sees everyone) signs up over HTTP, and the other accounts,
their machines and their usage are written straight into the server's tables in bulk (COPY on
PostgreSQL, executemany on SQLite): 5 models a day per user, 2 sessions and 1 block a week. The
server is then restarted (fresh pool, fresh statistics) and, in interleaved rounds, times:
  - `/?period=month` (the admin's own overview), `/?period=month&user=all` (everyone),
    `/team?period=month` (the team view of everyone) and `/api/usage/aggregate` for a month.
The code before and after differ in indexes only (migration 0013; the projects query's "+ 0"
is gone, so the "before" phases run the new projects query on the old indexes): the run
switches between the two in four phases (after, before, after, before), each timing rounds/2
rounds, so both see the same load. Prints p50/p95 and the ratio of p95s in a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from promptpulse_server.settings import database_url
from server import MODELS, databases, p95, start_server

PAGES = {
    "overview, one user": "/?period=month",
    "overview, everyone": "/?period=month&user=all",
    "team, everyone": "/team?period=month&user=all",
}


def _rows(users: int, days: int) -> dict[str, list[tuple[Any, ...]]]:
    """The other accounts (ids 2..users), one machine each, and their usage."""
    rnd = random.Random(users * 1000 + days)
    today = dt.date.today()
    first = today - dt.timedelta(days=days - 1)
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out: dict[str, list[tuple[Any, ...]]] = {"user_account": [], "machine": []}
    daily: list[tuple[Any, ...]] = []
    sessions: list[tuple[Any, ...]] = []
    blocks: list[tuple[Any, ...]] = []
    for uid in range(1, users + 1):
        if uid > 1:
            out["user_account"].append((uid, f"user{uid}", f"user{uid}", at, False, "UTC"))
        out["machine"].append((uid, uid, f"m-{uid}", f"host-{uid}", at, at))
        for d in range(days):
            day = first + dt.timedelta(days=d)
            for m in MODELS:
                daily.append(
                    (
                        uid,
                        day,
                        m,
                        rnd.randrange(10**6),
                        rnd.randrange(10**6),
                        rnd.randrange(10**7),
                        rnd.randrange(10**8),
                        rnd.random() * 50,
                        at,
                    )
                )
            if d % 7 in (0, 3):
                start = dt.datetime.combine(day, dt.time(9))
                sessions.append(
                    (
                        uid,
                        f"/work/p{d % 9}",
                        f"s-{uid}-{d}",
                        start,
                        start + dt.timedelta(hours=2),
                        MODELS[d % 5],
                        1000,
                        2000,
                        3000,
                        4000,
                        rnd.random() * 20,
                        at,
                    )
                )
            if d % 7 == 0:
                start = dt.datetime.combine(day, dt.time(9))
                end = start + dt.timedelta(hours=5)
                blocks.append((uid, start, end, end, 10, 1, 2, 3, 4, 1.5, '["x"]', at))
    out["daily_usage"] = daily
    out["session_usage"] = sessions
    out["block_usage"] = blocks
    return out


COLUMNS = {
    "user_account": "id, username, display_name, created_at, leaderboard_opt_in, timezone",
    "machine": "id, user_id, machine_key, hostname, first_seen, last_seen",
    "daily_usage": "machine_id, date, model, input_tokens, output_tokens, cache_creation_tokens,"
    " cache_read_tokens, cost, uploaded_at",
    "session_usage": "machine_id, project, session_id, first_activity, last_activity, model,"
    " input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost, uploaded_at",
    "block_usage": 'machine_id, start, "end", last_entry, entries, input_tokens, output_tokens,'
    " cache_creation_tokens, cache_read_tokens, cost, models, uploaded_at",
}


def seed(url: str, users: int, days: int) -> int:
    """Writes the rows in bulk; returns how many daily rows."""
    rows = _rows(users, days)
    engine = create_engine(database_url(url))
    with engine.begin() as conn:
        # user 1 (the admin) signed up over HTTP, with machine 1 to come: drop what it may have
        conn.execute(text("DELETE FROM machine"))
        for table, cols in COLUMNS.items():
            data = rows[table]
            if not data:
                continue
            if engine.dialect.name == "postgresql":
                raw: Any = conn.connection.driver_connection
                with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                    for r in data:
                        cp.write_row(r)
            else:
                marks = ", ".join("?" for _ in data[0])
                raw = conn.connection.driver_connection
                raw.executemany(
                    f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                    [
                        tuple(v.isoformat(" ") if isinstance(v, dt.datetime) else v for v in r)
                        for r in data
                    ],
                )
        if engine.dialect.name == "postgresql":
            for table in ("user_account", "machine"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return len(rows["daily_usage"])


PERIOD_INDEX = (
    "CREATE INDEX ix_daily_usage_period ON daily_usage (date, model, machine_id, input_tokens,"
    " output_tokens, cache_creation_tokens, cache_read_tokens, cost, web_search_requests,"
    " web_search_cost)"
)


SESSION_INDEX = (
    "CREATE INDEX ix_session_usage_machine_last ON session_usage (machine_id, last_activity,"
    " project)"
)


def use_index(url: str, code: str) -> None:
    """Puts the daily_usage index of the code before (0012: on date) or after (0013)."""
    engine = create_engine(database_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_daily_usage_period"))
        conn.execute(text("DROP INDEX IF EXISTS ix_daily_usage_date"))
        conn.execute(text("DROP INDEX IF EXISTS ix_session_usage_machine_last"))
        if code == "before":
            conn.execute(text("CREATE INDEX ix_daily_usage_date ON daily_usage (date)"))
        else:
            conn.execute(text(PERIOD_INDEX))
            conn.execute(text(SESSION_INDEX))
        conn.execute(text("ANALYZE"))
    engine.dispose()


def run(name: str, url: str, users: int, days: int, rounds: int) -> list[tuple[str, ...]]:
    home = tempfile.mkdtemp()
    proc, base = start_server(url, home)
    try:
        key = {
            "X-API-Key": httpx.post(f"{base}/api/users", json={"username": "admin"}).json()[
                "apiKey"
            ]
        }
    finally:
        proc.terminate()
        proc.wait()
    t = time.perf_counter()
    n = seed(url, users, days)
    took = time.perf_counter() - t
    print(f"{name} {users}x{days}: seeded {n:,} daily rows in {took:.0f} s", file=sys.stderr)
    proc, base = start_server(url, home)
    month_ago = (dt.date.today() - dt.timedelta(days=29)).strftime("%Y%m%d")
    labels = [*PAGES, "API aggregate, one user"]
    timings: dict[tuple[str, str], list[float]] = {
        (code, k): [] for code in ("before", "after") for k in labels
    }
    try:
        with httpx.Client(base_url=base, timeout=300) as c:
            link = c.post("/api/login-links", headers=key).json()["path"]
            assert c.get(link, follow_redirects=True).status_code == 200
            # phases after, before, after, before...: the same load for both, as far as can be
            for phase in range(4):
                code = ("after", "before")[phase % 2]
                use_index(url, code)
                for path in PAGES.values():
                    assert c.get(path).status_code == 200
                for _ in range(max(1, rounds // 2)):
                    for label, path in PAGES.items():
                        s = time.perf_counter()
                        r = c.get(path)
                        timings[(code, label)].append(time.perf_counter() - s)
                        assert r.status_code == 200, (path, r.status_code)
                    s = time.perf_counter()
                    r = c.get(f"/api/usage/aggregate?since={month_ago}", headers=key)
                    timings[(code, labels[-1])].append(time.perf_counter() - s)
                    assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(home, ignore_errors=True)
    out = []
    for label in labels:
        b, a = timings[("before", label)], timings[("after", label)]
        out.append(
            (
                f"{users:,} x {days}",
                name,
                label,
                f"{statistics.median(b) * 1000:.0f} / {p95(b) * 1000:.0f}",
                f"{statistics.median(a) * 1000:.0f} / {p95(a) * 1000:.0f}",
                f"{p95(a) / p95(b):.2f}",
            )
        )
    return [*out, (f"{users:,} x {days}", name, f"seeded in {took:.0f} s", "", "", "")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=os.environ.get("PROMPTPULSE_TEST_POSTGRES_URL"))
    ap.add_argument("--scales", default="10x365,100x365,1000x365,10000x90")
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    out = []
    for scale in args.scales.split(","):
        users, days = (int(x) for x in scale.split("x"))
        for name, url in databases(args.postgres):
            out += run(name, url, users, days, args.rounds)
            print(out[-1], file=sys.stderr)
    print(
        "| users x days | database | request | before p50 / p95 ms | after p50 / p95 ms |"
        " p95 after/before |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for r in out:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
