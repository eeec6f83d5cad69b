"""teams with roles, invites, server admins and disabled accounts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:00:00

Upgrading keeps what people saw: every account that shared its usage with the team goes into one
team, "Everyone" (its oldest member owns it), and the oldest account becomes the server admin.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import promptpulse_server.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, no batch copy: SQLite's batch mode would lose the lower(username) index
    op.add_column(
        "user_account",
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "user_account",
        sa.Column(
            "disabled_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column(
            "created_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column(
            "joined_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "user_id"),
    )
    op.create_index("ix_membership_user", "membership", ["user_id"], unique=False)
    op.create_table(
        "invite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column(
            "revoked_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(["created_by"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_invite_team", "invite", ["team_id"], unique=False)

    # what people saw before: everyone who shares, in one team; the oldest account is admin
    conn = op.get_bind()
    users = conn.execute(
        sa.text("SELECT id, share_with_team FROM user_account ORDER BY created_at, id")
    ).all()
    if not users:
        return
    conn.execute(
        sa.text("UPDATE user_account SET is_admin = :yes WHERE id = :id"),
        {"yes": True, "id": users[0][0]},
    )
    sharing = [uid for uid, shares in users if shares]
    if not sharing:
        return
    now = dt.datetime.now(dt.UTC)  # when the upgrade ran: a fact, not a clock input
    stamp = now.replace(tzinfo=None) if conn.dialect.name == "sqlite" else now
    conn.execute(
        sa.text("INSERT INTO team (name, slug, created_at) VALUES ('Everyone', 'everyone', :t)"),
        {"t": stamp},
    )
    team_id = conn.execute(sa.text("SELECT id FROM team WHERE slug = 'everyone'")).scalar_one()
    for n, uid in enumerate(sharing):
        conn.execute(
            sa.text(
                "INSERT INTO membership (team_id, user_id, role, joined_at) "
                "VALUES (:team, :user, :role, :t)"
            ),
            {"team": team_id, "user": uid, "role": "owner" if n == 0 else "member", "t": stamp},
        )


def downgrade() -> None:
    op.drop_index("ix_invite_team", table_name="invite")
    op.drop_table("invite")
    op.drop_index("ix_membership_user", table_name="membership")
    op.drop_table("membership")
    op.drop_table("team")
    op.drop_index("uq_user_account_username_lower", table_name="user_account")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("is_admin")
    op.create_index(
        "uq_user_account_username_lower", "user_account", [sa.text("lower(username)")], unique=True
    )
