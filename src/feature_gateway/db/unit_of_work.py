"""One use case = one transaction: the unit of work opens it, the service commits it.

``UnitOfWork.commit`` is the only commit path: it commits and then publishes what the use
case recorded (its status changes, to the log and the metrics), so nothing is published for
a change that did not commit, and nothing committed goes unpublished.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, PoolProxiedConnection
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from feature_gateway import observability
from feature_gateway.db.catalog_repositories import ChangeLogRepository, VersionRepository
from feature_gateway.db.definition_changes import DefinitionChangeRepository
from feature_gateway.db.engine import SQLITE_BEGIN
from feature_gateway.db.models import Feature
from feature_gateway.db.repositories import AuditRepository, FeatureLookup, FeatureRepository
from feature_gateway.db.tokens import TokenRepository
from feature_gateway.db.webhooks import DeliveryRepository, WebhookRepository
from feature_gateway.errors import (
    ConcurrentModificationError,
    DatabaseUnavailableError,
    FeatureAlreadyExistsError,
)


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
                raise DatabaseUnavailableError() from exc
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
            raise DatabaseUnavailableError() from exc


class UnitOfWork:
    features: FeatureRepository
    audit: AuditRepository
    changes: ChangeLogRepository
    versions: VersionRepository
    tokens: TokenRepository
    definition_changes: DefinitionChangeRepository
    webhooks: WebhookRepository
    deliveries: DeliveryRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.features = FeatureRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.changes = ChangeLogRepository(self.session)
        self.versions = VersionRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.definition_changes = DefinitionChangeRepository(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.deliveries = DeliveryRepository(self.session)
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
            raise DatabaseUnavailableError() from exc

    def commit(self) -> None:
        """Commit, then publish the status changes this unit of work recorded."""
        self._commit_session()
        for entry in self.audit.appended:
            observability.status_changed(
                feature_name=entry.feature.feature_name,
                from_status=entry.from_status,
                to_status=entry.to_status,
                trigger=entry.trigger,
                actor=entry.actor,
                actor_role=entry.actor_role,
            )
        self.audit.appended.clear()

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


class Database:
    """The engine plus the session factories the units of work are made from."""

    def __init__(self, bind: Engine | Connection, *, external_transaction: bool = False) -> None:
        self.bind = bind
        options = {"join_transaction_mode": "create_savepoint"} if external_transaction else {}
        writer_bind = bind
        if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
            writer_bind = bind.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._reader = sessionmaker(bind, expire_on_commit=False, **options)  # type: ignore[call-overload]
        self._writer = sessionmaker(writer_bind, expire_on_commit=False, **options)  # type: ignore[call-overload]

    def reading(self) -> UnitOfWork:
        return UnitOfWork(self._reader)

    def writing(self) -> UnitOfWork:
        return UnitOfWork(self._writer)

    def looking_up(self) -> Lookup:
        return Lookup(self.bind)

    def ping(self) -> None:
        """Raise DatabaseUnavailableError unless the database answers a trivial query:
        one statement on a pooled connection, no session and no transaction around it."""
        dialect = self.bind.dialect
        try:
            with self.looking_up() as lookup:
                lookup.ping()
        except (DBAPIError, dialect.loaded_dbapi.Error) as exc:
            raise DatabaseUnavailableError() from exc
