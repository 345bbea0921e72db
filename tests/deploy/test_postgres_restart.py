"""gunicorn keeps serving across a PostgreSQL restart, without being restarted itself.

The test runs its own PostgreSQL (support.private_postgres: initdb + pg_ctl into a
temporary folder, on a free port) so that it can stop and start it. Skipped when the
PostgreSQL server binaries are not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import SEED_FEATURE
from tests.deploy.support import (
    Gunicorn,
    PrivatePostgres,
    Reply,
    answers,
    call,
    gunicorn,
    private_postgres,
    run_migrations,
    wait_until,
)

WORKERS = 2


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def server(
    postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    work_dir = tmp_path_factory.mktemp("gunicorn")
    run_migrations(postgres.url, work_dir)
    with gunicorn(postgres.url, work_dir, workers=WORKERS) as running:
        yield running
    # The same workers served every test: none was restarted to get its database back.
    assert len(running.worker_pids_booted()) == WORKERS


def step(port: int, name: str, path: str, **fields: str) -> Reply:
    return call(port, "POST", path, {"feature_name": name, **fields})


SUBMIT = ("/ready_test_feature_metadata", {"submitted_by": "d", "user_role": "developer"})
PASS = (
    "/test_feature_metadata",
    {"test_result": "TEST_SUCCEEDED", "tested_by": "ci", "user_role": "external_testing_system"},
)
APPROVE = ("/approve_feature_metadata", {"approved_by": "boss", "user_role": "approver"})


def create_and_warm_up(port: int, name: str) -> None:
    """A feature to work on, and pooled connections in every worker for a restart to break."""
    created = call(
        port, "POST", "/create_feature_metadata", {**SEED_FEATURE, "feature_name": name}
    )
    assert created.status == 201, created.body
    for _ in range(5 * WORKERS):
        assert call(port, "GET", f"/get_feature_metadata/{name}?user_role=developer").status == 200


@pytest.mark.slow
def test_a_restart_between_requests_fails_no_request(
    postgres: PrivatePostgres, server: Gunicorn
) -> None:
    name = "restart:quiet:1"
    create_and_warm_up(server.port, name)

    postgres.stop()
    postgres.start()

    # Every worker's pooled connections are dead now; each is tested before use and
    # replaced, so not a single request sees the restart.
    for _ in range(5 * WORKERS):
        reply = call(server.port, "GET", f"/get_feature_metadata/{name}?user_role=developer")
        assert reply.status == 200, reply.body
    for path, fields in (SUBMIT, PASS, APPROVE):
        reply = step(server.port, name, path, **fields)
        assert reply.status == 200, reply.body
    assert reply.json()["new_status"] == "DEPLOYED"


@pytest.mark.slow
def test_health_is_503_while_postgres_is_down_and_recovers_by_itself(
    postgres: PrivatePostgres, server: Gunicorn
) -> None:
    port, name = server.port, "restart:outage:1"
    create_and_warm_up(port, name)

    postgres.stop()

    for _ in range(2 * WORKERS):
        down = call(port, "GET", "/health")
        assert (down.status, down.json()["database"]) == (503, "unavailable")
    refused = step(port, name, SUBMIT[0], **SUBMIT[1])
    assert refused.status == 503
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "SELECT" not in refused.body.decode()  # no SQL leaks out
    assert call(port, "GET", "/livez").status == 200  # alive, just not ready

    postgres.start()

    wait_until(answers(port, "/health"), timeout=15, what="/health to recover")
    for _ in range(4 * WORKERS):
        assert call(port, "GET", "/health").status == 200
    for path, fields in (SUBMIT, PASS, APPROVE):
        reply = step(port, name, path, **fields)
        assert reply.status == 200, reply.body
