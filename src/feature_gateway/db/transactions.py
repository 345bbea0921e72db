"""Transactions beyond one unit of work: a short one of its own, and one per request.

A write sent with an ``Idempotency-Key`` must store its response in the transaction that
makes its change, so that a crash leaves neither a change without its stored response nor
the reverse. The services commit their own units of work, so the request's transaction is
opened around them: the units of work of the request join it as savepoints (SQLAlchemy's
"join a session into an external transaction" recipe, which the tests use too), the
response is stored, and then it commits. The status changes the units of work recorded are
published only after that commit, as ``UnitOfWork.commit`` does on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, Transaction
from sqlalchemy.exc import InterfaceError, OperationalError

from feature_gateway.db.models import AuditEntry
from feature_gateway.db.unit_of_work import Database, publish, unavailable


class RequestTransaction:
    """A connection in a transaction, and a ``Database`` whose units of work join it."""

    def __init__(self, connection: Connection, transaction: Transaction) -> None:
        self.connection = connection
        self._pending: list[AuditEntry] = []
        self.database = Database(connection, external_transaction=True, on_commit=self._record)
        self._transaction = transaction
        self.committed = False

    def _record(self, entries: Sequence[AuditEntry]) -> None:
        self._pending.extend(entries)

    def commit(self) -> None:
        """Commit the request's transaction, then publish what its units of work did."""
        with _unavailable_on_connection_errors():
            self._transaction.commit()
        self.committed = True
        entries, self._pending = self._pending, []
        publish(entries)


@contextlib.contextmanager
def request_transaction(database: Database) -> Iterator[RequestTransaction]:
    """Yield a RequestTransaction; rolled back unless ``commit()`` was called."""
    with _connection(database) as connection:
        transaction: Transaction
        if isinstance(database.bind, Connection):  # tests: inside their outer transaction
            transaction = connection.begin_nested()
        else:
            transaction = connection.begin()
        request = RequestTransaction(connection, transaction)
        try:
            # Statements run straight on the connection (the stored response) fail like a
            # unit of work's: a connection lost mid-request is a 503, never a 500.
            with _unavailable_on_connection_errors():
                yield request
        finally:
            if not request.committed:
                with contextlib.suppress(OperationalError, InterfaceError):
                    transaction.rollback()


@contextlib.contextmanager
def own_transaction(database: Database) -> Iterator[Connection]:
    """A connection in a short transaction, committed if the block ends without error."""
    with _connection(database) as connection:
        if isinstance(database.bind, Connection):
            with _unavailable_on_connection_errors(), connection.begin_nested():
                yield connection
        else:
            with _unavailable_on_connection_errors(), connection.begin():
                yield connection


@contextlib.contextmanager
def read_connection(database: Database) -> Iterator[Connection]:
    """A connection for reads outside any write transaction (no write lock on SQLite)."""
    bind = database.bind
    if isinstance(bind, Connection):
        yield bind
        return
    with _unavailable_on_connection_errors(), bind.connect() as connection:
        yield connection


@contextlib.contextmanager
def _connection(database: Database) -> Iterator[Connection]:
    bind = database.writer_bind
    if isinstance(bind, Connection):
        yield bind
        return
    with _unavailable_on_connection_errors():
        connection = bind.connect()
    try:
        yield connection
    finally:
        with contextlib.suppress(OperationalError, InterfaceError):
            connection.close()


@contextlib.contextmanager
def _unavailable_on_connection_errors() -> Iterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(exc) from exc  # storage full or unreachable, as everywhere
