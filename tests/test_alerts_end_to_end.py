"""The issue's proof for budgets and alerts with the real server: two ``promptpulse-server serve``
processes on one database (SQLite and PostgreSQL), a real HTTP receiver and a real SMTP server
(aiosmtpd) on 127.0.0.1. Crossing 80 % then 100 % gives exactly two deliveries with their
figures; a retried upload, on either process, and two processes at once duplicate nothing; a
receiver that fails twice gets the alert once, after the server's own retry delays."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving import Server
from test_api import batch, breakdown
from test_budgets import SECRET, Mailbox, Receiver, cost_budget, receiver, smtp  # noqa: F401
from testclock import NOW, TODAY, iso

pytestmark = pytest.mark.dates


@pytest.fixture
def servers(database: str, tmp_path: Path, smtp: tuple[str, Mailbox]) -> Iterator[list[Server]]:  # noqa: F811
    found = [Server(database, tmp_path / f"home-{n}") for n in range(2)]
    for server in found:
        server.env["PROMPTPULSE_SMTP_URL"] = smtp[0]
        server.env["PROMPTPULSE_MAIL_FROM"] = "alerts@promptpulse.test"
        server.env["PROMPTPULSE_SECRET_KEY"] = "the-same-on-every-process"
    try:
        for server in found:
            server.start()
        yield found
    finally:
        for server in found:
            server.stop()


def spend(server: Server, key: dict[str, str], batch_id: str, cost: float) -> dict[str, Any]:
    body = batch(
        batch_id,
        "m1",
        iso(NOW),
        days={TODAY.isoformat(): [breakdown("claude-opus-4-6", cost=cost)]},
    )
    r = httpx.post(f"{server.base}/api/v1/uploads", headers=key, json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def settled(check: Any, seconds: float = 15.0) -> None:
    """Wait for the deliveries made after the answer (retries included)."""
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "not delivered in time"
        time.sleep(0.1)


def test_two_alerts_once_each_across_retries_and_processes_by_webhook_and_e_mail(
    servers: list[Server],
    receiver: Receiver,  # noqa: F811
    smtp: tuple[str, Mailbox],  # noqa: F811
) -> None:
    one, two = servers
    r = httpx.post(f"{one.base}/api/users", json={"username": "alice"})
    key = {"X-API-Key": r.json()["apiKey"]}
    for body in (
        cost_budget(receiver.url),
        cost_budget("", channel={"type": "email", "to": "alice@example.com"}),
    ):
        made = httpx.post(f"{one.base}/api/budgets", headers=key, json=body)
        assert made.status_code == 201, made.text
    spend(one, key, "b1", 30.0)  # 60 %
    spend(two, key, "b2", 41.0)  # 82 %: 80 crossed, through the second process
    spend(one, key, "b2", 41.0)  # the same batch again, on the other process
    results: list[dict[str, Any]] = []
    threads = [  # two new batches that both cross 100 %, on both processes at once
        threading.Thread(target=lambda s=s, b=b: results.append(spend(s, key, b, 52.0)))
        for s, b in ((one, "c1"), (two, "c2"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    settled(lambda: len(receiver.got) >= 2 and len(smtp[1].messages) >= 2)
    time.sleep(1.0)  # anything more would have come by now
    bodies = receiver.bodies()
    assert [(b["threshold"], b["used"], b["limit"], b["percent"]) for b in bodies] == [
        (80, 41.0, 50.0, 82.0),
        (100, 52.0, 50.0, 104.0),
    ]
    subjects = sorted(
        " ".join(str(message_from_bytes(m)["Subject"]).split()) for m in smtp[1].messages
    )
    assert len(subjects) == 2
    assert "$41.00 of $50.00 (82 %), past the 80 % threshold" in subjects[0]
    assert "$52.00 of $50.00 (104 %), past the 100 % threshold" in subjects[1]
    log = httpx.get(f"{two.base}/api/alerts", headers=key).json()["deliveries"]
    assert sorted((d["kind"], d["threshold"], d["status"]) for d in log) == [
        ("alert", 80, "ok"),
        ("alert", 80, "ok"),
        ("alert", 100, "ok"),
        ("alert", 100, "ok"),
    ]
    assert SECRET not in str(log)


def test_a_receiver_that_fails_twice_gets_the_alert_once(
    servers: list[Server],
    receiver: Receiver,  # noqa: F811
) -> None:
    one, _ = servers
    receiver.fail = 2
    r = httpx.post(f"{one.base}/api/users", json={"username": "bob"})
    key = {"X-API-Key": r.json()["apiKey"]}
    body = cost_budget(receiver.url, thresholds=[50])
    assert httpx.post(f"{one.base}/api/budgets", headers=key, json=body).status_code == 201
    spend(one, key, "b1", 30.0)
    settled(lambda: len(receiver.got) == 1)  # after waiting 1 s, then 4 s
    assert receiver.tries == 3
    log = httpx.get(f"{one.base}/api/alerts", headers=key).json()["deliveries"]
    assert [(d["attempt"], d["status"]) for d in reversed(log)] == [
        (1, "error"),
        (2, "error"),
        (3, "ok"),
    ]
