"""Migration 0008 on a database with history: existing change-log entries become events,
and downgrading removes only the webhook tables and the feed's index."""

from alembic import command
from sqlalchemy import create_engine, inspect, text

from tests.migrations.test_migrations import config_for, empty_database, rows  # noqa: F401


def test_0008_adds_the_webhook_tables_and_keeps_the_change_log(empty_database):  # noqa: F811
    config = config_for(empty_database.url)
    command.upgrade(config, "0007")
    engine = create_engine(empty_database.url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO features (feature_name, canonical_name, feature_type,"
                " feature_data_type, query, description, status, created_time, updated_time,"
                " created_by, last_updated_by, revision, tags)"
                " VALUES ('v:f:1', 'v:f:1', 'batch', 'float', 'SELECT 1', 'd', 'DRAFT', 1, 1,"
                " 'dev', 'dev', 1, '{}')"
            ))  # fmt: skip
            connection.execute(text(
                "INSERT INTO feature_changes (feature_id, feature_name, revision, action, actor,"
                " authenticated, timestamp, new_status, fields)"
                " SELECT id, feature_name, 1, 'create', 'dev', false, 1, 'DRAFT', '{}'"
                " FROM features"
            ))  # fmt: skip
        command.upgrade(config, "0008")
        names = set(inspect(engine).get_table_names())
        assert {"webhooks", "webhook_deliveries"} <= names
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("feature_changes")}
        assert "ix_feature_changes_feature_name_id" in indexes
        assert rows(engine, "SELECT feature_name, action FROM feature_changes") == [
            ("v:f:1", "create")
        ]
        command.downgrade(config, "0007")
        inspector = inspect(engine)
        assert not {"webhooks", "webhook_deliveries"} & set(inspector.get_table_names())
        indexes = {ix["name"] for ix in inspector.get_indexes("feature_changes")}
        assert "ix_feature_changes_feature_name_id" not in indexes
        assert rows(engine, "SELECT count(*) FROM feature_changes") == [(1,)]
    finally:
        engine.dispose()
