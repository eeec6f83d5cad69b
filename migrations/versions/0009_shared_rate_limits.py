"""shared rate limits: one counter per kind, client address and minute, for every process

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 10:00:00

- ``rate_limit_count``: requests counted in one window (the key names the kind, the window and
  the client address), incremented atomically with INSERT … ON CONFLICT DO UPDATE … RETURNING,
  so that every server process on the database grants one budget between them. Rows past
  ``expires_at`` are deleted by the server as it goes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptpulse_server.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_count",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column(
            "expires_at", promptpulse_server.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_rate_limit_count_expires", "rate_limit_count", ["expires_at"])


def downgrade() -> None:
    op.drop_table("rate_limit_count")
