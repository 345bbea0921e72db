"""One use case = one transaction: the unit of work opens it, the service commits it.

``UnitOfWork.commit`` is the only commit path: it commits and then publishes what the use
case recorded (its status changes, to the log and the metrics), so nothing is published for
a change that did not commit, and nothing committed goes unpublished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, PoolProxiedConnection
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from feature_gateway import observability
from feature_gateway.db.audit_trails import AuditTrailReader
from feature_gateway.db.catalog_repositories import ChangeLogRepository, VersionRepository
from feature_gateway.db.console_sessions import ConsoleSessionRepository
from feature_gateway.db.definition_changes import DefinitionChangeRepository
from feature_gateway.db.engine import SQLITE_BEGIN
from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.db.replicas import ReadReplica, route_read
from feature_gateway.db.repositories import (
    AuditRepository,
    FeatureLookup,
    FeatureRepository,
)
from feature_gateway.db.served_at import ServedAtRepository
from feature_gateway.db.tokens import TokenRepository
from feature_gateway.db.usage import UsageRepository
from feature_gateway.db.webhooks import DeliveryRepository, WebhookRepository
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.errors import (
    ConcurrentModificationError,
    DatabaseStorageFullError,
    DatabaseUnavailableError,
    FeatureAlreadyExistsError,
)

if TYPE_CHECKING:
    from feature_gateway.db.transactions import RequestTransaction

T = TypeVar("T")
# SQLite's result code and PostgreSQL's SQLSTATE for "no room left to write".
_SQLITE_FULL = 13
_POSTGRES_DISK_FULL = "53100"


def unavailable(exc: BaseException | None) -> DatabaseUnavailableError:
    """The 503 a driver error means: the database's storage is full, or it is unavailable.

    The one place that tells them apart, so every read and write path answers alike."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    full = (code is not None and code & 0xFF == _SQLITE_FULL) or (
        getattr(orig, "sqlstate", None) == _POSTGRES_DISK_FULL
    )
    return DatabaseStorageFullError() if full else DatabaseUnavailableError()


class Lookup:
    """One read that changes nothing, on a pooled connection in autocommit: one statement
    and no transaction around it, so no BEGIN and ROLLBACK (each a round trip on
    PostgreSQL). Only for a use case of a single statement, which needs no snapshot."""

    features: FeatureLookup

    def __init__(self, bind: Engine | Connection) -> None:
        self._bind = bind
        self._dbapi_errors = (bind.dialect.loaded_dbapi.OperationalError,
                              bind.dialect.loaded_dbapi.InterfaceError)  # fmt: skip

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
            # transactions, and it does not run here.
            if dialect.name != "sqlite":
                dialect.set_isolation_level(self._pooled.dbapi_connection, "AUTOCOMMIT")  # type: ignore[arg-type]
        self._connection: Any = connection
        self.features = FeatureLookup(connection, dialect)
        return self

    def ping(self) -> None:
        """A trivial statement, to see that the database answers."""
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
        broken = isinstance(exc, (OperationalError, InterfaceError, *self._dbapi_errors))
        if self._pooled is not None:
            with contextlib.suppress(DBAPIError, *self._dbapi_errors):
                if broken:
                    self._pooled.invalidate()  # never hand this connection out again
                elif self._bind.dialect.name != "sqlite":
                    self._bind.dialect.reset_isolation_level(self._pooled.dbapi_connection)  # type: ignore[arg-type]
                self._pooled.close()
        if broken:
            raise unavailable(exc) from exc


# What a unit of work hands its committed status changes to: ``publish`` right away, or a
# request transaction (``db.transactions``) that publishes them once it has committed.
OnCommit = Callable[[Sequence[AuditEntry]], None]


def publish(entries: Sequence[AuditEntry]) -> None:
    """Log and count the status changes of a committed transaction."""
    for entry in entries:
        observability.status_changed(
            feature_name=entry.feature.feature_name,
            from_status=entry.from_status,
            to_status=entry.to_status,
            trigger=entry.trigger,
            actor=entry.actor,
            actor_role=entry.actor_role,
        )


class UnitOfWork:
    features: FeatureRepository
    audit: AuditRepository
    changes: ChangeLogRepository
    versions: VersionRepository
    tokens: TokenRepository
    definition_changes: DefinitionChangeRepository
    trails: AuditTrailReader
    webhooks: WebhookRepository
    deliveries: DeliveryRepository
    usage: UsageRepository
    served_at: ServedAtRepository
    console_sessions: ConsoleSessionRepository

    def __init__(
        self, session_factory: sessionmaker[Session], on_commit: OnCommit = publish
    ) -> None:
        self._session_factory = session_factory
        self._on_commit = on_commit

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.features = FeatureRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.changes = ChangeLogRepository(self.session)
        self.versions = VersionRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.definition_changes = DefinitionChangeRepository(self.session)
        self.trails = AuditTrailReader(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.deliveries = DeliveryRepository(self.session)
        self.usage = UsageRepository(self.session)
        self.served_at = ServedAtRepository(self.session)
        self.console_sessions = ConsoleSessionRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the loaded rows with
        # their state intact, so the caller can still serialise what the use case returned.
        # A failing close means the connection is gone; the pool discards it.
        with contextlib.suppress(DBAPIError):
            self.session.close()
        if isinstance(exc, OperationalError | InterfaceError):
            raise unavailable(exc) from exc

    def commit(self) -> None:
        """Commit, then publish the status changes this unit of work recorded."""
        self._commit_session()
        entries = list(self.audit.appended)
        self.audit.appended.clear()
        self._on_commit(entries)

    def _write_change_log(self) -> None:
        """The change log and its outbox rows, in this transaction (SPEC §8, §9).

        The change itself is flushed first, so that the log lock (``lock_for_append``) is
        held only for the entries, the outbox rows and the commit. The webhooks are read
        before the lock for the same reason; the outbox has a delivery for each active
        webhook matching an entry, and none for a change that does not commit.
        """
        self.session.flush()
        subscriptions = self.deliveries.active_subscriptions()
        self.changes.lock_for_append()
        entries = self.changes.write_tracked()
        if subscriptions:
            self.session.flush()  # the entries' ids, which the deliveries refer to
            self.deliveries.enqueue(entries, subscriptions)

    def _commit_session(self) -> None:
        pending = [
            o.feature_name for o in self.session.dirty | self.session.new if isinstance(o, Feature)
        ]
        try:
            if self.changes.tracked:
                self._write_change_log()
            self.session.commit()
        except StaleDataError as exc:
            raise ConcurrentModificationError(", ".join(pending) or "?") from exc
        except IntegrityError as exc:
            if not _is_unique_violation(exc):
                raise  # a broken invariant, not the client's doing: a 500 with a log line
            # The unique keys are the name and its canonical spelling: a concurrent create
            # of the same version won the race.
            raise FeatureAlreadyExistsError(", ".join(pending) or "?") from exc


def _is_unique_violation(exc: IntegrityError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    return "UNIQUE constraint failed" in str(exc.orig)  # sqlite3


def _snapshot_bind(bind: Engine | Connection) -> Engine | Connection:
    """Where several statements must see one state of the database: on PostgreSQL (the
    primary or a hot standby) a read-only REPEATABLE READ transaction. A SQLite read
    transaction is a snapshot already; a test's Connection is its own."""
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        return bind.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return bind


class Database:
    """The engine plus the session factories the units of work are made from.

    Every scope is the primary's but ``replicated_lookup`` and ``replicated_read``, which a
    read replica may serve (``db.replicas``); bound to a connection (a request's
    transaction, a test's) there is no replica: everything is read in that transaction."""

    def __init__(
        self,
        bind: Engine | Connection,
        *,
        external_transaction: bool = False,
        on_commit: OnCommit = publish,
        replica: ReadReplica | None = None,
    ) -> None:
        self.bind = bind
        self.replica = replica if isinstance(bind, Engine) else None
        # The replica's sessions for replicated_read, without and with ``snapshot``.
        self._replica_readers: dict[bool, sessionmaker[Session]] = {}
        if self.replica is not None:
            engine = self.replica.engine
            self._replica_readers = {
                False: sessionmaker(engine, expire_on_commit=False),
                True: sessionmaker(_snapshot_bind(engine), expire_on_commit=False),
            }
        self._on_commit = on_commit
        options = {"join_transaction_mode": "create_savepoint"} if external_transaction else {}
        writer_bind = bind
        if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
            writer_bind = bind.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self.writer_bind = writer_bind
        self._reader = sessionmaker(bind, expire_on_commit=False, **options)  # type: ignore[call-overload]
        self._snapshot = sessionmaker(_snapshot_bind(bind), expire_on_commit=False, **options)  # type: ignore[call-overload]
        self._writer = sessionmaker(writer_bind, expire_on_commit=False, **options)  # type: ignore[call-overload]

    def reading(self) -> UnitOfWork:
        return UnitOfWork(self._reader, self._on_commit)

    def snapshot(self) -> UnitOfWork:
        """A read-only unit of work whose statements all see the same committed state."""
        return UnitOfWork(self._snapshot)

    def writing(self) -> UnitOfWork:
        return UnitOfWork(self._writer, self._on_commit)

    def own_transaction(self) -> contextlib.AbstractContextManager[Connection]:
        """A short write transaction of its own, committed when the block ends without an
        error (a savepoint when the database is itself bound to a connection, as in tests)."""
        from feature_gateway.db.transactions import own_transaction

        return own_transaction(self)

    def request_transaction(self) -> contextlib.AbstractContextManager[RequestTransaction]:
        """One transaction around a whole request (see ``db.transactions``)."""
        from feature_gateway.db.transactions import request_transaction

        return request_transaction(self)

    def looking_up(self) -> Lookup:
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
            lambda: UnitOfWork(self._replica_readers[snapshot]),
            self.snapshot if snapshot else self.reading,
            read,
        )

    def ping(self) -> None:
        """Raise DatabaseUnavailableError unless the database answers a trivial query:
        one statement on a pooled connection, no session and no transaction around it."""
        dialect = self.bind.dialect
        try:
            with self.looking_up() as lookup:
                lookup.ping()
        except (DBAPIError, dialect.loaded_dbapi.Error) as exc:
            raise unavailable(exc) from exc
