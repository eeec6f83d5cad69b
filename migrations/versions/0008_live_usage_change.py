"""live dashboard: the change marker that crosses SQLite processes; spikes by digest channels

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 08:00:00

- ``usage_change``: one row per user whose usage an upload changed, with a growing number
  (``seq``). On SQLite each server process with an open live page reads the rows past the
  last number it saw, once a second; PostgreSQL uses LISTEN/NOTIFY and leaves it empty.
- ``spike_alert``: a spike told to a user without budgets through their digests' channels,
  unique by (user, day); ``delivery.spike_id`` logs its attempts.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

import promptpulse_server.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


@contextmanager
def _quiet_reflection() -> Iterator[None]:
    """SQLite's batch mode cannot reflect the expression index on user_account, and says so."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        yield


def upgrade() -> None:
    op.create_table(
        "usage_change",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_usage_change_seq", "usage_change", ["seq"])
    op.create_table(
        "spike_alert",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("median", sa.Float(), nullable=False),
        sa.Column(
            "created_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "day"),
    )
    with _quiet_reflection(), op.batch_alter_table("delivery") as batch:
        batch.add_column(
            sa.Column(
                "spike_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch.create_foreign_key(
            "fk_delivery_spike_id_spike_alert",
            "spike_alert",
            ["spike_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    op.execute("DELETE FROM delivery WHERE spike_id IS NOT NULL")
    with _quiet_reflection(), op.batch_alter_table("delivery") as batch:
        batch.drop_constraint("fk_delivery_spike_id_spike_alert", type_="foreignkey")
        batch.drop_column("spike_id")
    op.drop_table("spike_alert")
    op.drop_index("ix_usage_change_seq", table_name="usage_change")
    op.drop_table("usage_change")
