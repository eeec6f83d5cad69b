"""The upload outbox: a batch is kept in the ledger before it is sent and leaves only when the
server acknowledges it; then its rows' digests are kept, so a row is sent again only when it
changed.
"""

from __future__ import annotations

import json

from promptpulse.ledger.schema import Store


class Outbox(Store):
    """Upload batches waiting for the server, and the rows it acknowledged."""

    def acknowledged(self) -> dict[tuple[str, str], str]:
        """(kind, key) -> digest of every row the server acknowledged, or that waits in a
        pending batch (it is sent again with that batch, never twice with new ids)."""
        rows = {
            (k, key): d for k, key, d in self.db.execute("SELECT kind, key, digest FROM sent_row")
        }
        for (raw,) in self.db.execute("SELECT rows FROM pending_batch"):
            for kind, key, d in json.loads(raw):
                rows[(kind, key)] = d
        return rows

    def add_pending(
        self, batch_id: str, created_at: str, body: str, rows: list[tuple[str, str, str]]
    ) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT INTO pending_batch VALUES (?, ?, ?, ?)",
                (batch_id, created_at, body, json.dumps(rows)),
            )

    def pending(self) -> list[tuple[str, str]]:
        """(batch id, body) of the batches not yet acknowledged, oldest first."""
        return [
            (r[0], r[1])
            for r in self.db.execute(
                "SELECT batch_id, body FROM pending_batch ORDER BY created_at, batch_id"
            )
        ]

    def acknowledge(self, batch_id: str) -> None:
        with self._transaction():
            row = self.db.execute(
                "SELECT rows FROM pending_batch WHERE batch_id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                return
            self.db.executemany(
                "INSERT INTO sent_row(kind, key, digest) VALUES (?, ?, ?) "
                "ON CONFLICT(kind, key) DO UPDATE SET digest = excluded.digest",
                [tuple(r) for r in json.loads(row[0])],
            )
            self.db.execute("DELETE FROM pending_batch WHERE batch_id = ?", (batch_id,))

    def drop_pending(self, batch_id: str) -> None:
        """Forget a batch that was never acknowledged: its rows count as not sent."""
        with self._transaction():
            self.db.execute("DELETE FROM pending_batch WHERE batch_id = ?", (batch_id,))

    def forget_uploads(self) -> None:
        """After a change of server or account: everything is sent again."""
        with self._transaction():
            self.db.execute("DELETE FROM sent_row")
            self.db.execute("DELETE FROM pending_batch")
            self.db.execute("DELETE FROM meta WHERE key = 'collect_basis'")
