"""The dashboard's overview against a real `promptpulse-server serve`, on SQLite and PostgreSQL.

    python benchmarks/dashboard.py [--postgres URL] [--users 100]

Stores 100 users x 365 days x 5 models (and 1,000 sessions and 900 blocks each), logs in through
a one-time link, then measures:
  - the overview of one user, last 30 days (p95 of 100 renders);
  - the overview of everyone, last 30 days (the team lead's view; p95 of 50);
  - what a first visit transfers (the page, CSS, JS and Plotly, gzip) and a repeat visit (the
    page only: the assets are cached for a year under versioned names).
Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server import databases, p95, print_table, start_server, year_batch


def timed_get(c: httpx.Client, path: str) -> float:
    t = time.perf_counter()
    r = c.get(path)
    took = time.perf_counter() - t
    assert r.status_code == 200, (path, r.status_code)
    return took


def run(name: str, database_url: str, users: int) -> list[tuple[str, str]]:
    home = tempfile.mkdtemp()
    proc, base = start_server(database_url, home)
    rnd = random.Random(2)
    first = dt.date.today() - dt.timedelta(days=364)
    rows = []
    try:
        with httpx.Client(base_url=base, timeout=120) as c:
            keys = []
            t = time.perf_counter()
            for u in range(users):
                k = {
                    "X-API-Key": c.post("/api/users", json={"username": f"user{u}"}).json()[
                        "apiKey"
                    ]
                }
                keys.append(k)
                body = year_batch(rnd, f"m-{u}", sessions=1000, blocks=900, first=first)
                r = c.post("/api/v1/uploads", headers=k, json=body)
                assert r.status_code == 201, r.text
            print(
                f"{name}: stored {users} users in {time.perf_counter() - t:.0f} s", file=sys.stderr
            )
            # everyone in one team, so that "all users" is everyone (user0 is the server admin)
            team = c.post("/api/teams", json={"name": "Bench"}, headers=keys[0]).json()
            code = c.post(
                f"/api/teams/{team['id']}/invites", json={"maxUses": 1000}, headers=keys[0]
            ).json()["code"]
            for k in keys[1:]:
                assert c.post(f"/api/teams/join/{code}", headers=k).status_code == 200
            link = c.post("/api/login-links", headers=keys[0]).json()["path"]
        with httpx.Client(base_url=base, timeout=120, headers={"Accept-Encoding": "gzip"}) as web:
            assert web.get(link, follow_redirects=True).status_code == 200  # the cookie is set
            for _ in range(5):
                timed_get(web, "/")
            own = [timed_get(web, "/?period=month") for _ in range(100)]
            everyone = [timed_get(web, "/?period=month&user=all") for _ in range(50)]
            rows.append((f"{name}: overview, one user, 30 days (p95)", f"{p95(own) * 1000:.1f} ms"))
            rows.append(
                (
                    f"{name}: overview, all {users} users, 30 days (p95)",
                    f"{p95(everyone) * 1000:.1f} ms",
                )
            )
            page = web.get("/?period=month")
            html_bytes = page.num_bytes_downloaded
            assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
            asset_bytes = 0
            for path in assets:
                r = web.get(path)
                assert r.headers.get("content-encoding") == "gzip"
                assert "immutable" in r.headers["cache-control"]
                asset_bytes += r.num_bytes_downloaded
            rows.append(
                (
                    f"{name}: first visit transfers (page + {len(assets)} assets, gzip)",
                    f"{(html_bytes + asset_bytes) / 1024:.0f} KB",
                )
            )
            rows.append(
                (f"{name}: repeat visit transfers (the page)", f"{html_bytes / 1024:.1f} KB")
            )
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(home, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=os.environ.get("PROMPTPULSE_TEST_POSTGRES_URL"))
    ap.add_argument("--users", type=int, default=100)
    args = ap.parse_args()
    print_table([r for name, url in databases(args.postgres) for r in run(name, url, args.users)])


if __name__ == "__main__":
    main()
