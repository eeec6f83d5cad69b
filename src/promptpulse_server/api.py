"""The JSON API. Handlers are thin: parse, call ``queries``, shape the rows into ccusage's
field names. Authentication is the ``X-API-Key`` header."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.background_tasks import BackgroundTask
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_409_CONFLICT, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from promptpulse import shapes
from promptpulse_server import alerts, audit, auth, bodies, metrics, queries, schemas
from promptpulse_server.models import ApiKey, SessionUsage, User

DB = NamedDependency[Session]
CurrentUser = NamedDependency[User]
Credentials = NamedDependency[tuple[User, ApiKey]]
Now = NamedDependency[dt.datetime]

# --- dependencies ------------------------------------------------------------------------------


def provide_db(state: State) -> Iterator[Session]:
    """A database session per request; handlers commit what they write."""
    session: Session = state.sessions()
    try:
        yield session
    finally:
        session.close()


def clock_now(state: State) -> dt.datetime:
    """Now, from the app's clock (``Settings.clock``): the one place the server asks the time.
    As the ``now`` dependency it is read once per request."""
    now: dt.datetime = state.settings.clock()
    return now


def provide_credentials(request: Request[Any, Any, Any], db: DB, now: Now) -> tuple[User, ApiKey]:
    """The user and the live key of the ``X-API-Key`` header; 401 without one."""
    key = request.headers.get(auth.HEADER)
    if not key:
        raise NotAuthorizedException(f"missing {auth.HEADER} header")
    digest = auth.key_hash(key)
    found = queries.user_for_key_hash(db, digest, now) if auth.looks_like_key(key) else None
    if found is None or not auth.same_hash(found[1].key_hash, digest):
        # Litestar does not clean up other dependencies when this one fails: give the
        # connection back now
        db.rollback()
        raise NotAuthorizedException(f"invalid or revoked {auth.HEADER}")
    db.commit()  # records last use
    return found


def provide_user(credentials: Credentials) -> User:
    return credentials[0]


ERRORS = {
    code: ResponseSpec(data_container=schemas.ErrorOut, generate_examples=False, description=what)
    for code, what in (
        (401, "No API key, or one that is revoked or whose account is disabled"),
        (403, "Not allowed"),
        (404, "Not found, or not yours to see"),
        (409, "Conflicts with what is there (a name taken, a team's owner leaving)"),
        (413, "The body is over the size limit"),
        (429, "Too many requests from this address; try again in a minute"),
    )
}


async def strict_json(connection: ASGIConnection[Any, Any, Any, Any], handler: Any) -> None:
    """A guard: the JSON body must be of its schema's types. Litestar converts leniently (the
    string "10" for a count, 0 for false); the API takes what its OpenAPI document says.
    Handlers that take their body ``Undecoded`` decode it strictly themselves."""
    data_field = handler.parsed_data_field
    request = cast(Request[Any, Any, Any], connection)
    if data_field is None or request.method not in ("POST", "PUT", "PATCH"):
        return
    dto = handler.resolve_data_dto()
    if dto is not None and issubclass(dto, bodies.Undecoded):
        return
    body = await request.body()
    if not body:
        return
    try:
        msgspec.json.decode(body, type=data_field.annotation, strict=True)
    except msgspec.ValidationError as exc:
        raise bodies.invalid(exc, f"{request.method} {request.url.path}") from exc
    except msgspec.DecodeError:
        return  # not JSON: Litestar's own answer says so


DEPENDENCIES = {
    "db": Provide(provide_db),
    "now": Provide(clock_now, sync_to_thread=False),
    "credentials": Provide(provide_credentials, sync_to_thread=True),
    "user": Provide(provide_user, sync_to_thread=False),
}


# --- parameters --------------------------------------------------------------------------------


def parse_day(value: str | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ClientException(f"{name}: {value!r} is not a day (YYYY-MM-DD or YYYYMMDD)") from exc
    if not shapes.FIRST_DAY <= day <= shapes.LAST_DAY:
        raise ClientException(
            f"{name}: {day} is not between {shapes.FIRST_DAY} and {shapes.LAST_DAY}"
        )
    return day


def parse_range(since: str | None, until: str | None) -> tuple[dt.date | None, dt.date | None]:
    first, last = parse_day(since, "since"), parse_day(until, "until")
    if first and last and first > last:
        raise ClientException("since: the first day comes after the last (until)")
    return first, last


def _zone(name: str, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ClientException(f"{field}: unknown time zone {name!r}") from exc


Since = Annotated[
    str | None,
    QueryParameter(name="since", max_length=10, description="First day, YYYY-MM-DD (2000–2100)"),
]
Until = Annotated[
    str | None,
    QueryParameter(name="until", max_length=10, description="Last day, YYYY-MM-DD (2000–2100)"),
]
# ids are 32-bit on PostgreSQL; a larger one names nothing
RowId = Annotated[int, Parameter(ge=1, le=2**31 - 1)]


def text_param(name: str, max_length: int = 200) -> Any:
    """A query parameter holding a name: bounded, without NUL."""
    return QueryParameter(name=name, max_length=max_length, pattern=shapes.NO_NUL)


ZoneParam = Annotated[
    str | None, QueryParameter(name="timezone", max_length=64, pattern=shapes.NO_NUL)
]


# --- shaping -----------------------------------------------------------------------------------


def _breakdown(
    model: str, i: int, o: int, cw: int, cr: int, cost: float, searches: int, search_cost: float
) -> shapes.ModelBreakdown:
    return shapes.ModelBreakdown(
        model_name=model,
        input_tokens=i,
        output_tokens=o,
        cache_creation_tokens=cw,
        cache_read_tokens=cr,
        cost=cost,
        web_search_requests=searches,
        web_search_cost=search_cost,
    )


def _daily_row(day: dt.date, models: list[shapes.ModelBreakdown]) -> shapes.DailyRow:
    models.sort(key=lambda m: -m.cost)
    i = sum(m.input_tokens for m in models)
    o = sum(m.output_tokens for m in models)
    cw = sum(m.cache_creation_tokens for m in models)
    cr = sum(m.cache_read_tokens for m in models)
    return shapes.DailyRow(
        date=day,
        input_tokens=i,
        output_tokens=o,
        cache_creation_tokens=cw,
        cache_read_tokens=cr,
        total_tokens=i + o + cw + cr,
        total_cost=sum(m.cost for m in models),
        models_used=[m.model_name for m in models if m.model_name != "<synthetic>"],
        model_breakdowns=[m for m in models if m.model_name != "<synthetic>"],
        web_search_requests=sum(m.web_search_requests for m in models),
        web_search_cost=sum(m.web_search_cost for m in models),
    )


def daily_report(rows: list[Any]) -> shapes.DailyReport:
    by_day: dict[dt.date, list[shapes.ModelBreakdown]] = defaultdict(list)
    for day, model, i, o, cw, cr, cost, searches, search_cost in rows:
        by_day[day].append(
            _breakdown(
                model,
                int(i),
                int(o),
                int(cw),
                int(cr),
                float(cost),
                int(searches),
                float(search_cost),
            )
        )
    daily = [_daily_row(day, models) for day, models in sorted(by_day.items())]
    totals = shapes.Totals(
        input_tokens=sum(d.input_tokens for d in daily),
        output_tokens=sum(d.output_tokens for d in daily),
        cache_creation_tokens=sum(d.cache_creation_tokens for d in daily),
        cache_read_tokens=sum(d.cache_read_tokens for d in daily),
        total_tokens=sum(d.total_tokens for d in daily),
        total_cost=sum(d.total_cost for d in daily),
        web_search_requests=sum(d.web_search_requests for d in daily),
        web_search_cost=sum(d.web_search_cost for d in daily),
    )
    return shapes.DailyReport(daily=daily, totals=totals)


def _session_row(usages: list[SessionUsage]) -> shapes.SessionRow:
    models = [
        _breakdown(
            u.model,
            u.input_tokens,
            u.output_tokens,
            u.cache_creation_tokens,
            u.cache_read_tokens,
            u.cost,
            u.web_search_requests,
            u.web_search_cost,
        )
        for u in usages
    ]
    day = _daily_row(dt.date.min, models)
    first = usages[0]
    return shapes.SessionRow(
        session_id=first.session_id,
        project_path=first.project,
        first_activity=min(u.first_activity for u in usages),
        last_activity=max(u.last_activity for u in usages),
        model_breakdowns=day.model_breakdowns,
        models_used=day.models_used,
        input_tokens=day.input_tokens,
        output_tokens=day.output_tokens,
        cache_creation_tokens=day.cache_creation_tokens,
        cache_read_tokens=day.cache_read_tokens,
        total_tokens=day.total_tokens,
        total_cost=day.total_cost,
        web_search_requests=day.web_search_requests,
        web_search_cost=day.web_search_cost,
    )


def _upload_result(batch_id: str, stored: queries.Stored) -> schemas.UploadResult:
    return schemas.UploadResult(
        batch_id=batch_id,
        duplicate=stored.duplicate,
        daily=stored.daily,
        sessions=stored.sessions,
        blocks=stored.blocks,
        limits=stored.limits,
    )


# --- handlers ----------------------------------------------------------------------------------


@get("/health", sync_to_thread=True, tags=["health"], responses=ERRORS)
def health(db: DB, state: State) -> schemas.Health:
    """Liveness and database reachability."""
    try:
        queries.ping(db)
    except SQLAlchemyError as exc:
        raise HTTPException(
            status_code=HTTP_503_SERVICE_UNAVAILABLE, detail="database unreachable"
        ) from exc
    return schemas.Health(status="ok", database=state.engine.dialect.name)


@get("/api/signup", sync_to_thread=True, tags=["users"], responses=ERRORS)
def signup_policy(db: DB, state: State) -> schemas.Signup:
    """Who may sign up: ``inviteRequired`` says whether ``POST /api/users`` needs an
    ``inviteCode`` now (never for the first account, which becomes the server admin)."""
    mode = state.settings.signup_mode
    first = queries.teams.count_users(db) == 0
    return schemas.Signup(mode=mode, invite_required=mode == "invite" and not first)


@post(
    "/api/users",
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    tags=["users"],
    opt={"rate_limit": "signup"},
    responses=ERRORS,
)
def create_user(
    data: JSONBody[schemas.NewUser], db: DB, now: Now, state: State
) -> schemas.CreatedUser:
    """Create an account; its first API key is in the answer, once. The first account on a
    server needs no invite and becomes its admin; after that, ``PROMPTPULSE_SIGNUP`` decides:
    ``invite`` needs an ``inviteCode`` (a team's invite also joins the team), ``open`` lets
    anyone in, ``closed`` only lets admins make accounts (``promptpulse-server create-user``)."""
    user, key = register(db, state.settings.signup_mode, data, now)
    return schemas.CreatedUser(
        username=user.username,
        display_name=user.display_name,
        api_key=key.api_key,
        is_admin=user.is_admin,
        teams=[team_out(t, r, n) for t, r, n in queries.teams.teams_of(db, user)],
    )


@dataclass
class NewKey:
    row: ApiKey
    api_key: str  # shown once


def register(
    db: Session, mode: str, data: schemas.NewUser, now: dt.datetime
) -> tuple[User, NewKey]:
    """Make an account under the sign-up mode, with its first key; commits. Raises the 4xx
    that says why not."""
    first = queries.teams.count_users(db) == 0
    if not first and mode == "closed":
        raise PermissionDeniedException(
            "username: sign-up is closed on this server; an admin makes accounts"
        )
    invite = None
    if data.invite_code:
        invite = queries.teams.use_invite(db, data.invite_code, now)
        if invite is None:
            db.rollback()
            raise PermissionDeniedException("inviteCode: unknown, expired, revoked or used up")
    elif not first and mode == "invite":
        raise PermissionDeniedException(
            "inviteCode: this server needs an invite code to sign up; ask a team owner or admin"
        )
    taken = HTTPException(
        status_code=HTTP_409_CONFLICT, detail=f"username: {data.username!r} is taken"
    )
    if queries.user_by_name(db, data.username) is not None:
        db.rollback()
        raise taken
    key = auth.new_key()
    try:
        user = queries.create_user(db, data.username, data.display_name, now, admin=first)
        row = queries.add_key(
            db, user, "first key", auth.key_hash(key), auth.shown_prefix(key), now
        )
        team = queries.teams.team_by_id(db, invite.team_id) if invite and invite.team_id else None
        how = "first account, server admin" if first else "with an invite" if invite else mode
        audit.record(db, now, "account_created", user, detail=how)
        if team is not None:
            queries.teams.add_member(db, team, user, "member", now)
            audit.record(db, now, "member_joined", user, team=team, detail="with an invite")
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise taken from exc
    return user, NewKey(row, key)


def team_out(team: Any, role: str | None, members: int) -> schemas.TeamOut:
    return schemas.TeamOut(
        id=team.id,
        name=team.name,
        slug=team.slug,
        role=cast(Any, role),
        members=members,
        created_at=team.created_at,
    )


def _user_out(u: User) -> schemas.UserOut:
    return schemas.UserOut(
        username=u.username,
        display_name=u.display_name,
        created_at=u.created_at,
        leaderboard_opt_in=u.leaderboard_opt_in,
        timezone=u.timezone,
        share_with_team=u.share_with_team,
        is_admin=u.is_admin,
        spike_alerts=u.spike_alerts,
        default_view="all" if u.default_view == "all" else "me",
    )


@get("/api/users", sync_to_thread=True, tags=["users"], responses=ERRORS)
def list_users(db: DB, user: CurrentUser) -> list[schemas.UserOut]:
    """The accounts you share a team with, and yours (every account, for a server admin); no
    keys, no secrets."""
    return [_user_out(u) for u in queries.list_users(db, user)]


@get("/api/users/me", sync_to_thread=True, tags=["users"], responses=ERRORS)
def me(user: CurrentUser) -> schemas.UserOut:
    return _user_out(user)


@patch("/api/users/me", sync_to_thread=True, tags=["users"], responses=ERRORS)
def update_me(data: JSONBody[schemas.UserUpdate], db: DB, user: CurrentUser) -> schemas.UserOut:
    """Change the display name, the leaderboard opt-in or the time zone."""
    if data.timezone is not None:
        _zone(data.timezone)
    queries.update_user(db, user, data)
    db.commit()
    return _user_out(user)


@delete("/api/users/me", sync_to_thread=True, tags=["users"], responses=ERRORS)
def delete_me(db: DB, user: CurrentUser, now: Now) -> None:
    """Delete the account and all its data (the last server admin makes another admin first)."""
    if queries.teams.is_last_admin(db, user):
        raise HTTPException(status_code=HTTP_409_CONFLICT, detail=LAST_ADMIN)
    audit.record(db, now, "account_deleted", user, subject=user, subject_gone=True)
    queries.delete_user(db, user)
    db.commit()


LAST_ADMIN = "user: you are this server's only admin; make someone else admin first"


def _key_out(k: Any) -> schemas.KeyOut:
    return schemas.KeyOut(
        id=k.id,
        label=k.label,
        prefix=k.prefix,
        created_at=k.created_at,
        last_used_at=k.last_used_at,
        revoked_at=k.revoked_at,
    )


@get("/api/keys", sync_to_thread=True, tags=["keys"], responses=ERRORS)
def list_keys(db: DB, user: CurrentUser) -> list[schemas.KeyOut]:
    return [_key_out(k) for k in queries.list_keys(db, user)]


@post(
    "/api/keys", sync_to_thread=True, status_code=HTTP_201_CREATED, tags=["keys"], responses=ERRORS
)
def create_key(
    data: JSONBody[schemas.NewKey], db: DB, user: CurrentUser, now: Now
) -> schemas.CreatedKey:
    """A new key for this account, shown once."""
    key = auth.new_key()
    row = queries.add_key(db, user, data.label, auth.key_hash(key), auth.shown_prefix(key), now)
    audit.record(db, now, "key_created", user, detail=f"key {row.label!r}")
    db.commit()
    return schemas.CreatedKey(id=row.id, label=row.label, api_key=key)


@delete("/api/keys/{key_id:int}", sync_to_thread=True, tags=["keys"], responses=ERRORS)
def revoke_key(key_id: RowId, db: DB, user: CurrentUser, now: Now) -> None:
    revoked = queries.revoke_key(db, user, key_id, now)
    if revoked is None:
        raise NotFoundException(f"no key {key_id}")
    audit.record(db, now, "key_revoked", user, detail=f"key {revoked.label!r}")
    db.commit()


@post(
    "/api/login-links",
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    tags=["users"],
    responses=ERRORS,
)
def create_login_link(
    request: Request[Any, Any, Any], db: DB, credentials: Credentials, state: State, now: Now
) -> schemas.LoginLinkOut:
    """A short-lived link that logs a browser into the dashboard once (``promptpulse
    dashboard``): the API key never goes into a URL."""
    token = secrets.token_urlsafe(32)
    lifetime = dt.timedelta(seconds=state.settings.login_link_seconds)
    link = queries.add_login_link(db, credentials[1], auth.key_hash(token), lifetime, now)
    db.commit()
    path = f"/login/{token}"
    return schemas.LoginLinkOut(
        url=str(request.base_url).rstrip("/") + path, path=path, expires_at=link.expires_at
    )


@dataclass
class Batch:
    """One upload, whichever route it came by: the rows of one machine, and what else it says."""

    machine: shapes.MachineIn
    batch_id: str
    generated_at: dt.datetime
    source: str  # collector or ccusage
    daily: list[shapes.UploadedDay]
    sessions: list[shapes.UploadedSession] = field(default_factory=list)
    blocks: list[shapes.UploadedBlock] = field(default_factory=list)
    readings: list[shapes.UploadedLimit] = field(default_factory=list)
    plan: shapes.PlanIn | None = None


def _collector_batch(body: bytes) -> Batch:
    data = bodies.decode(body, shapes.UploadBatch, "POST /api/v1/uploads")
    return Batch(
        machine=data.machine,
        batch_id=data.batch_id,
        generated_at=data.generated_at,
        source="collector",
        daily=data.daily,
        sessions=data.sessions,
        blocks=data.blocks,
        readings=data.limits,
        plan=data.plan,
    )


def _ccusage_batch(body: bytes, now: dt.datetime, machine: str) -> Batch:
    data = bodies.decode(body, shapes.CcusageDaily, "POST /claude-code-stats")
    return Batch(
        machine=shapes.MachineIn(id=machine, hostname=machine[:255]),
        # the same report sent again is the same batch, and changes nothing
        batch_id="ccusage-" + hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:48],
        generated_at=now,
        source="ccusage",
        daily=data.daily,
    )


def _ingest(
    read: Callable[[], Batch], db: Session, user: User, now: dt.datetime, state: State
) -> Response[schemas.UploadResult]:
    """An upload, start to end, in its worker thread: wait for a turn at the upload gate
    (``db.UploadGate``: how many uploads a process decodes and stores at once), decode the body
    (``read``; a 400 naming the field stores nothing), store it, then check the budgets."""
    # what the request did before its turn (its key's last use) is committed before the wait:
    # a transaction held while waiting would hold its row locks too, and an upload already in
    # the gate that needs one of them would wait for a request that waits for it (a deadlock
    # PostgreSQL cannot see); on SQLite a read begun before the wait would also be a stale
    # snapshot that cannot then write
    db.commit()
    with state.upload_gate():
        batch = read()
        result = _store(db, user, now, batch)
    return _with_alerts(result, db, user, now, state)


def _store(db: Session, user: User, now: dt.datetime, batch: Batch) -> schemas.UploadResult:
    """One batch in one transaction. Uploads that race (the same machine's first upload, the
    same batch sent twice, the same rows) make one of them fail on a unique key: it is tried
    again, and then sees what the other stored."""
    for attempt in range(3):
        try:
            row = queries.machine_for(db, user, batch.machine.id, batch.machine.hostname, now)
            stored = queries.store_batch(
                db,
                user,
                row,
                batch.batch_id,
                batch.generated_at,
                batch.daily,
                batch.sessions,
                batch.blocks,
                batch.source,
                now,
                batch.readings,
                batch.plan,
            )
            if not stored.duplicate:
                queries.live.mark_changed(db, user.id)  # the open live pages hear of it
            db.commit()
            metrics.upload_stored(
                batch.source, stored.duplicate, stored.daily, stored.sessions, stored.blocks
            )
            return _upload_result(batch.batch_id, stored)
        except IntegrityError as exc:
            db.rollback()
            if attempt == 2:
                raise HTTPException(
                    status_code=HTTP_409_CONFLICT,
                    detail="batchId: concurrent uploads kept colliding; send the batch again",
                ) from exc
    raise AssertionError("unreachable")


def _with_alerts(
    result: schemas.UploadResult, db: Session, user: User, now: dt.datetime, state: State
) -> Response[schemas.UploadResult]:
    """Once the upload has committed: the budgets it leaves past a threshold go into the
    answer, and the alerts it fired are delivered after the answer is sent. A failure here
    loses no usage: the next upload checks again."""
    try:
        standings, messages = alerts.check(db, user, now, state.settings.spike_floor_usd)
    except Exception:
        db.rollback()
        logging.getLogger(__name__).exception("checking budgets after an upload failed")
        return Response(result, status_code=HTTP_201_CREATED)
    result.budgets = [alerts.standing_out(*found) for found in standings]
    task = (
        BackgroundTask(alerts.deliver, state.sessions, state.settings, messages)
        if messages
        else None
    )
    return Response(result, status_code=HTTP_201_CREATED, background=task)


@post(
    "/api/v1/uploads",
    sync_to_thread=True,
    tags=["uploads"],
    opt={"rate_limit": "upload"},
    responses=ERRORS,
    dto=bodies.Undecoded[shapes.UploadBatch],
    return_dto=None,
)
def upload(
    data: JSONBody[bytes], db: DB, user: CurrentUser, now: Now, state: State
) -> Response[schemas.UploadResult]:
    """The collector's upload: daily, session and block rows of one machine, and the user's
    plan and limit readings, in one transaction. Then the budgets: ``budgets`` lists yours and
    your teams' that are past a threshold, and the alerts it fires go out after the answer."""
    return _ingest(lambda: _collector_batch(data), db, user, now, state)


@post(
    "/claude-code-stats",
    sync_to_thread=True,
    tags=["uploads"],
    opt={"rate_limit": "upload"},
    responses=ERRORS,
    dto=bodies.Undecoded[shapes.CcusageDaily],
    return_dto=None,
)
def ccusage_upload(
    data: JSONBody[bytes],
    db: DB,
    user: CurrentUser,
    now: Now,
    state: State,
    username: Annotated[str, QueryParameter(name="username", min_length=1, max_length=50)],
    machine: Annotated[
        str, QueryParameter(name="machine", min_length=1, max_length=200, pattern=shapes.NO_NUL)
    ],
) -> Response[schemas.UploadResult]:
    """The body of ``ccusage daily --json`` for the key's own user, from one machine."""
    if username.lower() != user.username.lower():
        raise PermissionDeniedException(f"username: this key belongs to {user.username!r}")
    return _ingest(lambda: _ccusage_batch(data, now, machine), db, user, now, state)


@get("/api/usage/aggregate", sync_to_thread=True, tags=["usage"], responses=ERRORS)
def aggregate(
    db: DB,
    user: CurrentUser,
    since: Since = None,
    until: Until = None,
    machine: Annotated[str | None, text_param("machine")] = None,
    model: Annotated[str | None, text_param("model")] = None,
) -> shapes.DailyReport:
    """Daily usage in ccusage's daily shape, summed over the user's machines."""
    rows = queries.daily_rows(db, user, *parse_range(since, until), machine, model)
    return daily_report(rows)


@get("/api/machines", sync_to_thread=True, tags=["usage"], responses=ERRORS)
def list_machines(db: DB, user: CurrentUser) -> schemas.MachineList:
    return schemas.MachineList(
        machines=[
            schemas.MachineOut(
                id=m.machine_key,
                hostname=m.hostname,
                first_seen=m.first_seen,
                last_seen=m.last_seen,
                total_tokens=int(tokens),
                total_cost=float(cost),
            )
            for m, tokens, cost in queries.machines(db, user)
        ]
    )


@get("/api/usage/sessions", sync_to_thread=True, tags=["usage"], responses=ERRORS)
def sessions(
    db: DB,
    user: CurrentUser,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, QueryParameter(name="limit", ge=1, le=1000)] = 50,
    project: Annotated[str | None, text_param("projectPath", 500)] = None,
) -> schemas.SessionList:
    """The most recent sessions, newest first."""
    rows = queries.session_rows(db, user, limit, project, *parse_range(since, until))
    grouped: dict[tuple[str, str, str], list[SessionUsage]] = defaultdict(list)
    for usage, machine_key in rows:
        grouped[(machine_key, usage.project, usage.session_id)].append(usage)
    return schemas.SessionList(sessions=[_session_row(u) for u in grouped.values()])


@get("/api/usage/blocks", sync_to_thread=True, tags=["usage"], responses=ERRORS)
def blocks(
    db: DB,
    user: CurrentUser,
    now: Now,
    active_only: Annotated[bool, QueryParameter(name="activeOnly")] = False,
) -> schemas.BlockList:
    """5-hour blocks, newest first (``activeOnly``: those not yet over)."""
    rows = queries.block_rows(db, user, now if active_only else None)
    return schemas.BlockList(
        blocks=[
            shapes.BlockRow(
                id=b.start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                start_time=b.start,
                end_time=b.end,
                actual_end_time=b.last_entry,
                entries=b.entries,
                is_active=b.start <= now < b.end,
                token_counts=shapes.BlockTokens(
                    input_tokens=b.input_tokens,
                    output_tokens=b.output_tokens,
                    cache_creation_input_tokens=b.cache_creation_tokens,
                    cache_read_input_tokens=b.cache_read_tokens,
                ),
                total_tokens=b.input_tokens
                + b.output_tokens
                + b.cache_creation_tokens
                + b.cache_read_tokens,
                cost_usd=b.cost,
                web_search_requests=b.web_search_requests,
                web_search_cost=b.web_search_cost,
                models=list(b.models),
            )
            for b in rows
        ]
    )


@get("/api/usage/analytics/patterns", sync_to_thread=True, tags=["analytics"], responses=ERRORS)
def patterns(
    db: DB,
    user: CurrentUser,
    period: FromQuery[Literal["day", "week"]] = "day",
    timezone: ZoneParam = None,
) -> schemas.Patterns:
    """Usage by hour of day (``day``) or day of week (``week``, 0 is Monday), by the local time
    each 5-hour block started."""
    zone_name = timezone or user.timezone
    zone = _zone(zone_name)
    size = 24 if period == "day" else 7
    tokens, cost = [0] * size, [0.0] * size
    for start, t, c in queries.block_hours(db, user):
        local = start.astimezone(zone)  # UTCDateTime gives aware datetimes
        k = local.hour if period == "day" else local.weekday()
        tokens[k] += int(t)
        cost[k] += float(c)
    return schemas.Patterns(
        period=period,
        timezone=zone_name,
        points=[
            schemas.PatternPoint(key=k, total_tokens=tokens[k], total_cost=cost[k])
            for k in range(size)
        ],
    )


@get("/api/usage/analytics/costs", sync_to_thread=True, tags=["analytics"], responses=ERRORS)
def costs(
    db: DB,
    user: CurrentUser,
    group_by: Annotated[
        Literal["project", "model", "machine", "day"], QueryParameter(name="groupBy")
    ] = "model",
    since: Since = None,
    until: Until = None,
) -> schemas.CostReport:
    """Cost and tokens grouped by project, model, machine or day, costliest first."""
    rows = queries.costs_by(db, user, group_by, *parse_range(since, until))
    return schemas.CostReport(
        group_by=group_by,
        items=[
            schemas.CostItem(key=str(k), total_tokens=int(t or 0), total_cost=float(c or 0))
            for k, t, c in rows
        ],
    )


def first_day(period: str, zone: ZoneInfo, now: dt.datetime) -> dt.date | None:
    """The first day that counts for a leaderboard period, in a zone (weeks start Monday)."""
    today = now.astimezone(zone).date()
    if period == "today":
        return today
    if period == "week":
        return today - dt.timedelta(days=today.weekday())
    if period == "month":
        return today.replace(day=1)
    return None


def leaderboard_since(
    db: Session, period: str, now: dt.datetime, team_ids: list[int] | None = None
) -> dict[str, dt.date] | None:
    """Each opted-in time zone's first day of a leaderboard period (None: all time)."""
    if period not in ("today", "week", "month", "all"):
        raise ClientException("period: use today, week, month or all")
    if period == "all":
        return None
    since = {}
    for zone in queries.opted_in_timezones(db, team_ids):
        first = first_day(period, _zone(zone), now)
        if first is not None:
            since[zone] = first
    return since


@get("/api/leaderboard/{period:str}", sync_to_thread=True, tags=["leaderboard"], responses=ERRORS)
def leaderboard(
    db: DB,
    user: CurrentUser,
    now: Now,
    period: FromPath[str],
    by: FromQuery[Literal["cost", "tokens"]] = "cost",
) -> schemas.Leaderboard:
    """Users who opted in, ranked, under their display names; each user's days are counted in
    their own time zone."""
    rows = queries.leaderboard(db, leaderboard_since(db, period, now))
    return ranked(rows, period, by, with_usernames=False)


def ranked(rows: list[Any], period: str, by: str, with_usernames: bool) -> schemas.Leaderboard:
    rows.sort(key=lambda r: -(float(r[2] or 0) if by == "cost" else int(r[1] or 0)))
    return schemas.Leaderboard(
        period=cast(Any, period),
        by=cast(Any, by),
        entries=[
            schemas.LeaderboardEntry(
                rank=n,
                username=u.username if with_usernames else None,
                display_name=u.display_name,
                total_tokens=int(t or 0),
                total_cost=float(c or 0),
            )
            for n, (u, t, c) in enumerate(rows, start=1)
        ],
    )


router = Router(
    path="/",
    route_handlers=[
        health,
        signup_policy,
        create_user,
        list_users,
        me,
        update_me,
        delete_me,
        list_keys,
        create_key,
        revoke_key,
        create_login_link,
        upload,
        aggregate,
        list_machines,
        sessions,
        blocks,
        patterns,
        costs,
        leaderboard,
    ],
    dependencies=DEPENDENCIES,
    guards=[strict_json],
)
