"""``promptpulse-server copy-db``: the whole database, copied to an empty PostgreSQL one.

Contract:

- The target is migrated to the same revision as the source first, and must then be empty: a
  target with a row in any table is refused, and nothing is written to it.
- Every table of the schema is copied in foreign-key order, with its ids, in batches, in **one
  transaction** on the target: a copy that fails leaves the target as empty as it was.
- PostgreSQL's sequences are then moved past the copied ids, so new rows get new ids.
- Before the transaction commits, each table's row count and the sums of its usage columns
  (tokens, entries, cost) are compared between source and target; any difference rolls the
  copy back (``CopyError``).

It reads the source through the models' column types, so what the server reads from SQLite is
exactly what PostgreSQL receives (aware UTC instants, booleans, JSON lists).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, func, select, text

from promptpulse_server import db
from promptpulse_server.models import Base

USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "entries",
    "cost",
)


class CopyError(Exception):
    """The copy cannot be made, or did not come out the same; the target is left unchanged."""


class TableCheck(NamedTuple):
    table: str
    source_rows: int
    target_rows: int
    sums: dict[str, tuple[float, float]]  # column -> (source sum, target sum)

    @property
    def same(self) -> bool:
        return self.source_rows == self.target_rows and all(
            _same_sum(a, b) for a, b in self.sums.values()
        )


def _same_sum(a: float, b: float) -> bool:
    """Whole numbers exactly; costs (floats summed in another order) to a relative 1e-9."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def tables() -> list[Table]:
    """Every table of the schema, parents before children."""
    return list(Base.metadata.sorted_tables)


def copy_database(
    source: Engine,
    target: Engine,
    batch_size: int = 1000,
    progress: Callable[[str, int], None] = lambda table, rows: None,
) -> list[TableCheck]:
    """Copy ``source`` into the empty ``target`` (see the module's contract)."""
    if target.dialect.name != "postgresql":
        raise CopyError("the target must be a PostgreSQL database (postgresql://…)")
    if source.url == target.url:
        raise CopyError("the target is the source database itself")
    revision = db.current_revision(source)
    db.migrate(target, revision or "head")
    with target.connect() as conn:
        filled = [t.name for t in tables() if conn.execute(select(t).limit(1)).first()]
    if filled:
        raise CopyError(
            "the target database is not empty (rows in " + ", ".join(filled) + "); "
            "copy-db copies only into an empty database"
        )
    with source.connect() as src, target.begin() as dst:
        for table in tables():
            copied = _copy_table(src, dst, table, batch_size)
            progress(table.name, copied)
        _reset_sequences(dst)
        checks = [_check(src, dst, table) for table in tables()]
        wrong = [c for c in checks if not c.same]
        if wrong:
            raise CopyError(
                "the copy does not match the source in "
                + ", ".join(c.table for c in wrong)
                + "; nothing was written"
            )  # the exception rolls the target's transaction back
    return checks


def _copy_table(src: Connection, dst: Connection, table: Table, batch_size: int) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    result = src.execution_options(yield_per=batch_size).execute(select(table).order_by(*order))
    copied = 0
    for rows in result.partitions(batch_size):
        dst.execute(table.insert(), [row._asdict() for row in rows])
        copied += len(rows)
    return copied


def _reset_sequences(dst: Connection) -> None:
    """Each serial column's sequence continues after the largest copied id."""
    for table in tables():
        for column in table.primary_key.columns:
            if not column.autoincrement or column.type.python_type is not int:
                continue
            dst.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f'COALESCE(MAX("{column.name}"), 1), MAX("{column.name}") IS NOT NULL) '
                    f'FROM "{table.name}"'
                ),
                {"table": table.name, "column": column.name},
            )


def _check(src: Connection, dst: Connection, table: Table) -> TableCheck:
    usage = [c for c in table.columns if c.name in USAGE_COLUMNS]
    query = select(func.count(), *(func.coalesce(func.sum(c), 0) for c in usage)).select_from(table)
    a, b = src.execute(query).one(), dst.execute(query).one()
    sums = {c.name: (_number(a[i + 1]), _number(b[i + 1])) for i, c in enumerate(usage)}
    return TableCheck(table.name, int(a[0]), int(b[0]), sums)


def _number(value: Any) -> float:
    """A sum as an int where it is whole (PostgreSQL's are Decimal), else a float."""
    if isinstance(value, int):
        return value
    number = float(value)
    return int(value) if number.is_integer() and not isinstance(value, float) else number
