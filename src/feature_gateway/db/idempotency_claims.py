"""The keyed writes' bookkeeping outside the write's transaction (SPEC §11): the read of a
key and its claim (on the keyed write's own connection, ``db.scopes.KeyedWrite.claims``),
the release of a failed request's claim (here, on a connection of its own).

Each is one statement, on a pooled connection of the primary in autocommit, as a
``Lookup``'s read: each statement is its own transaction, no BEGIN, COMMIT or ROLLBACK
around it and no session. None needs another's transaction: the claim's INSERT is decided
by the primary key (of two requests inserting the same key, one gets in), and a claim
taken over is a conditional UPDATE. On SQLite the INSERT waits for the write lock as a
``BEGIN IMMEDIATE`` would (the busy timeout).
"""

from __future__ import annotations

from feature_gateway.db.idempotency import DriverIdempotencyRepository
from feature_gateway.db.lookup import Lookup


class KeyClaims(Lookup):
    """The statements of ``db.idempotency`` on an autocommit connection (``keys``)."""

    keys: DriverIdempotencyRepository

    def __enter__(self) -> KeyClaims:
        super().__enter__()
        self.keys = DriverIdempotencyRepository(self._connection, self._bind.dialect)
        return self
