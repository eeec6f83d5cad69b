"""The real server as a subprocess, for the tests that need one: the ``promptpulse-server``
command, a free port, and ``Server``: one ``serve`` process configured only through its
environment, as a hosting platform runs it, started, waited for and stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx
import pytest

SERVER = [sys.executable, "-c", "from promptpulse_server.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``promptpulse-server serve`` on ``database`` (None: the default SQLite file in
    ``home``), on a free port of 127.0.0.1, with ``settings`` added to its environment. Its
    output goes to ``log`` when given. As a context manager: started, then stopped."""

    def __init__(
        self, database: str | None, home: Path, *, log: Path | None = None, **settings: str
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.log = log
        self.env = dict(
            os.environ,
            PORT=str(self.port),
            HOST="127.0.0.1",
            PROMPTPULSE_HOME=str(home),
            PROMPTPULSE_ALLOW_PRIVATE_WEBHOOKS="1",  # the tests' receivers are on 127.0.0.1
            PYTHONUNBUFFERED="1",  # the log is read while the server runs
        )
        if database is None:
            self.env.pop("DATABASE_URL", None)
        else:
            self.env["DATABASE_URL"] = database
        self.env.update(settings)
        self.proc: subprocess.Popen[str] | None = None

    def start(self, *options: str) -> None:
        """Start ``serve`` with ``options`` and wait until it answers ``/health``."""
        out = self.log.open("w") if self.log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                [*SERVER, "serve", *options],
                env=self.env,
                text=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        for _ in range(150):
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop(signal.SIGKILL)
        pytest.fail(f"server did not start:\n{self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text() if self.log and self.log.exists() else "(no log kept)"

    def wait_for_log(self, text: str) -> str:
        """The log once ``text`` is in it (at most 5 s)."""
        for _ in range(100):
            log = self.log_text()
            if text in log:
                return log
            time.sleep(0.05)
        pytest.fail(f"{text!r} never reached the log:\n{self.log_text()}")

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
