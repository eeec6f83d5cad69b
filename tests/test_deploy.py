"""Deploying fails cleanly or not at all: the real ``promptpulse-server`` commands on a data dir
they cannot write, without psycopg, on a database they do not support; and the image's
entrypoint, run here as root against a root-owned directory, as a platform's volume is."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving import SERVER
from test_server_process import ROOT

ENTRYPOINT = ROOT / "docker" / "entrypoint"
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
COMMANDS = [["serve"], ["migrate"], ["create-user", "ann"]]
as_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv (util-linux) to change users",
)


def run(
    args: list[str], prefix: list[str] | None = None, /, **env: str
) -> subprocess.CompletedProcess[str]:
    """``promptpulse-server ARGS`` (after ``prefix``), with ``env`` and no DATABASE_URL."""
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environ.update(env)
    return subprocess.run(
        [*(prefix or []), *SERVER, *args], env=environ, capture_output=True, text=True, timeout=60
    )


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    return out.stderr


@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    """A path no one can make a directory at, root included: its parent is a file."""
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "home"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unwritable_data_dir_is_one_line_with_the_fix(
    command: list[str], unwritable: Path
) -> None:
    error = one_line_error(run(command, PROMPTPULSE_HOME=str(unwritable)))
    assert f"cannot write to {unwritable / 'data'} (Not a directory)" in error
    assert "SQLite database" in error
    assert "PROMPTPULSE_HOME" in error and "volume" in error and "DATABASE_URL" in error


def test_with_the_database_elsewhere_the_secret_still_needs_a_place(
    unwritable: Path, tmp_path: Path
) -> None:
    elsewhere = {"PROMPTPULSE_HOME": str(unwritable), "DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    error = one_line_error(run(["migrate"], **elsewhere))
    assert f"cannot write to {unwritable / 'data'}" in error
    assert "its secret" in error and "PROMPTPULSE_SECRET_KEY" in error
    fixed = run(["migrate"], **elsewhere, PROMPTPULSE_SECRET_KEY="shared")
    assert fixed.returncode == 0, fixed.stderr


def test_an_unwritable_sqlite_file_in_database_url_is_one_line(unwritable: Path) -> None:
    error = one_line_error(run(["migrate"], DATABASE_URL=f"sqlite:///{unwritable}/server.db"))
    assert f"cannot write to {unwritable}" in error and "DATABASE_URL" in error


@pytest.mark.parametrize(
    ("command", "scheme"),
    [(["serve"], "postgresql"), (["migrate"], "postgres"), (["create-user", "ann"], "postgresql")],
    ids=["serve", "migrate", "create-user"],
)
def test_postgres_without_psycopg_names_the_extra(
    command: list[str], scheme: str, tmp_path: Path
) -> None:
    shadow = tmp_path / "shadow"  # a Python where psycopg cannot be imported
    shadow.mkdir()
    (shadow / "psycopg.py").write_text("raise ImportError('nope', name='psycopg')\n")
    url = f"{scheme}://pp:secret@127.0.0.1:1/pp"  # never reached
    error = one_line_error(run(command, DATABASE_URL=url, PYTHONPATH=str(shadow)))
    assert "pip install 'promptpulse[postgres]'" in error


@pytest.mark.parametrize("url", ["mysql://pp:secret@db/pp", "foo://", "/var/lib/pp.sqlite3"])
def test_an_unsupported_database_lists_the_supported_ones(url: str) -> None:
    error = one_line_error(run(["migrate"], DATABASE_URL=url))
    assert "DATABASE_URL" in error
    assert "sqlite:///PATH" in error and "postgres://" in error and "postgresql://" in error
    assert "secret" not in error  # a password in the URL is not printed


# --- the image's entrypoint ----------------------------------------------------------------------


def test_the_image_starts_through_the_entrypoint() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    assert "COPY docker/entrypoint /usr/local/bin/promptpulse-entrypoint" in docker
    assert 'ENTRYPOINT ["promptpulse-entrypoint"]' in docker
    assert 'CMD ["promptpulse-server", "serve"]' in docker
    assert not re.search(r"^USER ", docker, re.MULTILINE)  # the entrypoint drops root itself
    assert "useradd --create-home --uid 10001 promptpulse" in docker
    assert "PROMPTPULSE_HOME=/data" in docker
    script = ENTRYPOINT.read_text()
    assert script.startswith("#!/bin/sh\n")
    assert (
        '"${PROMPTPULSE_USER:-promptpulse}"' in script and '"${PROMPTPULSE_HOME:-/data}"' in script
    )
    assert ENTRYPOINT.stat().st_mode & stat.S_IXOTH
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)


@pytest.fixture
def volume() -> Iterator[Path]:
    """A directory owned by root, mode 0755, that other users can reach (unlike tmp_path)."""
    base = Path(tempfile.mkdtemp(prefix="pp-volume-", dir="/tmp"))
    try:
        base.chmod(0o755)
        (base / "data").mkdir(mode=0o755)
        yield base / "data"
    finally:
        shutil.rmtree(base)


@as_root
def test_a_root_owned_volume_is_refused_plainly_and_the_entrypoint_hands_it_over(
    volume: Path,
) -> None:
    # what a non-root server sees on Railway's volume: one line, not a traceback
    error = one_line_error(run(["migrate"], AS_NOBODY, PROMPTPULSE_HOME=str(volume)))
    assert f"cannot write to {volume / 'data'} (Permission denied)" in error
    # a file a root shell left there, which the server could not read either
    (volume / "data").mkdir()
    secret = volume / "data" / "server-secret"
    secret.write_text("made-by-root")
    secret.chmod(0o600)
    elsewhere = volume.parent / "elsewhere"
    elsewhere.mkdir(mode=0o777)
    elsewhere.chmod(0o777)
    error = one_line_error(
        run(
            ["migrate"],
            AS_NOBODY,
            PROMPTPULSE_HOME=str(volume),
            DATABASE_URL=f"sqlite:///{elsewhere}/server.sqlite3",
        )
    )
    assert f"cannot read {secret} (Permission denied)" in error
    assert "PROMPTPULSE_SECRET_KEY" in error

    out = run(
        ["migrate"], [str(ENTRYPOINT)], PROMPTPULSE_HOME=str(volume), PROMPTPULSE_USER="nobody"
    )

    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("database at revision")
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True).stdout)
    made = [volume, *volume.rglob("*")]
    assert volume / "data" / "server.sqlite3" in made
    assert {path.stat().st_uid for path in made} == {nobody}


@as_root
def test_the_entrypoint_runs_the_command_as_the_user_with_their_home(volume: Path) -> None:
    shown = "id -u; id -g; echo $HOME; touch $PROMPTPULSE_HOME/mine"
    env = dict(os.environ, PROMPTPULSE_HOME=str(volume), PROMPTPULSE_USER="nobody")
    out = subprocess.run(
        [str(ENTRYPOINT), "sh", "-c", shown], env=env, capture_output=True, text=True, check=True
    )
    uid, gid, home = out.stdout.split()
    passwd = subprocess.run(["getent", "passwd", "nobody"], capture_output=True, text=True)
    assert [uid, gid, home] == [passwd.stdout.split(":")[i] for i in (2, 3, 5)]
    assert (volume / "mine").stat().st_uid == int(uid)


@as_root
def test_the_entrypoint_started_as_another_user_leaves_everything_alone(volume: Path) -> None:
    env = dict(os.environ, PROMPTPULSE_HOME=str(volume))
    out = subprocess.run(
        [*AS_NOBODY, str(ENTRYPOINT), "id", "-un"], env=env, capture_output=True, text=True
    )
    assert (out.returncode, out.stdout) == (0, "nobody\n")
    assert volume.stat().st_uid == 0
