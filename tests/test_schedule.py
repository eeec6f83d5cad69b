"""promptpulse setup, on a crontab file (never the real user's crontab)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PP = [sys.executable, "-m", "promptpulse"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PROMPTPULSE_HOME=str(tmp_path / "home"),
        PROMPTPULSE_CRONTAB_FILE=str(tmp_path / "crontab"),
    )


def pp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PP, *args], env=env, capture_output=True, text=True, timeout=60)


def test_setup_installs_one_job_and_removes_it(env: dict[str, str]) -> None:
    tab = Path(env["PROMPTPULSE_CRONTAB_FILE"])
    assert pp(env, "setup", "--interval", "15m").returncode == 0
    assert pp(env, "setup", "--interval", "1h").returncode == 0
    lines = [ln for ln in tab.read_text().splitlines() if "promptpulse collect" in ln]
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith(("0 * * * * ", "@hourly "))  # python-crontab may shorten it
    assert f"{sys.executable} -m promptpulse collect --timestamps" in line
    assert f"PROMPTPULSE_HOME={env['PROMPTPULSE_HOME']}" in line
    assert "collect.log 2>&1" in line
    assert "promptpulse collect" in pp(env, "status").stdout.split("cron job:")[1]
    assert pp(env, "setup", "--remove").returncode == 0
    assert "promptpulse collect" not in tab.read_text()


def test_dry_run_prints_the_line_and_installs_nothing(env: dict[str, str]) -> None:
    out = pp(env, "setup", "--dry-run", "--interval", "daily")
    assert out.stdout.startswith("0 9 * * * ") and "# promptpulse collect" in out.stdout
    assert not Path(env["PROMPTPULSE_CRONTAB_FILE"]).exists()


def test_without_crontab_it_says_how_to_install_cron(env: dict[str, str], tmp_path: Path) -> None:
    del env["PROMPTPULSE_CRONTAB_FILE"]
    env["PATH"] = str(tmp_path / "empty-bin")  # no crontab command
    out = subprocess.run([*PP, "setup"], env=env, capture_output=True, text=True)
    assert out.returncode == 2
    assert "install cron" in out.stderr and "promptpulse collect" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_cron_jobs_log_lines_start_with_the_time(env: dict[str, str]) -> None:
    """collect --timestamps (as the job runs it): every line, errors too, starts with the
    instant from the clock."""
    env["PROMPTPULSE_NOW"] = "2026-09-16T15:04:05Z"
    out = pp(env, "collect", "--timestamps")
    assert out.returncode == 2
    assert out.stderr == "2026-09-16T15:04:05Z error: not logged in: run promptpulse login\n"


def test_stamped_lines_stamp_each_line_once() -> None:
    import io
    from datetime import UTC, datetime

    from promptpulse.clock import fixed
    from promptpulse.schedule import StampedLines

    target = io.StringIO()
    stream = StampedLines(target, fixed(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)))
    stream.write("one\ntw")
    stream.write("o\n\nthree\n")
    assert target.getvalue() == (
        "2026-01-02T03:04:05Z one\n2026-01-02T03:04:05Z two\n"
        "2026-01-02T03:04:05Z \n2026-01-02T03:04:05Z three\n"
    )
