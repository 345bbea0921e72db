"""Statements of a write sent to the database together, their results read once all are
sent: on PostgreSQL one round trip for several statements instead of one each.

A create's transaction was seven round trips on PostgreSQL (docs/performance.md,
"i27-pgkeyed", "i29-pgwrite"), and a sync worker waits out each one while the server's
process takes its turn on the same cores. The statements written at commit (the history,
the webhooks read with the change log's lock, the change-log entries) need no result of
one another: they are sent in psycopg's pipeline mode (``Connection.pipeline()``, its
documented API), the results read when the batch ends. Each statement is the one
``on_driver`` would run, in the same order, in the same transaction; a failing one makes
the server skip those after it until the batch's end (its Sync), and its error is raised
there as ``on_driver`` raises it (SQLAlchemy's exception for it, a lost connection
invalidated), so the unit of work rolls the whole transaction back as before. SQLite has
no round trips: each statement runs as it is given (``on_driver``).

Only a write's own statements on the driver go in a batch, never the session's (the ORM
reads results as it sends). PgBouncer's transaction pooling keeps the server connection
across the batch: it ends inside the transaction (the Sync's ReadyForQuery says so).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from feature_gateway.db.compiled import driver_error, on_driver

T = TypeVar("T")


class Sent(Generic[T]):
    """What a statement of a batch returns, once the batch's results are read."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value: Any = _UNREAD

    @property
    def ready(self) -> bool:
        """Whether its value has been read (at once, where statements are not queued)."""
        return self._value is not _UNREAD

    @property
    def value(self) -> T:
        if self._value is _UNREAD:
            raise RuntimeError("read a batch's results (Batch.results) before its values")
        return self._value  # type: ignore[no-any-return]


_UNREAD = object()


class Batch:
    """Statements run on the connection ``connection_of`` returns (asked at the first one,
    so a batch with none checks nothing out), sent together on psycopg; see the module.
    Leaving the ``with`` block reads the results; so does ``results`` in the middle, for a
    statement that needs one of them."""

    def __init__(self, connection_of: Callable[[], Connection]) -> None:
        self._connection_of = connection_of
        self._connection: Connection | None = None
        self._pipelined = False
        self._pipeline = contextlib.ExitStack()
        # (sql, parameters, cursor, how its result is read, where it goes, then)
        self._queued: list[tuple[str, Any, Any, Callable[[Any], Any], Sent[Any], Any]] = []

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.results()
            return
        # Raised between statements: what was sent is rolled back with the transaction.
        queued, self._queued = self._queued, []
        with contextlib.suppress(Exception):
            self._pipeline.close()
        _close_cursors(queued)

    @property
    def connection(self) -> Connection:
        """The connection the statements run on (asked for now if none ran yet)."""
        if self._connection is None:
            self._connection = self._connection_of()
            self._pipelined = self._connection.dialect.driver == "psycopg"
        return self._connection

    @property
    def dialect(self) -> Any:
        return self.connection.dialect

    def run(
        self,
        sql: str,
        parameters: Any,
        result: Callable[[Any], T],
        then: Callable[[T], None] | None = None,
    ) -> Sent[T]:
        """Send ``sql`` (queued, on psycopg); ``result(cursor)`` is its ``Sent`` value once
        the results are read, handed to ``then`` too."""
        sent: Sent[T] = Sent()
        connection = self.connection
        if not self._pipelined:
            sent._value = value = on_driver(connection, sql, parameters, result)
            if then is not None:
                then(value)
            return sent
        if not self._queued:  # the first statement since the results were read
            self._pipeline.enter_context(connection.connection.driver_connection.pipeline())  # type: ignore[union-attr]
        cursor = connection.connection.cursor()
        self._queued.append((sql, parameters, cursor, result, sent, then))
        try:  # psycopg reads the results that have come as it sends: an error may be here
            cursor.execute(sql, parameters)
        except connection.dialect.loaded_dbapi.Error as exc:
            raise self._failed(connection, exc) from exc
        return sent

    def results(self) -> None:
        """Send what is queued and read every result (one round trip on psycopg)."""
        if not self._queued:
            return
        connection = self._connection
        if connection is None:  # queued only once a statement took the connection
            raise RuntimeError("a batch with statements queued but no connection")
        try:
            self._pipeline.close()  # psycopg syncs the pipeline as it leaves it
        except connection.dialect.loaded_dbapi.Error as exc:
            raise self._failed(connection, exc) from exc
        queued, self._queued = self._queued, []
        try:
            for _sql, _parameters, cursor, result, sent, then in queued:
                sent._value = value = result(cursor)
                if then is not None:
                    then(value)  # may refuse what it reads (an UPDATE that matched no row)
        finally:
            _close_cursors(queued)

    def _failed(self, connection: Connection, exc: Exception) -> Exception:
        """SQLAlchemy's exception for the statement that failed with ``exc``: the first one
        queued without a result (psycopg raises the first error of the results it reads,
        and the server skips every statement after it). The statements before it have
        their values (``Sent.ready``); the pipeline is left and every cursor closed. The
        transaction is in error until the unit of work rolls it back."""
        queued, self._queued = self._queued, []
        failed = next(
            (i for i, (_sql, _parameters, cursor, *_) in enumerate(queued)
             if cursor.pgresult is None),
            len(queued) - 1,
        )  # fmt: skip
        sql, parameters, cursor = queued[failed][:3]
        error = driver_error(connection, sql, parameters, exc, cursor)
        # Left without the exception: psycopg would log each skipped statement's error.
        with contextlib.suppress(Exception):
            self._pipeline.close()
        for _sql, _parameters, answered, result, sent, _then in queued[:failed]:
            with contextlib.suppress(Exception):
                sent._value = result(answered)
        _close_cursors(queued)
        return error


def _close_cursors(
    queued: list[tuple[str, Any, Any, Callable[[Any], Any], Sent[Any], Any]],
) -> None:
    """Close the cursors of a batch left early (a lost connection's cursor may refuse)."""
    for _sql, _parameters, cursor, *_ in queued:
        with contextlib.suppress(Exception):
            cursor.close()
