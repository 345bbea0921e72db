"""Reads outside a transaction (``Database.looking_up``) on a real engine, both backends.

The shared fixtures run every test inside an outer transaction; these use an engine of
their own, as the service does, to see what a pooled connection goes back to the pool as.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from feature_gateway.config import Settings
from feature_gateway.db.engine import make_engine
from feature_gateway.db.repositories import FeatureLookup
from feature_gateway.db.unit_of_work import Database
from feature_gateway.services import features
from tests.conftest import SEED_FEATURE, migrate
from tests.databases import FreshDatabase


@pytest.fixture
def engine_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    fresh = FreshDatabase(backend, tmp_path)
    migrate(fresh.url)
    # One pooled connection: every use case below runs on the same one, one after another.
    engine = make_engine(Settings(database_url=fresh.url, db_pool_size=1, db_max_overflow=0))
    try:
        yield Database(engine)
    finally:
        engine.dispose()
        fresh.drop()


def _create(database: Database, name: str) -> None:
    fields = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
    features.create_feature(database, {**fields, "feature_name": name}, role="developer")


def test_a_lookup_runs_outside_any_transaction_and_hands_its_connection_back_as_it_was(
    engine_database, monkeypatch
):
    _create(engine_database, "look:up:1")
    with engine_database.bind.raw_connection() as pooled:  # the pool's one connection
        driver = pooled.driver_connection
    seen: list[bool] = []
    run = FeatureLookup._one

    def spy(self, statement, value):
        # SQLite: no BEGIN was sent; PostgreSQL: autocommit, so psycopg sends none either.
        seen.append(driver.autocommit if hasattr(driver, "info") else not driver.in_transaction)
        return run(self, statement, value)

    monkeypatch.setattr(FeatureLookup, "_one", spy)

    found = features.get_feature(engine_database, "look:up:v1")  # found by its other spelling

    assert found["feature_name"] == "look:up:1"
    assert seen == [True, True]  # the exact name (a miss), then the canonical spelling
    if hasattr(driver, "info"):  # psycopg: back in transactions for the next checkout
        assert driver.autocommit is False


def test_the_connection_a_lookup_used_still_runs_transactions_afterwards(engine_database):
    _create(engine_database, "look:before:1")
    features.get_feature(engine_database, "look:before:1")

    # A write that fails after its first statement must leave nothing behind.
    with pytest.raises(RuntimeError), engine_database.writing() as uow:
        uow.session.execute(text("DELETE FROM feature_audit"))
        raise RuntimeError("abandon the unit of work")
    _create(engine_database, "look:after:1")

    history = features.feature_history(engine_database, "look:before:1")
    assert [entry["trigger"] for entry in history] == ["create"]
    assert features.get_feature(engine_database, "look:after:1")["status"] == "DRAFT"
