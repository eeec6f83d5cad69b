"""Teams, their members and invites, and the server admin's view of accounts. Every statement
that writes a membership or uses up an invite is safe when requests race: a membership is
unique per (team, user) and added with ON CONFLICT DO NOTHING; an invite is used with one
conditional UPDATE, so its use limit holds."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from promptpulse_server.models import ApiKey, Invite, Machine, Membership, Team, User

ROLES = ("owner", "admin", "member")
MANAGERS = ("owner", "admin")


def _insert(s: Session) -> Any:
    return (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert


def slug_for(s: Session, name: str, salt: str = "") -> str:
    """A URL name from the team's name (and ``salt``), made unique with a number."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50] or "team"
    base = f"{base}-{salt}" if salt else base
    taken = set(s.scalars(select(Team.slug).where(Team.slug.like(f"{base}%"))))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def create_team(s: Session, owner: User, name: str, now: dt.datetime, salt: str = "") -> Team:
    team = Team(name=name, slug=slug_for(s, name, salt), created_at=now)
    s.add(team)
    s.flush()
    add_member(s, team, owner, "owner", now)
    return team


def team_by_id(s: Session, team_id: int) -> Team | None:
    return s.get(Team, team_id)


def team_by_slug(s: Session, slug: str) -> Team | None:
    return s.scalar(select(Team).where(Team.slug == slug))


def role_of(s: Session, team: Team, user: User) -> str | None:
    return s.scalar(
        select(Membership.role).where(Membership.team_id == team.id, Membership.user_id == user.id)
    )


def teams_of(s: Session, user: User) -> list[tuple[Team, str, int]]:
    """(team, the user's role, how many members) of each of the user's teams, by name."""
    counts = (
        select(Membership.team_id, func.count().label("n")).group_by(Membership.team_id).subquery()
    )
    rows = s.execute(
        select(Team, Membership.role, counts.c.n)
        .join(Membership, Membership.team_id == Team.id)
        .join(counts, counts.c.team_id == Team.id)
        .where(Membership.user_id == user.id)
        .order_by(func.lower(Team.name), Team.id)
    ).all()
    return [(t, role, int(n)) for t, role, n in rows]


def member_count(s: Session, team: Team) -> int:
    return int(s.scalar(select(func.count()).where(Membership.team_id == team.id)) or 0)


def members(s: Session, team: Team) -> list[tuple[User, Membership]]:
    rows = s.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == team.id)
        .order_by(Membership.joined_at, User.id)
    ).all()
    return [(u, m) for u, m in rows]


def membership(s: Session, team: Team, user_id: int) -> Membership | None:
    return s.scalar(
        select(Membership).where(Membership.team_id == team.id, Membership.user_id == user_id)
    )


def add_member(s: Session, team: Team, user: User, role: str, now: dt.datetime) -> bool:
    """Add a member; someone already in the team keeps their role. True when added."""
    added = s.execute(
        _insert(s)(Membership)
        .values(team_id=team.id, user_id=user.id, role=role, joined_at=now)
        .on_conflict_do_nothing(index_elements=["team_id", "user_id"])
        .returning(Membership.id)
    ).first()
    return added is not None


def remove_member(s: Session, team: Team, user_id: int) -> None:
    s.execute(
        delete(Membership).where(Membership.team_id == team.id, Membership.user_id == user_id)
    )


def set_role(s: Session, team: Team, user_id: int, role: str) -> None:
    """Change a member's role; making someone owner hands the team over (the owner becomes
    an admin)."""
    if role == "owner":
        s.execute(
            update(Membership)
            .where(Membership.team_id == team.id, Membership.role == "owner")
            .values(role="admin")
        )
    s.execute(
        update(Membership)
        .where(Membership.team_id == team.id, Membership.user_id == user_id)
        .values(role=role)
    )


def rename_team(s: Session, team: Team, name: str) -> None:
    team.name = name
    s.flush()


def delete_team(s: Session, team: Team) -> None:
    s.execute(delete(Invite).where(Invite.team_id == team.id))
    s.execute(delete(Membership).where(Membership.team_id == team.id))
    s.execute(delete(Team).where(Team.id == team.id))


def hand_over_teams(s: Session, user: User) -> None:
    """Before an account goes: each team it owns passes to its longest-standing other member
    (admins first); a team with nobody else is deleted."""
    owned = s.scalars(
        select(Team)
        .join(Membership, Membership.team_id == Team.id)
        .where(Membership.user_id == user.id, Membership.role == "owner")
    ).all()
    for team in owned:
        heir = s.scalar(
            select(Membership)
            .where(Membership.team_id == team.id, Membership.user_id != user.id)
            .order_by((Membership.role != "admin"), Membership.joined_at, Membership.id)
            .limit(1)
        )
        if heir is None:
            delete_team(s, team)
        else:
            heir.role = "owner"
    s.execute(delete(Membership).where(Membership.user_id == user.id))
    s.flush()


def co_member_ids(s: Session, user: User) -> set[int]:
    """Everyone who shares a team with the user (the user included)."""
    mine = select(Membership.team_id).where(Membership.user_id == user.id)
    ids = set(s.scalars(select(Membership.user_id).where(Membership.team_id.in_(mine))))
    return ids | {user.id}


def member_ids(s: Session, team: Team) -> list[int]:
    return list(s.scalars(select(Membership.user_id).where(Membership.team_id == team.id)))


# --- invites ---------------------------------------------------------------------------------


CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    """An invite code: 16 letters and digits (about 93 bits), none that look alike, never
    starting with a dash that a command line would take for an option."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))


def create_invite(
    s: Session,
    team: Team | None,
    creator: User,
    max_uses: int,
    lifetime: dt.timedelta,
    now: dt.datetime,
) -> Invite:
    invite = Invite(
        code=new_code(),
        team_id=team.id if team else None,
        created_by=creator.id,
        created_at=now,
        expires_at=now + lifetime,
        max_uses=max_uses,
        uses=0,
    )
    s.add(invite)
    s.flush()
    return invite


def invites(s: Session, team: Team | None) -> Sequence[Invite]:
    """A team's invites, or (None) the admins' sign-up invites; newest first."""
    where = Invite.team_id == team.id if team else Invite.team_id.is_(None)
    return s.scalars(select(Invite).where(where).order_by(Invite.id.desc())).all()


def revoke_invite(s: Session, team: Team | None, code: str, now: dt.datetime) -> bool:
    where = Invite.team_id == team.id if team else Invite.team_id.is_(None)
    done = s.execute(
        update(Invite)
        .where(where, Invite.code == code, Invite.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(done, "rowcount", 0))


def _live(now: dt.datetime) -> Any:
    return (Invite.revoked_at.is_(None), Invite.expires_at > now, Invite.uses < Invite.max_uses)


def live_invite(s: Session, code: str, now: dt.datetime) -> tuple[Invite, Team | None] | None:
    row = s.execute(
        select(Invite, Team)
        .outerjoin(Team, Team.id == Invite.team_id)
        .where(Invite.code == code, *_live(now))
    ).first()
    return None if row is None else (row[0], row[1])


def use_invite(s: Session, code: str, now: dt.datetime) -> Invite | None:
    """Use up one use of a live invite, atomically; None when it is unknown, expired, revoked
    or used up."""
    used = s.execute(
        update(Invite)
        .where(Invite.code == code, *_live(now))
        .values(uses=Invite.uses + 1)
        .returning(Invite.id)
    ).first()
    return None if used is None else s.get(Invite, used[0])


# --- the server admin's view -----------------------------------------------------------------


def count_users(s: Session) -> int:
    return int(s.scalar(select(func.count()).select_from(User)) or 0)


def accounts(s: Session) -> list[tuple[User, dt.datetime | None]]:
    """Every account with its last activity (last upload or key use), by name."""
    seen = (
        select(Machine.user_id, func.max(Machine.last_seen).label("t"))
        .group_by(Machine.user_id)
        .subquery()
    )
    used = (
        select(ApiKey.user_id, func.max(ApiKey.last_used_at).label("t"))
        .group_by(ApiKey.user_id)
        .subquery()
    )
    rows = s.execute(
        select(User, seen.c.t, used.c.t)
        .outerjoin(seen, seen.c.user_id == User.id)
        .outerjoin(used, used.c.user_id == User.id)
        .order_by(func.lower(User.username))
    ).all()
    return [(u, max((t for t in (a, b) if t is not None), default=None)) for u, a, b in rows]


def is_last_admin(s: Session, user: User) -> bool:
    """True when the user is the only enabled server admin of a server with other accounts:
    they may not go (a server keeps an admin)."""
    if not user.is_admin:
        return False
    others = select(func.count()).select_from(User).where(User.id != user.id)
    other_admins = others.where(User.is_admin.is_(True), User.disabled_at.is_(None))
    return bool(s.scalar(others)) and not s.scalar(other_admins)


def set_disabled(s: Session, user: User, now: dt.datetime | None) -> None:
    user.disabled_at = now
    s.flush()


def set_admin(s: Session, user: User, admin: bool) -> None:
    user.is_admin = admin
    s.flush()
