"""Engine creation and the per-dialect connection settings the service relies on.

JSON columns (tags) are read with orjson: the standard library's parser was most of a
list page's conversion of rows (the column is written by SQLAlchemy's default, a JSON
object of strings, which both parse alike)."""

from __future__ import annotations

import select
import time
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError

from feature_gateway.config import Settings
from feature_gateway.db.compiled import on_driver

# Execution option naming the BEGIN a SQLite transaction starts with (see _sqlite_events).
SQLITE_BEGIN = "sqlite_begin"
# Name of the Unicode-aware lower() registered on every SQLite connection.
SQLITE_FOLD_CASE = "fold_case"
# A PostgreSQL connection idle longer than this is tested with a round trip before use
# (_test_when_in_doubt); one used more recently only when its socket says the server spoke.
PING_IDLE_S = 10.0
_LAST_CHECKOUT = "feature_gateway_last_checkout"
# Execution option of a connection whose savepoints at its transaction's start are not
# sent: its ``UnsentSavepoints`` (set by ``db.scopes.KeyedWrite``).
UNSENT_SAVEPOINTS = "feature_gateway_unsent_savepoints"


def make_engine(
    settings: Settings, database_url: str | None = None, *, ping_every_checkout: bool = False
) -> Engine:
    """The engine of ``DATABASE_URL``, or of another URL (the replica's) with the same
    settings; ``ping_every_checkout``: SQLAlchemy's ``pool_pre_ping`` instead of the test
    when in doubt (``_test_when_in_doubt``)."""
    url = make_url(database_url or settings.database_url)
    if url.get_backend_name() == "sqlite":
        # Imported here, not with this module: the standard library's sqlite3 and SQLite's
        # library are 0.85 MB of a worker's RSS, which a PostgreSQL worker has no use for
        # (SPEC §6 memory; docs/performance.md, "i30-baseline").
        from feature_gateway.db.sqlite_writers import QueuedWriters

        engine = create_engine(
            url,
            json_deserializer=orjson.loads,
            hide_parameters=True,  # see below
            connect_args={
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
                "factory": QueuedWriters,  # writers queue on a lock file (db.sqlite_writers)
            },
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_s,
        )
        _sqlite_events(engine, settings.sqlite_busy_timeout_ms)
        return _plain_savepoints(engine)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = settings.db_connect_timeout_s
        if settings.transaction_pooling:
            # psycopg prepares a statement on the server after its fifth run on a
            # connection; behind PgBouncer's transaction pooling the next run may land on
            # another server connection, where it does not exist (PgBouncer < 1.21).
            connect_args["prepare_threshold"] = None
    engine = create_engine(
        url,
        json_deserializer=orjson.loads,
        # A statement's error (logged with a 500's traceback or a 503's cause) names no
        # bound value: they include ID tokens, PKCE verifiers, webhook secrets.
        hide_parameters=True,
        connect_args=connect_args,
        pool_pre_ping=ping_every_checkout,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
    )
    # After a PostgreSQL restart the stale connections are replaced instead of failing a
    # request, so workers need no restart: what pool_pre_ping gives, without its round
    # trip on every checkout.
    if not ping_every_checkout:
        _test_when_in_doubt(engine)
    return _plain_savepoints(engine)


def _plain_savepoints(engine: Engine) -> Engine:
    """SAVEPOINT, RELEASE SAVEPOINT and ROLLBACK TO SAVEPOINT sent as the SQL they are
    (``exec_driver_sql``: SQLAlchemy's handling of driver errors kept). SQLAlchemy executes
    its savepoint clauses as statements it compiles anew each time (they are not cached):
    the savepoint of a keyed write's use case cost 7 % of a keyed create (docs/performance.md,
    "i26-keyed"). The names are SQLAlchemy's own (``sa_savepoint_<n>``), quoted as it would.

    ``do_savepoint``, ``do_rollback_to_savepoint`` and ``do_release_savepoint`` are the
    ``Dialect`` interface's documented methods, replaced on this engine's dialect instance
    only; checked against SQLAlchemy 2.0.x (``setup.cfg`` pins ``<2.1``), where the default
    implementations execute ``SavepointClause`` and friends."""
    dialect = engine.dialect
    quote = dialect.identifier_preparer.quote

    def do_savepoint(connection: Connection, name: str) -> None:
        unsent = connection.get_execution_options().get(UNSENT_SAVEPOINTS)
        if unsent is None or not unsent.take(connection, name):
            on_driver(connection, f"SAVEPOINT {quote(name)}", (), _nothing)

    def do_rollback_to_savepoint(connection: Connection, name: str) -> None:
        unsent = connection.get_execution_options().get(UNSENT_SAVEPOINTS)
        if unsent is not None and name in unsent.names:
            unsent.roll_back(connection, name)
        else:
            on_driver(connection, f"ROLLBACK TO SAVEPOINT {quote(name)}", (), _nothing)

    def do_release_savepoint(connection: Connection, name: str) -> None:
        unsent = connection.get_execution_options().get(UNSENT_SAVEPOINTS)
        if unsent is not None and name in unsent.names:
            unsent.names.discard(name)
        else:
            on_driver(connection, f"RELEASE SAVEPOINT {quote(name)}", (), _nothing)

    dialect.do_savepoint = do_savepoint  # type: ignore[method-assign]
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint  # type: ignore[method-assign]
    dialect.do_release_savepoint = do_release_savepoint  # type: ignore[method-assign]
    return engine


class UnsentSavepoints:
    """The savepoints of a psycopg connection's transaction taken before anything ran in
    it, which are not sent. psycopg begins a transaction with its first statement, so while
    it has none open (``IDLE``) a savepoint marks where the transaction will begin: releasing
    it is nothing, and rolling back to it is rolling the transaction back (nothing to do if
    nothing ran since), the next statement beginning another. A savepoint taken once a
    statement ran is sent as usual. A keyed write's use case begins with one (its units of
    work join the keyed write's transaction as savepoints): two round trips less on
    PostgreSQL, its SAVEPOINT and RELEASE; a refusal's ROLLBACK TO is a ROLLBACK, and the
    stored response's UPDATE then begins the transaction again.

    Only for a connection that is the keyed write's own (``db.scopes.KeyedWrite``): a test's
    connection, in its transaction, keeps every savepoint."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def take(self, connection: Connection, name: str) -> bool:
        """Whether ``name`` is taken without being sent: nothing ran in the transaction."""
        from psycopg.pq import TransactionStatus

        driver = connection.connection.driver_connection
        if driver.autocommit or driver.info.transaction_status != TransactionStatus.IDLE:  # type: ignore[union-attr]
            return False
        self.names.add(name)
        return True

    def roll_back(self, connection: Connection, name: str) -> None:
        """Roll back to unsent ``name``: the transaction, if a statement began one since.
        As SQL (``exec_driver_sql``), so that a lost connection is handled as a ROLLBACK
        TO's would be; psycopg then begins a transaction at the next statement."""
        from psycopg.pq import TransactionStatus

        self.names.discard(name)
        driver = connection.connection.driver_connection
        if driver.info.transaction_status != TransactionStatus.IDLE:  # type: ignore[union-attr]
            connection.exec_driver_sql("ROLLBACK")


class SqliteUnsentSavepoints(UnsentSavepoints):
    """``UnsentSavepoints`` of a pysqlite connection: a savepoint taken while its transaction
    has written nothing since its BEGIN (the connection's ``total_changes`` as then) is not
    sent; rolling back to it is ROLLBACK and the same BEGIN again when something was written
    since (nothing to do otherwise), releasing it is nothing. The writers' queue's lock
    (``db.sqlite_writers``) is held through both, so no queued writer comes between (a
    program that does not queue may, as between any two transactions).

    SQLite keeps what each page held before a savepoint in a sub-journal, which it moves
    past 64 KiB into a file it creates in a temporary directory and unlinks: a keyed
    create's use case (about 30 pages) did so every time, about half of the server CPU the
    key added to a create under two workers (docs/performance.md, "i29-sqlitekeyed").
    ``PRAGMA temp_store=MEMORY`` would keep it in memory, but also every temporary B-tree
    of a read, unbounded (a list page sorted at a deep offset: 60 MB more)."""

    def __init__(self) -> None:
        super().__init__()
        self._begin_sql = ""
        self._changes_at_begin = -1

    def began(self, connection: Connection, begin_sql: str) -> None:
        """The transaction began now, by ``begin_sql`` (``_sqlite_events``)."""
        self._begin_sql = begin_sql
        self._changes_at_begin = connection.connection.driver_connection.total_changes  # type: ignore[union-attr]

    def take(self, connection: Connection, name: str) -> bool:
        driver = connection.connection.driver_connection
        if not driver.in_transaction or driver.total_changes != self._changes_at_begin:  # type: ignore[union-attr]
            return False
        self.names.add(name)
        return True

    def roll_back(self, connection: Connection, name: str) -> None:
        self.names.discard(name)
        if connection.connection.driver_connection.total_changes != self._changes_at_begin:  # type: ignore[union-attr]
            on_driver(connection, "ROLLBACK", (), _nothing)
            on_driver(connection, self._begin_sql, (), _nothing)
            self.began(connection, self._begin_sql)


def _sqlite_events(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, foreign keys and a busy timeout on every connection; BEGIN emitted by us.

    pysqlite's own transaction handling defers BEGIN until the first write and breaks
    SAVEPOINTs, so we take BEGIN over (SQLAlchemy's documented recipe). Write units of work
    ask for BEGIN IMMEDIATE: the write lock is taken up front, waiting on the busy timeout,
    instead of a reader failing with "database is locked" when it later tries to upgrade;
    before it, they queue on the writers' lock file (``db.sqlite_writers``), which wakes a
    waiting writer sooner than SQLite's busy handler does.
    """
    from feature_gateway.db.sqlite_writers import QueuedWriters, wait_to_write  # see make_engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        if isinstance(dbapi_connection, QueuedWriters):
            dbapi_connection.queue_writers(busy_timeout_ms / 1000)
        # SQLite's lower() and LIKE fold ASCII only; list searches (db.feature_pages) use this for
        # searches with other letters, so "Ä" matches "ä" as with PostgreSQL's ILIKE.
        dbapi_connection.create_function(SQLITE_FOLD_CASE, 1, _fold_case, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        mode = options.get(SQLITE_BEGIN, "DEFERRED")
        if mode == "IMMEDIATE":  # in the writers' queue first (db.sqlite_writers)
            wait_to_write(connection)
        begin = f"BEGIN {mode}"
        on_driver(connection, begin, (), _nothing)
        unsent = options.get(UNSENT_SAVEPOINTS)
        if unsent is not None:  # a keyed write's (db.scopes.KeyedWrite)
            unsent.began(connection, begin)


def _nothing(_cursor: Any) -> None:
    return None


def _fold_case(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _test_when_in_doubt(engine: Engine) -> None:
    """Test a pooled connection on checkout when it may be dead, with the pool's documented
    hook for it (a ``checkout`` listener raising ``DisconnectionError``).

    ``pool_pre_ping`` tests every checkout, a round trip before each request's own (two for
    ``/health``). A server that ends a connection (a restart, ``pg_terminate_backend``, an
    idle timeout) sends its goodbye and closes the socket, which the client's kernel holds
    as readable before the next request: an idle connection with nothing to read is alive
    as far as anything can tell without asking. So it is tested when its socket is readable
    (or cannot be asked), and when it was idle longer than ``PING_IDLE_S``, the time in
    which a peer could have vanished without a word (a host lost, a NAT's state dropped).
    A failed test replaces every connection of the pool, as ``pool_pre_ping``'s does.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_CHECKOUT] = time.monotonic()  # fresh: nothing to test

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        now = time.monotonic()
        idle_s = now - record.info.get(_LAST_CHECKOUT, 0.0)
        record.info[_LAST_CHECKOUT] = now
        if idle_s > PING_IDLE_S or _server_spoke(dbapi_connection):
            _ping(dialect, dbapi_connection)


def _server_spoke(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket has something to read (a message or its end):
    nothing is due on it between requests, so it is tested. No round trip: one poll()."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.pgconn.socket, select.POLLIN)
        return bool(poller.poll(0))
    except Exception:  # closed, broken, no socket (another driver): test it to be sure
        return True


def _ping(dialect: Dialect, dbapi_connection: Any) -> None:
    """``pool_pre_ping``'s test: a lost connection invalidates the pool (the database may
    have restarted: every older connection is replaced too), any other error is raised."""
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as exc:
        if dialect.is_disconnect(exc, dbapi_connection, None):
            raise InvalidatePoolError(f"connection lost: {exc}") from exc
        raise


def set_autocommit(dialect: Dialect, dbapi_connection: Any, on: bool) -> None:
    """A PostgreSQL connection in autocommit (a lookup's statement, a keyed write's claim),
    or back. psycopg's own switch: the dialect's ``set_isolation_level("AUTOCOMMIT")`` and
    ``reset_isolation_level`` also set the isolation level (to the one it had), each a pass
    through psycopg's checks (a twelfth of a read by name, a thirtieth of what a key adds to
    a create: docs/performance.md, "i28-fixed", "i28-keyed"). Another driver: the dialect's.
    pysqlite is in autocommit always (``_sqlite_events``)."""
    if dialect.driver == "psycopg":
        dbapi_connection.autocommit = on
    elif on:
        dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
    else:
        dialect.reset_isolation_level(dbapi_connection)
