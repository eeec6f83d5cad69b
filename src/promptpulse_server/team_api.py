"""The JSON API of teams, invites and the server admin (``/api/teams``, ``/api/admin``).

Who may do what:
- a team's members see it, its members and its leaderboard; owners and admins rename it,
  invite, remove members and change roles; only the owner hands it over or deletes it (server
  admins may do all of this for any team);
- anyone may preview an invite code (rate limited) and join with one;
- ``/api/admin/…`` is for server admins only.
A team you are not in answers 404, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any, Literal

from litestar import Request, Router, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_409_CONFLICT
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from promptpulse_server import api, audit, queries, schemas
from promptpulse_server.api import DB, CurrentUser, Now, RowId
from promptpulse_server.models import Invite, Team, User

teams_q = queries.teams
Code = Annotated[str, Parameter(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def team_access(db: Session, team_id: int, user: User, need: str = "member") -> tuple[Team, str]:
    """The team and the user's role in it (``admin`` for a server admin who is not in it).
    ``need`` is member, manager (owner or admin) or owner."""
    team = teams_q.team_by_id(db, team_id)
    role = teams_q.role_of(db, team, user) if team else None
    if team is None or (role is None and not user.is_admin):
        raise NotFoundException(f"no team {team_id}")
    if not user.is_admin:  # a server admin may do anything to any team
        if need == "manager" and role not in teams_q.MANAGERS:
            raise PermissionDeniedException("team: only its owner and admins may do this")
        if need == "owner" and role != "owner":
            raise PermissionDeniedException("team: only its owner may do this")
    return team, role or ""


def invite_out(request: Request[Any, Any, Any], invite: Invite) -> schemas.InviteOut:
    return schemas.InviteOut(
        code=invite.code,
        url=str(request.base_url).rstrip("/") + f"/join/{invite.code}",
        team_id=invite.team_id,
        created_at=invite.created_at,
        expires_at=invite.expires_at,
        max_uses=invite.max_uses,
        uses=invite.uses,
        revoked=invite.revoked_at is not None,
    )


def _member_out(user: User, role: str, joined: dt.datetime) -> schemas.MemberOut:
    return schemas.MemberOut(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=role,  # type: ignore[arg-type]
        joined_at=joined,
    )


# --- teams -----------------------------------------------------------------------------------


@get("/api/teams", sync_to_thread=True, tags=["teams"], responses=api.ERRORS)
def list_teams(db: DB, user: CurrentUser) -> schemas.TeamList:
    """Your teams, with your role in each."""
    return schemas.TeamList(teams=[api.team_out(*t) for t in teams_q.teams_of(db, user)])


@post(
    "/api/teams",
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    tags=["teams"],
    responses=api.ERRORS,
)
def create_team(
    data: JSONBody[schemas.NewTeam], db: DB, user: CurrentUser, now: Now, state: State
) -> schemas.TeamOut:
    """A new team, owned by you (``PROMPTPULSE_TEAM_CREATION=admins``: server admins only)."""
    if state.settings.team_creation == "admins" and not user.is_admin:
        raise PermissionDeniedException("name: only server admins may create teams here")
    return api.team_out(new_team(db, user, data.name.strip(), now), "owner", 1)


def new_team(db: Session, owner: User, name: str, now: dt.datetime) -> Team:
    """Create and commit a team. Teams of one name made at the same moment would pick the same
    slug: a loser tries again with the next one, and after two tries with a random part."""
    for attempt in range(8):
        try:
            salt = secrets.token_hex(2) if attempt >= 2 else ""
            team = teams_q.create_team(db, owner, name, now, salt)
            audit.record(db, now, "team_created", owner, team=team)
            db.commit()
            return team
        except IntegrityError as exc:
            db.rollback()
            if attempt == 7:
                raise HTTPException(
                    status_code=HTTP_409_CONFLICT, detail="name: try again in a moment"
                ) from exc
    raise AssertionError("unreachable")


@get("/api/teams/{team_id:int}", sync_to_thread=True, tags=["teams"], responses=api.ERRORS)
def get_team(team_id: RowId, db: DB, user: CurrentUser) -> schemas.TeamOut:
    team, role = team_access(db, team_id, user)
    return api.team_out(team, role or None, teams_q.member_count(db, team))


@put("/api/teams/{team_id:int}", sync_to_thread=True, tags=["teams"], responses=api.ERRORS)
def rename_team(
    team_id: RowId, data: JSONBody[schemas.NewTeam], db: DB, user: CurrentUser, now: Now
) -> schemas.TeamOut:
    """Rename the team (owners and admins); its slug stays."""
    team, role = team_access(db, team_id, user, "manager")
    before = team.name
    teams_q.rename_team(db, team, data.name.strip())
    audit.record(db, now, "team_renamed", user, team=team, detail=f"{before!r} → {team.name!r}")
    db.commit()
    return api.team_out(team, role or None, teams_q.member_count(db, team))


@delete("/api/teams/{team_id:int}", sync_to_thread=True, tags=["teams"], responses=api.ERRORS)
def delete_team(team_id: RowId, db: DB, user: CurrentUser, now: Now) -> None:
    """Delete the team (its owner); members keep their accounts and usage."""
    team, _ = team_access(db, team_id, user, "owner")
    audit.record(db, now, "team_deleted", user, team=team, detail=repr(team.name))
    teams_q.delete_team(db, team)
    db.commit()


@get("/api/teams/{team_id:int}/members", sync_to_thread=True, tags=["teams"], responses=api.ERRORS)
def list_members(team_id: RowId, db: DB, user: CurrentUser) -> schemas.MemberList:
    team, _ = team_access(db, team_id, user)
    return schemas.MemberList(
        members=[_member_out(u, m.role, m.joined_at) for u, m in teams_q.members(db, team)]
    )


@delete(
    "/api/teams/{team_id:int}/members/me", sync_to_thread=True, tags=["teams"], responses=api.ERRORS
)
def leave_team(team_id: RowId, db: DB, user: CurrentUser, now: Now) -> None:
    """Leave the team. Its owner hands it over first (or deletes it)."""
    team, role = team_access(db, team_id, user)
    if not role:
        raise NotFoundException(f"team: you are not a member of team {team_id}")
    if role == "owner":
        raise HTTPException(
            status_code=HTTP_409_CONFLICT,
            detail="team: the owner cannot leave; make someone else owner, or delete the team",
        )
    leave(db, team, user, now)


def leave(db: Session, team: Team, user: User, now: dt.datetime) -> None:
    """Take ``user`` out of ``team`` and commit."""
    teams_q.remove_member(db, team, user.id)
    audit.record(db, now, "member_left", user, team=team)
    db.commit()


@delete(
    "/api/teams/{team_id:int}/members/{user_id:int}",
    sync_to_thread=True,
    tags=["teams"],
    responses=api.ERRORS,
)
def remove_member(team_id: RowId, user_id: RowId, db: DB, user: CurrentUser, now: Now) -> None:
    """Remove a member: owners remove anyone but themselves, admins remove members."""
    team, role = team_access(db, team_id, user, "manager")
    target = teams_q.membership(db, team, user_id)
    if target is None:
        raise NotFoundException(f"userId: {user_id} is not a member of this team")
    if target.role == "owner":
        raise PermissionDeniedException("userId: the owner cannot be removed")
    if target.role == "admin" and role != "owner" and not user.is_admin:
        raise PermissionDeniedException("userId: only the owner removes an admin")
    teams_q.remove_member(db, team, user_id)
    audit.record(db, now, "member_removed", user, subject=db.get(User, user_id), team=team)
    db.commit()


@put(
    "/api/teams/{team_id:int}/members/{user_id:int}/promote",
    sync_to_thread=True,
    tags=["teams"],
    responses=api.ERRORS,
)
def change_role(
    team_id: RowId,
    user_id: RowId,
    data: JSONBody[schemas.RoleChange],
    db: DB,
    user: CurrentUser,
    now: Now,
) -> schemas.MemberOut:
    """Make a member an admin or a member again (owners and admins), or the owner (the owner
    only: the team changes hands and the old owner becomes an admin)."""
    team, role = team_access(db, team_id, user, "owner" if data.role == "owner" else "manager")
    target = teams_q.membership(db, team, user_id)
    if target is None:
        raise NotFoundException(f"userId: {user_id} is not a member of this team")
    if target.role == "owner" and data.role != "owner":
        raise PermissionDeniedException("role: hand the team over to change the owner's role")
    if target.role == "admin" and role != "owner" and not user.is_admin:
        raise PermissionDeniedException("role: only the owner changes an admin's role")
    before = target.role
    teams_q.set_role(db, team, user_id, data.role)
    subject = db.get(User, user_id)
    audit.record(
        db, now, "role_changed", user, subject=subject, team=team, detail=f"{before} → {data.role}"
    )
    db.commit()
    db.refresh(target)
    member = db.get(User, user_id)
    assert member is not None
    return _member_out(member, target.role, target.joined_at)


@get(
    "/api/teams/{team_id:int}/leaderboard/{period:str}",
    sync_to_thread=True,
    tags=["teams"],
    responses=api.ERRORS,
)
def team_leaderboard(
    team_id: RowId,
    period: Annotated[Literal["today", "week", "month", "all"], Parameter()],
    db: DB,
    user: CurrentUser,
    now: Now,
    by: FromQuery[Literal["cost", "tokens"]] = "cost",
) -> schemas.Leaderboard:
    """The team's members who share their usage, ranked; each counted in their own zone."""
    team, _ = team_access(db, team_id, user)
    ids = teams_q.member_ids(db, team)
    rows = queries.leaderboard(db, api.leaderboard_since(db, period, now, ids), ids)
    return api.ranked(rows, period, by, with_usernames=True)


# --- invites ---------------------------------------------------------------------------------


@post(
    "/api/teams/{team_id:int}/invites",
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    tags=["teams"],
    responses=api.ERRORS,
)
def create_invite(
    request: Request[Any, Any, Any],
    team_id: RowId,
    db: DB,
    user: CurrentUser,
    now: Now,
    data: JSONBody[schemas.NewInvite | None] = None,
) -> schemas.InviteOut:
    """An invite to the team (owners and admins). It also works as a sign-up code."""
    team, _ = team_access(db, team_id, user, "manager")
    return invite_out(request, make_invite(db, team, user, data, now))


def make_invite(
    db: Session, team: Team | None, user: User, form: schemas.NewInvite | None, now: dt.datetime
) -> Invite:
    """Make and commit an invite to a team, or (None) a sign-up invite; defaults as NewInvite."""
    form = form or schemas.NewInvite()
    lifetime = dt.timedelta(hours=form.expires_in_hours)
    invite = teams_q.create_invite(db, team, user, form.max_uses, lifetime, now)
    what = f"up to {form.max_uses} uses, for {form.expires_in_hours} h"
    audit.record(
        db, now, "invite_created", user, team=team, detail=what if team else f"sign-up, {what}"
    )
    db.commit()
    return invite


@get("/api/teams/{team_id:int}/invites", sync_to_thread=True, tags=["teams"], responses=api.ERRORS)
def list_invites(
    request: Request[Any, Any, Any], team_id: RowId, db: DB, user: CurrentUser
) -> schemas.InviteList:
    team, _ = team_access(db, team_id, user, "manager")
    return schemas.InviteList(invites=[invite_out(request, i) for i in teams_q.invites(db, team)])


@delete(
    "/api/teams/{team_id:int}/invites/{code:str}",
    sync_to_thread=True,
    tags=["teams"],
    responses=api.ERRORS,
)
def revoke_invite(team_id: RowId, code: Code, db: DB, user: CurrentUser, now: Now) -> None:
    team, _ = team_access(db, team_id, user, "manager")
    revoke_invite_of(db, team, user, code, now)


def revoke_invite_of(
    db: Session, team: Team | None, user: User, code: str, now: dt.datetime
) -> None:
    """Revoke a team's (None: a sign-up) invite and commit; 404 if there is no such live one."""
    if not teams_q.revoke_invite(db, team, code, now):
        what = "invite in this team" if team else "sign-up invite"
        raise NotFoundException(f"code: no such live {what}")
    audit.record(db, now, "invite_revoked", user, team=team, detail="" if team else "sign-up")
    db.commit()


@get(
    "/api/teams/join/{code:str}/preview",
    sync_to_thread=True,
    tags=["teams"],
    opt={"rate_limit": "invite"},
    responses=api.ERRORS,
)
def preview_invite(code: Code, db: DB, now: Now) -> schemas.InvitePreview:
    """What an invite code leads to, before signing up or joining (no key needed)."""
    found = teams_q.live_invite(db, code, now)
    if found is None:
        raise NotFoundException("code: unknown, expired, revoked or used up")
    invite, team = found
    preview = (
        schemas.TeamPreview(name=team.name, slug=team.slug, members=teams_q.member_count(db, team))
        if team
        else None
    )
    return schemas.InvitePreview(team=preview, expires_at=invite.expires_at)


@post(
    "/api/teams/join/{code:str}",
    sync_to_thread=True,
    status_code=200,
    tags=["teams"],
    opt={"rate_limit": "invite"},
    responses=api.ERRORS,
)
def join_team(code: Code, db: DB, user: CurrentUser, now: Now) -> schemas.TeamOut:
    """Join the invite's team as a member (a member already: nothing changes)."""
    return api.team_out(*join(db, user, code, now))


def join(db: Session, user: User, code: str, now: dt.datetime) -> tuple[Team, str, int]:
    found = teams_q.live_invite(db, code, now)
    if found is None or found[1] is None:
        raise NotFoundException("code: unknown, expired, revoked or used up, or not a team's")
    team = found[1]
    # the membership first: a second join of the same person (even at the same moment) adds
    # nothing and so uses nothing up; a use is taken only for a new member
    if teams_q.add_member(db, team, user, "member", now):
        if teams_q.use_invite(db, code, now) is None:  # used up by someone else just now
            db.rollback()
            raise NotFoundException("code: unknown, expired, revoked or used up")
        audit.record(db, now, "member_joined", user, team=team, detail="with an invite")
        db.commit()
    else:
        db.rollback()
    role = teams_q.role_of(db, team, user) or "member"
    return team, role, teams_q.member_count(db, team)


# --- the server admin --------------------------------------------------------------------------


def _admin(user: User) -> None:
    if not user.is_admin:
        raise PermissionDeniedException("only server admins may do this")


def _account(user: User, last: dt.datetime | None) -> schemas.AccountOut:
    return schemas.AccountOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        is_admin=user.is_admin,
        disabled=user.disabled_at is not None,
        created_at=user.created_at,
        last_active=last,
    )


@get("/api/admin/users", sync_to_thread=True, tags=["admin"], responses=api.ERRORS)
def admin_users(db: DB, user: CurrentUser) -> schemas.AccountList:
    _admin(user)
    return schemas.AccountList(users=[_account(u, t) for u, t in teams_q.accounts(db)])


AdminAction = Literal["disable", "enable", "promote", "demote"]


@post(
    "/api/admin/users/{user_id:int}/{action:str}",
    sync_to_thread=True,
    status_code=200,
    tags=["admin"],
    responses=api.ERRORS,
)
def admin_user_action(
    user_id: RowId,
    action: Annotated[AdminAction, Parameter()],
    db: DB,
    user: CurrentUser,
    now: Now,
) -> schemas.AccountOut:
    """Disable (its keys and dashboard sessions stop at once), enable, promote to server admin,
    or demote. Nobody demotes or disables themselves: a server keeps an admin."""
    _admin(user)
    target = account_action(db, user, user_id, action, now)
    return _account(target, None)


def account_action(db: Session, admin: User, user_id: int, action: str, now: dt.datetime) -> User:
    target = db.get(User, user_id)
    if target is None:
        raise NotFoundException(f"no user {user_id}")
    if target.id == admin.id and action in ("disable", "demote"):
        raise ClientException(f"userId: you cannot {action} yourself")
    if action == "disable":
        teams_q.set_disabled(db, target, now)
    elif action == "enable":
        teams_q.set_disabled(db, target, None)
    else:
        teams_q.set_admin(db, target, action == "promote")
    audit.record(db, now, audit.ADMIN_ACTIONS[action], admin, subject=target)
    db.commit()
    return target


@delete("/api/admin/users/{user_id:int}", sync_to_thread=True, tags=["admin"], responses=api.ERRORS)
def admin_delete_user(user_id: RowId, db: DB, user: CurrentUser, now: Now) -> None:
    """Delete an account and all its data."""
    _admin(user)
    delete_account(db, user, user_id, now)


def delete_account(db: Session, admin: User, user_id: int, now: dt.datetime) -> User:
    """An admin deletes another account with all its data (their own goes from Settings)."""
    target = db.get(User, user_id)
    if target is None:
        raise NotFoundException(f"no user {user_id}")
    if target.id == admin.id:
        raise ClientException("userId: delete your own account from /api/users/me")
    audit.record(db, now, "account_deleted", admin, subject=target, subject_gone=True)
    queries.delete_user(db, target)
    db.commit()
    return target


@post(
    "/api/admin/invites",
    sync_to_thread=True,
    status_code=HTTP_201_CREATED,
    tags=["admin"],
    responses=api.ERRORS,
)
def admin_create_invite(
    request: Request[Any, Any, Any],
    db: DB,
    user: CurrentUser,
    now: Now,
    data: JSONBody[schemas.NewInvite | None] = None,
) -> schemas.InviteOut:
    """A sign-up code that joins no team."""
    _admin(user)
    return invite_out(request, make_invite(db, None, user, data, now))


@get("/api/admin/invites", sync_to_thread=True, tags=["admin"], responses=api.ERRORS)
def admin_invites(request: Request[Any, Any, Any], db: DB, user: CurrentUser) -> schemas.InviteList:
    _admin(user)
    return schemas.InviteList(invites=[invite_out(request, i) for i in teams_q.invites(db, None)])


@delete("/api/admin/invites/{code:str}", sync_to_thread=True, tags=["admin"], responses=api.ERRORS)
def admin_revoke_invite(code: Code, db: DB, user: CurrentUser, now: Now) -> None:
    _admin(user)
    revoke_invite_of(db, None, user, code, now)


@get("/api/admin/settings", sync_to_thread=True, tags=["admin"], responses=api.ERRORS)
def admin_settings(user: CurrentUser, state: State) -> schemas.ServerSettings:
    """The sign-up mode and who may create teams (set in the environment)."""
    _admin(user)
    return schemas.ServerSettings(
        signup_mode=state.settings.signup_mode, team_creation=state.settings.team_creation
    )


router = Router(
    path="/",
    route_handlers=[
        list_teams,
        create_team,
        get_team,
        rename_team,
        delete_team,
        list_members,
        leave_team,
        remove_member,
        change_role,
        team_leaderboard,
        create_invite,
        list_invites,
        revoke_invite,
        preview_invite,
        join_team,
        admin_users,
        admin_user_action,
        admin_delete_user,
        admin_create_invite,
        admin_invites,
        admin_revoke_invite,
        admin_settings,
    ],
    dependencies=api.DEPENDENCIES,
    guards=[api.strict_json],
)
