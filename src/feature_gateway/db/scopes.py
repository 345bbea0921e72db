"""The transaction scopes: every way the service opens its database, named for when each
is right. A use case asks the ``Database`` it is handed for one by name; nothing ambient
(no request global, no decorator further up) chooses a scope for it.

Reading (none of them commits):

- ``looking_up()``: one statement on a pooled connection of the primary in autocommit, no
  BEGIN and no snapshot (``db.lookup``). For a one-statement read that must see the
  primary: the health check's ping.
- ``replicated_lookup(read, freshness)``: ``read`` on such a lookup of the read replica
  while it may serve it, else of the primary (``db.replicas``). For the one-statement
  reads SPEC §15 lists: a feature by name, list pages, the lookups of ``POST /features``.
- ``reading()``: a read transaction on the primary (on SQLite a deferred BEGIN: no write
  lock). For reads of several statements that must see the primary: authentication, the
  admin reads, the export, a keyed write's stored answer.
- ``replicated_read(read, freshness)``: ``read`` in a ``reading`` unit of work of the
  replica while it may serve it, else of the primary (``read`` may run twice). For the
  multi-statement reads SPEC §15 lists: history, change log, versions, diff, events.
- ``snapshot()``: a read-only transaction whose statements all see one committed state
  (REPEATABLE READ on PostgreSQL). For checks across tables that must agree: ``audit
  verify``.

Writing (committed by ``UnitOfWork.commit``, the one commit path, ``db.unit_of_work``: the
change log and the outbox before the commit, the status changes published after it):

- ``writing()``: a write transaction (``BEGIN IMMEDIATE`` on SQLite). For a use case's own
  write, and the purge of expired idempotency keys.
- ``claiming()``: autocommit statements on ``idempotency_keys``, each its own transaction
  (``db.idempotency_claims``): the release of a failed keyed write's claim.
- ``keyed_write()``: a write transaction held for a whole request (``KeyedWrite``); its
  ``database`` is bound to it, so every scope of that one is a savepoint inside it, on the
  primary. For the use case of a request sent with an ``Idempotency-Key`` and its stored
  response, which commit together: opened by ``services.idempotency`` only.

A ``Database`` bound to a connection (a keyed write's, a test's) has no replica: every
scope runs in that connection's transaction.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from sqlalchemy import Connection, Engine, Transaction
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from feature_gateway.db.engine import (
    SQLITE_BEGIN,
    UNSENT_SAVEPOINTS,
    SqliteUnsentSavepoints,
    UnsentSavepoints,
    set_autocommit,
)
from feature_gateway.db.idempotency import DriverIdempotencyRepository, IdempotencyRepository
from feature_gateway.db.idempotency_claims import KeyClaims
from feature_gateway.db.lookup import Lookup
from feature_gateway.db.replicas import ReadReplica, route_read
from feature_gateway.db.unit_of_work import Committed, UnitOfWork, unavailable
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness

T = TypeVar("T")
# The drivers whose keyed writes leave their use case's first savepoint unsent (db.engine).
_UNSENT_SAVEPOINTS = {"psycopg": UnsentSavepoints, "pysqlite": SqliteUnsentSavepoints}
# The sessions of a Database bound to a connection in a transaction: savepoints in it.
_JOINING: sessionmaker[Session] = sessionmaker(
    expire_on_commit=False, join_transaction_mode="create_savepoint"
)


def _joining(connection: Connection) -> sessionmaker[Session]:
    """Sessions on ``connection``: savepoints of its transaction if it is in one, else its
    own. A copy of one built at import: a sessionmaker makes a class of its own, and a keyed
    write binds one for every request (a twentieth of its cost when it made three)."""
    joining = copy.copy(_JOINING)
    joining.kw = {**_JOINING.kw, "bind": connection}
    return joining


def _snapshot_bind(bind: Engine | Connection, *, standby: bool = False) -> Engine | Connection:
    """Where several statements must see one state of the database: on PostgreSQL a
    REPEATABLE READ transaction, read-only on the primary. Not marked read-only on a hot
    standby, which is read-only anyway: the pool's reset of that mark, ``SET SESSION
    CHARACTERISTICS AS TRANSACTION READ WRITE``, fails during recovery and would break the
    connection for every later read. A SQLite read transaction is a snapshot already; a
    test's Connection is its own."""
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        if standby:
            return bind.execution_options(isolation_level="REPEATABLE READ")
        return bind.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return bind


class Database:
    """The engine, the session factories, and the scopes (see the module) opened on them."""

    def __init__(
        self,
        bind: Engine | Connection,
        *,
        external_transaction: bool = False,
        replica: ReadReplica | None = None,
        enclosing: UnitOfWork | None = None,
    ) -> None:
        self.bind = bind
        self.replica = replica if isinstance(bind, Engine) else None
        # The replica's sessions for replicated_read, without and with ``snapshot``.
        self._replica_readers: dict[bool, sessionmaker[Session]] = {}
        if self.replica is not None:
            engine = self.replica.engine
            self._replica_readers = {
                False: sessionmaker(engine, expire_on_commit=False),
                True: sessionmaker(_snapshot_bind(engine, standby=True), expire_on_commit=False),
            }
        self._enclosing = enclosing
        if isinstance(bind, Connection) and external_transaction:
            # All three join the connection's transaction alike. A copy of one built at
            # import: a sessionmaker makes a class of its own, and a keyed write makes a
            # Database for every request (three classes were a twentieth of its cost).
            self._reader = self._snapshot = self._writer = _joining(bind)
            self._writer_bind: Engine | Connection = bind
            return
        options = {"join_transaction_mode": "create_savepoint"} if external_transaction else {}
        writer_bind = bind
        if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
            writer_bind = bind.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._reader = sessionmaker(bind, expire_on_commit=False, **options)  # type: ignore[call-overload]
        self._snapshot = sessionmaker(_snapshot_bind(bind), expire_on_commit=False, **options)  # type: ignore[call-overload]
        self._writer = sessionmaker(writer_bind, expire_on_commit=False, **options)  # type: ignore[call-overload]
        self._writer_bind = writer_bind

    def looking_up(self) -> Lookup:
        """One statement on the primary, no transaction around it."""
        return Lookup(self.bind)

    def replicated_lookup(
        self, read: Callable[[Lookup], T], freshness: Freshness = WITHIN_LAG
    ) -> T:
        """``read`` on a ``looking_up`` lookup, of the replica when it may serve it: for the
        reads SPEC §15 lists, which need no write's transaction."""
        replica = self.replica
        return route_read(
            replica, freshness, lambda: Lookup(replica.engine), self.looking_up, read  # type: ignore[union-attr]
        )

    def reading(self) -> UnitOfWork:
        """A read transaction on the primary; it never commits."""
        return self._unit(self._reader, writes=False)

    def replicated_read(
        self,
        read: Callable[[UnitOfWork], T],
        freshness: Freshness = WITHIN_LAG,
        *,
        snapshot: bool = False,
    ) -> T:
        """``read`` in a ``reading`` unit of work (a ``snapshot`` one with ``snapshot``), of
        the replica when it may serve it (as ``replicated_lookup``); ``read`` may run twice
        (again on the primary when the replica fails mid-read), so it only reads."""
        return route_read(
            self.replica,
            freshness,
            lambda: UnitOfWork(self._replica_readers[snapshot], writes=False),
            self.snapshot if snapshot else self.reading,
            read,
        )

    def snapshot(self) -> UnitOfWork:
        """A read-only unit of work whose statements all see the same committed state."""
        return self._unit(self._snapshot, writes=False)

    def writing(self) -> UnitOfWork:
        """A use case's own write transaction, committed by ``UnitOfWork.commit``."""
        return self._unit(self._writer, writes=True)

    def claiming(self) -> KeyClaims:
        """Statements on ``idempotency_keys``, each its own transaction, on the primary."""
        return KeyClaims(self.bind)

    def keyed_write(self) -> KeyedWrite:
        """The transaction around a keyed request (``KeyedWrite``)."""
        return KeyedWrite(self._writer_bind, enclosing=self._enclosing)

    def ping(self) -> None:
        """Raise DatabaseUnavailableError unless the database answers a trivial query:
        one statement on a pooled connection, no session and no transaction around it."""
        dialect = self.bind.dialect
        try:
            with self.looking_up() as lookup:
                lookup.ping()
        except (DBAPIError, dialect.loaded_dbapi.Error) as exc:
            raise unavailable(exc) from exc

    def _unit(self, factory: sessionmaker[Session], *, writes: bool) -> UnitOfWork:
        return UnitOfWork(factory, writes=writes, enclosing=self._enclosing)


class KeyedWrite(UnitOfWork):
    """The transaction around a request sent with an ``Idempotency-Key`` (SPEC §11), so that
    its change and its stored response commit together or not at all.

    One pooled connection for the whole request: first the key's claim, in autocommit
    (``claims``: each statement commits by itself, so a repeat sees the claim in flight);
    then the write's transaction on it (``BEGIN IMMEDIATE`` on SQLite), begun by the first
    use of ``database`` (or ``commit``). The use case is handed ``database``: every scope
    of that one joins this transaction as a savepoint (SQLAlchemy's "join a session into
    an external transaction" recipe, which the tests use too; a savepoint taken before
    anything ran in it, on SQLite before anything was written, is not sent:
    ``db.engine.UnsentSavepoints``), and its units of work hand their status changes to
    this one. The response is stored in it (``idempotency_keys``); ``commit`` commits both
    and then publishes what the use case's units of work recorded.

    A unit of work with no session of its own: the transaction is the connection's
    (``Connection.begin``), since everything written in it is written by the use case's
    units of work (each writes its change log and outbox as it commits its savepoint) or
    is the stored response, one statement on the connection. A session and the fourteen
    repositories of a unit of work for it cost a keyed write a tenth of what it adds
    (docs/performance.md, "i28-keyed"). Only ``commit``, ``database`` and
    ``idempotency_keys`` of a unit of work are used.
    """

    claims: DriverIdempotencyRepository

    def __init__(self, bind: Engine | Connection, *, enclosing: UnitOfWork | None) -> None:
        super().__init__(_JOINING, writes=True, enclosing=enclosing)
        self._bind = bind
        dbapi = bind.dialect.loaded_dbapi
        self._driver_errors = (dbapi.OperationalError, dbapi.InterfaceError)
        self._began = self._autocommit = False

    def __enter__(self) -> KeyedWrite:
        bind = self._bind
        try:  # a test's connection, in its transaction; else one of the pool
            self._connection = bind if isinstance(bind, Connection) else bind.connect()
        except DBAPIError as exc:
            raise unavailable(exc) from exc
        pooled = self._connection.connection
        if self._connection is not bind and bind.dialect.name != "sqlite":
            try:  # pysqlite is in autocommit already (db.engine)
                set_autocommit(bind.dialect, pooled.dbapi_connection, True)
            except self._driver_errors as exc:
                self._give_back(exc)
                raise unavailable(exc) from exc
            self._autocommit = True
        if self._connection is not bind:  # the use case's first savepoint unsent
            unsent = _UNSENT_SAVEPOINTS.get(bind.dialect.driver)
            if unsent is not None:
                self._connection.execution_options(**{UNSENT_SAVEPOINTS: unsent()})
        self.claims = DriverIdempotencyRepository(pooled.driver_connection, bind.dialect)
        return self

    @property
    def database(self) -> Database:
        """The Database of the write's transaction, which begins here at its first use."""
        if not self._began:
            self._begin()
        return self._database

    @property
    def idempotency_keys(self) -> IdempotencyRepository:
        """The stored responses' statements, in the write's transaction."""
        if not self._began:
            self._begin()
        return IdempotencyRepository(self._connection)

    def commit(self, *, last: bool = False) -> Committed:
        """Commit the transaction, then publish what the use case's units of work handed
        up (or hand it on to an enclosing unit of work). ``last`` is the unit of work's
        (``UnitOfWork.commit``); a keyed write holds no rows of a session to let go of."""
        if not self._began:  # nothing was written: an empty transaction, committed
            self._begin()
        try:
            self._transaction.commit()
        except (OperationalError, InterfaceError) as exc:
            raise unavailable(exc) from exc
        return self._hand_up()

    def _begin(self) -> None:
        if self._autocommit:
            self._autocommit = False
            set_autocommit(self._bind.dialect, self._connection.connection.dbapi_connection, False)
        connection = self._connection
        try:  # a test's connection is in its transaction: a savepoint of it
            if connection.in_transaction():
                self._transaction: Transaction = connection.begin_nested()
            else:
                self._transaction = connection.begin()
        except (OperationalError, InterfaceError) as exc:
            raise unavailable(exc) from exc
        self._began = True
        self._database = Database(connection, external_transaction=True, enclosing=self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._began:  # rolled back unless committed
                with contextlib.suppress(DBAPIError):
                    self._transaction.close()
        finally:
            self._give_back(exc)
        # A claim's statement raises the driver's own; the write's, SQLAlchemy's.
        if isinstance(exc, (*self._driver_errors, OperationalError, InterfaceError)):
            raise unavailable(exc) from exc

    def _give_back(self, exc: BaseException | None) -> None:
        if self._connection is self._bind:
            return  # a test's: it stays in its transaction
        # A claim statement's error is the driver's own; SQLAlchemy's (the transaction's)
        # have invalidated a lost connection already.
        broken = isinstance(exc, self._driver_errors)
        with contextlib.suppress(DBAPIError, *self._driver_errors):
            if broken:
                self._connection.invalidate()  # never hand this connection out again
            elif self._autocommit:
                set_autocommit(
                    self._bind.dialect, self._connection.connection.dbapi_connection, False
                )
            self._connection.close()
