"""Reads outside a transaction (``Database.looking_up``) on a real engine, both backends.

The shared fixtures run every test inside an outer transaction; these use an engine of
their own, as the service does, to see what a pooled connection goes back to the pool as.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, text

from feature_gateway.db import feature_pages
from feature_gateway.db.compiled import compiled_once
from feature_gateway.db.engine import make_engine
from feature_gateway.db.repositories import (
    FeatureLookup,
    _array_literal,
    _family_types_statement,
    _served_types_statement,
)
from feature_gateway.db.scopes import Database
from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.errors import DatabaseUnavailableError
from feature_gateway.services import features
from feature_gateway.services.rows import feature_data, load_feature
from feature_gateway.shapes.feature_schemas import FeatureMetadataSchema
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase, require_backend, settings_for


@pytest.fixture
def engine_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    fresh = FreshDatabase(backend, tmp_path, migrated=True)
    # One pooled connection: every use case below runs on the same one, one after another.
    engine = make_engine(settings_for(fresh.url, db_pool_size=1, db_max_overflow=0))
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
    run = FeatureLookup._fields

    def spy(self, canonical, name):
        # SQLite: no BEGIN was sent; PostgreSQL: autocommit, so psycopg sends none either.
        seen.append(driver.autocommit if hasattr(driver, "info") else not driver.in_transaction)
        return run(self, canonical, name)

    monkeypatch.setattr(FeatureLookup, "_fields", spy)

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


def test_a_page_and_its_count_are_read_by_one_statement(engine_database, monkeypatch):
    for i in range(3):
        _create(engine_database, f"look:page_{i}:1")
    statements: list[str] = []
    run = feature_pages.fetch_all

    def spy(cursor_of, statement, values):
        statements.append(statement.sql)
        return run(cursor_of, statement, values)

    monkeypatch.setattr(feature_pages, "fetch_all", spy)
    page = features.list_features(engine_database, FeatureQuery(limit=2))
    past_the_end = features.list_features(engine_database, FeatureQuery(limit=2, offset=5))

    assert [item["feature_name"] for item in page.items] == ["look:page_0:1", "look:page_1:1"]
    assert (page.total_count, past_the_end.total_count, past_the_end.items) == (3, 3, [])
    # The page's rows carry the count; only a page past the last match asks for it alone.
    assert len(statements) == 3 and "count(*)" in statements[0].lower()


def test_every_read_of_a_feature_hands_out_exactly_the_response_schemas_fields(
    engine_database,
):
    # Feature pages and envelopes pass these mappings to the client as they are
    # (DirectDumpSchema), so each producer must give the schema's fields, no more.
    _create(engine_database, "look:shape:1")
    created = features.get_feature(engine_database, "look:shape:1")
    listed = features.list_features(engine_database, FeatureQuery()).items[0]
    with engine_database.writing() as uow:
        row = feature_data(load_feature(uow, "look:shape:1"))
    schema_fields = tuple(FeatureMetadataSchema().fields)
    assert schema_fields == FIELD_NAMES
    for produced in (created, listed, row):
        assert tuple(produced) == schema_fields
    assert created == listed == row


def test_served_types_take_any_number_of_names_in_one_statement(engine_database):
    _create(engine_database, "look:served:1")
    with engine_database.writing() as uow:
        uow.session.execute(
            text("UPDATE features SET status = 'DEPLOYED' WHERE feature_name = 'look:served:1'")
        )
        uow.commit()
    _create(engine_database, "look:draft:1")  # stored but not served
    asked = ["look:served:v1", "look:draft:1", *(f"look:absent_{i}:1" for i in range(998))]
    with engine_database.looking_up() as lookup:
        served = lookup.features.served_types(asked)
        assert lookup.features.served_types([]) == {}
    assert served == {"look:served:v1": ("look:served:1", "batch", "float")}


def test_sqlite_looks_up_each_listed_name_by_its_index_without_a_table_of_the_names(
    engine_database,
):
    # The lists are joined (json_each) to the name and family indexes: no ephemeral table
    # of the names first (IN (SELECT ...)), and no read of the whole table (without
    # statistics, as the service leaves its database; docs/performance.md, "i28-values").
    if engine_database.bind.dialect.name != "sqlite":
        pytest.skip("SQLite's plans")
    for i in range(50):
        _create(engine_database, f"look:plan_{i}:1")
    with engine_database.bind.connect() as connection:
        served = "UPDATE features SET status = 'DEPLOYED' WHERE feature_name IN (:a, :b)"
        connection.execute(text(served), {"a": "look:plan_1:1", "b": "look:plan_2:1"})
        connection.commit()
    plans = []
    with engine_database.looking_up() as lookup:
        cursor = lookup.features._connection.cursor()
        for statement, parameters in (
            (_served_types_statement("sqlite"), ('["look:plan_1:1"]', "[]", '["look:plan_1:1"]')),
            (_family_types_statement("sqlite"), ('["look:plan_1"]',)),
        ):
            sql = compiled_once(statement, engine_database.bind.dialect).sql
            cursor.execute("EXPLAIN QUERY PLAN " + sql, parameters)
            plans.append([row[-1] for row in cursor.fetchall()])
        # Both spellings of one version, each found by both lists: the same row for each.
        asked = ["look:plan_1:1", "look:plan_2:v1", "look:plan_2:1", "look:plan_3:1"]
        assert lookup.features.served_types(asked) == {
            "look:plan_1:1": ("look:plan_1:1", "batch", "float"),
            "look:plan_2:v1": ("look:plan_2:1", "batch", "float"),
            "look:plan_2:1": ("look:plan_2:1", "batch", "float"),
        }
    for plan in plans:
        assert not [step for step in plan if "LIST SUBQUERY" in step or "SCAN features" in step]
        assert [step for step in plan if step.startswith("SEARCH features USING INDEX")]


def test_postgresql_reads_a_name_list_once_not_for_each_row(engine_database):
    # A sequential scan (a small table, or statistics of a smaller one) checked each row
    # against the list: with the list's text cast to an array in the statement
    # (CAST(text AS VARCHAR[]), an I/O conversion the server never folds), it parsed the
    # array again for every row, 100 names over 3,100 rows 73 ms instead of 0.6 ms
    # (docs/performance.md, "Round four"). The plan must hold the array as a constant.
    if engine_database.bind.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans")
    _create(engine_database, "look:scan:1")
    names = [f"look:scan_{i}:1" for i in range(100)]
    lists = {"names": _array_literal(names), "canonical_names": _array_literal(names)}
    with engine_database.bind.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        cursor.execute("SET enable_indexscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        for statement in (_served_types_statement("postgresql"),):
            sql = compiled_once(statement, engine_database.bind.dialect).sql
            cursor.execute("EXPLAIN (VERBOSE) " + sql, lists)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on public.features" in plan
            assert "cstring" not in plan, plan
        connection.rollback()


def test_listed_names_stay_the_text_they_are(engine_database):
    # The list goes to PostgreSQL as the text of an array: quotes, backslashes, commas,
    # braces, spaces and NULL in a name are that name's characters, not the array's syntax.
    _create(engine_database, "look:served:1")
    with engine_database.writing() as uow:
        uow.session.execute(
            text("UPDATE features SET status = 'DEPLOYED' WHERE feature_name = 'look:served:1'")
        )
        uow.commit()
    odd = ['a"b', "c\\d", "e,f", "{g}", "h i", "NULL", "null", "", '\\"', "\u00e9\u2603"]
    with engine_database.looking_up() as lookup:
        latest = lookup.features.latest_served_types([*odd, "look:served"])
        assert lookup.features.latest_served_types(odd) == {}
    assert latest == {"look:served": ("look:served:1", "batch", "float")}
    if engine_database.bind.dialect.name == "postgresql":
        with engine_database.bind.connect() as connection:
            array = text("SELECT CAST(:names AS VARCHAR[])")
            assert connection.execute(array, {"names": _array_literal(odd)}).scalar() == odd


def test_a_connection_lost_before_a_use_cases_first_statement_is_unavailable_not_a_crash(
    tmp_path,
):
    # The server drops the connection right after the pool's pre-ping (a PostgreSQL
    # restart at the wrong moment): reads and writes whose first statement runs on the
    # driver directly must still be "unavailable" (503), and the pool must recover.
    require_backend("postgresql")
    fresh = FreshDatabase("postgresql", tmp_path, migrated=True)
    engine = make_engine(settings_for(fresh.url, db_pool_size=1, db_max_overflow=0))
    database = Database(engine)
    drop_next = {"connection": False}

    @event.listens_for(engine, "checkout")
    def _drop(dbapi_connection, _record, _proxy):
        if drop_next["connection"]:
            drop_next["connection"] = False
            with psycopg.connect(fresh.url.replace("+psycopg", ""), autocommit=True) as admin:
                pid = dbapi_connection.info.backend_pid
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    try:
        _create(database, "lost:warm:1")
        use_cases = {
            "create": lambda: _create(database, "lost:new:1"),
            "read": lambda: features.get_feature(database, "lost:warm:1"),
            "list": lambda: features.list_features(database, FeatureQuery()),
        }
        for name, use_case in use_cases.items():
            drop_next["connection"] = True
            with pytest.raises(DatabaseUnavailableError):
                use_case()
            assert features.get_feature(database, "lost:warm:1")["status"] == "DRAFT", name
        assert features.list_features(database, FeatureQuery()).total_count == 1
    finally:
        engine.dispose()
        fresh.drop()


def test_pages_stay_right_when_compiled_shapes_are_evicted(engine_database, monkeypatch):
    # More shapes than the cache keeps: each query must still run its own SQL.
    monkeypatch.setattr(feature_pages, "_MAX_SHAPES", 2)
    monkeypatch.setattr(feature_pages, "_SHAPES", feature_pages._Shapes())
    for owner in ("ann", "bo"):
        _create(engine_database, f"look:{owner}_only:1")
        with engine_database.writing() as uow:
            uow.session.execute(
                text("UPDATE features SET owner = :o WHERE feature_name = :n"),
                {"o": owner, "n": f"look:{owner}_only:1"},
            )
            uow.commit()
    queries = {
        FeatureQuery(owner=("ann",)): 1,
        FeatureQuery(owner=("ann", "bo")): 2,
        FeatureQuery(owner=("ann",), sort="-created_time"): 1,
        FeatureQuery(search="bo_only"): 1,
        FeatureQuery(): 2,
    }
    for _ in range(3):
        for query, expected in queries.items():
            assert features.list_features(engine_database, query).total_count == expected
