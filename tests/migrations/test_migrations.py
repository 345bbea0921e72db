"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from feature_gateway.db.migrations import alembic_config
from tests.databases import FreshDatabase, require_backend


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> Iterator[FreshDatabase]:
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path)
    yield fresh
    fresh.drop()


def config_for(url):
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    return config


SCHEMA_TABLES = {
    "features",
    "feature_audit",
    "api_tokens",
    "feature_definition_changes",
    "feature_tags",
    "feature_changes",
    "idempotency_keys",
    "webhooks",
    "webhook_deliveries",
    "console_sessions",
    "feature_usage",
    "oidc_sign_ins",
    "feature_comments",
}


def tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_the_schema_and_matches_the_models(empty_database):
    config = config_for(empty_database.url)
    command.upgrade(config, "head")
    assert tables(empty_database.url) == SCHEMA_TABLES
    command.check(config)  # raises if autogenerate would find any difference


def test_downgrade_to_base_and_back_up(empty_database):
    config = config_for(empty_database.url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert tables(empty_database.url) == set()
    command.upgrade(config, "head")
    assert tables(empty_database.url) == SCHEMA_TABLES


def insert_feature_with_audit(connection, name, status="DRAFT", creator="dev"):
    """A feature row as every revision since 0001 holds it, and its creation audit row."""
    connection.execute(
        text(
            "INSERT INTO features (feature_name, feature_type, feature_data_type, query,"
            " description, status, created_time, updated_time, created_by, revision)"
            " VALUES (:name, 'batch', 'float', 'SELECT 1', 'd', :status, 1, 1, :creator, 1)"
        ),
        {"name": name, "status": status, "creator": creator},
    )
    connection.execute(
        text(
            "INSERT INTO feature_audit (feature_id, from_status, to_status, trigger, actor,"
            " timestamp) SELECT id, NULL, 'DRAFT', 'create', created_by, 1 FROM features"
            " WHERE feature_name = :name"
        ),
        {"name": name},
    )


def rows(engine, sql):
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_upgrading_and_downgrading_a_database_with_data_keeps_it(empty_database):
    # Rows in both tables: on SQLite, rebuilding "features" must not trip the audit key.
    config = config_for(empty_database.url)
    command.upgrade(config, "0001")
    engine = create_engine(empty_database.url)
    try:
        with engine.begin() as connection:
            for name in ("view:a:v2", "view:b:3"):
                insert_feature_with_audit(connection, name)
        command.upgrade(config, "head")
        assert rows(
            engine, "SELECT feature_name, canonical_name FROM features ORDER BY feature_name"
        ) == [("view:a:v2", "view:a:2"), ("view:b:3", "view:b:3")]
        command.downgrade(config, "0001")
        command.upgrade(config, "head")
        assert rows(
            engine,
            "SELECT f.feature_name, a.trigger FROM feature_audit a"
            " JOIN features f ON f.id = a.feature_id ORDER BY f.feature_name",
        ) == [("view:a:v2", "create"), ("view:b:3", "create")]
    finally:
        engine.dispose()
