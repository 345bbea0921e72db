"""One statement that changes nothing, with no transaction around it (``Database.looking_up``)."""

from __future__ import annotations

import functools
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, PoolProxiedConnection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from feature_gateway.db.engine import set_autocommit
from feature_gateway.db.repositories import FeatureLookup
from feature_gateway.db.unit_of_work import unavailable


class Lookup:
    """One read that changes nothing, on a pooled connection in autocommit: one statement
    and no transaction around it, so no BEGIN and ROLLBACK (each a round trip on
    PostgreSQL). Only for a use case of a single statement, which needs no snapshot."""

    features: FeatureLookup

    def __init__(self, bind: Engine | Connection) -> None:
        self._bind = bind
        self._dbapi_errors = _lost_connection_errors(bind.dialect)

    def __enter__(self) -> Lookup:
        dialect = self._bind.dialect
        if isinstance(self._bind, Connection):  # tests: inside their outer transaction
            self._pooled: PoolProxiedConnection | None = None
            connection = self._bind.connection.driver_connection
        else:
            try:
                self._pooled = self._bind.raw_connection()
            except (DBAPIError, *self._dbapi_errors) as exc:
                raise unavailable(exc) from exc
            connection = self._pooled.driver_connection
            # pysqlite is in autocommit already: only the "begin" event (engine.py) starts
            # transactions, and it does not run here. psycopg is put in autocommit for the
            # statement and back after it, its isolation level (which applies to
            # transactions only) left as it is: the dialect's set_isolation_level and
            # reset_isolation_level set both, four of psycopg's setters, each a generator
            # run by its wait loop (a twelfth of a read by name on PostgreSQL).
            if dialect.name != "sqlite":
                set_autocommit(dialect, self._pooled.dbapi_connection, True)
        self._connection: Any = connection
        self.features = FeatureLookup(connection, dialect)
        return self

    def ping(self) -> None:
        """A trivial statement, to see that the database answers."""
        pgconn = getattr(self._connection, "pgconn", None)
        if pgconn is not None:
            _ping_libpq(pgconn)
            return
        cursor = self._connection.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        finally:
            cursor.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broken = exc is not None and isinstance(
            exc, (OperationalError, InterfaceError, *self._dbapi_errors)
        )
        if self._pooled is not None:
            # (try/except, not contextlib.suppress: no context manager made on every return)
            try:
                if broken:
                    self._pooled.invalidate()  # never hand this connection out again
                elif self._bind.dialect.name != "sqlite":
                    set_autocommit(self._bind.dialect, self._pooled.dbapi_connection, False)
                self._pooled.close()
            except (DBAPIError, *self._dbapi_errors):
                pass  # the connection is let go either way
        if broken:
            raise unavailable(exc) from exc


@functools.lru_cache(maxsize=8)  # a dialect per engine: found once, not on every lookup
def _lost_connection_errors(dialect: Dialect) -> tuple[Any, ...]:
    """The driver's errors for a connection that failed (its ``OperationalError`` and
    ``InterfaceError``)."""
    dbapi = dialect.loaded_dbapi
    return (dbapi.OperationalError, dbapi.InterfaceError)


def _ping_libpq(pgconn: Any) -> None:
    """``SELECT 1`` on a psycopg connection through its libpq connection (``Connection.pgconn``,
    psycopg's documented low-level interface): the same round trip, without the cursor's
    Python machinery around it, which was half of the client's work for ``/health`` on
    PostgreSQL (docs/performance.md, "i28-fixed"). A lost connection raises psycopg's
    ``OperationalError``, as its cursor would (the pooled connection is then replaced)."""
    import psycopg
    from psycopg import pq

    result = pgconn.exec_(b"SELECT 1")
    if result.status == pq.ExecStatus.TUPLES_OK:
        return
    message = (result.error_message or pgconn.error_message).decode("utf-8", "replace")
    if pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError(message or "the connection is lost")
    raise psycopg.DatabaseError(
        message or f"SELECT 1 answered {pq.ExecStatus(result.status).name}"
    )
