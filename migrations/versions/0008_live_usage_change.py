"""live dashboard: the change marker that crosses SQLite processes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 08:00:00

- ``usage_change``: one row per user whose usage an upload changed, with a growing number
  (``seq``). On SQLite each server process with an open live page reads the rows past the
  last number it saw, once a second; PostgreSQL uses LISTEN/NOTIFY and leaves it empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_change",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_usage_change_seq", "usage_change", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_usage_change_seq", table_name="usage_change")
    op.drop_table("usage_change")
