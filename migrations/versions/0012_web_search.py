"""web search: the requests and their cost per day, session and block row

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 10:00:00

- ``daily_usage``, ``session_usage`` and ``block_usage`` gain ``web_search_requests`` and
  ``web_search_cost`` (0 for the rows stored before, and for a client that does not send them).
  A row's ``cost`` includes its web search cost, as the collector's does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = ("daily_usage", "session_usage", "block_usage")


def upgrade() -> None:
    # plain ADD COLUMN with a default, no batch copy: SQLite keeps the tables as they are
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("web_search_requests", sa.BigInteger(), server_default="0", nullable=False),
        )
        op.add_column(
            table, sa.Column("web_search_cost", sa.Float(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("web_search_cost")
            batch.drop_column("web_search_requests")
