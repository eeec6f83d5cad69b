"""The JSON API of plan limits (``/api/usage/limits``): the official readings of the 5-hour and
7-day windows that the collector uploads, and where each window stands now.

Who sees what: your own readings; with ``?team=``, the current figures of the team's members
who share their usage with it, under the rules of the other team endpoints (a team you are not
in answers 404; a server admin sees every team)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from litestar import Router, get
from litestar.params import QueryParameter

from promptpulse import limits
from promptpulse.clock import to_ms
from promptpulse_server import api, queries, schemas, team_api
from promptpulse_server.api import DB, CurrentUser, Now, Since, Until
from promptpulse_server.models import LimitReading, User

limits_q = queries.limits


def reading_of(row: LimitReading) -> limits.Reading:
    """A stored reading as the collector's pure functions take it (instants in ms)."""
    return limits.Reading(
        ts=to_ms(row.recorded_at),
        five_hour_pct=row.five_hour_pct,
        five_hour_resets=to_ms(row.five_hour_resets_at) if row.five_hour_resets_at else None,
        seven_day_pct=row.seven_day_pct,
        seven_day_resets=to_ms(row.seven_day_resets_at) if row.seven_day_resets_at else None,
        session_id=row.session_id,
        model=row.model,
    )


def plan_out(user: User) -> schemas.PlanOut | None:
    plan = limits_q.plan_of(user)
    return None if plan is None else schemas.PlanOut(name=plan[0], monthly_usd=plan[1])


def _window(pct: float | None, resets: dt.datetime | None) -> schemas.LimitWindow | None:
    if pct is None or resets is None:
        return None
    return schemas.LimitWindow(used_percentage=pct, resets_at=resets)


def reading_out(row: LimitReading) -> schemas.LimitReadingOut:
    return schemas.LimitReadingOut(
        recorded_at=row.recorded_at,
        five_hour=_window(row.five_hour_pct, row.five_hour_resets_at),
        seven_day=_window(row.seven_day_pct, row.seven_day_resets_at),
        session_id=row.session_id,
        model=row.model,
    )


def status(
    rows: list[LimitReading], window: limits.Window, now: dt.datetime
) -> schemas.WindowStatusOut | None:
    """Where a window stands at ``now``, from the latest of ``rows`` that has it."""
    found = [(r, reading_of(r)) for r in rows]
    found = [(r, x) for r, x in found if x.window(window) is not None]
    if not found:
        return None
    row, reading = max(found, key=lambda f: f[1].ts)
    pct, resets = reading.window(window) or (0.0, 0)
    st = limits.window_status(window, pct, resets, to_ms(now))
    resets_at = row.five_hour_resets_at if window == "five_hour" else row.seven_day_resets_at
    assert resets_at is not None
    return schemas.WindowStatusOut(
        used_percentage=st.used_pct,
        resets_at=resets_at,
        recorded_at=row.recorded_at,
        elapsed_percentage=st.elapsed_pct,
        pace=st.pace,
        time_left_seconds=st.left_ms // 1000,
        expired=st.expired,
        level=st.level,
    )


def current_of(
    rows: list[LimitReading], now: dt.datetime
) -> tuple[schemas.WindowStatusOut | None, schemas.WindowStatusOut | None]:
    """(5-hour, 7-day) status at ``now`` from a user's latest readings."""
    return status(rows, "five_hour", now), status(rows, "seven_day", now)


def day_bounds(
    since: dt.date | None, until: dt.date | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The instants of a range of days as the API's other reports count them (UTC days)."""
    start = dt.datetime.combine(since, dt.time(), dt.UTC) if since else None
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC) if until else None
    return start, end


@get("/api/usage/limits", sync_to_thread=True, tags=["usage"], responses=api.ERRORS)
def limit_readings(
    db: DB,
    user: CurrentUser,
    since: Since = None,
    until: Until = None,
    limit: Annotated[
        int, QueryParameter(name="limit", ge=1, le=limits_q.MAX_READINGS)
    ] = limits_q.MAX_READINGS,
) -> schemas.LimitReadings:
    """Your official limit readings taken in the days ``since`` to ``until`` (UTC days), oldest
    first: the latest ``limit`` of them when there are more. And your plan, as your collector
    last reported it."""
    start, end = day_bounds(*api.parse_range(since, until))
    rows = limits_q.readings(db, user.id, start, end, limit)
    return schemas.LimitReadings(plan=plan_out(user), readings=[reading_out(r) for r in rows])


@get("/api/usage/limits/current", sync_to_thread=True, tags=["usage"], responses=api.ERRORS)
def current_limits(
    db: DB,
    user: CurrentUser,
    now: Now,
    team: Annotated[int | None, QueryParameter(name="team", ge=1, le=2**31 - 1)] = None,
) -> schemas.CurrentLimits | schemas.TeamLimits:
    """Where your 5-hour and 7-day windows stand now, from the latest reading of each: the
    used %, the reset time, how much of the window has passed, the pace and a level (ok, warn,
    high). With ``team`` (a team's id): each of its members who share their usage with you."""
    if team is None:
        five, seven = current_of(limits_q.latest(db, [user.id])[user.id], now)
        return schemas.CurrentLimits(plan=plan_out(user), five_hour=five, seven_day=seven)
    found, _ = team_api.team_access(db, team, user)
    people = queries.visible_users(db, user, queries.teams.member_ids(db, found))
    latest = limits_q.latest(db, [u.id for u in people])
    members = []
    for u in people:
        five, seven = current_of(latest[u.id], now)
        members.append(
            schemas.MemberLimits(
                username=u.username, display_name=u.display_name, five_hour=five, seven_day=seven
            )
        )
    return schemas.TeamLimits(
        team=schemas.TeamRef(id=found.id, name=found.name, slug=found.slug), members=members
    )


router = Router(
    path="/",
    route_handlers=[limit_readings, current_limits],
    dependencies=api.DEPENDENCIES,
    guards=[api.strict_json],
)
