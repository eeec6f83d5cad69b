"""Migrations build the schema from nothing, and the models never drift from them."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from promptpulse_server import db
from promptpulse_server.models import Base


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_migrations_from_empty_match_the_models(
    kind: str, request: pytest.FixtureRequest, tmp_path: object
) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/fresh.sqlite3"
    else:
        url = request.getfixturevalue("_migrated_postgres")  # built from an empty schema
    engine = db.make_engine(url)
    db.migrate(engine)
    db.migrate(engine)  # a second run is a no-op
    try:
        assert db.current_revision(engine) is not None
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrading_keeps_existing_users_sharing_and_downgrades_cleanly(tmp_path: object) -> None:
    from sqlalchemy import text

    engine = db.make_engine(f"sqlite:///{tmp_path}/old.sqlite3")
    try:
        db.migrate(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO user_account (username, display_name, created_at, "
                    "leaderboard_opt_in, timezone) VALUES ('old', 'Old', '2026-01-01', 0, 'UTC')"
                )
            )
        db.migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT share_with_team FROM user_account")).scalar() == 1
        from alembic import command

        command.downgrade(db.alembic_config(engine), "0001")
        assert "web_session" not in inspect(engine).get_table_names()
        db.migrate(engine)
        assert db.current_revision(engine) == "0002"
    finally:
        engine.dispose()
