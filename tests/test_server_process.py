"""The real server as a subprocess, configured only through the environment, as a hosting
platform runs it (Dockerfile and railway.json start exactly this)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving import SERVER, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def platform_url(database: str) -> str:
    """The database URL as platforms spell it: postgres://... rather than SQLAlchemy's."""
    return database.replace("postgresql+psycopg://", "postgres://")


@pytest.fixture
def server(platform_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=platform_url,
        PORT=str(port),
        HOST="127.0.0.1",
        PROMPTPULSE_HOME=str(tmp_path / "home"),
    )
    proc = subprocess.Popen(
        [*SERVER, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            proc.kill()
            pytest.fail(f"server did not start:\n{proc.communicate()[0]}")
        yield base, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_serve_migrates_and_answers(server: tuple[str, dict[str, str]]) -> None:
    base, env = server
    out = subprocess.run(
        [*SERVER, "create-user", "carol"], env=env, capture_output=True, text=True, check=True
    )
    key = out.stdout.strip()
    assert key.startswith("pp_")
    me = httpx.get(f"{base}/api/users/me", headers={"X-API-Key": key})
    assert me.json()["username"] == "carol"
    taken = subprocess.run(
        [*SERVER, "create-user", "carol"], env=env, capture_output=True, text=True
    )
    assert taken.returncode == 2 and "taken" in taken.stderr and "Traceback" not in taken.stderr
    crash = httpx.post(f"{base}/api/v1/uploads", headers={"X-API-Key": key}, content=b"[" * 100_000)
    assert crash.status_code == 400 and "Traceback" not in crash.text


def test_railway_runs_the_images_command_with_the_health_check() -> None:
    railway = json.loads((ROOT / "railway.json").read_text())
    assert railway["deploy"]["healthcheckPath"] == "/health"
    # Railway's start command would replace the image's ENTRYPOINT, which makes /data writable
    assert "startCommand" not in railway["deploy"]
    docker = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["promptpulse-entrypoint"]' in docker
    assert 'CMD ["promptpulse-server", "serve"]' in docker


@pytest.mark.parametrize("missing", ["litestar", "uvicorn"])
def test_without_the_server_extra_it_says_what_to_install(missing: str, tmp_path: Path) -> None:
    hidden = f"import sys; sys.modules[{missing!r}] = None; "  # as if it were not installed
    run = subprocess.run(
        [sys.executable, "-c", hidden + "from promptpulse_server.cli import main; main()", "users"],
        env=dict(os.environ, PROMPTPULSE_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert run.stderr == (
        f"promptpulse-server needs the server extra ({missing} is missing):\n"
        "    pip install 'promptpulse[server]'\n"
    )


def test_a_broken_server_extra_is_explained(tmp_path: Path) -> None:
    # a Python where litestar is found but cannot be imported
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "litestar.py").write_text("raise ImportError('nope', name='litestar')\n")
    env = dict(os.environ, PYTHONPATH=str(shadow))
    out = subprocess.run([*SERVER, "serve"], env=env, capture_output=True, text=True)
    assert out.returncode == 1
    assert "pip install 'promptpulse[server]'" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_says_how_the_first_admin_is_made(tmp_path: Path) -> None:
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 's.sqlite3'}",
        PORT=str(port),
        PROMPTPULSE_HOME=str(tmp_path / "home"),
    )
    env.pop("PROMPTPULSE_SIGNUP", None)  # the default: invite
    proc = subprocess.Popen(
        [*SERVER, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "the first one made becomes the server admin" in first
        assert "sign-up: invite" in first
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def test_accounts_from_the_command_line(server: tuple[str, dict[str, str]]) -> None:
    base, env = server

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*SERVER, *args], env=env, capture_output=True, text=True)

    root = cli("create-user", "root").stdout.strip()  # the first account: an admin
    ann = cli("create-user", "ann").stdout.strip()
    boss = cli("create-user", "boss", "--admin").stdout.strip()
    me = {
        k: httpx.get(f"{base}/api/users/me", headers={"X-API-Key": v}).json()["isAdmin"]
        for k, v in (("root", root), ("ann", ann), ("boss", boss))
    }
    assert me == {"root": True, "ann": False, "boss": True}
    listing = cli("users", "list").stdout
    assert [line.split("\t")[1:3] for line in listing.splitlines()] == [
        ["ann", "-"],
        ["boss", "admin"],
        ["root", "admin"],
    ]
    assert cli("users", "disable", "ann").returncode == 0
    assert httpx.get(f"{base}/api/users/me", headers={"X-API-Key": ann}).status_code == 401
    assert "disabled" in cli("users", "list").stdout
    assert cli("users", "enable", "ann").returncode == 0
    assert httpx.get(f"{base}/api/users/me", headers={"X-API-Key": ann}).status_code == 200
    assert cli("users", "promote", "ann").returncode == 0
    for name in ("boss", "root"):
        assert cli("users", "demote", name).returncode == 0
    last = cli("users", "disable", "ann")  # the only admin left
    assert last.returncode == 2 and "only server admin" in last.stderr
    assert "Traceback" not in last.stderr
    missing = cli("users", "enable", "nobody")
    assert missing.returncode == 2 and "no user 'nobody'" in missing.stderr
