"""Alembic environment: the connection or engine comes from promptpulse_server.db (or, run by
the alembic command line, from DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from promptpulse_server.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # run by the alembic command line
    from promptpulse_server.db import engine_for
    from promptpulse_server.settings import Settings

    engine = engine_for(Settings.from_env())


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


shared = config.attributes.get("connection")  # db.migrate's, which holds the migration lock
if shared is not None:
    run(shared)
else:
    with engine.connect() as connection:
        run(connection)
