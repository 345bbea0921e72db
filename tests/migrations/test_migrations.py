"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

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
