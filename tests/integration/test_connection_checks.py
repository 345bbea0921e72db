"""A pooled PostgreSQL connection is tested before use only when it may be dead
(``db.engine``): one the server ended between two requests is replaced, not used.

``tests/deploy/test_postgres_restart.py`` shows the same across a real restart under
gunicorn; these end one connection with ``pg_terminate_backend``, as a restart ends all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from feature_gateway.db import engine as engine_module
from feature_gateway.db.appended import insert_appended, new_row
from feature_gateway.db.models import Feature
from feature_gateway.db.scopes import Database
from feature_gateway.db.violations import is_unique_violation
from feature_gateway.errors import DatabaseUnavailableError
from feature_gateway.services import features
from feature_gateway.services.rows import feature_data
from tests.conftest import SEED_FEATURE, one_connection_database


@pytest.fixture
def one_connection(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    yield from one_connection_database(tmp_path, "postgresql")


def _end_the_pooled_connection(database: Database, url: str) -> int:
    with database.bind.raw_connection() as pooled:  # the pool's one connection
        pid: int = pooled.driver_connection.info.backend_pid
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
        # Wait (up to 5 s) until the backend has gone, as a restart's stop does: until then
        # the connection is still alive, and nothing could tell it is ending.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    return pid


def _create(database: Database, name: str) -> None:
    fields = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
    features.create_feature(database, {**fields, "feature_name": name}, role="developer")


def test_a_connection_the_server_ended_between_requests_is_replaced_before_use(one_connection):
    database, url = one_connection
    _create(database, "ended:read:1")
    features.get_feature(database, "ended:read:1")  # used a moment ago: not idle

    ended = _end_the_pooled_connection(database, url)

    assert features.get_feature(database, "ended:read:1")["status"] == "DRAFT"
    _create(database, "ended:write:1")  # a write's unit of work, on the new connection
    assert database.bind.pool.checkedout() == 0
    with database.bind.raw_connection() as pooled:
        assert pooled.driver_connection.info.backend_pid != ended


def test_a_connection_idle_past_the_limit_is_tested_even_when_its_socket_is_quiet(
    one_connection, monkeypatch
):
    database, _ = one_connection
    _create(database, "idle:read:1")
    tested: list[object] = []
    ping = engine_module._ping

    def counted(dialect, dbapi_connection):
        tested.append(dbapi_connection)
        ping(dialect, dbapi_connection)

    monkeypatch.setattr(engine_module, "_ping", counted)
    features.get_feature(database, "idle:read:1")
    assert tested == []  # used a moment ago, nothing to read: no round trip of its own

    monkeypatch.setattr(engine_module, "PING_IDLE_S", -1.0)
    features.get_feature(database, "idle:read:1")
    assert len(tested) == 1


def test_a_connection_lost_inside_a_write_is_a_503_and_never_used_again(one_connection):
    # The write's own statements run on the driver's cursor (db.compiled.on_driver): a lost
    # connection is what SQLAlchemy makes of it, an OperationalError, and is invalidated.
    database, url = one_connection
    with pytest.raises(DatabaseUnavailableError), database.writing() as uow:
        assert uow.features.stored_as("lost:write:1") is None  # the transaction has begun
        pid = uow.session.connection().connection.driver_connection.info.backend_pid
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        with pytest.raises(OperationalError) as lost:
            uow.features.stored_as("lost:write:1")
        assert lost.value.connection_invalidated
        assert "lost:write:1" not in str(lost.value)  # parameters hidden, as the engine does
        raise lost.value

    _create(database, "lost:write:1")  # the pool's one connection, replaced
    with database.bind.raw_connection() as pooled:
        assert pooled.driver_connection.info.backend_pid != pid


def test_a_name_taken_is_sqlalchemys_integrity_error_on_the_drivers_statements(database):
    _create(database, "taken:twice:1")
    with database.writing() as uow:
        row = uow.features.get("taken:twice:1")
        with pytest.raises(IntegrityError) as clash:
            insert_appended(uow.session.connection(), [new_row(Feature, feature_data(row))])
        assert is_unique_violation(clash.value)


def test_the_health_check_on_a_connection_lost_unnoticed_is_unavailable_then_recovers(
    one_connection, monkeypatch
):
    """The ping (``SELECT 1`` through libpq) on a connection the checkout test did not
    doubt: the server's goodbye is read as a lost connection, which is replaced."""
    database, url = one_connection
    database.ping()
    _end_the_pooled_connection(database, url)
    monkeypatch.setattr(engine_module, "_server_spoke", lambda _connection: False)

    with pytest.raises(DatabaseUnavailableError):
        database.ping()
    database.ping()  # a new connection


def test_the_health_check_inside_a_failed_transaction_is_unavailable(one_connection):
    database, _ = one_connection
    with database.bind.connect() as connection:
        with pytest.raises(DBAPIError):
            connection.exec_driver_sql("SELECT 1/0")
        with pytest.raises(DatabaseUnavailableError):
            Database(connection).ping()  # the transaction refuses every statement
