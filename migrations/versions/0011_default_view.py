"""default view: whose usage the dashboard's pages open on, chosen once per account

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 08:00:00

- ``user_account.default_view``: ``me`` (the viewer's own usage, as before) or ``all`` (everyone
  the viewer may see); every page with a user filter opens on it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "user_account",
        sa.Column("default_view", sa.String(length=10), server_default="me", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("user_account", "default_view")  # SQLite 3.35+ drops a column in place
