"""budgets, alerts and their deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:00:00

- ``budget``: a user's or a team's budget (a cost per day, week or month, or a threshold on an
  official limit window), its thresholds (JSON list of percents) and channel (JSON).
- ``alert``: a threshold crossed in one period, unique by (budget, period, threshold): the key
  that makes each alert fire once across retried uploads and several server processes.
- ``delivery``: every attempt to deliver an alert (or a test), with its error.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptpulse_server.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=True),
        sa.Column("window", sa.String(length=10), nullable=True),
        sa.Column("amount_usd", sa.Float(), nullable=True),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("channel", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["created_by"], ["user_account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_budget_team", "budget", ["team_id"])
    op.create_index("ix_budget_user", "budget", ["user_id"])

    op.create_table(
        "alert",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("used", sa.Float(), nullable=False),
        sa.Column("limit_amount", sa.Float(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["budget_id"], ["budget.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("budget_id", "period_key", "threshold"),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["budget_id"], ["budget.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delivery_budget", "delivery", ["budget_id"])


def downgrade() -> None:
    op.drop_table("delivery")
    op.drop_table("alert")
    op.drop_table("budget")
