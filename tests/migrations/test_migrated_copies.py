"""A test that wants a migrated database of its own gets a copy of one migrated once per
process (``FreshDatabase(..., migrated=True)``, ``_Templates`` in tests/databases.py): the
copy must be what migrating gives, made without migrating again, and each copy its own."""

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tests import databases
from tests.databases import BACKENDS, FreshDatabase, require_backend
from tests.migrations.test_migrations import SCHEMA_TABLES, config_for, rows, tables


@pytest.fixture(params=BACKENDS)
def two_copies(request, tmp_path, monkeypatch) -> Iterator[list[FreshDatabase]]:
    require_backend(request.param)
    first = FreshDatabase(request.param, tmp_path, migrated=True)  # the template, if none yet

    def no_second_migration(url: str, revision: str = "head") -> None:
        raise AssertionError(f"migrated again: {url}")

    monkeypatch.setattr(databases, "migrate", no_second_migration)
    copies = [first, FreshDatabase(request.param, tmp_path, migrated=True)]
    yield copies
    for copy in copies:
        copy.drop()


def test_a_migrated_copy_is_at_the_newest_revision_and_matches_the_models(two_copies):
    for copy in two_copies:
        config = config_for(copy.url)
        head = ScriptDirectory.from_config(config).get_current_head()
        engine = create_engine(copy.url)
        try:
            assert rows(engine, "SELECT version_num FROM alembic_version") == [(head,)]
        finally:
            engine.dispose()
        assert tables(copy.url) == SCHEMA_TABLES
        command.check(config)  # raises if autogenerate would find any difference


def test_each_migrated_copy_is_a_database_of_its_own(two_copies):
    first, second = two_copies
    assert first.url != second.url
    engine = create_engine(first.url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM alembic_version"))
    finally:
        engine.dispose()
    second_engine = create_engine(second.url)
    try:
        assert rows(second_engine, "SELECT count(*) FROM alembic_version") == [(1,)]
    finally:
        second_engine.dispose()
