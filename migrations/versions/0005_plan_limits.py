"""plan limits: the official 5-hour and 7-day readings, and each user's plan

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00

- ``limit_reading``: one row per reading of a user's limits, unique by (user, instant), so a
  reading sent again (a retried batch, a second machine of the same account) is stored once.
  The unique key is also the index that reads a user's readings by time.
- ``user_account.plan``, ``plan_monthly_usd`` and ``plan_at``: the plan the collector last
  reported, its price, and when.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptpulse_server.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, no batch copy: SQLite's batch mode would lose the lower(username) index
    op.add_column("user_account", sa.Column("plan", sa.String(length=10), nullable=True))
    op.add_column("user_account", sa.Column("plan_monthly_usd", sa.Float(), nullable=True))
    op.add_column(
        "user_account",
        sa.Column("plan_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "limit_reading",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column(
            "recorded_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("five_hour_pct", sa.Float(), nullable=True),
        sa.Column(
            "five_hour_resets_at",
            promptpulse_server.models.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("seven_day_pct", sa.Float(), nullable=True),
        sa.Column(
            "seven_day_resets_at",
            promptpulse_server.models.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["machine_id"], ["machine.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "recorded_at"),
    )


def downgrade() -> None:
    op.drop_table("limit_reading")
    op.drop_index("uq_user_account_username_lower", table_name="user_account")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("plan_at")
        batch_op.drop_column("plan_monthly_usd")
        batch_op.drop_column("plan")
    op.create_index(
        "uq_user_account_username_lower", "user_account", [sa.text("lower(username)")], unique=True
    )
