"""The dashboard: server-rendered pages behind a session cookie. Handlers are thin: read the
filters, call ``queries``, build the page's view-model (``views``), render its template; every
page's table is also its CSV and JSON export (``?format=csv`` / ``?format=json``)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import importlib.util
import io
import secrets
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from promptpulse.clock import to_ms
from promptpulse_server import (
    api,
    audit,
    auth,
    budget_forms,
    limits_api,
    pages,
    queries,
    schemas,
    trends,
    views,
)
from promptpulse_server.models import ApiKey, User
from promptpulse_server.queries import audit as audit_q

COOKIE = "pp_session"
PAGE_SIZE = 50
DB = NamedDependency[Session]
Viewer = NamedDependency[User]
Now = api.Now


class LoginRequired(Exception):
    """No live session: the browser goes to the login page and comes back after."""

    def __init__(self, path: str) -> None:
        self.path = path


def to_login(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    return Redirect("/login?" + urlencode({"next": exc.path}))


def provide_viewer(request: Request[Any, Any, Any], db: DB, now: Now) -> User:
    token = request.cookies.get(COOKIE, "")
    user = queries.user_for_web_session(db, auth.key_hash(token), now) if token else None
    if user is None:
        db.rollback()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return user


def _session_cookie(request: Request[Any, Any, Any], token: str, days: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        max_age=days * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _start_session(
    request: Request[Any, Any, Any], db: Session, key: ApiKey, to: str, now: dt.datetime
) -> Redirect:
    token = secrets.token_urlsafe(32)
    days = request.app.state.settings.session_days
    queries.add_web_session(db, key, auth.key_hash(token), dt.timedelta(days=days), now)
    db.commit()
    return Redirect(_safe_next(to), cookies=[_session_cookie(request, token, days)])


def _to_login_without_session() -> Redirect:
    gone = Cookie(key=COOKIE, value="", max_age=0, httponly=True, samesite="lax", path="/")
    return Redirect("/login", cookies=[gone])


def _safe_next(path: str | None) -> str:
    """Only a path on this server, never another site."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


# --- filters shared by the pages -----------------------------------------------------------------


@dataclass
class Filters:
    period: views.Period
    user: str  # a username, or "all" for everyone visible
    machine: str
    model: str
    project: str
    zone: ZoneInfo
    params: dict[str, str]  # as given, to build links that keep them
    team: str = ""  # a team's slug: only its members
    notice: str = ""  # what the page says about the filters as given (a reversed range)

    def url(self, path: str, **change: str | int | None) -> str:
        merged = {**self.params, **{k: str(v) for k, v in change.items() if v is not None}}
        merged = {k: v for k, v in merged.items() if v != ""}
        return path + ("?" + urlencode(merged) if merged else "")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


FILTER_MAX = {
    "period": 10,
    "since": 10,
    "until": 10,
    "user": 50,
    "machine": 200,
    "model": 200,
    "project": 500,
    "team": 60,
}


def read_filters(request: Request[Any, Any, Any], viewer: User) -> Filters:
    q = request.query_params
    params = {
        k: q.get(k, "")
        for k in ("period", "since", "until", "user", "machine", "model", "project", "team")
        if q.get(k)
    }
    for name, value in params.items():
        if len(value) > FILTER_MAX[name] or "\x00" in value:
            raise ClientException(f"{name}: at most {FILTER_MAX[name]} characters, and no NUL")
    zone = _zone(viewer.timezone)
    today = api.clock_now(request.app.state).astimezone(zone).date()
    since, until = api.parse_day(q.get("since"), "since"), api.parse_day(q.get("until"), "until")
    notice = ""
    if since and until and since > until:  # said on the page, and shown the right way round
        since, until = until, since
        notice = (
            f"The “From” day came after the “To” day: showing {since:%d %b %Y} – "
            f"{until:%d %b %Y} instead."
        )
    period = views.period_of(q.get("period", "month"), since, until, today)
    return Filters(
        period=period,
        user=q.get("user", "") or ("all" if viewer.default_view == "all" else viewer.username),
        machine=q.get("machine", ""),
        model=q.get("model", ""),
        project=q.get("project", ""),
        zone=zone,
        params=params,
        team=q.get("team", ""),
        notice=notice,
    )


@dataclass
class Context:
    viewer: User
    filters: Filters
    scope: queries.Scope
    people: list[User]
    choices: tuple[list[Any], list[str], list[str]]
    teams: list[Any]  # (team, role, members) of the viewer's teams, for the switcher


def context(db: Session, request: Request[Any, Any, Any], viewer: User) -> Context:
    f = read_filters(request, viewer)
    teams = queries.teams.teams_of(db, viewer)
    members: list[int] | None = None
    if f.team:
        team = queries.teams.team_by_slug(db, f.team)
        if team is None or not (viewer.is_admin or any(t.id == team.id for t, _, _ in teams)):
            raise NotFoundException(f"team: no team {f.team!r} of yours")
        members = queries.teams.member_ids(db, team)
        if "user" not in f.params:  # a team chosen: the whole team, unless a user is asked for
            f.user = "all"
    people = queries.visible_users(db, viewer, members)
    if f.user == "all":
        ids = tuple(u.id for u in people)
    else:
        chosen = [u for u in people if u.username.lower() == f.user.lower()]
        if not chosen:
            raise NotFoundException(f"user: no one named {f.user!r} shares usage with the team")
        ids = (chosen[0].id,)
    scope = queries.Scope(
        user_ids=ids,
        since=f.period.since,
        until=f.period.until,
        machine=f.machine or None,
        model=f.model or None,
        project=f.project or None,
        zone=str(f.zone),
    )
    return Context(viewer, f, scope, people, queries.scope_choices(db, scope), teams)


def page(
    template: str,
    request: Request[Any, Any, Any],
    viewer: User,
    filters: Filters,
    status: int = 200,
    **extra: Any,
) -> Response[Any]:
    """The page, or its table as CSV or JSON when ``format`` asks. Pages with the filter bar
    pass their ``ctx``."""
    fmt = request.query_params.get("format", "")
    table: views.Table | None = extra.get("table")
    if fmt and table is not None:
        return export(table, template.removesuffix(".html"), fmt)
    charts = [c.spec() for c in extra.get("charts", [])]
    return Template(
        template_name=template,
        context={
            "f": filters,
            "viewer": viewer,
            "charts_json": pages.script_json(charts) if charts else "",
            "path": request.url.path,
            **extra,
        },
        status_code=status,
    )


def filtered_page(
    template: str, ctx: Context, request: Request[Any, Any, Any], **extra: Any
) -> Response[Any]:
    """A page with the filter bar, which offers the choices in ``ctx``."""
    return page(template, request, ctx.viewer, ctx.filters, ctx=ctx, **extra)


def live_hooks(request: Request[Any, Any, Any], events: dict[str, str]) -> dict[str, str]:
    """What a live page's script needs (``static/live.js``): the stream of its events
    (``/live/usage`` for the people the page shows: ``team``, ``user``) and the page to fetch
    again when they say its usage changed (this one, even after a form was posted here)."""
    shown = {k: v for k, v in events.items() if v}
    query = "?" + urlencode(shown) if shown else ""
    page = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {"events": "/live/usage" + query, "page": page}


def export(table: views.Table, name: str, fmt: str) -> Response[Any]:
    if fmt == "json":
        body = pages.json_text(
            [dict(zip(table.columns, row, strict=True)) for row in table.rows], indent=1
        )
        media = "application/json"
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(table.columns)
        writer.writerows([pages.csv_cell(v) for v in row] for row in table.rows)
        body, media = out.getvalue(), "text/csv; charset=utf-8"
    else:
        raise ClientException(f"format: use csv or json, not {fmt!r}")
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="promptpulse-{name}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


# --- logging in and out --------------------------------------------------------------------------


@get("/login", sync_to_thread=True, include_in_schema=False)
def login_page(db: DB, state: State, next: FromQuery[str | None] = None) -> Template:
    return Template(
        "login.html", context={"next": _safe_next(next), "error": "", **_signup(db, state)}
    )


def _signup(db: Session, state: State) -> dict[str, Any]:
    """What the login page says about making an account here."""
    return {
        "first_account": queries.teams.count_users(db) == 0,
        "signup_mode": state.settings.signup_mode,
    }


@dataclass
class LoginForm:
    api_key: str = ""
    next: str = "/"


@post("/login", sync_to_thread=True, include_in_schema=False, opt={"rate_limit": "login"})
def login(
    request: Request[Any, Any, Any],
    db: DB,
    now: Now,
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    key = data.api_key.strip()
    found = (
        queries.user_for_key_hash(db, auth.key_hash(key), now) if auth.looks_like_key(key) else None
    )
    if found is None:
        db.rollback()
        audit.record(db, now, "login_failed", None, detail="an API key that is not valid")
        db.commit()
        return Template(
            "login.html",
            context={"next": _safe_next(data.next), "error": "That API key is not valid."},
            status_code=401,
        )
    audit.record(db, now, "login", found[0], detail=f"with key {found[1].label!r}")
    return _start_session(request, db, found[1], data.next, now)


@get("/login/{token:str}", sync_to_thread=True, include_in_schema=False)
def login_link(
    request: Request[Any, Any, Any], db: DB, now: Now, token: FromPath[str]
) -> Response[Any]:
    found = queries.use_login_link(db, auth.key_hash(token), now)
    if found is None:
        db.rollback()
        audit.record(db, now, "login_failed", None, detail="a used or expired login link")
        db.commit()
        return Template(
            "login.html",
            context={
                "next": "/",
                "error": "This login link was already used or has expired: run "
                "`promptpulse dashboard` again, or log in with an API key.",
            },
            status_code=410,
        )
    audit.record(db, now, "login", found[0], detail=f"with a login link of key {found[1].label!r}")
    return _start_session(request, db, found[1], "/", now)


@post("/logout", sync_to_thread=True, include_in_schema=False)
def logout(request: Request[Any, Any, Any], db: DB) -> Redirect:
    token = request.cookies.get(COOKIE, "")
    if token:
        queries.end_web_session(db, auth.key_hash(token))
        db.commit()
    return _to_login_without_session()


# --- pages ---------------------------------------------------------------------------------------


def _daily_rows(db: Session, scope: queries.Scope, zone: ZoneInfo) -> list[Any]:
    """(date, model, tokens…, cost) rows of a scope; with a project, from its sessions."""
    if scope.project:
        return views.rows_by_session_start(queries.scope_session_usage(db, scope), zone)
    return list(queries.scope_daily(db, scope))


@get("/", sync_to_thread=True, include_in_schema=False)
def overview(request: Request[Any, Any, Any], db: DB, viewer: Viewer, now: Now) -> Response[Any]:
    ctx = context(db, request, viewer)
    zone, period = ctx.filters.zone, ctx.filters.period
    rows = _daily_rows(db, ctx.scope, zone)
    span = trends.previous_span(period.since, period.until)
    previous = (
        _daily_rows(db, replace(ctx.scope, since=span[0], until=span[1]), zone) if span else None
    )
    today = now.astimezone(zone).date()
    month = trends.project_month(
        _daily_rows(db, replace(ctx.scope, since=today.replace(day=1), until=today), zone), today
    )
    blocks = [(b.start, b.cost) for b, _, _ in queries.scope_blocks(db, ctx.scope)]
    active = views.active_block(queries.active_blocks(db, ctx.scope.user_ids, now), now)
    vm = views.overview(
        rows,
        period,
        active,
        by_session_start=bool(ctx.scope.project),
        previous=previous,
        month=month,
        blocks=blocks,
        zone=zone,
    )
    card, members = _limits(db, ctx, rows, now)
    charts = vm.charts + ([card.chart] if card and card.chart else [])
    return filtered_page(
        "overview.html",
        ctx,
        request,
        vm=vm,
        table=vm.table,
        charts=charts,
        limits=card,
        member_limits=members,
        now_ms=to_ms(now),
        live=live_hooks(
            request, {"team": ctx.filters.team, "user": ctx.filters.params.get("user", "")}
        ),
    )


def _limits(
    db: Session, ctx: Context, rows: list[Any], now: dt.datetime
) -> tuple[views.LimitsCard | None, list[views.MemberLimitRow]]:
    """The overview's limits: one person's card when it shows one person, else each shown
    person's windows now (whom the filters show is whom the viewer may see)."""
    shown = [u for u in ctx.people if u.id in ctx.scope.user_ids]
    latest = queries.limits.latest(db, [u.id for u in shown])
    current = {uid: limits_api.current_of(found, now) for uid, found in latest.items()}
    if len(shown) != 1:
        return None, views.member_limits(shown, current)
    person = shown[0]
    s = ctx.scope
    start = s.instant(s.since) if s.since else None
    end = s.instant(s.until + dt.timedelta(days=1)) if s.until else None
    card = views.limits_card(
        current[person.id],
        latest[person.id],
        queries.limits.readings(db, person.id, start, end),
        queries.limits.plan_of(person),
        rows,
        now,
        ctx.filters.zone,
        (start, end),
    )
    return card, []


def _team(request: Request[Any, Any, Any], db: Session, viewer: User) -> Response[Any]:
    ctx = context(db, request, viewer)  # whose usage: the viewer's default, as on every page
    users = {u.id: u for u in ctx.people if u.id in ctx.scope.user_ids}
    vm = views.team(
        queries.scope_per_user(db, ctx.scope),
        users,
        queries.scope_daily(db, ctx.scope),
        ctx.filters.period,
    )
    live = live_hooks(request, {"team": ctx.filters.team, "user": ctx.filters.user})
    return filtered_page(
        "team.html", ctx, request, vm=vm, table=vm.table, charts=vm.charts, live=live
    )


@get("/team", sync_to_thread=True, include_in_schema=False)
def team(request: Request[Any, Any, Any], db: DB, viewer: Viewer) -> Response[Any]:
    return _team(request, db, viewer)


@get("/claude-code-stats", sync_to_thread=True, include_in_schema=False)
def claude_code_stats(request: Request[Any, Any, Any], db: DB, viewer: Viewer) -> Response[Any]:
    """The first seed's page: the team view for ``period=week|month`` and ``user=``."""
    period = request.query_params.get("period", "week")
    if period not in ("week", "month"):
        raise ClientException("period: use week or month")
    return _team(request, db, viewer)


@get("/machines", sync_to_thread=True, include_in_schema=False)
def machines(request: Request[Any, Any, Any], db: DB, viewer: Viewer) -> Response[Any]:
    ctx = context(db, request, viewer)
    rows, table = views.machines(queries.scope_machines(db, ctx.scope))
    return filtered_page("machines.html", ctx, request, rows=rows, table=table)


@get("/projects", sync_to_thread=True, include_in_schema=False)
def projects(request: Request[Any, Any, Any], db: DB, viewer: Viewer) -> Response[Any]:
    ctx = context(db, request, viewer)
    rows, chart, table = views.projects(
        queries.scope_session_usage(db, ctx.scope), ctx.filters.zone, ctx.filters.period
    )
    charts = [chart] if rows else []  # an empty page loads no chart library
    return filtered_page("projects.html", ctx, request, rows=rows, table=table, charts=charts)


@get("/sessions", sync_to_thread=True, include_in_schema=False)
def sessions(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    sort: FromQuery[str] = "last",
    order: FromQuery[str] = "desc",
    page_number: Annotated[int, QueryParameter(name="page", ge=1, le=1_000_000)] = 1,
) -> Response[Any]:
    if sort not in queries.SESSION_SORTS:
        raise ClientException(f"sort: use one of {', '.join(queries.SESSION_SORTS)}")
    if order not in ("asc", "desc"):
        raise ClientException("order: use asc or desc")
    ctx = context(db, request, viewer)
    exporting = bool(request.query_params.get("format"))
    size = 100_000 if exporting else PAGE_SIZE
    total, rows = queries.scope_sessions(
        db, ctx.scope, sort, order == "desc", (page_number - 1) * size, size
    )
    models = queries.session_models(
        db, ctx.scope.user_ids, [(r[2], r[0], r[3], r[4]) for r in rows]
    )
    lines, table = views.session_lines(rows, models)
    pages = max(1, -(-total // PAGE_SIZE))
    ctx.filters.params.update({"sort": sort, "order": order})
    return filtered_page(
        "sessions.html",
        ctx,
        request,
        rows=lines,
        table=table,
        total=total,
        page_number=page_number,
        pages=pages,
        sort=sort,
        order=order,
    )


@get("/blocks", sync_to_thread=True, include_in_schema=False)
def blocks(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    page_number: Annotated[int, QueryParameter(name="page", ge=1, le=1_000_000)] = 1,
) -> Response[Any]:
    ctx = context(db, request, viewer)
    rows, chart, table = views.blocks(queries.scope_blocks(db, ctx.scope), now)
    charts = [chart] if rows else []
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    shown = rows[(page_number - 1) * PAGE_SIZE : page_number * PAGE_SIZE]
    return filtered_page(
        "blocks.html",
        ctx,
        request,
        rows=shown,
        total=len(rows),
        table=table,
        charts=charts,
        page_number=page_number,
        pages=pages,
    )


@get("/leaderboard", sync_to_thread=True, include_in_schema=False)
def leaderboard(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    period: FromQuery[str] = "week",
    by: FromQuery[str] = "cost",
) -> Response[Any]:
    if by not in ("cost", "tokens"):
        raise ClientException("by: use cost or tokens")
    since = api.leaderboard_since(db, period, now)
    rows, table = views.leaderboard(queries.leaderboard(db, since), by)
    f = read_filters(request, viewer)
    f.params = {"period": period, "by": by}
    return page(
        "leaderboard.html", request, viewer, f, rows=rows, table=table, board_period=period, by=by
    )


# --- settings ------------------------------------------------------------------------------------


PAGE_ENTRIES = 30  # of the audit log, in Settings and on /admin


@get("/settings", sync_to_thread=True, include_in_schema=False)
def settings_page(request: Request[Any, Any, Any], db: DB, viewer: Viewer) -> Response[Any]:
    return _settings(request, db, viewer)


def _settings(
    request: Request[Any, Any, Any],
    db: Session,
    viewer: User,
    *,
    new_key: str = "",
    message: str = "",
    error: str = "",
    status: int = 200,
    **extra: Any,
) -> Response[Any]:
    now = api.clock_now(request.app.state)
    return page(
        "settings.html",
        request,
        viewer,
        read_filters(request, viewer),
        status,
        keys=queries.list_keys(db, viewer),
        audit_entries=audit_q.entries(db, involving=viewer.id, limit=PAGE_ENTRIES),
        new_key=new_key,
        message=message,
        error=error,
        **(budget_forms.context(db, viewer, now) | extra),
    )


@dataclass
class ProfileForm:
    display_name: str = ""
    timezone: str = "UTC"
    leaderboard_opt_in: str = ""
    share_with_team: str = ""
    spike_alerts: str = ""
    default_view: str = "me"


@post("/settings/profile", sync_to_thread=True, include_in_schema=False)
def save_profile(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    data: Annotated[ProfileForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    name = data.display_name.strip()
    if not name or len(name) > 100:
        return _settings(
            request, db, viewer, error="Display name: 1 to 100 characters.", status=400
        )
    if data.default_view not in ("me", "all"):
        return _settings(request, db, viewer, error="Pages open on: me or all.", status=400)
    try:
        ZoneInfo(data.timezone.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return _settings(
            request, db, viewer, error=f"Time zone: unknown zone {data.timezone!r}.", status=400
        )
    queries.update_user(
        db,
        viewer,
        schemas.UserUpdate(
            display_name=name,
            timezone=data.timezone.strip(),
            leaderboard_opt_in=bool(data.leaderboard_opt_in),
            share_with_team=bool(data.share_with_team),
            spike_alerts=bool(data.spike_alerts),
            default_view="all" if data.default_view == "all" else "me",
        ),
    )
    db.commit()
    return _settings(request, db, viewer, message="Saved.")


@dataclass
class KeyForm:
    label: str = ""


@post("/settings/keys", sync_to_thread=True, include_in_schema=False)
def create_key(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    data: Annotated[KeyForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    label = data.label.strip()
    if not label or len(label) > 100:
        return _settings(request, db, viewer, error="Label: 1 to 100 characters.", status=400)
    key = auth.new_key()
    queries.add_key(db, viewer, label, auth.key_hash(key), auth.shown_prefix(key), now)
    audit.record(db, now, "key_created", viewer, detail=f"key {label!r}")
    db.commit()
    return _settings(request, db, viewer, new_key=key, message=f"Key {label!r} created.")


@post("/settings/keys/{key_id:int}/revoke", sync_to_thread=True, include_in_schema=False)
def revoke_key(
    request: Request[Any, Any, Any], db: DB, viewer: Viewer, now: Now, key_id: api.RowId
) -> Response[Any]:
    key = queries.revoke_key(db, viewer, key_id, now)
    if key is None:
        raise NotFoundException(f"no key {key_id}")
    audit.record(db, now, "key_revoked", viewer, detail=f"key {key.label!r}")
    db.commit()
    return _settings(request, db, viewer, message=f"Key {key.label!r} revoked.")


@dataclass
class DeleteForm:
    confirm: str = ""


@post("/settings/delete", sync_to_thread=True, include_in_schema=False)
def delete_account(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    data: Annotated[DeleteForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    if data.confirm.strip() != viewer.username:
        return _settings(
            request,
            db,
            viewer,
            error="To delete the account, type its username exactly.",
            status=400,
        )
    if queries.teams.is_last_admin(db, viewer):
        return _settings(request, db, viewer, error=api.LAST_ADMIN, status=409)
    audit.record(db, now, "account_deleted", viewer, subject=viewer, subject_gone=True)
    queries.delete_user(db, viewer)
    db.commit()
    return _to_login_without_session()


@get("/settings/export.csv", sync_to_thread=True, include_in_schema=False)
def export_account_csv(db: DB, viewer: Viewer) -> Response[Any]:
    return export_account(db, viewer, "csv")


@get("/settings/export.json", sync_to_thread=True, include_in_schema=False)
def export_account_json(db: DB, viewer: Viewer) -> Response[Any]:
    return export_account(db, viewer, "json")


def export_account(db: Session, viewer: User, fmt: str) -> Response[Any]:
    """Everything stored for the account: its days, sessions and blocks per machine."""
    data = queries.export_rows(db, viewer)

    def row(kind: str, machine: str, host: str, usage: Any, **fields: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "machine_id": machine,
            "hostname": host,
            **fields,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_creation_tokens": usage.cache_creation_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cost_usd": usage.cost,
        }

    daily = [
        row("daily", mk, host, d, date=d.date.isoformat(), model=d.model)
        for mk, host, d in data["daily"]
    ]
    sessions_ = [
        row(
            "session",
            mk,
            host,
            u,
            project=u.project,
            session_id=u.session_id,
            first_activity=u.first_activity.isoformat(),
            last_activity=u.last_activity.isoformat(),
            model=u.model,
        )
        for mk, host, u in data["sessions"]
    ]
    blocks_ = [
        row(
            "block",
            mk,
            host,
            b,
            start=b.start.isoformat(),
            end=b.end.isoformat(),
            last_entry=b.last_entry.isoformat(),
            entries=b.entries,
            models=" ".join(b.models),
        )
        for mk, host, b in data["blocks"]
    ]
    name = f"promptpulse-{viewer.username}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    if fmt == "json":
        doc = {
            "user": {"username": viewer.username, "displayName": viewer.display_name},
            "daily": daily,
            "sessions": sessions_,
            "blocks": blocks_,
        }
        return Response(
            pages.json_text(doc, indent=1), media_type="application/json", headers=headers
        )
    rows = [*daily, *sessions_, *blocks_]
    columns = list(dict.fromkeys(k for r in rows for k in r)) or ["kind"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: pages.csv_cell(v) for k, v in r.items()} for r in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


# --- static files: compressed once, cached for a year under a name that changes with them -------


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    version: str


_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _asset_source(name: str) -> bytes:
    if name == "plotly.min.js":  # found without importing plotly's Python side
        spec = importlib.util.find_spec("plotly")
        if spec is None or not spec.submodule_search_locations:
            raise NotFoundException("plotly is not installed: pip install 'promptpulse[server]'")
        folder = Path(next(iter(spec.submodule_search_locations)))
        return (folder / "package_data" / "plotly.min.js").read_bytes()
    return resources.files("promptpulse_server").joinpath("static", name).read_bytes()


@cache
def asset(name: str) -> Asset:
    if name not in ("plotly.min.js", "app.js", "app.css", "live.js"):
        raise NotFoundException(f"no static file {name!r}")
    body = _asset_source(name)
    return Asset(
        body,
        gzip.compress(body, compresslevel=9, mtime=0),
        _MEDIA[Path(name).suffix],
        hashlib.sha256(body).hexdigest()[:12],
    )


def static_url(name: str) -> str:
    return f"/static/{asset(name).version}/{name}"


@get("/static/{version:str}/{name:str}", sync_to_thread=True, include_in_schema=False)
def static(
    request: Request[Any, Any, Any], version: FromPath[str], name: FromPath[str]
) -> Response[Any]:
    a = asset(name)
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable"
        if version == a.version
        else "no-cache",
        "ETag": f'"{a.version}"',
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == f'"{a.version}"':
        return Response(b"", status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(a.gzipped, media_type=a.media_type, headers=headers)
    return Response(a.body, media_type=a.media_type, headers=headers)


router = Router(
    path="/",
    route_handlers=[
        login_page,
        login,
        login_link,
        logout,
        overview,
        team,
        claude_code_stats,
        api.ccusage_upload,  # the same path for uploads (POST): one route, one OPTIONS
        machines,
        projects,
        sessions,
        blocks,
        leaderboard,
        settings_page,
        save_profile,
        create_key,
        revoke_key,
        delete_account,
        export_account_csv,
        export_account_json,
        static,
    ],
    dependencies={
        "db": Provide(api.provide_db),
        "now": Provide(api.clock_now, sync_to_thread=False),
        "viewer": Provide(provide_viewer, sync_to_thread=True),
        "credentials": api.DEPENDENCIES["credentials"],
        "user": api.DEPENDENCIES["user"],
    },
)
