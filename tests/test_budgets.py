"""Budgets and alerts on the server, on SQLite and PostgreSQL: the API (``/api/budgets``,
``/api/alerts``, ``/api/teams/{id}/budgets``), alerts fired by uploads exactly once, and their
delivery to a real HTTP receiver and a real SMTP server (aiosmtpd), both on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from litestar.testing import TestClient

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_api import batch, breakdown, signup
from test_limits import FIVE_RESETS, H, reading
from testclock import NOW, TODAY, FakeClock, iso

pytestmark = pytest.mark.dates

Key = dict[str, str]
SECRET = "s3cret-hook-key"


# --- real receivers -------------------------------------------------------------------------------


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records what is posted to it; it answers 500 to the
    first ``fail`` requests."""

    url: str = ""
    fail: int = 0
    got: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    tries: int = 0

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.tries += 1
            if rec.tries <= rec.fail:
                self.send_response(500)
                self.end_headers()
                return
            rec.got.append((self.path, dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield rec
    server.shutdown()
    server.server_close()
    thread.join()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[str, Mailbox]]:
    box = Mailbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks its own by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}", box
    finally:
        controller.stop()


# --- the server -----------------------------------------------------------------------------------


def settings_for(
    database: str, clock: FakeClock, smtp_url: str = "", allow_private_webhooks: bool = True
) -> Settings:
    return Settings(
        database_url=database,
        signup_per_minute=1000,
        uploads_per_minute=1000,
        signup_mode="open",
        clock=clock,
        allow_private_webhooks=allow_private_webhooks,  # the receivers are on 127.0.0.1
        smtp_url=smtp_url,
        mail_from="alerts@promptpulse.test",
        alert_retry_delays=(0.0, 0.0),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(database: str, clock: FakeClock, smtp: tuple[str, Mailbox]) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(settings_for(database, clock, smtp[0]))) as c:
        yield c


def cost_budget(url: str, amount: float = 50.0, **more: Any) -> dict[str, Any]:
    channel = {"type": "webhook", "url": url, "format": "json", "secret": SECRET}
    return {
        "kind": "cost",
        "period": "day",
        "amountUsd": amount,
        "thresholds": [80, 100],
        "channel": channel,
        **more,
    }


def add(client: TestClient[Any], key: Key, body: dict[str, Any], status: int = 201) -> Any:
    r = client.post("/api/budgets", headers=key, json=body)
    assert r.status_code == status, r.text
    return r.json()


def spend(
    client: TestClient[Any], key: Key, batch_id: str, cost: float, generated: Any = NOW
) -> dict[str, Any]:
    """Upload today's usage of one machine: ``cost`` dollars in all."""
    body = batch(
        batch_id,
        "m1",
        iso(generated),
        days={TODAY.isoformat(): [breakdown("claude-opus-4-6", cost=cost)]},
    )
    r = client.post("/api/v1/uploads", headers=key, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def log(client: TestClient[Any], key: Key) -> list[dict[str, Any]]:
    r = client.get("/api/alerts", headers=key)
    assert r.status_code == 200, r.text
    return r.json()["deliveries"]  # type: ignore[no-any-return]


# --- the proof ------------------------------------------------------------------------------------


def test_crossing_80_then_100_percent_delivers_two_alerts_with_their_figures(
    client: TestClient[Any], receiver: Receiver
) -> None:
    key = signup(client)
    budget = add(client, key, cost_budget(receiver.url))
    assert budget["channel"] == {
        "type": "webhook",
        "url": receiver.url,
        "format": "json",
        "secret": "set",
    }
    assert SECRET not in json.dumps(budget)
    under = spend(client, key, "b1", 30.0, NOW - 2 * H)
    assert under["budgets"] == [] and receiver.got == []
    first = spend(client, key, "b2", 41.0, NOW - H)
    assert [b["crossed"] for b in first["budgets"]] == [[80]]
    second = spend(client, key, "b3", 52.0)
    assert second["budgets"] == [
        {
            "id": budget["id"],
            "teamId": None,
            "kind": "cost",
            "period": "day",
            "window": None,
            "used": 52.0,
            "limit": 50.0,
            "percent": 104.0,
            "crossed": [80, 100],
        }
    ]
    bodies = receiver.bodies()
    assert [(b["threshold"], b["used"], b["limit"], b["percent"]) for b in bodies] == [
        (80, 41.0, 50.0, 82.0),
        (100, 52.0, 50.0, 104.0),
    ]
    for b in bodies:
        assert b["budgetId"] == budget["id"] and b["kind"] == "cost" and b["period"] == "day"
        assert b["periodKey"] == f"day:{TODAY.isoformat()}" and b["test"] is False
    # the generic JSON is signed: HMAC-SHA256 of the raw body with the budget's secret
    for _, headers, raw in receiver.got:
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Promptpulse-Signature"] == expected
    deliveries = log(client, key)
    assert [(d["threshold"], d["status"], d["attempt"]) for d in deliveries] == [
        (100, "ok", 1),
        (80, "ok", 1),
    ]
    # and the budget says where it stands
    listed = client.get("/api/budgets", headers=key).json()["budgets"]
    assert [(b["used"], b["percent"], b["crossed"]) for b in listed] == [(52.0, 104.0, [80, 100])]


def test_a_retried_upload_and_a_second_server_process_fire_nothing_twice(
    database: str, clock: FakeClock, receiver: Receiver
) -> None:
    settings = settings_for(database, clock)
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        key = signup(one)
        add(one, key, cost_budget(receiver.url))
        spend(one, key, "b1", 45.0)
        assert len(receiver.got) == 1
        # the same batch again, on either process: a duplicate, and no alert
        assert spend(one, key, "b1", 45.0)["duplicate"] is True
        assert spend(two, key, "b1", 45.0)["duplicate"] is True
        # two new batches that both cross 100 %, at once on two processes
        results: list[dict[str, Any]] = []

        def upload(client: TestClient[Any], batch_id: str) -> None:
            results.append(spend(client, key, batch_id, 60.0))

        threads = [
            threading.Thread(target=upload, args=(one, "c1")),
            threading.Thread(target=upload, args=(two, "c2")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 2
        assert [b["threshold"] for b in receiver.bodies()] == [80, 100]
        assert len(log(one, key)) == 2


def test_a_receiver_that_fails_twice_gets_the_alert_once(
    client: TestClient[Any], receiver: Receiver
) -> None:
    receiver.fail = 2
    key = signup(client)
    add(client, key, cost_budget(receiver.url, thresholds=[50]))
    spend(client, key, "b1", 30.0)
    assert len(receiver.got) == 1 and receiver.tries == 3
    deliveries = log(client, key)
    assert [(d["attempt"], d["status"], d["error"]) for d in reversed(deliveries)] == [
        (1, "error", f"{receiver.url[7:-5]} answered 500"),
        (2, "error", f"{receiver.url[7:-5]} answered 500"),
        (3, "ok", None),
    ]


def test_a_receiver_that_never_answers_is_tried_three_times_and_logged(
    client: TestClient[Any], receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.fail = 100
    key = signup(client)
    url = receiver.url.replace("http://", "http://hook-user:hook-pass@")
    add(client, key, cost_budget(url, thresholds=[50]))
    spend(client, key, "b1", 30.0)
    assert receiver.tries == 3 and receiver.got == []
    deliveries = log(client, key)
    assert [d["status"] for d in deliveries] == ["error"] * 3
    text = json.dumps(deliveries)
    assert SECRET not in text and "hook-pass" not in text and "hook-user" not in text
    assert "hook-pass" not in caplog.text  # nor in the server's log
    shown = client.get("/api/budgets", headers=key).json()["budgets"][0]["channel"]["url"]
    assert shown == receiver.url


def test_e_mail_arrives_at_a_real_smtp_server(
    client: TestClient[Any], smtp: tuple[str, Mailbox]
) -> None:
    key = signup(client)
    body = {
        "kind": "cost",
        "period": "month",
        "amountUsd": 20,
        "thresholds": [50],
        "channel": {"type": "email", "to": "alice@example.com"},
    }
    add(client, key, body)
    spend(client, key, "b1", 12.5)
    (raw,) = smtp[1].messages
    mail = message_from_bytes(raw)
    assert mail["To"] == "alice@example.com" and mail["From"] == "alerts@promptpulse.test"
    assert "alice's monthly cost budget: $12.50 of $20.00 (62 %)" in mail["Subject"]
    assert [d["status"] for d in log(client, key)] == ["ok"]


def test_slack_and_discord_bodies_and_the_test_button(
    client: TestClient[Any], receiver: Receiver
) -> None:
    key = signup(client)
    for fmt in ("slack", "discord"):
        body = cost_budget(receiver.url, thresholds=[10])
        body["channel"] = {"type": "webhook", "url": receiver.url, "format": fmt}
        add(client, key, body)
    spend(client, key, "b1", 10.0)
    slack, discord = receiver.bodies()
    assert slack == {
        "text": "promptpulse: alice's daily cost budget: $10.00 of $50.00 (20 %), "
        "past the 10 % threshold"
    }
    assert discord == {"content": slack["text"]}
    budget_id = client.get("/api/budgets", headers=key).json()["budgets"][0]["id"]
    r = client.post(f"/api/budgets/{budget_id}/test", headers=key)
    assert r.status_code == 200 and r.json()["test"] is True and r.json()["status"] == "ok"
    assert receiver.bodies()[-1]["text"].startswith("[test] promptpulse:")


def test_a_limit_budget_fires_on_the_official_reading(
    client: TestClient[Any], receiver: Receiver
) -> None:
    key = signup(client)
    budget = add(
        client,
        key,
        {
            "kind": "limit",
            "window": "five_hour",
            "thresholds": [80, 95],
            "channel": {"type": "webhook", "url": receiver.url},
        },
    )
    body = batch("b1", "m1", iso(NOW), days={})
    body["limits"] = [reading(NOW - H, five=(85.0, FIVE_RESETS))]
    r = client.post("/api/v1/uploads", headers=key, json=body)
    assert r.status_code == 201 and r.json()["budgets"][0]["crossed"] == [80]
    (sent,) = receiver.bodies()
    assert (sent["budgetId"], sent["window"], sent["threshold"], sent["used"]) == (
        budget["id"],
        "five_hour",
        80,
        85.0,
    )
    assert sent["periodKey"] == "five_hour:" + FIVE_RESETS.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- who may do what ------------------------------------------------------------------------------


def test_team_budgets_are_for_owners_and_admins_and_nobody_sees_others_budgets(
    client: TestClient[Any], receiver: Receiver
) -> None:
    owner, member, stranger = (
        signup(client, "owner"),
        signup(client, "member"),
        signup(client, "zed"),
    )
    team = client.post("/api/teams", headers=owner, json={"name": "Crew"}).json()
    code = client.post(f"/api/teams/{team['id']}/invites", headers=owner, json={}).json()["code"]
    assert client.post(f"/api/teams/join/{code}", headers=member).status_code == 200
    body = cost_budget(receiver.url, amount=100.0)
    made = client.post(f"/api/teams/{team['id']}/budgets", headers=owner, json=body)
    assert made.status_code == 201, made.text
    budget = made.json()
    assert budget["teamId"] == team["id"]
    # a member sees it, without where it goes; cannot add, change or delete one
    seen = client.get(f"/api/teams/{team['id']}/budgets", headers=member).json()["budgets"]
    assert [b["id"] for b in seen] == [budget["id"]] and "url" not in seen[0]["channel"]
    assert (
        client.post(f"/api/teams/{team['id']}/budgets", headers=member, json=body).status_code
        == 403
    )
    assert (
        client.post("/api/budgets", headers=member, json={**body, "teamId": team["id"]}).status_code
        == 403
    )
    assert client.put(f"/api/budgets/{budget['id']}", headers=member, json=body).status_code == 403
    assert client.delete(f"/api/budgets/{budget['id']}", headers=member).status_code == 403
    # someone outside the team does not know it is there
    assert client.get(f"/api/teams/{team['id']}/budgets", headers=stranger).status_code == 404
    assert (
        client.put(f"/api/budgets/{budget['id']}", headers=stranger, json=body).status_code == 404
    )
    assert client.get("/api/budgets", headers=stranger).json()["budgets"] == []
    # personal budgets are their owner's alone
    mine = add(client, member, cost_budget(receiver.url, amount=100.0))
    assert client.delete(f"/api/budgets/{mine['id']}", headers=owner).status_code == 404
    assert [b["id"] for b in client.get("/api/budgets", headers=owner).json()["budgets"]] == [
        budget["id"]
    ]
    # the team's cost is its members': the member's spending crosses it, once
    spend(client, member, "m-1", 85.0)
    # the member's own and the team's
    assert sorted((b["teamId"], b["threshold"]) for b in receiver.bodies() if b["teamId"]) == [
        (team["id"], 80)
    ]
    assert len(receiver.got) == 2
    assert {d["budgetId"] for d in log(client, owner)} == {budget["id"]}
    assert len(log(client, member)) == 2
    assert log(client, stranger) == []
    # the owner changes it, then deletes it
    changed = client.put(
        f"/api/budgets/{budget['id']}", headers=owner, json={**body, "amountUsd": 200}
    )
    assert changed.status_code == 200 and changed.json()["amountUsd"] == 200
    assert changed.json()["channel"]["secret"] == "set"
    assert client.delete(f"/api/budgets/{budget['id']}", headers=owner).status_code == 204
    assert log(client, owner) == []


# --- hostile input and SSRF -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"thresholds": [80, 80]}, "thresholds"),
        ({"thresholds": [0]}, "thresholds"),
        ({"thresholds": [1001]}, "thresholds"),
        ({"thresholds": list(range(1, 12))}, "thresholds"),
        ({"thresholds": []}, "thresholds"),
        ({"amountUsd": 0}, "amountUsd"),
        ({"amountUsd": 1e7}, "amountUsd"),
        ({"amountUsd": "50"}, "amountUsd"),
        ({"period": "year"}, "period"),
        ({"kind": "spike"}, "kind"),
        ({"channel": {"type": "webhook", "url": "ftp://example.com/x"}}, "channel.url"),
        ({"channel": {"type": "webhook", "url": "file:///etc/passwd"}}, "channel.url"),
        ({"channel": {"type": "webhook", "url": "http://" + "a" * 2000 + ".com"}}, "channel.url"),
        ({"channel": {"type": "webhook", "url": "http://x.com:99999/a"}}, "channel.url"),
        ({"channel": {"type": "webhook", "url": "https://x.com/a", "format": "xml"}}, "format"),
        ({"channel": {"type": "email", "to": "not an address"}}, "channel.to"),
        ({"channel": {"type": "email", "to": "a@b.com\r\nBcc: c@d.com"}}, "channel.to"),
        ({"channel": {"type": "sms", "to": "+1555"}}, "channel"),
        ({"teamId": 0}, "teamId"),
    ],
)
def test_a_bad_budget_is_refused_naming_the_field_and_stores_nothing(
    client: TestClient[Any], change: dict[str, Any], field: str
) -> None:
    key = signup(client)
    body = {**cost_budget("https://hooks.example.com/x"), **change}
    r = client.post("/api/budgets", headers=key, json=body)
    assert 400 <= r.status_code < 500, r.text
    assert field.split(".")[-1] in r.text, r.text
    assert client.get("/api/budgets", headers=key).json()["budgets"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_an_open_server_refuses_private_webhooks(database: str, clock: FakeClock, url: str) -> None:
    settings = settings_for(database, clock, allow_private_webhooks=False)
    with TestClient(create_app(settings)) as c:
        key = signup(c)
        r = c.post("/api/budgets", headers=key, json=cost_budget(url))
        assert r.status_code == 400 and "channel.url" in r.text, r.text
        assert SECRET not in r.text
        assert c.get("/api/budgets", headers=key).json()["budgets"] == []


def test_the_address_is_checked_again_when_sending(
    database: str, clock: FakeClock, receiver: Receiver
) -> None:
    """A budget saved while private webhooks were allowed is not sent to once they are not."""
    allowed = settings_for(database, clock)
    with TestClient(create_app(allowed)) as c:
        key = signup(c)
        add(c, key, cost_budget(receiver.url, thresholds=[10]))
    refused = settings_for(database, clock, allow_private_webhooks=False)
    with TestClient(create_app(refused)) as c:
        spend(c, key, "b1", 30.0)
        (only,) = log(c, key)
    assert receiver.tries == 0
    assert only["status"] == "error" and "private, loopback or link-local" in only["error"]


def test_a_server_with_invites_may_send_to_its_own_network(
    database: str, clock: FakeClock, receiver: Receiver
) -> None:
    settings = settings_for(database, clock, allow_private_webhooks=False)
    from dataclasses import replace

    with TestClient(create_app(replace(settings, signup_mode="invite"))) as c:
        key = signup(c)  # the first account needs no invite
        add(c, key, cost_budget(receiver.url, thresholds=[10]))
        spend(c, key, "b1", 30.0)
    assert len(receiver.got) == 1
