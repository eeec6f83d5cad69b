"""The wheel carries what an installed promptpulse needs: price data and the migrations."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contents(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("promptpulse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in [
        "promptpulse/prices.json",
        "promptpulse/py.typed",
        "promptpulse/cli.py",
        "promptpulse_server/app.py",
        "promptpulse_server/migrations/env.py",
        "promptpulse_server/migrations/script.py.mako",
        "promptpulse_server/migrations/versions/0001_initial_schema.py",
        "promptpulse_server/migrations/versions/0002_dashboard_logins_and_team_sharing.py",
        "promptpulse_server/templates/base.html",
        "promptpulse_server/templates/overview.html",
        "promptpulse_server/static/app.js",
        "promptpulse_server/static/app.css",
    ]:
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ["promptpulse =", "ppulse =", "promptpulse-server ="]:
        assert script in text
    assert not any(n.startswith("tests/") or "/tests/" in n for n in names)
