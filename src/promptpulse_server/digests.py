"""Digests: a daily or weekly summary of a user's or a team's usage, sent by
``promptpulse-server send-digests [--period daily|weekly]`` (run it from cron; see the
README), through a channel like a budget's (webhook or e-mail).

Each run sends, for each digest of that period, the last complete period (yesterday, or last
week from Monday to Sunday) in the owner's time zone (a team's: its owner's). A digest is
never sent twice for a period: the run first inserts (digest, period's first day) into
``digest_sent``, unique in the database, and only a run that made the row delivers it. Every
attempt goes into the delivery log, as alerts' do.

The figures: cost and tokens of the period (as ``/api/usage/aggregate`` sums them), the top
models (by day rows) and projects (by sessions active in the period, as
``/api/usage/analytics/costs?groupBy=project`` counts them), and the change of cost against
the period before. A team's digest counts its members who share their usage with the team.

API: ``GET/POST /api/digests``, ``DELETE /api/digests/{id}`` (yours, or with ``teamId`` your
team's as its owner or admin); each digest comes with its latest delivery attempts.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from litestar import Router, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED
from msgspec import Meta
from sqlalchemy import delete as sql_delete
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from promptpulse_server import alerts, api, budgets_api, metrics, queries, schemas, team_api
from promptpulse_server.api import DB, CurrentUser, Now, RowId
from promptpulse_server.models import Delivery, Digest, DigestSent, User
from promptpulse_server.settings import Settings

alerts_q = queries.alerts
TOP = 5
MAX_DIGESTS = 20
LOG_ROWS = 10  # attempts shown with each digest
Period = Literal["daily", "weekly"]


# --- the API's shapes -------------------------------------------------------------------------


class DigestIn(schemas.Camel):
    """A digest: ``daily`` or ``weekly``, through a channel as a budget's."""

    period: Period
    channel: schemas.Channel
    team_id: schemas.TeamId | None = None


class DigestAttempt(schemas.Camel):
    """One attempt to deliver a digest, from the delivery log."""

    attempt: int
    at: dt.datetime
    status: Literal["ok", "error"]
    error: str | None


class DigestOut(schemas.Camel):
    id: int
    team_id: int | None
    period: Period
    channel: schemas.ChannelOut
    created_at: dt.datetime
    last_sent: dt.date | None  # the first day of the latest period sent
    deliveries: list[DigestAttempt]  # the latest attempts, newest first


class DigestList(schemas.Camel):
    digests: list[DigestOut]


class Item(schemas.Camel):
    key: str
    tokens: int
    cost: float


class Summary(schemas.Camel):
    """What a digest says (its JSON body, for a webhook of format ``json``)."""

    digest_id: int
    team_id: int | None
    period: Period
    first_day: dt.date
    last_day: dt.date
    cost: float
    tokens: int
    previous_cost: float
    change_percent: Annotated[float, Meta(description="null when the period before cost 0")] | None
    top_models: list[Item]
    top_projects: list[Item]
    text: str


# --- periods and figures ------------------------------------------------------------------------


def last_complete(period: str, zone: Any, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """The last complete day or week (Monday to Sunday) before ``now`` in ``zone``."""
    today = now.astimezone(zone).date()
    if period == "daily":
        day = today - dt.timedelta(days=1)
        return day, day
    monday = today - dt.timedelta(days=today.weekday()) - dt.timedelta(days=7)
    return monday, monday + dt.timedelta(days=6)


def owners_of(db: Session, digest: Digest) -> tuple[list[User], str]:
    """The users whose usage the digest counts, and its time zone."""
    if digest.team_id is not None:
        ids = alerts_q.team_sharing_ids(db, digest.team_id)
        zone = alerts_q.team_owner_zone(db, digest.team_id)
        users = [u for u in (db.get(User, i) for i in ids) if u is not None]
        return users, zone
    user = db.get(User, digest.user_id)
    return ([user] if user else []), (user.timezone if user else "UTC")


def grouped(
    db: Session, users: list[User], by: Literal["model", "project"], first: dt.date, last: dt.date
) -> list[Item]:
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for user in users:
        for key, tokens, cost in queries.costs_by(db, user, by, first, last):
            totals[str(key)][0] += int(tokens or 0)
            totals[str(key)][1] += float(cost or 0)
    items = [Item(key=k, tokens=int(t), cost=round(c, 6)) for k, (t, c) in totals.items()]
    return sorted(items, key=lambda i: (-i.cost, i.key))


def summary(db: Session, digest: Digest, now: dt.datetime) -> Summary:
    users, zone = owners_of(db, digest)
    first, last = last_complete(digest.period, alerts_q.zone_of(zone), now)
    models = grouped(db, users, "model", first, last)
    span = last - first + dt.timedelta(days=1)
    before = grouped(db, users, "model", first - span, last - span)
    cost = round(sum(i.cost for i in models), 6)
    tokens = sum(i.tokens for i in models)
    previous = round(sum(i.cost for i in before), 6)
    change = None if previous <= 0 else round((cost - previous) / previous * 100, 1)
    projects = grouped(db, users, "project", first, last)[:TOP]
    whose = "your"
    if digest.team_id is not None:
        whose = alerts_q.team_names(db, [digest.team_id]).get(digest.team_id, "the team") + "'s"
    when = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    trend = "" if change is None else f" ({change:+.0f} % on the period before)"
    top = ", ".join(f"{i.key} ${i.cost:,.2f}" for i in models[:3]) or "no usage"
    text = (
        f"promptpulse {digest.period} digest, {whose} usage {when}: ${cost:,.2f}{trend}, "
        f"{tokens:,} tokens; top models: {top}"
    )
    return Summary(
        digest_id=digest.id,
        team_id=digest.team_id,
        period=digest.period,  # type: ignore[arg-type]
        first_day=first,
        last_day=last,
        cost=cost,
        tokens=tokens,
        previous_cost=previous,
        change_percent=change,
        top_models=models[:TOP],
        top_projects=projects,
        text=text,
    )


# --- sending ------------------------------------------------------------------------------------


def claim(db: Session, digest: Digest, first: dt.date, now: dt.datetime) -> int | None:
    """Insert (digest, period) if no one has: the row's id, or None when it was there."""
    made = db.execute(
        alerts_q._insert(db)(DigestSent)
        .values(digest_id=digest.id, period_start=first, state="pending", created_at=now)
        .on_conflict_do_nothing(index_elements=["digest_id", "period_start"])
        .returning(DigestSent.id)
    ).first()
    return None if made is None else int(made[0])


def send_digests(
    sessions: sessionmaker[Session],
    settings: Settings,
    period: Period,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, int]:
    """Send this period's digests not sent yet: (sent, failed)."""
    now = settings.clock()
    todo: list[tuple[int, int, alerts.Message]] = []
    with sessions() as db:
        for digest in db.scalars(select(Digest).where(Digest.period == period).order_by(Digest.id)):
            s = summary(db, digest, now)
            claimed = claim(db, digest, s.first_day, now)
            if claimed is None:
                continue
            payload = msgspec.to_builtins(s)
            todo.append(
                (digest.id, claimed, alerts.Message(0, None, dict(digest.channel), payload, s.text))
            )
        db.commit()
    sent = failed = 0
    for digest_id, claimed, msg in todo:
        attempts = 1 + len(settings.alert_retry_delays)
        error: str | None = None
        for attempt in range(1, attempts + 1):
            error, again = None, True
            try:
                alerts.send(msg, settings)
            except alerts.DeliveryError as exc:
                error, again = str(exc), exc.retry
            except Exception as exc:  # a bug must not lose the log line
                error = f"unexpected error ({type(exc).__name__})"
            with sessions() as db:
                alerts_q.log_delivery(db, None, None, attempt, settings.clock(), error, digest_id)
                db.commit()
            metrics.delivered("digest", msg.channel, error)
            if error is None or not again or attempt == attempts:
                break
            sleep(settings.alert_retry_delays[attempt - 1])
        with sessions() as db:
            state = "sent" if error is None else "failed"
            db.execute(update(DigestSent).where(DigestSent.id == claimed).values(state=state))
            db.commit()
        sent, failed = (sent + 1, failed) if error is None else (sent, failed + 1)
    return sent, failed


# --- the API ------------------------------------------------------------------------------------


def digest_out(db: Session, digest: Digest, full: bool) -> DigestOut:
    last = db.scalar(
        select(DigestSent.period_start)
        .where(DigestSent.digest_id == digest.id, DigestSent.state == "sent")
        .order_by(DigestSent.period_start.desc())
        .limit(1)
    )
    attempts = db.scalars(
        select(Delivery)
        .where(Delivery.digest_id == digest.id, Delivery.spike_id.is_(None))
        .order_by(Delivery.at.desc(), Delivery.id.desc())
        .limit(LOG_ROWS)
    )
    return DigestOut(
        id=digest.id,
        team_id=digest.team_id,
        period=digest.period,  # type: ignore[arg-type]
        channel=budgets_api.channel_out(digest.channel, full),
        created_at=digest.created_at,
        last_sent=last,
        deliveries=[
            DigestAttempt(
                attempt=d.attempt,
                at=d.at,
                status=d.status,  # type: ignore[arg-type]
                error=d.error,
            )
            for d in attempts
        ],
    )


@get("/api/digests", sync_to_thread=True, tags=["budgets"], responses=api.ERRORS)
def list_digests(db: DB, user: CurrentUser) -> DigestList:
    """Your digests and your teams' (a team's channel in full only to its owner and admins)."""
    managed = set(alerts_q.managed_team_ids(db, user))
    teams = alerts_q.team_ids_of(db, user)
    q = select(Digest).where(
        (Digest.user_id == user.id) | Digest.team_id.in_(teams)
        if teams
        else Digest.user_id == user.id
    )
    found = db.scalars(q.order_by(Digest.id))
    return DigestList(
        digests=[digest_out(db, d, d.team_id is None or d.team_id in managed) for d in found]
    )


@post(
    "/api/digests",
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    tags=["budgets"],
    responses=api.ERRORS,
)
def create_digest(
    data: JSONBody[DigestIn], db: DB, user: CurrentUser, now: Now, state: State
) -> DigestOut:
    """A digest of yours, or with ``teamId`` your team's (its owner and admins)."""
    return digest_out(db, create(db, user, data, state.settings, now), True)


def create(db: Session, user: User, data: DigestIn, settings: Settings, now: dt.datetime) -> Digest:
    """Add a digest under the API's rules (also the pages'): a team's by its managers, a
    channel as a budget's, at most ``MAX_DIGESTS`` each."""
    if data.team_id is not None:
        team_api.team_access(db, data.team_id, user, "manager")
    probe = schemas.CostBudgetIn(period="day", amount_usd=1.0, channel=data.channel)
    channel = budgets_api.values_of(probe, settings)["channel"]
    owner = (None, data.team_id) if data.team_id is not None else (user.id, None)
    mine = Digest.user_id == owner[0] if owner[0] is not None else Digest.team_id == owner[1]
    if len(db.scalars(select(Digest.id).where(mine)).all()) >= MAX_DIGESTS:
        raise HTTPException(status_code=409, detail=f"period: at most {MAX_DIGESTS} digests each")
    digest = Digest(
        user_id=owner[0],
        team_id=owner[1],
        period=data.period,
        channel=channel,
        created_by=user.id,
        created_at=now,
    )
    db.add(digest)
    db.commit()
    return digest


@delete("/api/digests/{digest_id:int}", sync_to_thread=True, tags=["budgets"], responses=api.ERRORS)
def delete_digest(digest_id: RowId, db: DB, user: CurrentUser) -> None:
    """Delete a digest of yours, or of your team as its owner or admin."""
    remove(db, deletable(db, digest_id, user))


def deletable(db: Session, digest_id: int, user: User, team_id: int | None = None) -> Digest:
    """The digest, when ``user`` may delete it (and it is ``team_id``'s, when given); else a
    404 that does not say whether it exists."""
    digest = db.get(Digest, digest_id)
    if digest is None or (digest.user_id is not None and digest.user_id != user.id):
        raise NotFoundException(f"no digest {digest_id}")
    if team_id is not None and digest.team_id != team_id:
        raise NotFoundException(f"no digest {digest_id}")
    if digest.team_id is not None:
        try:
            team_api.team_access(db, digest.team_id, user, "manager")
        except NotFoundException as exc:
            raise NotFoundException(f"no digest {digest_id}") from exc
    return digest


def remove(db: Session, digest: Digest) -> None:
    db.execute(sql_delete(Delivery).where(Delivery.digest_id == digest.id))
    db.execute(sql_delete(DigestSent).where(DigestSent.digest_id == digest.id))
    db.execute(sql_delete(Digest).where(Digest.id == digest.id))
    db.commit()


router = Router(
    path="/",
    route_handlers=[list_digests, create_digest, delete_digest],
    dependencies=api.DEPENDENCIES,
    guards=[api.strict_json],
)
