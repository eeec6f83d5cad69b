"""usernames unique without regard to case; dashboard sessions tied to the key that opened them

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:40:00

- A unique index on lower(username). Accounts whose names differ only in case (possible before,
  when two sign-ups raced) keep the oldest name; the others become ``<name>-<id>``.
- ``web_session.api_key_id`` and ``login_link.api_key_id``: revoking a key ends the dashboard
  sessions it opened. Sessions and links from before cannot be tied to a key and are ended:
  people log in again once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, username FROM user_account ORDER BY id")).all()
    seen: set[str] = set()
    for user_id, username in rows:
        if username.lower() in seen:
            new = f"{username[: 49 - len(str(user_id))]}-{user_id}"
            conn.execute(
                sa.text("UPDATE user_account SET username = :new WHERE id = :id"),
                {"new": new, "id": user_id},
            )
            username = new
        seen.add(username.lower())

    op.execute("DELETE FROM web_session")
    op.execute("DELETE FROM login_link")
    for table in ("web_session", "login_link"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("api_key_id", sa.Integer(), nullable=False))
            batch_op.create_foreign_key(
                f"fk_{table}_api_key", "api_key", ["api_key_id"], ["id"], ondelete="CASCADE"
            )

    # last: SQLite's batch mode reflects related tables, and cannot reflect an expression index
    op.create_index(
        "uq_user_account_username_lower",
        "user_account",
        [sa.text("lower(username)")],
        unique=True,
    )


def downgrade() -> None:
    for table in ("login_link", "web_session"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_api_key", type_="foreignkey")
            batch_op.drop_column("api_key_id")
    op.drop_index("uq_user_account_username_lower", table_name="user_account")
