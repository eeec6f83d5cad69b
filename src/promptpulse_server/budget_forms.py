"""Budgets on the dashboard's pages (Settings and a team's page): what the pages show, and the
add form read into the JSON API's own schema (``schemas.BudgetIn``) so that a bad value gets
the same message, naming its field, as the API gives.

No routes here (see ``budget_pages``): ``web`` and ``team_pages`` import this for their
pages' context."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from sqlalchemy.orm import Session

from promptpulse_server import budgets_api, digests, queries, schemas
from promptpulse_server.models import Budget, Team, User

alerts_q = queries.alerts
LOG_ROWS = 20
T = TypeVar("T")

# the form's names for the schema's fields (as msgspec names them in an error: ``$.amountUsd``)
FIELDS = {
    "amountUsd": "amount_usd",
    "period": "period",
    "window": "window",
    "thresholds": "thresholds",
    "kind": "kind",
    "channel": "channel_type",
    "channel.url": "url",
    "channel.to": "to",
    "channel.format": "format",
    "channel.secret": "secret",
    "channel.type": "channel_type",
}


@dataclass
class BudgetForm:
    """The add form, as the browser sends it (every field a string)."""

    kind: str = "cost"
    period: str = "month"
    amount_usd: str = ""
    window: str = "five_hour"
    thresholds: str = ""
    channel_type: str = "webhook"
    url: str = ""
    format: str = "slack"
    secret: str = ""
    to: str = ""


@dataclass
class DeleteBudgetForm:
    confirm: str = ""


class FormError(Exception):
    """A form value the API would refuse: ``field`` is the form's field, ``message`` the
    API's words."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def field_of(message: str) -> str:
    """The form field a schema's message is about: ``… - at `$.amountUsd``` or
    ``channel.url: …``."""
    found = re.search(r"at `\$\.([A-Za-z.]+)", message)
    name = found.group(1) if found else message.split(":", 1)[0].strip()
    return FIELDS.get(name, FIELDS.get(name.split(".")[0], ""))


def checked(form: BudgetForm, team_id: int | None) -> schemas.BudgetIn:
    """The form as the API's ``BudgetIn``, or a ``FormError``."""
    raw_thresholds = form.thresholds.strip()
    thresholds: list[Any] | None = None
    if raw_thresholds:
        try:
            thresholds = [int(t) for t in re.split(r"[\s,;%]+", raw_thresholds) if t]
        except ValueError:
            raise FormError(
                "thresholds", "thresholds: whole percents, separated by commas"
            ) from None
    data: dict[str, Any] = {"kind": form.kind, "channel": channel_of(form)}
    if form.kind == "cost":
        data["period"] = form.period
        data["amountUsd"] = form.amount_usd.strip()
    else:
        data["window"] = form.window
    if thresholds is not None:
        data["thresholds"] = thresholds
    if team_id is not None:
        data["teamId"] = team_id
    found: schemas.BudgetIn = _converted(data, schemas.BudgetIn, "kind")
    return found


def add(
    db: Session, user: User, form: BudgetForm, team_id: int | None, state: Any, now: dt.datetime
) -> Budget:
    """Add the form's budget through the API's rules; a ``FormError`` for what they refuse."""
    data = checked(form, team_id)
    return _created(db, lambda: budgets_api.create(db, user, data, state.settings, now), "kind")


def channel_of(form: BudgetForm | DigestForm) -> dict[str, Any]:
    """The form's channel, as the API's JSON has it."""
    if form.channel_type == "email":
        return {"type": "email", "to": form.to.strip()}
    channel = {"type": "webhook", "url": form.url.strip(), "format": form.format}
    if form.secret:
        channel["secret"] = form.secret
    return channel


def _converted(data: dict[str, Any], into: Any, field: str) -> Any:
    """``data`` checked by the API's schema ``into``; a ``FormError`` naming the form's field
    (``field`` when the message names none)."""
    try:
        return msgspec.convert(data, into, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        raise FormError(field_of(message) or field, message) from None


def _created(db: Session, create: Callable[[], T], field: str) -> T:
    """What ``create`` (the API's own function) made; what it refuses as a ``FormError``, with
    the transaction rolled back. A team or a person the viewer may not touch stays a 404/403."""
    from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException

    try:
        return create()
    except (NotFoundException, PermissionDeniedException):
        raise
    except HTTPException as exc:
        db.rollback()
        message = str(exc.detail)
        raise FormError(field_of(message) or field, message) from None


@dataclass
class BudgetRow:
    budget: schemas.BudgetOut
    what: str  # "monthly cost, $50.00" or "5-hour limit"
    where: str  # the channel as shown


@dataclass
class LogRow:
    delivery: schemas.DeliveryOut
    what: str


def describe(b: schemas.BudgetOut) -> str:
    if b.kind == "cost":
        period = {"day": "daily", "week": "weekly", "month": "monthly"}.get(b.period or "", "")
        return f"{period} cost, ${b.amount_usd or 0:,.2f}"
    return {"five_hour": "5-hour", "seven_day": "7-day"}.get(b.window or "", "") + " limit"


def channel_text(c: schemas.ChannelOut) -> str:
    if c.type == "email":
        return f"e-mail to {c.to}" if c.to else "e-mail"
    if c.url is None:
        return "webhook"
    secret = ", signed" if c.secret else ""
    return f"{c.format} webhook to {c.url}{secret}"


def context(
    db: Session, viewer: User, now: dt.datetime, team: Team | None = None, full: bool = True
) -> dict[str, Any]:
    """The budgets and digests sections' context: the budgets with where each stands, the
    digests, and the latest delivery attempts of every kind (a user's own, or the team's)."""
    if team is None:
        budgets = alerts_q.user_budgets(db, viewer)
        found = alerts_q.user_digests(db, viewer)
        log = alerts_q.deliveries(db, viewer.id, [], LOG_ROWS)
    else:
        budgets = alerts_q.team_budgets(db, [team.id])
        found = alerts_q.team_digests(db, team.id)
        log = alerts_q.deliveries(db, None, [team.id], LOG_ROWS)
    rows = []
    names: dict[int, str] = {}
    for budget in budgets:
        out = budgets_api.budget_out(db, budget, viewer, now, full)
        rows.append(BudgetRow(out, describe(out), channel_text(out.channel)))
        names[budget.id] = describe(out)
    digest_rows = []
    for digest in found:
        shown = digests.digest_out(db, digest, full)
        digest_rows.append(DigestRow(shown, channel_text(shown.channel)))
    logs = [LogRow(budgets_api.delivery_out(f), _what(f, names)) for f in log]
    return {"budget_rows": rows, "digest_rows": digest_rows, "delivery_log": logs}


def _what(found: alerts_q.Logged, names: dict[int, str]) -> str:
    if found.budget is not None:
        return names.get(found.budget.id, f"budget {found.budget.id}")
    if found.digest is not None:
        return f"{found.digest.period} digest"
    return ""


@dataclass
class DigestRow:
    digest: Any  # digests.DigestOut
    where: str


@dataclass
class DigestForm:
    """The digest form, as the browser sends it."""

    period: str = "weekly"
    channel_type: str = "email"
    url: str = ""
    format: str = "slack"
    secret: str = ""
    to: str = ""


def add_digest(
    db: Session, user: User, form: DigestForm, team_id: int | None, state: Any, now: dt.datetime
) -> Any:
    """Add the form's digest through the API's rules; a ``FormError`` for what they refuse."""
    data: dict[str, Any] = {"period": form.period, "channel": channel_of(form)}
    if team_id is not None:
        data["teamId"] = team_id
    checked_in = _converted(data, digests.DigestIn, "period")
    return _created(db, lambda: digests.create(db, user, checked_in, state.settings, now), "period")
