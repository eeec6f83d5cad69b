"""Hostile input against the server, on SQLite and on PostgreSQL: no request gets a 5xx, every
answer matches the OpenAPI schema, and nothing from a refused request is stored.

The bounds the server enforces are the constants below: a value beyond them is refused with a
4xx that names the field, and one within them is stored, summed and shown without overflow.

- **Fuzzing** (``test_fuzz``): schemathesis reads ``/schema/openapi.json`` from the app and
  generates, for every operation, schema-valid requests and schema-breaking ones; they are sent
  with a real API key, in-process, through Litestar's ``TestClient`` (as in every other API
  test, the app's lifespan and its database engine end with the test; schemathesis's own ASGI
  transport would keep each app started until the interpreter exits), and each answer goes
  through schemathesis's checks (``CHECKS``). The run is bounded and the same on every run:
  ``EXAMPLES`` requests per operation and generation mode, made once with a fixed ``SEED`` and
  sent to both databases, a ``DEADLINE`` per request, no shrinking. It lists every distinct
  failure it met, with the server's exception and line for a 5xx, instead of stopping at the
  first.
- **Hand-made cases** that random generation rarely hits: numbers just past the bounds and far
  past them, NaN and Infinity, days at the ends of the calendar, strings of the wrong type, NUL
  bytes in every stored string, a model twice in one row, absurd query parameters (also on the
  dashboard's pages, which are not in the schema); the values at the bounds; and the largest
  usage the bounds allow, summed over days, machines and users, on the API's reports and the
  dashboard's pages.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from litestar.testing import TestClient
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.errors import FailureGroup

from promptpulse_server.app import create_app
from promptpulse_server.settings import Settings
from test_dashboard import log_in
from testclock import NOW, TODAY, FakeClock

# --- the bounds the server enforces ---------------------------------------------------------------

MAX_TOKENS = 10**12  # per token count (input, output, cache write, cache read) in one row
MAX_ENTRIES = 10**7  # a block's responses (schemas.MAX_ENTRIES)
MAX_COST = 1e9  # USD, per row (a model's cost in a day or session, a block's cost)
FIRST_DAY = dt.date(2000, 1, 1)  # days and instants are within these, inclusive
LAST_DAY = dt.date(2100, 12, 31)
NUL = "\u0000"  # no stored string contains it

# --- how hard the fuzzer pushes -------------------------------------------------------------------

EXAMPLES = 15  # generated requests per operation and generation mode
DEADLINE = dt.timedelta(seconds=5)  # for one request; a slower one is a failure too
SEED = 20260916  # the same requests on every run (and no example database: nothing carries over)

# Every operation in the schema, each fuzzed, in this order: the uploads first, so that the
# reports after them sum what they stored. test_every_operation_is_fuzzed fails when the schema
# gains an operation that is not here.
OPERATIONS = [
    "GET /health",
    "POST /api/users",
    "GET /api/users",
    "POST /api/v1/uploads",
    "POST /claude-code-stats",
    "GET /api/usage/aggregate",
    "GET /api/machines",
    "GET /api/usage/sessions",
    "GET /api/usage/blocks",
    "GET /api/usage/analytics/patterns",
    "GET /api/usage/analytics/costs",
    "GET /api/usage/limits",
    "GET /api/usage/limits/current",
    "GET /api/leaderboard/{period}",
    "GET /api/users/me",
    "PATCH /api/users/me",
    "GET /api/keys",
    "POST /api/keys",
    "POST /api/login-links",
    "GET /api/signup",
    "POST /api/teams",
    "GET /api/teams",
    "GET /api/teams/{team_id}",
    "PUT /api/teams/{team_id}",
    "GET /api/teams/{team_id}/members",
    "PUT /api/teams/{team_id}/members/{user_id}/promote",
    "GET /api/teams/{team_id}/leaderboard/{period}",
    "POST /api/teams/{team_id}/invites",
    "GET /api/teams/{team_id}/invites",
    "GET /api/teams/join/{code}/preview",
    "POST /api/teams/join/{code}",
    "DELETE /api/teams/{team_id}/invites/{code}",
    "DELETE /api/teams/{team_id}/members/{user_id}",
    "DELETE /api/teams/{team_id}/members/me",
    "DELETE /api/teams/{team_id}",
    "GET /api/admin/users",
    "GET /api/admin/settings",
    "POST /api/admin/invites",
    "GET /api/admin/invites",
    "DELETE /api/admin/invites/{code}",
    "POST /api/admin/users/{user_id}/{action}",
    "DELETE /api/admin/users/{user_id}",
    "GET /api/audit",
    "DELETE /api/keys/{key_id}",
    "DELETE /api/users/me",
    "GET /api/budgets",
    "POST /api/budgets",
    "PUT /api/budgets/{budget_id}",
    "POST /api/budgets/{budget_id}/test",
    "DELETE /api/budgets/{budget_id}",
    "GET /api/alerts",
    "GET /api/digests",
    "POST /api/digests",
    "DELETE /api/digests/{digest_id}",
    "GET /api/teams/{team_id}/budgets",
    "POST /api/teams/{team_id}/budgets",
]
# These take away the caller's access (deleting the account, revoking a key, perhaps its own):
# each of their requests is sent by a user of its own, so every request is made with a live key.
OWN_USER_PER_REQUEST = {"DELETE /api/users/me", "DELETE /api/keys/{key_id}"}

# what every answer is held to; positive_data_acceptance is left out: a schema-valid request may
# well be refused (a taken username, a key that is not there)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
]

ROOT = Path(__file__).resolve().parent.parent


def make_settings(database: str) -> Settings:
    return Settings(
        database_url=database,
        signup_per_minute=1_000_000,  # the fuzzer signs up far more often than a person
        uploads_per_minute=1_000_000,
        logins_per_minute=1_000_000,
        signup_mode="open",  # the fuzzer signs up fresh users for destructive calls
        secret_key="hostile-test-secret",
        clock=FakeClock(),
    )


@pytest.fixture
def client(database: str) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(make_settings(database))) as c:
        yield c


def signup(client: TestClient[Any], name: str) -> dict[str, str]:
    r = client.post("/api/users", json={"username": name})
    assert r.status_code == 201, r.text
    return {"X-API-Key": r.json()["apiKey"]}


def breakdown(model: str, tokens: Any = 10, cost: Any = 1.5) -> dict[str, Any]:
    return {
        "modelName": model,
        "inputTokens": tokens,
        "outputTokens": tokens,
        "cacheCreationTokens": tokens,
        "cacheReadTokens": tokens,
        "cost": cost,
    }


def block(start: str, tokens: Any = 10, cost: Any = 1.5) -> dict[str, Any]:
    begin = dt.datetime.fromisoformat(start)
    return {
        "startTime": start,
        "endTime": (begin + dt.timedelta(hours=5)).isoformat().replace("+00:00", "Z"),
        "actualEndTime": (begin + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "entries": 3,
        "costUSD": cost,
        "models": ["claude-opus-4-6"],
        "tokenCounts": {
            "inputTokens": tokens,
            "outputTokens": tokens,
            "cacheCreationInputTokens": tokens,
            "cacheReadInputTokens": tokens,
        },
    }


# --- fuzzing --------------------------------------------------------------------------------------


class ServerErrors(logging.Handler):
    """Keeps the exceptions the app logs, so that a 5xx can be told apart by its cause."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.caught: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.caught.append(record.exc_info[1])

    def cause(self) -> str:
        """The last exception the app logged, and the line of the server's code it came through."""
        if not self.caught:
            return "(nothing logged)"
        exc = self.caught[-1]
        ours = [
            f"{Path(f.filename).relative_to(ROOT)}:{f.lineno}"
            for f in traceback.extract_tb(exc.__traceback__)
            if f.filename.startswith(str(ROOT / "src"))
        ]
        message = str(exc).splitlines()[0][:200] if str(exc) else ""
        return f"{type(exc).__name__}: {message} at {ours[-1] if ours else '?'}"


@pytest.fixture
def server_errors(client: TestClient[Any], monkeypatch: pytest.MonkeyPatch) -> ServerErrors:
    """The app's log, kept here instead of printed: the app logs every exception with its
    traceback, 4xx included, and formatting a fuzz run's thousand tracebacks takes seconds."""
    handler = ServerErrors()
    monkeypatch.setattr(logging.getLogger("litestar"), "handlers", [handler])
    return handler


# schemathesis as configured here: NUL bytes in strings, and nothing hidden in the report (it
# would show a field named like "...Tokens" as [Filtered])
CONFIG = {"generation": {"allow-x00": True}, "output": {"sanitization": {"enabled": False}}}


@cache
def parsed_schema(text: str) -> BaseSchema:
    return schemathesis.openapi.from_dict(
        json.loads(text), config=schemathesis.Config.from_dict(CONFIG)
    )


Operation = APIOperation[Any, Any, Any, Any]


def operation(schema: BaseSchema, label: str) -> Operation:
    method, path = label.split(" ", 1)
    op: Operation = schema[path][method]
    return op


def test_every_operation_is_fuzzed(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite3'}"))) as client:
        paths = client.get("/schema/openapi.json").json()["paths"]
    labels = [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]
    assert sorted(labels) == sorted(OPERATIONS)


def has_input(op: Operation) -> bool:
    """Whether there is anything to break: an operation without parameters or body has no
    schema-breaking requests."""
    return bool(list(op.iter_parameters()) or list(op.body))


@cache
def generated(schema_text: str, label: str) -> list[Case[Any]]:
    """The requests for one operation: ``EXAMPLES`` schema-valid ones, then as many
    schema-breaking ones. Made once and sent to each database (generation is most of the time)."""
    op = operation(parsed_schema(schema_text), label)
    cases: list[Case[Any]] = []
    modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if has_input(op) else [])
    for mode in modes:
        # valid uploads of a ccusage report name the key's own user (any other name gets a 403)
        own = {"username": FUZZER} if label == "POST /claude-code-stats" else None
        strategy = op.as_strategy(mode, query=own if mode is GenerationMode.POSITIVE else None)

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES,
            database=None,
            deadline=None,  # generation only: DEADLINE applies to each request, when it is sent
            phases=[Phase.explicit, Phase.generate],  # every failure is kept as met, not shrunk
            # large request bodies are what this is for
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(case=strategy)
        def collect(case: Case[Any]) -> None:
            cases.append(case)

        collect()
    return cases


@dataclass
class Finding:
    """One distinct failure, and the first request that showed it."""

    checks: list[str]
    status: int
    cause: str
    mode: str
    request: str
    seen: int = 0


Signature = tuple[str, str, str]  # operation, status, cause or check


@dataclass
class Fuzz:
    """The fuzzing on one database: the client, the fuzzer's key, what went wrong so far."""

    client: TestClient[Any]
    errors: ServerErrors
    key: dict[str, str]
    found: dict[Signature, Finding] = field(default_factory=dict)
    users: int = 0

    def fresh_key(self) -> dict[str, str]:
        self.users += 1
        return signup(self.client, f"fuzz-own-{self.users}")

    def send(self, case: Case[Any], key: dict[str, str]) -> None:
        sent = case.as_transport_kwargs(headers=key)
        body: dict[str, Any] = {}
        if "json" in sent:
            body["json"] = sent["json"]
        elif isinstance(sent.get("data"), bytes | str):
            body["content"] = sent["data"]
        elif sent.get("data") is not None:
            body["data"] = sent["data"]
        self.errors.caught.clear()
        started = time.perf_counter()
        response = self.client.request(
            sent["method"],
            sent["url"],
            params=sent.get("params"),
            headers=sent["headers"],
            cookies=sent.get("cookies") or None,
            **body,
        )
        took = dt.timedelta(seconds=time.perf_counter() - started)
        failures: list[tuple[str, str]] = []
        if took > DEADLINE:
            failures.append((f"slower than {DEADLINE.total_seconds()} s", f"took {took}"))
        try:
            case.validate_response(response, checks=CHECKS, headers=key)
        except FailureGroup as group:
            failures += [(f"{f.code} {f.title}", _first_lines(f.message)) for f in group.exceptions]
        if not failures:
            return
        status = response.status_code
        label = case.operation.label
        if status >= 500:  # one finding per cause, with every check it failed
            groups = {(label, str(status), self.errors.cause()): failures}
        else:
            groups = {(label, str(status), title): [(title, detail)] for title, detail in failures}
        for signature, these in groups.items():
            finding = self.found.get(signature)
            if finding is None:
                request = case.as_curl_command(headers={"X-API-Key": "$KEY"})
                finding = self.found[signature] = Finding(
                    checks=[title for title, _ in these],
                    status=status,
                    cause=signature[2] if status >= 500 else these[0][1],
                    mode=case.meta.generation.mode.value if case.meta else "?",
                    request=request if len(request) < 1200 else request[:1200] + " …",
                )
            finding.seen += 1


def _first_lines(text: str, n: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[:n] if line.strip())


def report(found: dict[Signature, Finding]) -> str:
    lines = [f"{len(found)} distinct failure(s)"]
    for (label, _, _), f in found.items():
        lines += [
            f"- {label} [{f.status}] {'; '.join(f.checks)} ({f.mode}, {f.seen}x): {f.cause}",
            f"    {f.request}",
        ]
    return "\n".join(lines)


FUZZER = "fuzzer"


def seed_usage(client: TestClient[Any], key: dict[str, str]) -> None:
    """Some usage of the fuzzer's own, so that the reports have rows to sum."""
    models = [breakdown("claude-opus-4-6")]
    batch = {
        "batchId": "seed",
        "generatedAt": "2026-09-16T12:00:00Z",
        "machine": {"id": "seed-machine", "hostname": "seed.local"},
        "daily": [{"date": f"2026-09-{d:02d}", "modelBreakdowns": models} for d in (14, 15, 16)],
        "sessions": [
            {
                "sessionId": "s1",
                "projectPath": "api",
                "firstActivity": "2026-09-16T10:00:00Z",
                "lastActivity": "2026-09-16T11:00:00Z",
                "modelBreakdowns": models,
            }
        ],
        "blocks": [block("2026-09-16T10:00:00Z")],
        "plan": {"name": "max5", "monthlyUsd": 100.0},
        "limits": [
            {
                "recordedAt": "2026-09-16T12:00:00Z",
                "fiveHour": {"usedPercentage": 42.0, "resetsAt": "2026-09-16T15:00:00Z"},
                "sevenDay": {"usedPercentage": 12.5, "resetsAt": "2026-09-20T00:00:00Z"},
                "sessionId": "s1",
                "model": "claude-opus-4-6",
            }
        ],
    }
    assert client.post("/api/v1/uploads", json=batch, headers=key).status_code == 201
    r = client.patch("/api/users/me", json={"leaderboardOptIn": True}, headers=key)
    assert r.status_code == 200


def test_fuzz(client: TestClient[Any], server_errors: ServerErrors) -> None:
    """Every generated request to every operation answered without a 5xx, as the schema says.
    The operations share the database, in the order of OPERATIONS: what the uploads stored is
    in the reports that come after."""
    key = signup(client, FUZZER)
    seed_usage(client, key)
    fuzz = Fuzz(client, server_errors, key)
    text = client.get("/schema/openapi.json").text
    for label in OPERATIONS:
        for case in generated(text, label):
            fuzz.send(case, fuzz.fresh_key() if label in OWN_USER_PER_REQUEST else key)
    if fuzz.found:
        pytest.fail(report(fuzz.found), pytrace=False)


# --- hand-made cases ------------------------------------------------------------------------------


def upload_body(**change: Any) -> dict[str, Any]:
    """A valid batch of one day, one session and one block; ``change`` replaces top-level keys."""
    body = {
        "batchId": "hostile-1",
        "generatedAt": "2026-09-16T12:00:00Z",
        "machine": {"id": "hostile-machine", "hostname": "hostile.local"},
        "daily": [{"date": "2026-09-15", "modelBreakdowns": [breakdown("claude-opus-4-6")]}],
        "sessions": [
            {
                "sessionId": "s1",
                "projectPath": "api",
                "firstActivity": "2026-09-15T10:00:00Z",
                "lastActivity": "2026-09-15T11:00:00Z",
                "modelBreakdowns": [breakdown("claude-opus-4-6")],
            }
        ],
        "blocks": [block("2026-09-15T10:00:00Z")],
    }
    body.update(change)
    return body


USAGE = ["/api/usage/aggregate", "/api/machines", "/api/usage/sessions", "/api/usage/blocks"]
ACCOUNTS = ["/api/users", "/api/users/me", "/api/keys"]


def snapshot(client: TestClient[Any], key: dict[str, str], paths: list[str]) -> dict[str, Any]:
    """What the server has stored that the key's user can see there."""
    out = {}
    for path in paths:
        r = client.get(path, headers=key)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
        out[path] = r.json()
    return out


def assert_refused(r: Any, errors: ServerErrors, *fields: str) -> None:
    """A 4xx whose answer names the field (one of ``fields``, where several are at fault)."""
    assert r.status_code < 500, f"{r.status_code}: {errors.cause()}"
    assert r.status_code >= 400, f"accepted ({r.status_code}): {r.text[:300]}"
    assert any(f in named(r) for f in fields), f"the answer names none of {fields}: {r.text[:300]}"


def named(r: Any) -> str:
    """The answer's text, plus each field it names as ``key.field``: a check made on a whole
    row names the row as the key and the field at the start of its message
    (``{"key": "daily[0]", "message": "date: …"}`` names ``daily[0].date``)."""
    names = [r.text]
    try:
        extra = r.json().get("extra") or []
    except ValueError:
        extra = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict) and ":" in str(item.get("message", "")):
            field = str(item["message"]).split(":", 1)[0]
            names.append(f"{item.get('key')}.{field}" if item.get("key") else field)
    return " ".join(names)


def assert_ok(r: Any, errors: ServerErrors) -> None:
    assert r.status_code < 500, f"{r.status_code}: {errors.cause()}"
    assert r.status_code == 200, f"{r.status_code}: {r.text[:300]}"


Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    """An edit of the batch that sets the value at a path like ``daily.0.date``."""

    def edit(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return edit


def _field(path: str) -> str:
    """A path as the answer names it: ``daily.0.cost`` is ``daily[0].cost``."""
    return re.sub(r"\.(\d+)", r"[\1]", path)


TOKEN_FIELDS = [
    "daily.0.modelBreakdowns.0.inputTokens",
    "sessions.0.modelBreakdowns.0.cacheReadTokens",
    "blocks.0.tokenCounts.outputTokens",
    "blocks.0.entries",
]
BAD_COUNTS = [2**63, 2**62, MAX_TOKENS + 1, -1, 1.5]
COST_FIELDS = [
    "daily.0.modelBreakdowns.0.cost",
    "sessions.0.modelBreakdowns.0.cost",
    "blocks.0.costUSD",
]
BAD_COSTS = [1e308, MAX_COST * 2, -1.0]
BAD_DAYS = [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1999, 12, 31), dt.date(2101, 1, 1)]


def _instant(day: dt.date) -> str:
    return f"{day.isoformat()}T{'23:59:59' if day > LAST_DAY else '00:00:00'}Z"


def _date_edits(day: dt.date) -> list[tuple[str, Edit]]:
    """Each place a day or an instant goes in a batch, set to ``day``; a block's end only
    after the last day (before the first, it is also before the block's start)."""
    at = _instant(day)

    def block_at(body: dict[str, Any]) -> None:
        body["blocks"][0].update(startTime=at, endTime=at, actualEndTime=at)

    def session_at(body: dict[str, Any]) -> None:
        body["sessions"][0].update(firstActivity=at, lastActivity=at)

    edits = [
        ("daily[0].date", _set("daily.0.date", day.isoformat())),
        ("sessions[0].firstActivity", session_at),
        ("sessions[0].lastActivity", _set("sessions.0.lastActivity", at)),
        ("blocks[0].startTime", block_at),
        ("generatedAt", _set("generatedAt", at)),
    ]
    if day > LAST_DAY:
        edits += [
            ("blocks[0].endTime", _set("blocks.0.endTime", at)),
            ("blocks[0].actualEndTime", _set("blocks.0.actualEndTime", at)),
        ]
    return edits


def upload_cases() -> Iterator[tuple[str, Edit, tuple[str, ...]]]:
    """(what, how the valid batch is broken, the fields the answer may name)."""
    for where in TOKEN_FIELDS:
        for count in BAD_COUNTS:
            yield f"{where} = {count}", _set(where, count), (_field(where),)
    for where in COST_FIELDS:
        for cost in BAD_COSTS:
            yield f"{where} = {cost}", _set(where, cost), (_field(where),)
    for day in BAD_DAYS:
        for name, edit in _date_edits(day):
            yield f"{name} = {day}", edit, (name,)
    for where in [
        "daily.0.modelBreakdowns.0.modelName",
        "sessions.0.projectPath",
        "sessions.0.sessionId",
        "sessions.0.modelBreakdowns.0.modelName",
        "blocks.0.models.0",
        "machine.hostname",
        "machine.id",
        "batchId",
    ]:
        yield f"NUL in {where}", _set(where, f"a{NUL}b"), (_field(where),)
    twice = [breakdown("claude-opus-4-6"), breakdown("claude-opus-4-6", tokens=20)]
    yield (
        "a model twice in a day",
        _set("daily.0.modelBreakdowns", twice),
        ("daily[0].modelBreakdowns",),
    )
    yield (
        "a model twice in a session",
        _set("sessions.0.modelBreakdowns", twice),
        ("sessions[0].modelBreakdowns",),
    )
    # JSON of the wrong type, which a lenient decoder would turn into a number or a flag
    for where, value in [
        ("daily.0.modelBreakdowns.0.cost", "inf"),
        ("blocks.0.costUSD", "NaN"),
        ("daily.0.modelBreakdowns.0.inputTokens", "10"),
        ("blocks.0.isGap", 0),
    ]:
        yield f"{where} = {value!r}", _set(where, value), (_field(where),)
    # a day's totals without a breakdown (older ccusage) are stored as the model "unknown"
    totals = {"date": "2026-09-15", "inputTokens": 2**63, "totalTokens": 2**63}
    yield "a day's totals past the bound", _set("daily.0", totals), ("daily[0].inputTokens",)


def test_out_of_bounds_uploads_are_refused(
    client: TestClient[Any], subtests: pytest.Subtests, server_errors: ServerErrors
) -> None:
    """Each batch with one value out of bounds: a 400 naming it, and nothing stored. Each is
    sent by a user of its own, so that one stored by mistake cannot spoil the next."""
    nothing = snapshot(client, signup(client, "nobody"), USAGE)
    for n, (what, edit, fields) in enumerate(upload_cases()):
        with subtests.test(what):
            key = signup(client, f"user-{n}")
            body = upload_body()
            edit(body)
            r = client.post("/api/v1/uploads", json=body, headers=key)
            assert_refused(r, server_errors, *fields)
            assert snapshot(client, key, USAGE) == nothing, "something of it was stored"


def test_negative_zero_cost_is_zero(client: TestClient[Any]) -> None:
    """-0.0 is not below zero: stored, and summed as 0."""
    key = signup(client, "alice")
    body = upload_body(daily=[{"date": "2026-09-15", "modelBreakdowns": [breakdown("m", 1, -0.0)]}])
    r = client.post("/api/v1/uploads", json=body, headers=key)
    assert r.status_code == 201, r.text
    assert client.get("/api/usage/aggregate", headers=key).json()["totals"]["totalCost"] == 0


def test_costs_that_are_not_numbers_are_refused(
    client: TestClient[Any], subtests: pytest.Subtests, server_errors: ServerErrors
) -> None:
    """JSON has no NaN or Infinity (RFC 8259), and 1e999 is no float: the body is refused whole.
    A strict parser stops at the literal before it knows the field, so the answer need only be
    a 400 (this one case does not ask for the field's name)."""
    key = signup(client, "alice")
    before = snapshot(client, key, USAGE)
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        with subtests.test(literal):
            raw = json.dumps(upload_body()).replace('"cost": 1.5', f'"cost": {literal}', 1)
            assert literal in raw
            r = client.post(
                "/api/v1/uploads",
                content=raw.encode(),
                headers={**key, "Content-Type": "application/json"},
            )
            assert r.status_code < 500, f"{r.status_code}: {server_errors.cause()}"
            assert r.status_code == 400, r.text
    assert snapshot(client, key, USAGE) == before


def test_nul_bytes_in_accounts_and_keys_are_refused(
    client: TestClient[Any], subtests: pytest.Subtests, server_errors: ServerErrors
) -> None:
    """A NUL in a name, label or zone: a 400 naming the field, and the account unchanged."""
    cases: list[tuple[str, str, str, dict[str, Any], str]] = [
        ("username", "POST", "/api/users", {"username": f"bo{NUL}b"}, "username"),
        (
            "displayName at sign-up",
            "POST",
            "/api/users",
            {"username": "bob", "displayName": f"B{NUL}b"},
            "displayName",
        ),
        ("displayName", "PATCH", "/api/users/me", {"displayName": f"A{NUL}ice"}, "displayName"),
        ("timezone", "PATCH", "/api/users/me", {"timezone": f"UTC{NUL}"}, "timezone"),
        ("key label", "POST", "/api/keys", {"label": f"lap{NUL}top"}, "label"),
    ]
    for n, (what, method, path, body, name) in enumerate(cases):
        with subtests.test(what):
            key = signup(client, f"user-{n}")
            before = snapshot(client, key, ACCOUNTS)
            r = client.request(method, path, json=body, headers=key)
            assert_refused(r, server_errors, name)
            assert snapshot(client, key, ACCOUNTS) == before


def test_nul_bytes_in_query_parameters_are_refused(
    client: TestClient[Any], subtests: pytest.Subtests, server_errors: ServerErrors
) -> None:
    """A NUL in a filter or a machine name in the query: a 400 naming the parameter."""
    key = signup(client, "alice")
    assert client.post("/api/v1/uploads", json=upload_body(), headers=key).status_code == 201
    before = snapshot(client, key, USAGE)
    cases = [
        ("POST", "/claude-code-stats", {"username": "alice", "machine": f"m{NUL}"}, "machine"),
        ("GET", "/api/usage/aggregate", {"machine": f"m{NUL}"}, "machine"),
        ("GET", "/api/usage/aggregate", {"model": f"m{NUL}"}, "model"),
        ("GET", "/api/usage/sessions", {"projectPath": f"api{NUL}"}, "projectPath"),
        ("GET", "/api/usage/analytics/patterns", {"timezone": f"UTC{NUL}"}, "timezone"),
    ]
    for method, path, params, name in cases:
        with subtests.test(f"{path}?{name}="):
            body: dict[str, Any] | None = {"daily": []} if method == "POST" else None
            r = client.request(method, path, params=params, json=body, headers=key)
            assert_refused(r, server_errors, name)
    assert snapshot(client, key, USAGE) == before


def test_absurd_query_parameters_are_refused(
    client: TestClient[Any], subtests: pytest.Subtests, server_errors: ServerErrors
) -> None:
    """Days outside the bounds, limits and pages past any use, key ids past any column, a time
    zone longer than a file name: a 4xx naming the parameter, and nothing changed."""
    key = signup(client, "alice")
    assert client.post("/api/v1/uploads", json=upload_body(), headers=key).status_code == 201
    before = snapshot(client, key, USAGE + ACCOUNTS)
    far = {"until": "9999-12-31"}
    wide = {"since": "1000-01-01", "until": "9999-12-31"}
    cases: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
        ("/api/usage/aggregate", far, ("until",)),
        ("/api/usage/aggregate", wide, ("since", "until")),
        ("/api/usage/sessions", far, ("until",)),
        ("/api/usage/sessions", wide, ("since", "until")),
        ("/api/usage/analytics/costs", {**far, "groupBy": "project"}, ("until",)),
        ("/api/usage/analytics/costs", {**wide, "groupBy": "day"}, ("since", "until")),
        ("/api/usage/sessions", {"limit": 10**9}, ("limit",)),
        ("/api/usage/analytics/patterns", {"timezone": "Europe/" + "x" * 300}, ("timezone",)),
    ]
    for path, params, names in cases:
        with subtests.test(f"{path} {params}"):
            r = client.get(path, params=params, headers=key)
            assert_refused(r, server_errors, *names)
    for key_id in (2**31, 2**63, 10**30):
        with subtests.test(f"DELETE /api/keys/{key_id}"):
            r = client.delete(f"/api/keys/{key_id}", headers=key)
            assert_refused(r, server_errors, "key")
    log_in(client, key)
    dashboard = [
        ("/sessions?page=1000000000000", ("page",)),
        (f"/sessions?page={2**63}", ("page",)),
        # 0001-01-01 to 9999-12-31 on this page takes the server minutes today: not here
        ("/?period=custom&since=1999-12-31&until=2101-01-01", ("since", "until")),
        ("/sessions?period=custom&since=1000-01-01&until=9999-12-31", ("since", "until")),
        ("/blocks?period=custom&until=9999-12-31", ("until",)),
    ]
    for path, names in dashboard:
        with subtests.test(path):
            r = client.get(path, headers={"Accept": "text/html"})
            assert_refused(r, server_errors, *names)
    assert snapshot(client, key, USAGE + ACCOUNTS) == before


def test_values_at_the_bounds_are_stored(
    client: TestClient[Any], server_errors: ServerErrors
) -> None:
    """The other side of the bounds: a batch with every value at its bound is stored as sent."""
    key = signup(client, "alice")
    first = f"{FIRST_DAY.isoformat()}T00:00:00Z"
    last = f"{LAST_DAY.isoformat()}T23:59:59Z"
    most = [breakdown("claude-opus-4-6", MAX_TOKENS, MAX_COST)]
    body = upload_body(
        generatedAt=last,
        daily=[{"date": d.isoformat(), "modelBreakdowns": most} for d in (FIRST_DAY, LAST_DAY)],
        sessions=[
            {
                "sessionId": "s1",
                "projectPath": "api",
                "firstActivity": first,
                "lastActivity": last,
                "modelBreakdowns": most,
            }
        ],
        blocks=[
            {
                **block(f"{LAST_DAY.isoformat()}T18:00:00Z", MAX_TOKENS, MAX_COST),
                "entries": MAX_ENTRIES,
            }
        ],
    )
    r = client.post("/api/v1/uploads", json=body, headers=key)
    assert r.status_code == 201, f"{r.status_code}: {server_errors.cause()} {r.text[:300]}"
    report = client.get("/api/usage/aggregate", headers=key).json()
    assert [d["date"] for d in report["daily"]] == [FIRST_DAY.isoformat(), LAST_DAY.isoformat()]
    assert report["totals"]["totalTokens"] == 2 * 4 * MAX_TOKENS
    assert report["totals"]["totalCost"] == 2 * MAX_COST
    (session,) = client.get("/api/usage/sessions", headers=key).json()["sessions"]
    assert (session["firstActivity"], session["lastActivity"]) == (first, last)
    (stored,) = client.get("/api/usage/blocks", headers=key).json()["blocks"]
    assert stored["entries"] == MAX_ENTRIES
    assert stored["totalTokens"] == 4 * MAX_TOKENS


# --- the largest usage the bounds allow, summed ---------------------------------------------------


def _days_at_the_bounds() -> list[dt.date]:
    """The first and last days allowed, and the last five days (today's periods count them)."""
    return [FIRST_DAY, LAST_DAY] + [TODAY - dt.timedelta(days=n) for n in range(5)]


def _largest_batch(machine: str) -> dict[str, Any]:
    models = ["claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5"]
    most = [breakdown(m, MAX_TOKENS, MAX_COST) for m in models]
    last = dt.datetime.combine(LAST_DAY, dt.time(18), dt.UTC)
    starts = [
        dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC),
        last,
        NOW.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1),
    ]
    z = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "batchId": f"largest-{machine}",
        "generatedAt": NOW.strftime(z),
        "machine": {"id": machine, "hostname": f"{machine}.local"},
        "daily": [{"date": d.isoformat(), "modelBreakdowns": most} for d in _days_at_the_bounds()],
        "sessions": [
            {
                "sessionId": f"{machine}-{n}",
                "projectPath": f"project-{n % 2}",
                "firstActivity": start.strftime(z),
                "lastActivity": (start + dt.timedelta(hours=4)).strftime(z),
                "modelBreakdowns": most,
            }
            for n, start in enumerate(starts)
        ],
        "blocks": [block(start.strftime(z), MAX_TOKENS, MAX_COST) for start in starts],
    }


@pytest.mark.dates
def test_the_largest_usage_the_bounds_allow_is_reported(
    client: TestClient[Any], subtests: pytest.Subtests, server_errors: ServerErrors
) -> None:
    """Counts and costs at their bounds on every row, on the first and last days allowed, of
    several machines of several users: every report sums them, and answers 200."""
    keys = {}
    for name, zone in (("alice", "UTC"), ("bob", "Pacific/Kiritimati"), ("carol", "America/Adak")):
        keys[name] = signup(client, name)
        change = {"leaderboardOptIn": True, "timezone": zone}
        assert client.patch("/api/users/me", json=change, headers=keys[name]).status_code == 200
        for machine in ("laptop", "desktop"):
            body = _largest_batch(f"{name}-{machine}")
            r = client.post("/api/v1/uploads", json=body, headers=keys[name])
            assert r.status_code == 201, f"{r.status_code}: {server_errors.cause()} {r.text[:300]}"
    key = keys["alice"]
    totals = client.get("/api/usage/aggregate", headers=key).json()["totals"]
    rows = 2 * len(_days_at_the_bounds()) * 3  # machines x days x models
    assert totals["totalTokens"] == rows * 4 * MAX_TOKENS
    assert totals["totalCost"] == pytest.approx(rows * MAX_COST)
    api = [
        "/api/usage/aggregate",
        "/api/machines",
        "/api/usage/sessions",
        "/api/usage/blocks",
        "/api/usage/analytics/patterns?period=day",
        "/api/usage/analytics/patterns?period=week",
        *(
            f"/api/usage/analytics/costs?groupBy={g}"
            for g in ("project", "model", "machine", "day")
        ),
        *(f"/api/leaderboard/{p}?by={b}" for p in ("today", "all") for b in ("cost", "tokens")),
    ]
    for path in api:
        with subtests.test(path):
            assert_ok(client.get(path, headers=key), server_errors)
    log_in(client, key)
    pages = [
        "/team",
        "/machines?user=all",
        "/leaderboard",
        "/team?period=all",
        "/machines?user=all&period=all",
        "/leaderboard?period=all&by=tokens",
        "/?user=all&period=all",
        "/projects?user=all&period=all",
        "/sessions?user=all&period=all&sort=tokens",
        "/blocks?user=all&period=all",
        "/claude-code-stats?period=month",
    ]
    for path in pages:
        with subtests.test(path):
            assert_ok(client.get(path), server_errors)
