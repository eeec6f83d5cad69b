"""The JSON API of budgets and alerts (``/api/budgets``, ``/api/alerts``,
``/api/teams/{id}/budgets``).

Who may do what:
- your own budgets: only you see, change, test and delete them (anyone else: 404);
- a team's budgets: its members see them (the channel's URL or address only its owner and
  admins), its owner and admins add, change, test and delete them (a member: 403; someone not
  in the team: 404; a server admin may act on any team, as elsewhere);
- ``/api/alerts``: the deliveries of your budgets and of your teams' budgets.
A webhook's secret is never shown (``"secret": "set"``), nor a URL's user and password.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from litestar import Router, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
)
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_409_CONFLICT
from sqlalchemy.orm import Session

from promptpulse_server import alerts, api, queries, schemas, team_api
from promptpulse_server.api import DB, CurrentUser, Now, RowId
from promptpulse_server.models import Budget, User
from promptpulse_server.settings import Settings

alerts_q = queries.alerts


def values_of(data: schemas.BudgetIn, settings: Settings) -> dict[str, Any]:
    """The columns of a budget from its JSON; a 400 naming the field for a channel this server
    will not use."""
    channel: dict[str, Any]
    if isinstance(data.channel, schemas.WebhookIn):
        channel = {"type": "webhook", "url": data.channel.url, "format": data.channel.format}
        if data.channel.secret:
            channel["secret"] = data.channel.secret
        if alerts.refuses_private(settings):
            why = alerts.private_destination(data.channel.url)
            if why:
                raise ClientException(
                    f"channel.url: {why}, which this server does not send webhooks to"
                )
    else:
        if not settings.smtp_url or not settings.mail_from:
            raise ClientException(
                "channel.to: this server does not send e-mail (PROMPTPULSE_SMTP_URL is not set)"
            )
        channel = {"type": "email", "to": data.channel.to}
    common = {"thresholds": sorted(data.thresholds), "channel": channel}
    if isinstance(data, schemas.CostBudgetIn):
        return dict(
            kind="cost", period=data.period, window=None, amount_usd=data.amount_usd, **common
        )
    return dict(kind="limit", period=None, window=data.window, amount_usd=None, **common)


def channel_out(channel: dict[str, Any], full: bool) -> schemas.ChannelOut:
    if channel.get("type") == "email":
        return schemas.ChannelOut(type="email", to=channel.get("to") if full else None)
    return schemas.ChannelOut(
        type="webhook",
        url=alerts.public_url(str(channel.get("url", ""))) if full else None,
        format=channel.get("format", "json"),
        secret="set" if channel.get("secret") else None,
    )


def budget_out(
    db: Session, budget: Budget, viewer: User, now: dt.datetime, full: bool
) -> schemas.BudgetOut:
    figures = alerts.standing(db, budget, now, viewer)
    return schemas.BudgetOut(
        id=budget.id,
        team_id=budget.team_id,
        kind=budget.kind,  # type: ignore[arg-type]
        period=budget.period,  # type: ignore[arg-type]
        window=budget.window,  # type: ignore[arg-type]
        amount_usd=budget.amount_usd,
        thresholds=list(budget.thresholds),
        channel=channel_out(budget.channel, full),
        created_at=budget.created_at,
        used=None if figures is None else round(figures.used, 6),
        limit=None if figures is None else figures.limit,
        percent=None if figures is None else round(figures.percent, 2),
        period_key=None if figures is None else figures.period_key,
        crossed=[] if figures is None else alerts.crossed(budget, figures),
    )


def editable(db: Session, budget_id: int, user: User) -> Budget:
    """A budget the user may change: their own, or their team's as its owner or admin."""
    budget = alerts_q.budget_by_id(db, budget_id)
    if budget is None or (budget.user_id is not None and budget.user_id != user.id):
        raise NotFoundException(f"no budget {budget_id}")
    if budget.team_id is not None:
        try:
            team_api.team_access(db, budget.team_id, user, "manager")
        except NotFoundException as exc:
            raise NotFoundException(f"no budget {budget_id}") from exc
    return budget


def create(
    db: Session, user: User, data: schemas.BudgetIn, settings: Settings, now: dt.datetime
) -> Budget:
    team_id = data.team_id
    if team_id is not None:
        team_api.team_access(db, team_id, user, "manager")
    values = values_of(data, settings)
    owner = (None, team_id) if team_id is not None else (user.id, None)
    if alerts_q.count_budgets(db, *owner) >= alerts_q.MAX_BUDGETS:
        raise HTTPException(
            status_code=HTTP_409_CONFLICT,
            detail=f"kind: at most {alerts_q.MAX_BUDGETS} budgets each",
        )
    budget = alerts_q.add_budget(
        db, dict(values, user_id=owner[0], team_id=owner[1], created_by=user.id), now
    )
    db.commit()
    return budget


def visible(db: Session, user: User) -> list[tuple[Budget, bool]]:
    """(budget, whether the channel is shown in full) of the user's and their teams'."""
    managed = set(alerts_q.managed_team_ids(db, user))
    own = [(b, True) for b in alerts_q.user_budgets(db, user)]
    teams = alerts_q.team_budgets(db, alerts_q.team_ids_of(db, user))
    return own + [(b, b.team_id in managed) for b in teams]


@get("/api/budgets", sync_to_thread=True, tags=["budgets"], responses=api.ERRORS)
def list_budgets(db: DB, user: CurrentUser, now: Now) -> schemas.BudgetList:
    """Your budgets and your teams', each with where it stands now: ``used`` (dollars, or the
    window's %), ``percent`` of the budget, ``crossed`` thresholds of the current period."""
    return schemas.BudgetList(
        budgets=[budget_out(db, b, user, now, f) for b, f in visible(db, user)]
    )


@post(
    "/api/budgets",
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    tags=["budgets"],
    responses=api.ERRORS,
)
def create_budget(
    data: JSONBody[schemas.BudgetIn], db: DB, user: CurrentUser, now: Now, state: State
) -> schemas.BudgetOut:
    """A budget of yours, or with ``teamId`` your team's (its owner and admins)."""
    budget = create(db, user, data, state.settings, now)
    return budget_out(db, budget, user, now, True)


@put("/api/budgets/{budget_id:int}", sync_to_thread=True, tags=["budgets"], responses=api.ERRORS)
def update_budget(
    budget_id: RowId,
    data: JSONBody[schemas.BudgetIn],
    db: DB,
    user: CurrentUser,
    now: Now,
    state: State,
) -> schemas.BudgetOut:
    """Replace a budget (a webhook's secret not sent again is cleared). It stays whose it was:
    ``teamId``, if sent, must be the budget's own."""
    budget = editable(db, budget_id, user)
    if data.team_id is not None and data.team_id != budget.team_id:
        raise ClientException("teamId: a budget stays with whom it belongs to")
    alerts_q.update_budget(db, budget, values_of(data, state.settings))
    db.commit()
    return budget_out(db, budget, user, now, True)


@delete("/api/budgets/{budget_id:int}", sync_to_thread=True, tags=["budgets"], responses=api.ERRORS)
def delete_budget(budget_id: RowId, db: DB, user: CurrentUser) -> None:
    """Delete a budget, its alerts and their delivery log."""
    alerts_q.delete_budget(db, editable(db, budget_id, user))
    db.commit()


@post(
    "/api/budgets/{budget_id:int}/test",
    sync_to_thread=True,
    status_code=200,
    tags=["budgets"],
    responses=api.ERRORS,
)
def test_budget(
    budget_id: RowId, db: DB, user: CurrentUser, now: Now, state: State
) -> schemas.DeliveryOut:
    """Send a test message through the budget's channel now (one attempt, logged with the
    others); the answer is that attempt."""
    budget = editable(db, budget_id, user)
    return send_test(db, budget, user, now, state)


def send_test(
    db: Session, budget: Budget, user: User, now: dt.datetime, state: State
) -> schemas.DeliveryOut:
    figures = alerts.standing(db, budget, now, user)
    whose = user.username
    if budget.team_id is not None:
        whose = alerts_q.team_names(db, [budget.team_id]).get(budget.team_id, "team")
    msg = alerts.test_message(budget, figures, whose)
    db.rollback()  # nothing held open while the receiver answers
    settings = state.settings
    alerts.deliver(state.sessions, dataclass_replace(settings), [msg])
    rows = alerts_q.deliveries(db, budget.user_id, [budget.team_id] if budget.team_id else [], 50)
    mine = next(
        f for f in rows if f.budget is not None and f.budget.id == budget.id and not f.alert
    )
    return delivery_out(mine)


def dataclass_replace(settings: Settings) -> Settings:
    """A test is one attempt: no retries."""
    from dataclasses import replace

    return replace(settings, alert_retry_delays=())


def delivery_kind(found: alerts_q.Logged) -> Literal["alert", "test", "digest", "spike"]:
    if found.spike is not None or (
        found.alert is not None and found.alert.period_key.startswith("spike:")
    ):
        return "spike"
    if found.digest is not None:
        return "digest"
    return "alert" if found.alert is not None else "test"


def delivery_out(found: alerts_q.Logged) -> schemas.DeliveryOut:
    d, budget, alert, digest, spike = found
    team_id = budget.team_id if budget else (digest.team_id if digest else None)
    if spike is not None:
        period_key = f"spike:{spike.day.isoformat()}"
        used, limit = spike.cost, spike.median
        percent: float | None = round(spike.cost / spike.median * 100, 2) if spike.median else None
    elif alert is not None:
        period_key, used, limit, percent = (
            alert.period_key,
            alert.used,
            alert.limit_amount,
            alert.percent,
        )
    else:
        period_key, used, limit, percent = None, None, None, None
    return schemas.DeliveryOut(
        id=d.id,
        kind=delivery_kind(found),
        budget_id=budget.id if budget else None,
        digest_id=digest.id if digest else None,
        team_id=team_id,
        alert_id=d.alert_id,
        test=budget is not None and d.alert_id is None,
        period_key=period_key,
        threshold=alert.threshold if alert else None,
        used=used,
        limit=limit,
        percent=percent,
        attempt=d.attempt,
        at=d.at,
        status=d.status,  # type: ignore[arg-type]
        error=d.error,
    )


@get("/api/alerts", sync_to_thread=True, tags=["budgets"], responses=api.ERRORS)
def list_alerts(db: DB, user: CurrentUser) -> schemas.DeliveryList:
    """The delivery log of your budgets and digests and your teams', newest first (the latest
    200): every attempt, of every kind (alert, test, digest, spike), with its figures and, for
    a failed one, why."""
    rows = alerts_q.deliveries(db, user.id, alerts_q.team_ids_of(db, user))
    return schemas.DeliveryList(deliveries=[delivery_out(found) for found in rows])


@get(
    "/api/teams/{team_id:int}/budgets", sync_to_thread=True, tags=["budgets"], responses=api.ERRORS
)
def list_team_budgets(team_id: RowId, db: DB, user: CurrentUser, now: Now) -> schemas.BudgetList:
    """The team's budgets (its members see them; the channel's URL or address only its owner
    and admins)."""
    team, role = team_api.team_access(db, team_id, user)
    full = user.is_admin or role in queries.teams.MANAGERS
    return schemas.BudgetList(
        budgets=[budget_out(db, b, user, now, full) for b in alerts_q.team_budgets(db, [team.id])]
    )


@post(
    "/api/teams/{team_id:int}/budgets",
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    tags=["budgets"],
    responses=api.ERRORS,
)
def create_team_budget(
    team_id: RowId,
    data: JSONBody[schemas.BudgetIn],
    db: DB,
    user: CurrentUser,
    now: Now,
    state: State,
) -> schemas.BudgetOut:
    """A budget of the team (its owner and admins); a ``teamId`` in the body must be this one."""
    if data.team_id is not None and data.team_id != team_id:
        raise ClientException("teamId: not the team of the path")
    data.team_id = team_id
    budget = create(db, user, data, state.settings, now)
    return budget_out(db, budget, user, now, True)


router = Router(
    path="/",
    route_handlers=[
        list_budgets,
        create_budget,
        update_budget,
        delete_budget,
        test_budget,
        list_alerts,
        list_team_budgets,
        create_team_budget,
    ],
    dependencies=api.DEPENDENCIES,
    guards=[api.strict_json],
)
