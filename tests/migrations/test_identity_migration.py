"""Migration 0003 on a database with history: claims stay claims, past definition changers
are inferred from what the database knows, and downgrading removes only what it added."""

from alembic import command
from sqlalchemy import create_engine, text

from tests.migrations.test_migrations import config_for, empty_database, rows  # noqa: F401


def _feature(connection, name, created_by, last_updated_by):
    connection.execute(
        text(
            "INSERT INTO features (feature_name, canonical_name, feature_type,"
            " feature_data_type, query, description, status, created_time, updated_time,"
            " created_by, last_updated_by, revision)"
            " VALUES (:name, :name, 'batch', 'float', 'SELECT 1', 'd', 'DRAFT', 1, 5,"
            " :created_by, :last_updated_by, 3)"
        ),
        {"name": name, "created_by": created_by, "last_updated_by": last_updated_by},
    )


def _audit(connection, name, trigger, actor, timestamp):
    connection.execute(
        text(
            "INSERT INTO feature_audit (feature_id, from_status, to_status, trigger, actor,"
            " timestamp) SELECT id, 'TEST_FAILED', 'DRAFT', :trigger, :actor, :timestamp"
            " FROM features WHERE feature_name = :name"
        ),
        {"name": name, "trigger": trigger, "actor": actor, "timestamp": timestamp},
    )


def test_0003_marks_old_entries_unauthenticated_and_infers_definition_changers(
    empty_database,  # noqa: F811
):
    config = config_for(empty_database.url)
    command.upgrade(config, "0002")
    engine = create_engine(empty_database.url)
    try:
        with engine.begin() as connection:
            _feature(connection, "v:reset:1", "alice", "alice")
            _audit(connection, "v:reset:1", "create", "alice", 1)
            _audit(connection, "v:reset:1", "reset", "bob", 2)
            _feature(connection, "v:edited:1", "alice", "Carol")
            _feature(connection, "v:own:1", "alice", "ALICE")
        command.upgrade(config, "0003")
        assert rows(engine, "SELECT DISTINCT authenticated FROM feature_audit") in (
            [(False,)],
            [(0,)],
        )
        assert rows(
            engine,
            "SELECT f.feature_name, c.changed_by, c.changed_time"
            " FROM feature_definition_changes c JOIN features f ON f.id = c.feature_id"
            " ORDER BY f.feature_name",
        ) == [("v:edited:1", "Carol", 5), ("v:reset:1", "bob", 2)]
        command.downgrade(config, "0002")
        assert rows(engine, "SELECT count(*) FROM feature_audit") == [(2,)]
        command.upgrade(config, "head")
    finally:
        engine.dispose()
