"""The transaction scopes (``db/scopes.py``) and the one commit path they share: what a
commit writes and publishes, which scopes may commit, and a keyed write whose use case's
units of work join its transaction and publish only once it commits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.domain.idempotency import RequestIdentity
from feature_gateway.errors import FeatureNotFoundError
from feature_gateway.services import features, transfer, webhooks
from feature_gateway.services.clock import now_ms
from feature_gateway.services.idempotency import Policy, StoredResponse, keyed_write
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase, settings_for

NEW = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
NAME = NEW["feature_name"]


def imports_published() -> float:
    labels = {"trigger": "import", "to_status": "DRAFT"}
    return REGISTRY.get_sample_value("feature_gateway_status_changes_total", labels) or 0.0


def _import(uow, name: str = NAME) -> None:
    record = {**NEW, "feature_name": name, "status": "DRAFT"}
    transfer.add_imported_feature(uow, record, source="test", now=1)


def test_a_commit_returns_the_change_log_entries_deliveries_and_status_changes_it_published(
    database,
):
    webhooks.create_webhook(
        database, url="https://203.0.113.10/hook", event_types=["*"], created_by="root",
        allow_loopback=False,
    )  # fmt: skip
    before = imports_published()
    with database.writing() as uow:
        _import(uow)
        committed = uow.commit()
    assert [(entry.feature_name, entry.action) for entry in committed.changes] == [
        (NAME, "import")
    ]
    assert committed.deliveries == 1  # one active webhook matching the one entry
    assert [(entry.trigger, entry.to_status) for entry in committed.status_changes] == [
        ("import", "DRAFT")
    ]
    assert committed.published
    assert imports_published() == before + 1


def test_a_commit_with_nothing_tracked_writes_no_log_and_publishes_nothing(database):
    with database.writing() as uow:
        committed = uow.commit()
    assert (committed.changes, committed.deliveries, committed.status_changes) == ((), 0, ())


@pytest.mark.parametrize("scope", ["reading", "snapshot"])
def test_a_unit_of_work_opened_for_reading_never_commits(database, scope):
    before = imports_published()
    with getattr(database, scope)() as uow:
        _import(uow)
        with pytest.raises(TypeError, match="never commits"):
            uow.commit()
    assert imports_published() == before
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(database, NAME)


def test_a_use_case_inside_a_keyed_write_publishes_only_when_the_keyed_write_commits(database):
    before = imports_published()
    with database.keyed_write() as keyed:
        with keyed.database.writing() as uow:
            _import(uow)
            inner = uow.commit()
        assert not inner.published and len(inner.status_changes) == 1
        assert imports_published() == before  # committed to the keyed write only
        assert features.get_feature(keyed.database, NAME)["status"] == "DRAFT"
        outer = keyed.commit()
    assert outer.published
    assert [entry.trigger for entry in outer.status_changes] == ["import"]
    assert [entry.action for entry in outer.changes] == ["import"]
    assert imports_published() == before + 1
    assert features.get_feature(database, NAME)["status"] == "DRAFT"


def test_a_keyed_write_left_without_commit_keeps_and_publishes_nothing(database):
    before = imports_published()
    with database.keyed_write() as keyed, keyed.database.writing() as uow:
        _import(uow)
        uow.commit()
    assert imports_published() == before
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(database, NAME)


@pytest.fixture
def engine_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A database of its own on a real engine: no outer transaction joins the scopes."""
    fresh = FreshDatabase(backend, tmp_path, migrated=True)
    engine = make_engine(settings_for(fresh.url))
    try:
        yield Database(engine)
    finally:
        engine.dispose()
        fresh.drop()


def test_every_scope_of_a_keyed_writes_database_reads_and_writes_inside_its_transaction(
    engine_database,
):
    with engine_database.keyed_write() as keyed:
        joined = keyed.database
        with joined.writing() as uow:
            _import(uow)
            uow.commit()
        # One statement without a transaction, the replicated reads and a unit of work:
        # all see the change, which nothing outside the keyed write sees yet.
        assert features.get_feature(joined, NAME)["status"] == "DRAFT"
        assert features.feature_history(joined, NAME)[0]["trigger"] == "import"
        with joined.reading() as uow:
            assert uow.features.get(NAME) is not None
        with engine_database.reading() as outside:
            assert outside.features.get(NAME) is None
        keyed.commit()
    assert features.get_feature(engine_database, NAME)["status"] == "DRAFT"


class Refused(Exception):
    """A use case's refusal after it wrote (as a 409 raised after its row was inserted)."""


REFUSED = "refused_view:f:1"
REFUSAL = StoredResponse(409, {"Content-Type": "application/problem+json"}, b"refused")


def test_a_keyed_writes_use_case_refused_after_writing_keeps_nothing_and_the_write_goes_on(
    engine_database,
):
    # Its first savepoint marks the transaction's start (on PostgreSQL it is not sent, and
    # a rollback to it is the transaction's): what follows still runs and commits.
    with engine_database.keyed_write() as keyed:
        with pytest.raises(Refused), keyed.database.writing() as uow:
            _import(uow, REFUSED)
            raise Refused()
        with pytest.raises(FeatureNotFoundError):  # rolled back, in the transaction too
            features.get_feature(keyed.database, REFUSED)
        with keyed.database.writing() as uow:
            _import(uow)
            uow.commit()
        keyed.commit()
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(engine_database, REFUSED)
    assert features.get_feature(engine_database, NAME)["status"] == "DRAFT"


def test_a_keyed_writes_use_case_refused_after_changing_many_pages_keeps_none_of_it(
    engine_database,
):
    # Rows between rows already there: many of the table's and its indexes' pages changed
    # (on SQLite the use case's savepoint is where the transaction began: its rollback is
    # the transaction's, begun again; a savepoint would have kept those pages' old
    # contents in a sub-journal, a temporary file past 64 KiB).
    names = [f"bulk_view:f_{i:04d}:1" for i in range(300)]
    with engine_database.writing() as uow:
        for name in names[::2]:
            _import(uow, name)
        uow.commit()
    with engine_database.keyed_write() as keyed:
        with pytest.raises(Refused), keyed.database.writing() as uow:
            for name in names[1::2]:
                _import(uow, name)
            raise Refused()
        with keyed.database.writing() as uow:
            _import(uow)
            uow.commit()
        keyed.commit()
    stored = {feature["feature_name"] for feature in transfer.export_features(engine_database)}
    assert stored == {*names[::2], NAME}
    assert features.feature_history(engine_database, names[2])[0]["trigger"] == "import"


def test_a_keyed_write_left_without_commit_after_a_refusal_keeps_nothing(engine_database):
    with pytest.raises(Refused), engine_database.keyed_write() as keyed:
        with pytest.raises(Refused), keyed.database.writing() as uow:
            _import(uow, REFUSED)
            raise Refused()
        with keyed.database.writing() as uow:  # still inside the keyed write's transaction
            _import(uow)
            uow.commit()
        raise Refused()
    for name in (REFUSED, NAME):
        with pytest.raises(FeatureNotFoundError):
            features.get_feature(engine_database, name)


def test_a_keyed_writes_unit_of_work_refused_after_another_committed_keeps_the_others_change(
    engine_database,
):
    with engine_database.keyed_write() as keyed:
        with keyed.database.writing() as uow:
            _import(uow)
            uow.commit()
        with pytest.raises(Refused), keyed.database.writing() as uow:
            _import(uow, REFUSED)
            raise Refused()
        assert features.get_feature(keyed.database, NAME)["status"] == "DRAFT"
        keyed.commit()
    assert features.get_feature(engine_database, NAME)["status"] == "DRAFT"
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(engine_database, REFUSED)


def test_a_keyed_write_refused_after_writing_stores_its_refusal_alone_and_replays_it(
    engine_database,
):
    request = RequestIdentity(
        scope="", key="k-refused", method="POST", path="/import", fingerprint="f" * 64
    )
    policy = Policy(ttl_ms=60_000, lease_ms=10_000)
    runs: list[int] = []

    def refused(db: Database) -> StoredResponse:
        runs.append(1)
        try:
            with db.writing() as uow:
                _import(uow, REFUSED)
                raise Refused()
        except Refused:
            return REFUSAL

    first = keyed_write(engine_database, request, policy, now_ms, refused, lambda a: a)
    again = keyed_write(engine_database, request, policy, now_ms, refused, lambda a: a)
    assert first == again == REFUSAL
    assert runs == [1]  # the repeat was answered with what the first stored
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(engine_database, REFUSED)


def test_a_failed_statements_error_carries_no_parameter_values(engine_database):
    # Errors reach the logs (a 500's traceback, a 503's cause): the values bound to a
    # statement may be a session's ID token or a sign-in's PKCE verifier, never logged.
    secret = "eyJ-a-bearer-jwt-that-must-not-be-logged"
    with pytest.raises(DBAPIError) as failed, engine_database.bind.connect() as connection:
        statement = text("SELECT no_such_column FROM features WHERE query = :q")
        connection.execute(statement, {"q": secret})
    assert secret not in str(failed.value)
