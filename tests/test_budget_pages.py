"""Budgets on the dashboard's pages, on SQLite and PostgreSQL: Settings (your own) and a team's
page (its owner and admins add, test and delete; a member sees the list only; an outsider gets
404). Forms carry the CSRF token; a bad value shows the API's message by its field, with 400
and nothing stored; everything shown is escaped; "send a test" reaches a real receiver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_api import signup
from test_budgets import Receiver, receiver, settings_for, spend  # noqa: F401
from test_dashboard import csrf, log_in
from testclock import FakeClock

pytestmark = pytest.mark.dates
Key = dict[str, str]


@pytest.fixture
def settings(database: str) -> Settings:
    return settings_for(database, FakeClock())


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(settings)) as c:
        yield c


class Person:
    def __init__(self, settings: Settings, api: TestClient[Any], name: str) -> None:
        self.key = signup(api, name)
        self.name = name
        self.client = TestClient(create_app(settings))
        self.client.__enter__()
        log_in(self.client, self.key)

    def token(self, path: str) -> str:
        return csrf(self.client.get(path).text)

    def post(self, path: str, form: dict[str, str], page: str) -> Any:
        return self.client.post(path, data={**form, "_csrf_token": self.token(page)})


@pytest.fixture
def people(settings: Settings, api: TestClient[Any]) -> Iterator[dict[str, Person]]:
    found = {n: Person(settings, api, n) for n in ("olga", "adam", "mona", "otto")}
    yield found
    for p in found.values():
        p.client.__exit__(None, None, None)


COST = {
    "kind": "cost",
    "period": "day",
    "amount_usd": "50",
    "thresholds": "50, 80, 100",
    "channel_type": "webhook",
    "format": "json",
    "secret": "hush-hush",
}


def budget_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-budget="(\d+)"', html)]


def test_settings_add_shows_where_it_stands_test_and_delete(
    people: dict[str, Person],
    api: TestClient[Any],
    receiver: Receiver,  # noqa: F811
) -> None:
    olga = people["olga"]
    spend(api, olga.key, "b1", 30.0)
    r = olga.post("/settings/budgets", {**COST, "url": receiver.url}, "/settings")
    assert r.status_code == 200, r.text
    assert "Budget added." in r.text and "daily cost, $50.00" in r.text
    assert "$30.00 · 60 %" in r.text  # 30 of 50 dollars today
    assert "hush-hush" not in r.text and "json webhook to " + receiver.url in r.text
    [bid] = budget_ids(r.text)
    listed = api.get("/api/budgets", headers=olga.key).json()["budgets"]
    assert [(b["id"], b["thresholds"], b["amountUsd"]) for b in listed] == [
        (bid, [50, 80, 100], 50.0)
    ]
    tested = olga.post(f"/settings/budgets/{bid}/test", {}, "/settings")
    assert tested.status_code == 200 and "Test sent." in tested.text
    assert len(receiver.got) == 1 and receiver.bodies()[0]["test"] is True
    assert 'data-status="ok"' in tested.text  # the delivery log
    # nobody else's: another user cannot test or delete it
    otto = people["otto"]
    assert otto.post(f"/settings/budgets/{bid}/test", {}, "/settings").status_code == 404
    assert (
        otto.post(f"/settings/budgets/{bid}/delete", {"confirm": "1"}, "/settings").status_code
        == 404
    )
    # deleting asks for the ticked confirmation
    unsure = olga.post(f"/settings/budgets/{bid}/delete", {}, "/settings")
    assert unsure.status_code == 400 and "Tick the box" in unsure.text
    assert budget_ids(unsure.text) == [bid]
    gone = olga.post(f"/settings/budgets/{bid}/delete", {"confirm": "1"}, "/settings")
    assert gone.status_code == 200 and budget_ids(gone.text) == []
    assert api.get("/api/budgets", headers=olga.key).json()["budgets"] == []


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"amount_usd": "-5"}, "amount_usd", "amountUsd"),
        ({"amount_usd": "lots"}, "amount_usd", "amountUsd"),
        ({"thresholds": "80, eighty"}, "thresholds", "whole percents"),
        ({"thresholds": "80, 80"}, "thresholds", "each percent once"),
        ({"url": "ftp://example.com/x"}, "url", "channel.url"),
        ({"channel_type": "email", "to": "not-an-address"}, "to", "to"),
    ],
)
def test_a_bad_value_shows_its_fields_error_and_stores_nothing(
    people: dict[str, Person],
    api: TestClient[Any],
    change: dict[str, str],
    field: str,
    words: str,
) -> None:
    olga = people["olga"]
    form = {**COST, "url": "http://127.0.0.1:9/<b>hook</b>", **change}
    r = olga.post("/settings/budgets", form, "/settings")
    assert r.status_code == 400, r.text
    found = re.search(r'role="alert" data-field="([^"]*)">([^<]*)<', r.text)
    assert found and found.group(1) == field and words in found.group(2), r.text[:3000]
    assert "<b>hook</b>" not in r.text  # the form comes back, escaped
    assert api.get("/api/budgets", headers=olga.key).json()["budgets"] == []


def team_of(api: TestClient[Any], people: dict[str, Person]) -> tuple[int, str]:
    """Olga's team <Ops>: adam its admin, mona a member; otto outside."""
    olga, adam, mona = people["olga"].key, people["adam"].key, people["mona"].key
    team = api.post("/api/teams", headers=olga, json={"name": "Ops <&>"}).json()
    invite = api.post(f"/api/teams/{team['id']}/invites", headers=olga, json={"maxUses": 5})
    code = invite.json()["code"]
    for key in (adam, mona):
        assert api.post(f"/api/teams/join/{code}", headers=key).status_code in (200, 201)
    members = api.get(f"/api/teams/{team['id']}/members", headers=olga).json()["members"]
    adam_id = next(m["userId"] for m in members if m["username"] == "adam")
    r = api.put(
        f"/api/teams/{team['id']}/members/{adam_id}/promote",
        headers=olga,
        json={"role": "admin"},
    )
    assert r.status_code == 200, r.text
    return team["id"], team["slug"]


def test_team_budgets_owner_and_admin_manage_member_reads_outsider_404(
    people: dict[str, Person],
    api: TestClient[Any],
    receiver: Receiver,  # noqa: F811
) -> None:
    team_id, slug = team_of(api, people)
    page = f"/teams/{slug}"
    for who in ("olga", "adam"):
        r = people[who].post(f"{page}/budgets", {**COST, "url": receiver.url}, page)
        assert r.status_code == 200 and "Budget added." in r.text, r.text
        assert receiver.url in r.text and 'id="budget-form"' in r.text
    ids = budget_ids(people["olga"].client.get(page).text)
    assert len(ids) == 2
    stored = api.get(f"/api/teams/{team_id}/budgets", headers=people["olga"].key).json()
    assert [b["id"] for b in stored["budgets"]] == ids
    # a member sees the list, without the URL and without any form
    mona = people["mona"]
    seen = mona.client.get(page)
    assert budget_ids(seen.text) == ids and receiver.url not in seen.text
    assert 'id="budget-form"' not in seen.text and "/test" not in seen.text
    assert mona.post(f"{page}/budgets", {**COST, "url": receiver.url}, page).status_code == 403
    assert mona.post(f"{page}/budgets/{ids[0]}/test", {}, page).status_code == 403
    assert mona.post(f"{page}/budgets/{ids[0]}/delete", {"confirm": "1"}, page).status_code == 403
    # an outsider: as if there were no team
    otto = people["otto"]
    token = otto.token("/settings")
    for tail in ("", f"/{ids[0]}/test", f"/{ids[0]}/delete"):
        r = otto.client.post(
            f"{page}/budgets{tail}", data={**COST, "confirm": "1", "_csrf_token": token}
        )
        assert r.status_code == 404, (tail, r.status_code)
    # a personal budget is not the team's
    own = people["adam"].post("/settings/budgets", {**COST, "url": receiver.url}, "/settings")
    [own_id] = budget_ids(own.text)
    assert (
        people["adam"].post(f"{page}/budgets/{own_id}/delete", {"confirm": "1"}, page).status_code
        == 404
    )
    # the admin tests, the owner deletes
    tested = people["adam"].post(f"{page}/budgets/{ids[0]}/test", {}, page)
    assert "Test sent." in tested.text and len(receiver.got) == 1
    assert 'data-status="ok"' in mona.client.get(page).text  # the log, read-only
    gone = people["olga"].post(f"{page}/budgets/{ids[0]}/delete", {"confirm": "1"}, page)
    assert budget_ids(gone.text) == ids[1:]
    # without CSRF nothing is done
    r = people["olga"].client.post(f"{page}/budgets/{ids[1]}/delete", data={"confirm": "1"})
    assert r.status_code == 403
    assert budget_ids(people["olga"].client.get(page).text) == ids[1:]


# --- digests -------------------------------------------------------------------------------------


HOOK = "http://127.0.0.1:9/digest-hook"


def digest_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-digest="(\d+)"', html)]


def test_settings_digests_add_list_and_delete(
    people: dict[str, Person], api: TestClient[Any]
) -> None:
    olga = people["olga"]
    form = {"period": "daily", "channel_type": "webhook", "url": HOOK, "format": "json"}
    r = olga.post("/settings/digests", form, "/settings")
    assert r.status_code == 200 and "Digest added." in r.text, r.text
    [did] = digest_ids(r.text)
    assert f"json webhook to {HOOK}" in r.text
    listed = api.get("/api/digests", headers=olga.key).json()["digests"]
    assert [(d["id"], d["period"], d["channel"]["url"]) for d in listed] == [(did, "daily", HOOK)]
    # a bad value: the API's words by the field, the form kept (escaped), nothing stored
    bad = olga.post(
        "/settings/digests",
        {"period": "weekly", "channel_type": "webhook", "url": "ftp://x/<b>hook</b>"},
        "/settings",
    )
    assert bad.status_code == 400
    found = re.search(r'role="alert" data-field="([^"]*)">([^<]*)<', bad.text)
    assert found and found.group(1) == "url" and "channel.url" in found.group(2), bad.text[:2000]
    assert "<b>hook</b>" not in bad.text
    hourly = olga.post("/settings/digests", {**form, "period": "hourly"}, "/settings")
    assert hourly.status_code == 400 and 'data-field="period"' in hourly.text
    assert len(api.get("/api/digests", headers=olga.key).json()["digests"]) == 1
    # someone else's digest: as if there were none
    otto = people["otto"]
    assert (
        otto.post(f"/settings/digests/{did}/delete", {"confirm": "1"}, "/settings").status_code
        == 404
    )
    unsure = olga.post(f"/settings/digests/{did}/delete", {}, "/settings")
    assert unsure.status_code == 400 and "Tick the box" in unsure.text
    gone = olga.post(f"/settings/digests/{did}/delete", {"confirm": "1"}, "/settings")
    assert gone.status_code == 200 and "Digest deleted." in gone.text
    assert digest_ids(gone.text) == []
    assert api.get("/api/digests", headers=olga.key).json()["digests"] == []
    # without CSRF nothing is done
    assert olga.client.post("/settings/digests", data=form).status_code == 403


def test_team_digests_owner_and_admin_manage_member_reads_outsider_404(
    people: dict[str, Person], api: TestClient[Any]
) -> None:
    team_id, slug = team_of(api, people)
    page = f"/teams/{slug}"
    form = {"period": "weekly", "channel_type": "webhook", "url": HOOK, "format": "slack"}
    for who in ("olga", "adam"):
        r = people[who].post(f"{page}/digests", form, page)
        assert r.status_code == 200 and "Digest added." in r.text, r.text
        assert 'id="digest-form"' in r.text
    ids = digest_ids(people["olga"].client.get(page).text)
    assert len(ids) == 2
    stored = api.get("/api/digests", headers=people["olga"].key).json()["digests"]
    assert sorted(d["id"] for d in stored if d["teamId"] == team_id) == ids
    mona = people["mona"]
    seen = mona.client.get(page).text
    assert digest_ids(seen) == ids and HOOK not in seen
    assert 'id="digest-form"' not in seen
    assert mona.post(f"{page}/digests", form, page).status_code == 403
    assert mona.post(f"{page}/digests/{ids[0]}/delete", {"confirm": "1"}, page).status_code == 403
    otto = people["otto"]
    token = otto.token("/settings")
    for tail in ("", f"/{ids[0]}/delete"):
        r = otto.client.post(
            f"{page}/digests{tail}", data={**form, "confirm": "1", "_csrf_token": token}
        )
        assert r.status_code == 404, (tail, r.status_code)
    # a team's digest is not deleted from Settings, nor a personal one from the team page
    assert (
        people["olga"]
        .post(f"/settings/digests/{ids[0]}/delete", {"confirm": "1"}, "/settings")
        .status_code
        == 404
    )
    own = people["adam"].post("/settings/digests", form, "/settings")
    [own_id] = digest_ids(own.text)
    assert (
        people["adam"].post(f"{page}/digests/{own_id}/delete", {"confirm": "1"}, page).status_code
        == 404
    )
    gone = people["adam"].post(f"{page}/digests/{ids[0]}/delete", {"confirm": "1"}, page)
    assert gone.status_code == 200 and digest_ids(gone.text) == ids[1:]
