"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Isolation follows SQLAlchemy's "join a session into an external transaction" recipe: each
test runs inside a transaction that is rolled back afterwards, and the service's own
commits become savepoint releases.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, text

from feature_gateway import create_app
from feature_gateway.app import configure_logging
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services import tokens
from feature_gateway.services.identity_provider import IdentityProvider
from feature_gateway.shapes import examples
from feature_gateway.web.context import EXTENSION
from tests.databases import (  # noqa: F401  (migrate: imported from here by the tests)
    BACKENDS,
    BACKGROUND_DROPS,
    TEMPLATES,
    FreshDatabase,
    close_app,
    migrate,
    require_backend,
    settings_for,
)
from tests.oidc_issuer import AUDIENCE, ROLE_MAP, OidcIssuer
from tests.oidc_provider import OidcProvider

# Token mode refuses to start without SECRET_KEY (the review console signs its sessions).
TEST_SECRET_KEY = "test-only-secret-key-for-the-console-sessions"
# The seed README's create payload, as the OpenAPI document shows it.
SEED_FEATURE = dict(examples.CREATE)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say before a run that fuzzes where its time will go (docs/development.md, "Tests"):
    a newcomer's `make test` otherwise sits for minutes on a few tests."""
    whole_suite = config.args_source == pytest.Config.ArgsSource.TESTPATHS
    if "not fuzz" in (config.option.markexpr or "") or not (
        whole_suite or any("contract" in arg for arg in config.args)
    ):
        return []
    from tests.contract.fuzzing import DEFAULT_MAX_EXAMPLES

    examples = int(os.environ.get("FUZZ_MAX_EXAMPLES", DEFAULT_MAX_EXAMPLES))
    each = "about 1 min each on 2 cores" if examples == DEFAULT_MAX_EXAMPLES else "longer"
    return [
        f"fuzzing: the Schemathesis runs (marker fuzz, one per database and auth mode, "
        f"FUZZ_MAX_EXAMPLES={examples}) are the slowest tests, {each}; the whole suite takes "
        "about 6-12 min on 2 cores; -m 'not fuzz' (make test-fast) leaves them out"
    ]


def pytest_sessionstart() -> None:
    BACKGROUND_DROPS.start()
    TEMPLATES.start()


@pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down
def pytest_sessionfinish() -> None:
    TEMPLATES.finish()
    BACKGROUND_DROPS.finish()


# The longest tests, in this order, ahead of every other (docs/development.md, "How long
# it takes"): --dist worksteal gives each worker a contiguous part of the collection and
# lets an idle one take the back half of another's queue, so a long test that starts late
# is run alone at the end while the other worker waits. Started first, they overlap the
# short tests instead, and what is left for the end is short.
LONGEST_FIRST = (
    "tests/deploy/test_pgbouncer.py",  # the PostgreSQL tests again, through PgBouncer
    "tests/contract/test_fuzzing.py",
    "tests/contract/test_token_mode_fuzzing.py",
    "tests/docs/test_feast_client.py",  # and its first test makes .feast-venv if missing
    "tests/deploy/test_soak.py",
)


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by parametrised fixture
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of ``LONGEST_FIRST``, then every other file with a test that starts real
    processes (marker ``slow`` or ``fuzz``), then the rest; whole files, in pytest's order
    otherwise, so a file's module-scoped servers and the backends' session databases are
    still set up once."""
    files: dict[str, int] = {}
    for item in items:
        file = item.nodeid.partition("::")[0]
        if file in LONGEST_FIRST:
            files[file] = LONGEST_FIRST.index(file)
        elif item.get_closest_marker("slow") or item.get_closest_marker("fuzz"):
            files[file] = len(LONGEST_FIRST)
    items.sort(key=lambda item: files.get(item.nodeid.partition("::")[0], len(LONGEST_FIRST) + 1))


def token_secret(token: str) -> str:
    """The secret part of an API token, ``fmg_<id>_<secret>``: all after the id (it may
    hold "_" itself, so the piece after the last "_" can be a few letters that turn up in
    any text)."""
    secret = token.split("_", 2)[2]
    assert len(secret) == 43, token
    return secret


def one_connection_database(tmp_path: Path, backend: str) -> Iterator[tuple[Database, str]]:
    """A new migrated database of ``backend`` behind a ``Database`` whose pool holds one
    connection (what a test of connection handling needs to know it reuses), and its URL."""
    require_backend(backend)
    fresh = FreshDatabase(backend, tmp_path, migrated=True)
    engine = make_engine(settings_for(fresh.url, db_pool_size=1, db_max_overflow=0))
    try:
        yield Database(engine), fresh.url
    finally:
        engine.dispose()
        fresh.drop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    require_backend(request.param)
    return str(request.param)


@pytest.fixture(scope="session")
def migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FreshDatabase]:
    fresh = FreshDatabase(backend, tmp_path_factory.mktemp(backend), migrated=True)
    yield fresh
    fresh.drop()


@pytest.fixture(scope="session")
def engine(migrated_database: FreshDatabase) -> Iterator[Engine]:
    engine = make_engine(settings_for(migrated_database.url))
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def database(connection: Connection) -> Database:
    return Database(connection, external_transaction=True)


@pytest.fixture(scope="session")
def _apps() -> Iterator[dict[tuple[str, str], Flask]]:
    """The apps built so far, by database URL and auth mode (see ``_bound``)."""
    built: dict[tuple[str, str], Flask] = {}
    yield built
    for app in built.values():
        close_app(app)  # its own engine, never used


# The settings of each kind of shared app: "oidc" is token mode with single sign-on on, its
# issuer replaced by each test's (``oidc_app``).
_MODES: dict[str, dict[str, Any]] = {
    "trust": {},
    "token": {"auth_mode": "token", "secret_key": TEST_SECRET_KEY},
    "oidc": {
        "auth_mode": "token",
        "secret_key": TEST_SECRET_KEY,
        "oidc_issuer": "http://127.0.0.1:9",  # each test binds its own issuer
        "oidc_client_id": AUDIENCE,
        "oidc_role_map": ROLE_MAP,
    },
}


def _shared_app(apps: dict[tuple[str, str], Flask], database_url: str, auth_mode: str) -> Flask:
    app = apps.get((database_url, auth_mode))
    if app is None:
        app = create_app({"database_url": database_url, "TESTING": True, **_MODES[auth_mode]})
        apps[(database_url, auth_mode)] = app
    return app


@contextlib.contextmanager
def _bound(app: Flask, database: Database, **replaced: Any) -> Iterator[Flask]:
    """The shared app working on this test's database (its rolled-back transaction).

    Building the app costs about 50 ms (flask-smorest writes the OpenAPI document, werkzeug
    compiles the routes), more than most tests; so one app per database and auth mode is
    built once a session, and each test binds it to its own ``database``: views read the
    database from ``app.extensions`` on every request (``web.context``), nothing else keeps
    it. The log level is set again, as a freshly built app would, since a test may build
    its own app with another. A test that changes the app itself (adds a route, wraps
    ``wsgi_app``) builds its own with ``create_app``.
    """
    shared = app.extensions[EXTENSION]
    shared.usage.discard()  # read counts of an earlier test, on its rolled-back database
    app.extensions[EXTENSION] = dataclasses.replace(shared, database=database, **replaced)
    configure_logging(shared.settings.log_level)
    try:
        yield app
    finally:
        shared.usage.discard()
        app.extensions[EXTENSION] = shared


@pytest.fixture
def app(
    database: Database, migrated_database: FreshDatabase, _apps: dict[tuple[str, str], Flask]
) -> Iterator[Flask]:
    with _bound(_shared_app(_apps, migrated_database.url, "trust"), database) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token_app(
    database: Database, migrated_database: FreshDatabase, _apps: dict[tuple[str, str], Flask]
) -> Iterator[Flask]:
    """The app in token mode (SPEC §7), on the same database as ``app``."""
    with _bound(_shared_app(_apps, migrated_database.url, "token"), database) as app:
        yield app


@pytest.fixture
def token_client(token_app: Flask) -> FlaskClient:
    return token_app.test_client()


@pytest.fixture(scope="session")
def unmigrated_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app in trust mode on a SQLite file never migrated, for requests refused before
    any statement runs (the large bodies' tests): such a request is the same on either
    database, so it runs once, not once per backend; one that ran a statement would fail on
    the missing tables."""
    url = f"sqlite:///{tmp_path_factory.mktemp('unmigrated') / 'unused.db'}"
    app = create_app({"database_url": url, "TESTING": True})
    yield app
    close_app(app)


@pytest.fixture
def unmigrated_client(unmigrated_app: Flask) -> FlaskClient:
    return unmigrated_app.test_client()


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """A real OpenID provider on a free loopback port (oidc-provider-mock), for the session."""
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider") / "provider.log")
    yield provider
    provider.stop()


@pytest.fixture
def oidc_issuer() -> Iterator[OidcIssuer]:
    """A test OpenID Connect issuer on loopback (``tests.oidc_issuer``), stopped afterwards."""
    issuer = OidcIssuer()
    yield issuer
    issuer.stop()


class ManualClock:
    """A monotonic clock a test moves by hand: ``clock.advance(31)``."""

    def __init__(self) -> None:
        self.value = 1_000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


@pytest.fixture
def oidc_clock() -> ManualClock:
    """The clock pacing the OIDC app's key refetches (``oidc_app``)."""
    return ManualClock()


@pytest.fixture
def oidc_app(
    database: Database,
    migrated_database: FreshDatabase,
    _apps: dict[tuple[str, str], Flask],
    oidc_issuer: OidcIssuer,
    oidc_clock: ManualClock,
) -> Iterator[Flask]:
    """The app in token mode with single sign-on on (SPEC §12), trusting ``oidc_issuer``
    (audience ``tests.oidc_issuer.AUDIENCE``, role map ``ROLE_MAP``), its key refetches
    paced by ``oidc_clock``; on the same database as ``app``."""
    shared = _shared_app(_apps, migrated_database.url, "oidc")
    settings = dataclasses.replace(
        shared.extensions[EXTENSION].settings, oidc_issuer=oidc_issuer.url
    )
    provider = IdentityProvider.from_settings(settings, clock=oidc_clock)
    with _bound(shared, database, settings=settings, identity_provider=provider) as app:
        yield app


@pytest.fixture
def oidc_client(oidc_app: Flask) -> FlaskClient:
    return oidc_app.test_client()


@pytest.fixture
def issue_token(database: Database) -> Callable[..., str]:
    """Issue an API token straight through the service: ``issue_token("developer")``."""

    def issue(*roles: str, principal: str = "alice", **options: Any) -> str:
        created = tokens.create_token(
            database, principal=principal, roles=roles, created_by="test", **options
        )
        return created.token

    return issue


@pytest.fixture
def flush_usage(database: Database, _apps: dict[tuple[str, str], Flask]) -> Callable[[], int]:
    """Write the read counts of this test's requests (trust and token mode), as a worker's
    flusher would; returns the rows written."""
    return lambda: sum(app.extensions[EXTENSION].usage.flush(database) for app in _apps.values())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _expect(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


# The calls that take a fresh feature to each status, in order.
_PATH_TO = {
    "DRAFT": [],
    "READY_FOR_TESTING": ["submit"],
    "TEST_SUCCEEDED": ["submit", "pass"],
    "TEST_FAILED": ["submit", "fail"],
    "DEPLOYED": ["submit", "pass", "approve"],
    "REJECTED": ["submit", "pass", "reject"],
    "DELETED": ["delete"],
    "DEPRECATED": ["submit", "pass", "approve", "deprecate"],
    "RETIRED": ["submit", "pass", "approve", "deprecate", "retire"],
}
_STEPS = {
    "submit": ("/ready_test_feature_metadata", {"submitted_by": "dev", "user_role": "developer"}),
    "pass": (
        "/test_feature_metadata",
        {
            "test_result": "TEST_SUCCEEDED",
            "tested_by": "qa",
            "user_role": "external_testing_system",
        },
    ),
    "fail": (
        "/test_feature_metadata",
        {"test_result": "TEST_FAILED", "tested_by": "qa", "user_role": "external_testing_system"},
    ),
    "approve": ("/approve_feature_metadata", {"approved_by": "boss", "user_role": "approver"}),
    "reject": (
        "/reject_feature_metadata",
        {"rejected_by": "boss", "user_role": "approver", "rejection_reason": "not useful"},
    ),
    "delete": (
        "/delete_feature_metadata",
        {"deleted_by": "dev", "user_role": "developer", "deletion_reason": "obsolete"},
    ),
    "deprecate": (
        "/deprecate_feature_metadata",
        {"deprecated_by": "boss", "user_role": "approver", "deprecation_reason": "superseded"},
    ),
    "retire": ("/retire_feature_metadata", {"retired_by": "boss", "user_role": "approver"}),
}


@pytest.fixture
def make_feature(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Create a feature through the API and walk it to ``status``; returns its metadata."""
    counter = iter(range(1, 1_000_000))

    def make(status: str = "DRAFT", **fields: Any) -> dict[str, Any]:
        body = {**SEED_FEATURE, "feature_name": f"test_view:feature_{next(counter)}:1", **fields}
        metadata = _expect(client.post("/create_feature_metadata", json=body), 201)["metadata"]
        for step in _PATH_TO[status]:
            path, payload = _STEPS[step]
            response = client.post(path, json={"feature_name": body["feature_name"], **payload})
            metadata = _expect(response, 200)["metadata"]
        assert metadata["status"] == status
        return metadata  # type: ignore[no-any-return]

    return make


@pytest.fixture
def audit_rows(connection: Connection) -> Callable[[str], list[dict[str, Any]]]:
    """The audit table's rows for one feature, read straight from the database."""

    def rows(feature_name: str) -> list[dict[str, Any]]:
        result = connection.execute(
            text(
                "SELECT a.from_status, a.to_status, a.trigger, a.actor, a.actor_role, a.reason"
                " FROM feature_audit a JOIN features f ON f.id = a.feature_id"
                " WHERE f.feature_name = :name ORDER BY a.id"
            ),
            {"name": feature_name},
        )
        return [dict(row._mapping) for row in result]

    return rows
