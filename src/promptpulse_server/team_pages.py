"""The dashboard's pages for people and teams: sign up (``/signup``, ``/join/{code}``), teams
(``/teams``, ``/teams/{slug}``) and the server admin's page (``/admin``). Handlers are thin:
they check the form, call ``queries`` (through the API's rules in ``api`` and ``team_api``) and
render; every form carries the CSRF token."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_409_CONFLICT

from promptpulse.clock import to_ms
from promptpulse_server import (
    api,
    auth,
    budget_forms,
    limits_api,
    queries,
    schemas,
    team_api,
    views,
    web,
)
from promptpulse_server.api import DB, Now, RowId
from promptpulse_server.models import User
from promptpulse_server.queries import audit as audit_q
from promptpulse_server.web import Viewer

teams_q = queries.teams


def _render(
    template: str, request: Request[Any, Any, Any], viewer: User, status: int = 200, **extra: Any
) -> Response[Any]:
    return web.page(template, request, viewer, web.read_filters(request, viewer), status, **extra)


def _problem(exc: HTTPException) -> str:
    return str(exc.detail)


# --- signing up ------------------------------------------------------------------------------


@dataclass
class SignupForm:
    username: str = ""
    display_name: str = ""
    invite_code: str = ""


def _signup_page(
    request: Request[Any, Any, Any], db: Any, state: State, form: SignupForm, error: str = ""
) -> Template:
    code = form.invite_code.strip()
    preview = teams_q.live_invite(db, code, api.clock_now(state)) if code else None
    return Template(
        "signup.html",
        context={
            "form": form,
            "error": error,
            "team": preview[1] if preview else None,
            "first_account": teams_q.count_users(db) == 0,
            "signup_mode": state.settings.signup_mode,
        },
        status_code=400 if error else 200,
    )


@get("/signup", sync_to_thread=True, include_in_schema=False)
def signup_page(
    request: Request[Any, Any, Any], db: DB, state: State, code: FromQuery[str] = ""
) -> Template:
    return _signup_page(request, db, state, SignupForm(invite_code=code[:64]))


@post("/signup", sync_to_thread=True, include_in_schema=False, opt={"rate_limit": "signup"})
def signup(
    request: Request[Any, Any, Any],
    db: DB,
    state: State,
    now: Now,
    data: Annotated[SignupForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Make an account under the server's sign-up mode, open a dashboard session with its first
    key, and show that key once."""
    try:
        new = msgspec.convert(
            {
                "username": data.username.strip(),
                "displayName": data.display_name.strip() or None,
                "inviteCode": data.invite_code.strip() or None,
            },
            schemas.NewUser,
        )
    except msgspec.ValidationError as exc:
        return _signup_page(request, db, state, data, f"Check the form: {exc}")
    try:
        user, key = api.register(db, state.settings.signup_mode, new, now)
    except HTTPException as exc:
        return _signup_page(request, db, state, data, _problem(exc))
    token = secrets.token_urlsafe(32)
    days = state.settings.session_days
    queries.add_web_session(db, key.row, auth.key_hash(token), dt.timedelta(days=days), now)
    db.commit()
    response = Template(
        "signed_up.html",
        context={
            "viewer": user,
            "api_key": key.api_key,
            "teams": teams_q.teams_of(db, user),
        },
        status_code=201,
    )
    response.cookies.append(web._session_cookie(request, token, days))
    return response


@get("/join/{code:str}", sync_to_thread=True, include_in_schema=False)
def join_page(
    request: Request[Any, Any, Any], db: DB, state: State, now: Now, code: FromPath[str]
) -> Response[Any]:
    """Where an invite link leads: join the team when logged in, else sign up with the code
    (or log in and come back)."""
    found = teams_q.live_invite(db, code[:64], now)
    token = request.cookies.get(web.COOKIE, "")
    viewer = queries.user_for_web_session(db, auth.key_hash(token), now) if token else None
    if viewer is None:
        if found is None:
            raise NotFoundException("code: this invite is unknown, expired, revoked or used up")
        return _signup_page(request, db, state, SignupForm(invite_code=code[:64]))
    if found is None or found[1] is None:
        raise NotFoundException("code: this invite is unknown, expired, revoked or used up")
    return _render("join.html", request, viewer, invite=found[0], team=found[1])


# --- teams -------------------------------------------------------------------------------------


@get("/teams", sync_to_thread=True, include_in_schema=False)
def teams_page(
    request: Request[Any, Any, Any], db: DB, viewer: Viewer, state: State
) -> Response[Any]:
    return _teams(request, db, viewer, state)


def _teams(
    request: Request[Any, Any, Any],
    db: Any,
    viewer: User,
    state: State,
    error: str = "",
    status: int = 200,
) -> Response[Any]:
    may_create = state.settings.team_creation == "anyone" or viewer.is_admin
    return _render(
        "teams.html",
        request,
        viewer,
        status,
        teams=teams_q.teams_of(db, viewer),
        may_create=may_create,
        error=error,
    )


@dataclass
class TeamForm:
    name: str = ""


@post("/teams", sync_to_thread=True, include_in_schema=False)
def create_team(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    state: State,
    now: Now,
    data: Annotated[TeamForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    name = data.name.strip()
    if not 1 <= len(name) <= 100 or "\x00" in name:
        return _teams(request, db, viewer, state, "Name: 1 to 100 characters.", 400)
    if state.settings.team_creation == "admins" and not viewer.is_admin:
        return _teams(request, db, viewer, state, "Only server admins create teams here.", 403)
    team = team_api.new_team(db, viewer, name, now)
    return Redirect(f"/teams/{team.slug}")


@dataclass
class JoinForm:
    code: str = ""


@post("/teams/join", sync_to_thread=True, include_in_schema=False, opt={"rate_limit": "invite"})
def join_team(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    state: State,
    now: Now,
    data: Annotated[JoinForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    code = data.code.strip().rsplit("/", 1)[-1][:64]  # a pasted link works too
    try:
        team, _, _ = team_api.join(db, viewer, code, now)
    except HTTPException as exc:
        return _teams(request, db, viewer, state, _problem(exc), exc.status_code)
    return Redirect(f"/teams/{team.slug}")


def _team_by_slug(db: Any, slug: str, viewer: User, need: str = "member") -> tuple[Any, str]:
    team = teams_q.team_by_slug(db, slug[:60])
    if team is None:
        raise NotFoundException(f"no team {slug!r}")
    return team_api.team_access(db, team.id, viewer, need)


@get("/teams/{slug:str}", sync_to_thread=True, include_in_schema=False)
def team_page(
    request: Request[Any, Any, Any], db: DB, viewer: Viewer, now: Now, slug: FromPath[str]
) -> Response[Any]:
    return _team(request, db, viewer, now, slug)


def _team(
    request: Request[Any, Any, Any],
    db: Any,
    viewer: User,
    now: dt.datetime,
    slug: str,
    new_invite: Any = None,
    message: str = "",
    status: int = 200,
    **extra: Any,
) -> Response[Any]:
    team, role = _team_by_slug(db, slug, viewer)
    manager = role in teams_q.MANAGERS or viewer.is_admin
    ids = teams_q.member_ids(db, team)
    month = api.leaderboard_since(db, "month", now, ids)
    rows, table = views.leaderboard(queries.leaderboard(db, month, ids), "cost")
    members = teams_q.members(db, team)
    total = sum(r.cost for r in rows)
    # the limits of the members the viewer sees, as GET /api/usage/limits/current?team= does
    people = queries.visible_users(db, viewer, ids)
    latest = queries.limits.latest(db, [u.id for u in people])
    current = {uid: limits_api.current_of(found, now) for uid, found in latest.items()}
    budgets = budget_forms.context(db, viewer, now, team, full=manager)
    return _render(
        "team_detail.html",
        request,
        viewer,
        status,
        team=team,
        role=role,
        manager=manager,
        members=members,
        board=rows,
        month_cost=total,
        member_limits=views.member_limits(people, current),
        now_ms=to_ms(now),
        invites=teams_q.invites(db, team) if manager else [],
        new_invite=new_invite,
        base=str(request.base_url).rstrip("/"),
        message=message,
        table=table,
        live={"events": f"/live/usage?team={slug}&user=all", "page": f"/teams/{slug}"},
        **(budgets | extra),
    )


@dataclass
class InviteForm:
    max_uses: int = 10
    expires_in_hours: int = 168

    def checked(self) -> schemas.NewInvite:
        try:
            return msgspec.convert(
                {"maxUses": self.max_uses, "expiresInHours": self.expires_in_hours},
                schemas.NewInvite,
            )
        except msgspec.ValidationError as exc:
            raise ClientException(f"invite: {exc}") from exc


@post("/teams/{slug:str}/invites", sync_to_thread=True, include_in_schema=False)
def create_invite(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    slug: FromPath[str],
    data: Annotated[InviteForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    team, _ = _team_by_slug(db, slug, viewer, "manager")
    invite = team_api.make_invite(db, team, viewer, data.checked(), now)
    return _team(request, db, viewer, now, slug, new_invite=invite)


@post("/teams/{slug:str}/invites/{code:str}/revoke", sync_to_thread=True, include_in_schema=False)
def revoke_invite(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    now: Now,
    slug: FromPath[str],
    code: FromPath[str],
) -> Response[Any]:
    team, _ = _team_by_slug(db, slug, viewer, "manager")
    team_api.revoke_invite_of(db, team, viewer, code[:64], now)
    return _team(request, db, viewer, now, slug, message="Invite revoked.")


@post("/teams/{slug:str}/leave", sync_to_thread=True, include_in_schema=False)
def leave_team(
    request: Request[Any, Any, Any], db: DB, viewer: Viewer, now: Now, slug: FromPath[str]
) -> Response[Any]:
    team, role = _team_by_slug(db, slug, viewer)
    if not role:
        raise NotFoundException(f"team: you are not a member of {slug!r}")
    if role == "owner":
        raise HTTPException(
            status_code=HTTP_409_CONFLICT,
            detail="team: the owner cannot leave; make someone else owner, or delete the team",
        )
    team_api.leave(db, team, viewer, now)
    return Redirect("/teams")


# --- the server admin --------------------------------------------------------------------------


def _admin_page(
    request: Request[Any, Any, Any],
    db: Any,
    viewer: User,
    state: State,
    new_invite: Any = None,
    message: str = "",
) -> Response[Any]:
    if not viewer.is_admin:
        raise PermissionDeniedException("only server admins may see this page")
    return _render(
        "admin.html",
        request,
        viewer,
        accounts=teams_q.accounts(db),
        invites=teams_q.invites(db, None),
        audit_entries=audit_q.entries(db, involving=None, limit=web.PAGE_ENTRIES),
        new_invite=new_invite,
        base=str(request.base_url).rstrip("/"),
        signup_mode=state.settings.signup_mode,
        team_creation=state.settings.team_creation,
        message=message,
    )


@get("/admin", sync_to_thread=True, include_in_schema=False)
def admin_page(
    request: Request[Any, Any, Any], db: DB, viewer: Viewer, state: State
) -> Response[Any]:
    return _admin_page(request, db, viewer, state)


@post("/admin/users/{user_id:int}/{action:str}", sync_to_thread=True, include_in_schema=False)
def admin_action(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    state: State,
    now: Now,
    user_id: RowId,
    action: FromPath[str],
) -> Response[Any]:
    if not viewer.is_admin:
        raise PermissionDeniedException("only server admins may do this")
    if action == "delete":
        target = team_api.delete_account(db, viewer, user_id, now)
        return _admin_page(request, db, viewer, state, message=f"{target.username} deleted.")
    if action not in ("disable", "enable", "promote", "demote"):
        raise NotFoundException(f"no action {action!r}")
    target = team_api.account_action(db, viewer, user_id, action, now)
    return _admin_page(request, db, viewer, state, message=f"{target.username}: {action}d.")


@post("/admin/invites", sync_to_thread=True, include_in_schema=False)
def admin_invite(
    request: Request[Any, Any, Any],
    db: DB,
    viewer: Viewer,
    state: State,
    now: Now,
    data: Annotated[InviteForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    if not viewer.is_admin:
        raise PermissionDeniedException("only server admins may do this")
    invite = team_api.make_invite(db, None, viewer, data.checked(), now)
    return _admin_page(request, db, viewer, state, new_invite=invite)


router = Router(
    path="/",
    route_handlers=[
        signup_page,
        signup,
        join_page,
        teams_page,
        create_team,
        join_team,
        team_page,
        create_invite,
        revoke_invite,
        leave_team,
        admin_page,
        admin_action,
        admin_invite,
    ],
    dependencies=web.router.dependencies,
)
