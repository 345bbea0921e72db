"""Migration 0012 on a database with history: old tokens belong to no group, old entries
have no credential (none recorded which token was used), and downgrading keeps the rest."""

import json

from alembic import command
from sqlalchemy import create_engine, text

from tests.migrations.test_migrations import config_for, empty_database, rows  # noqa: F401


def _history(connection):
    connection.execute(text(
        "INSERT INTO features (feature_name, canonical_name, feature_type,"
        " feature_data_type, query, description, status, created_time, updated_time,"
        " created_by, last_updated_by, revision, tags)"
        " VALUES ('v:f:1', 'v:f:1', 'batch', 'float', 'SELECT 1', 'd', 'DRAFT', 1, 1,"
        " 'dev', 'dev', 1, '{}')"
    ))  # fmt: skip
    connection.execute(text(
        "INSERT INTO feature_audit (feature_id, to_status, trigger, actor, timestamp,"
        " authenticated) SELECT id, 'DRAFT', 'create', 'dev', 1, true FROM features"
    ))  # fmt: skip
    connection.execute(text(
        "INSERT INTO feature_changes (feature_id, feature_name, revision, action, actor,"
        " authenticated, timestamp, new_status, fields)"
        " SELECT id, feature_name, 1, 'create', 'dev', true, 1, 'DRAFT', '{}' FROM features"
    ))  # fmt: skip
    connection.execute(text(
        "INSERT INTO api_tokens (token_id, token_hash, principal, roles, created_time,"
        " created_by) VALUES ('0123456789abcdef', 'h', 'dev', 'developer', 1, 'cli')"
    ))  # fmt: skip


def test_0012_gives_old_tokens_no_groups_and_old_entries_no_credential(
    empty_database,  # noqa: F811
):
    config = config_for(empty_database.url)
    command.upgrade(config, "0011")
    engine = create_engine(empty_database.url)
    try:
        with engine.begin() as connection:
            _history(connection)
        command.upgrade(config, "0012")
        [(groups,)] = rows(engine, "SELECT groups FROM api_tokens")
        assert (json.loads(groups) if isinstance(groups, str) else groups) == []
        assert rows(engine, "SELECT credential FROM feature_audit") == [(None,)]
        assert rows(engine, "SELECT credential FROM feature_changes") == [(None,)]
        command.downgrade(config, "0011")
        assert rows(engine, "SELECT principal FROM api_tokens") == [("dev",)]
        assert rows(engine, "SELECT count(*) FROM feature_audit") == [(1,)]
        assert rows(engine, "SELECT count(*) FROM feature_changes") == [(1,)]
        command.upgrade(config, "head")
    finally:
        engine.dispose()
