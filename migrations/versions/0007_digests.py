"""digests: daily and weekly summaries, each period sent once; spike alerts opt-out

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00

- ``digest``: a user's or a team's subscription to a daily or weekly summary, and its channel
  (JSON, as a budget's).
- ``digest_sent``: a digest's period, unique by (digest, period's first day): inserted before
  sending, and only the run that inserted it sends, so a period is never sent twice.
- ``user_account.spike_alerts``: whether a day that costs far more than usual alerts the user
  (on by default).
- ``delivery``: attempts to deliver a digest are logged with the alerts' (``digest_id``;
  ``budget_id`` may now be empty).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

import promptpulse_server.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


@contextmanager
def _quiet_reflection() -> Iterator[None]:
    """SQLite's batch mode reflects the tables around; it cannot reflect the expression index
    on user_account (case-insensitive usernames) and says so, harmlessly."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        yield


def upgrade() -> None:
    op.add_column(
        "user_account",
        sa.Column("spike_alerts", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.create_table(
        "digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=10), nullable=False),
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
    op.create_index("ix_digest_team", "digest", ["team_id"])
    op.create_index("ix_digest_user", "digest", ["user_id"])
    op.create_table(
        "digest_sent",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["digest_id"], ["digest.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest_id", "period_start"),
    )
    with _quiet_reflection(), op.batch_alter_table("delivery") as batch:
        batch.alter_column("budget_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_delivery_digest_id_digest", "digest", ["digest_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_delivery_digest", ["digest_id"])


def downgrade() -> None:
    op.execute("DELETE FROM delivery WHERE budget_id IS NULL")
    with _quiet_reflection(), op.batch_alter_table("delivery") as batch:
        batch.drop_index("ix_delivery_digest")
        batch.drop_constraint("fk_delivery_digest_id_digest", type_="foreignkey")
        batch.drop_column("digest_id")
        batch.alter_column("budget_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("digest_sent")
    op.drop_table("digest")
    op.drop_column("user_account", "spike_alerts")  # SQLite 3.35+ drops a column in place
