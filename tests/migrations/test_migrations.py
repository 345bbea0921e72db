"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from feature_gateway.cli import alembic_config
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


def tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_the_schema_and_matches_the_models(empty_database):
    config = config_for(empty_database.url)
    command.upgrade(config, "head")
    assert tables(empty_database.url) == {"features", "feature_audit"}
    command.check(config)  # raises if autogenerate would find any difference


def test_downgrade_to_base_and_back_up(empty_database):
    config = config_for(empty_database.url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert tables(empty_database.url) == set()
    command.upgrade(config, "head")
    assert tables(empty_database.url) == {"features", "feature_audit"}


def test_upgrading_existing_rows_fills_their_canonical_names(empty_database):
    config = config_for(empty_database.url)
    command.upgrade(config, "0001")
    engine = create_engine(empty_database.url)
    try:
        with engine.begin() as connection:
            for name in ("view:a:v2", "view:b:3"):
                connection.execute(
                    text(
                        "INSERT INTO features (feature_name, feature_type, feature_data_type,"
                        " query, description, status, created_time, updated_time, created_by,"
                        " revision) VALUES (:name, 'batch', 'float', 'SELECT 1', 'd', 'DRAFT',"
                        " 1, 1, 'dev', 1)"
                    ),
                    {"name": name},
                )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT feature_name, canonical_name FROM features ORDER BY feature_name")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("view:a:v2", "view:a:2"), ("view:b:3", "view:b:3")]
