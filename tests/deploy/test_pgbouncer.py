"""The service through PgBouncer in transaction pooling (SPEC §15).

PgBouncer hands each transaction to whichever server connection is free, so nothing may
outlive a transaction on one: the change log's advisory lock is transaction-scoped, the
webhook worker's ``synchronous_commit`` is ``SET LOCAL``, and nothing else is set per
session. psycopg's prepared statements would be (it prepares a statement after its fifth
run on a connection): ``DATABASE_POOLER=transaction`` turns them off, and the first test
shows why. The second runs the PostgreSQL tests of the API and the use cases through a
PgBouncer. Mandatory under CI=true (pgbouncer is installed there).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping

import psycopg
import pytest

from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services import features
from tests.conftest import SEED_FEATURE, migrate
from tests.databases import (
    PG_HOST,
    PG_PORT,
    create_postgres_database,
    drop_postgres_database,
    require_backend,
    settings_for,
)
from tests.deploy.support import PROJECT_ROOT, PgBouncer, app_environment, pgbouncer

pytestmark = pytest.mark.slow
# The PostgreSQL tests run again through PgBouncer: the API's and the use cases' (every
# statement the service runs), and the real-server tests of what holds state across
# statements: the event feed (the change log's advisory lock) and the webhook workers
# (claims under SET LOCAL). The rest of tests/concurrency, tests/console and
# tests/contract pass through it too, at twice the cost (docs/development.md).
THROUGH_PGBOUNCER = [
    "tests/api",
    "tests/integration",
    "tests/concurrency/test_event_feed_order.py",
    "tests/concurrency/test_webhook_workers.py",
]
# Left out of the re-run: API tests whose point is who may call what, or which input is
# refused before any statement runs (the large bodies: before the body is even built), or
# what a large refused body costs in memory (its statements, a keyed refusal stored and
# replayed, are test_idempotency's, which runs through PgBouncer; their time is spent
# tracing the body, 90 s of the re-run's 400 on a loaded machine). They repeat the
# statements the rest already sends through PgBouncer (the access matrix alone is a third
# of the API's PostgreSQL tests), and the re-run is the slowest test.
NOT_THROUGH_PGBOUNCER = [
    "tests/api/test_access_matrix.py",
    "tests/api/test_roles.py",
    "tests/api/test_authentication.py",
    "tests/api/test_hostile_input.py",
    "tests/api/test_look_alike_names.py",
    "tests/api/test_feature_values_validation.py",
    "tests/api/test_large_bodies.py",
    "tests/api/test_large_write_bodies.py",
    "tests/api/test_refused_request_memory.py",
]


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PgBouncer]:
    require_backend("postgresql")
    with pgbouncer(PG_HOST, PG_PORT) as running:
        yield running


@pytest.fixture
def database_name(bouncer: PgBouncer) -> Iterator[str]:
    name = create_postgres_database()
    migrate(bouncer.url(name))
    yield name
    drop_postgres_database(name)


def read_across_server_connections(database: Database, url: str) -> None:
    """Read one feature on one client connection, its statement prepared by now, while
    another client holds the server connection it last ran on: PgBouncer runs the next
    read on another server connection."""
    name = "bouncer:feature:1"
    fields = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
    features.create_feature(database, {**fields, "feature_name": name}, role="developer")
    for _ in range(8):  # past psycopg's prepare_threshold (5)
        features.get_feature(database, name)
    with psycopg.connect(url.replace("+psycopg", "")) as other:
        other.execute("SELECT 1")  # in a transaction: holds the last used server connection
        features.get_feature(database, name)


@pytest.mark.parametrize("pooler", ["transaction", "none"])
def test_reads_work_through_transaction_pooling_only_when_the_pooler_is_declared(
    bouncer: PgBouncer, database_name: str, pooler: str
) -> None:
    url = bouncer.url(database_name)
    database = Database(make_engine(settings_for(url, database_pooler=pooler, db_pool_size=1)))
    try:
        if pooler == "transaction":
            read_across_server_connections(database, url)
        else:
            with pytest.raises(Exception, match='prepared statement "_pg3_0" does not exist'):
                read_across_server_connections(database, url)
    finally:
        database.bind.dispose()  # type: ignore[union-attr]


def test_the_postgresql_tests_pass_through_pgbouncer(
    bouncer: PgBouncer, report_figures: Callable[[str, Mapping[str, object]], None]
) -> None:
    environment = app_environment(
        TEST_PG_HOST="127.0.0.1", TEST_PG_PORT=str(bouncer.port), DATABASE_POOLER="transaction"
    )
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2",
         "-k", "postgresql", "-m", "not fuzz", *THROUGH_PGBOUNCER,
         *(f"--ignore={path}" for path in NOT_THROUGH_PGBOUNCER)],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=1200,
        check=False,
    )  # fmt: skip
    summary = run.stdout.strip().splitlines()[-1:] if run.stdout else []
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    report_figures("through PgBouncer", {
        "tests": " ".join(THROUGH_PGBOUNCER), "summary": " ".join(summary),
        "seconds": round(time.monotonic() - started),
    })  # fmt: skip
