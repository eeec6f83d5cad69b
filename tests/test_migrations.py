"""Migrations build the schema from nothing, and the models never drift from them."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from promptpulse_server import db
from promptpulse_server.models import Base

# SQLAlchemy cannot reflect an expression index (lower(username)): the test looks at it apart
CASE_INDEX = "uq_user_account_username_lower"


def _not_the_case_index(obj: object, name: str | None, *_: object) -> bool:
    return name != CASE_INDEX


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
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
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _not_the_case_index}
            )
            assert compare_metadata(ctx, Base.metadata) == []
        # the database itself refuses a second account whose name differs only in case
        from sqlalchemy import text
        from sqlalchemy.exc import IntegrityError

        insert = text(
            "INSERT INTO user_account (username, display_name, created_at, leaderboard_opt_in,"
            " timezone, share_with_team) VALUES (:u, :u, '2026-01-01', false, 'UTC', true)"
        )
        with engine.begin() as conn:
            conn.execute(insert, {"u": "casey"})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"u": "CASEY"})
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
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
        assert db.current_revision(engine) == db.current_head()
    finally:
        engine.dispose()


def test_upgrading_to_teams_makes_the_oldest_account_admin_and_puts_sharers_in_everyone(
    tmp_path: object,
) -> None:
    from sqlalchemy import text

    engine = db.make_engine(f"sqlite:///{tmp_path}/before-teams.sqlite3")
    try:
        db.migrate(engine, "0003")
        insert = text(
            "INSERT INTO user_account (username, display_name, created_at, leaderboard_opt_in,"
            " timezone, share_with_team) VALUES (:u, :u, :t, false, 'UTC', :share)"
        )
        with engine.begin() as conn:  # ids in another order than age
            for name, created, share in [
                ("newbie", "2026-03-01 09:00:00.000000", True),
                ("hermit", "2026-01-01 09:00:00.000000", False),  # the oldest, not sharing
                ("veteran", "2026-02-01 09:00:00.000000", True),  # the oldest who shares
            ]:
                conn.execute(insert, {"u": name, "t": created, "share": share})
        db.migrate(engine)
        assert db.current_revision(engine) == db.current_head()
        with engine.connect() as conn:
            admins = conn.execute(
                text("SELECT username FROM user_account WHERE is_admin ORDER BY username")
            ).scalars()
            assert list(admins) == ["hermit"]
            teams = conn.execute(text("SELECT id, name, slug FROM team")).all()
            assert [(name, slug) for _, name, slug in teams] == [("Everyone", "everyone")]
            members = conn.execute(
                text(
                    "SELECT u.username, m.role FROM membership m"
                    " JOIN user_account u ON u.id = m.user_id WHERE m.team_id = :team"
                ),
                {"team": teams[0][0]},
            ).all()
            assert sorted(members) == [("newbie", "member"), ("veteran", "owner")]
            assert conn.execute(text("SELECT count(*) FROM membership")).scalar() == 2
    finally:
        engine.dispose()


def test_upgrading_to_web_search_keeps_usage_rows_with_none(tmp_path: object) -> None:
    from sqlalchemy import text

    engine = db.make_engine(f"sqlite:///{tmp_path}/before-web-search.sqlite3")
    try:
        db.migrate(engine, "0011")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO user_account (username, display_name, created_at, "
                    "leaderboard_opt_in, timezone) VALUES ('old', 'Old', '2026-01-01', 0, 'UTC')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO machine (user_id, machine_key, hostname, first_seen, last_seen) "
                    "VALUES (1, 'm', 'm', '2026-01-01', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO daily_usage (machine_id, date, model, input_tokens, "
                    "output_tokens, cache_creation_tokens, cache_read_tokens, cost, uploaded_at) "
                    "VALUES (1, '2026-01-01', 'm', 1, 2, 3, 4, 1.5, '2026-01-01')"
                )
            )
        db.migrate(engine)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT cost, web_search_requests, web_search_cost FROM daily_usage")
            ).one()
        assert tuple(row) == (1.5, 0, 0.0)
    finally:
        engine.dispose()
