"""Migration 0005 upgrades a database holding features in every status, and downgrades."""

import json

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tests.migrations.test_migrations import config_for, empty_database  # noqa: F401

STATUSES = {
    "view:draft:1": ("DRAFT", "ann"),
    "view:ready:v2": ("READY_FOR_TESTING", "bob"),
    "view:failed:3": ("TEST_FAILED", "ann"),
    "view:rejected:1": ("REJECTED", "cy"),
    "view:deployed:1": ("DEPLOYED", "dee"),
    "view:deployed:2": ("DEPLOYED", "dee"),
    "view:deleted:1": ("DELETED", "bob"),
}


def _before_catalog(config):
    return ScriptDirectory.from_config(config).get_revision("0005").down_revision


def _populate(connection):
    for name, (status, creator) in STATUSES.items():
        connection.execute(
            text(
                "INSERT INTO features (feature_name, canonical_name, feature_type,"
                " feature_data_type, query, description, status, created_time, updated_time,"
                " created_by, revision) VALUES (:name, :name, 'batch', 'float', 'SELECT 1',"
                " 'd', :status, 1, 2, :creator, 3)"
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


def _rows(engine, sql):
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


@pytest.fixture
def populated(empty_database):  # noqa: F811
    config = config_for(empty_database.url)
    command.upgrade(config, _before_catalog(config))
    engine = create_engine(empty_database.url)
    with engine.begin() as connection:
        _populate(connection)
    yield config, engine
    engine.dispose()


def test_upgrading_backfills_owner_from_the_creator_and_empty_tags(populated):
    config, engine = populated
    command.upgrade(config, "head")
    rows = _rows(
        engine,
        "SELECT feature_name, status, owner, tags, family_name, version_key, revision,"
        " previous_version, deprecated_by, retired_by FROM features ORDER BY feature_name",
    )
    assert len(rows) == len(STATUSES)
    for name, status, owner, tags, family, number, revision, *unset in rows:
        assert (status, owner) == STATUSES[name]
        assert (tags if isinstance(tags, dict) else json.loads(tags)) == {}
        assert f"{family}:{int(number[3:])}" == name.replace(":v", ":")
        assert int(number[:3]) == len(number) - 3
        assert revision == 3  # the backfill is no change of the feature
        assert unset == [None, None, None]
    assert _rows(engine, "SELECT count(*) FROM feature_tags") == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM feature_changes") == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM feature_audit") == [(len(STATUSES),)]
    command.check(config)


def test_downgrading_drops_the_catalog_and_keeps_features_and_their_audit(populated):
    config, engine = populated
    command.upgrade(config, "head")
    with engine.begin() as connection:
        connection.execute(text("UPDATE features SET owner = 'team_x'"))
    command.downgrade(config, _before_catalog(config))
    assert _rows(
        engine,
        "SELECT f.feature_name, f.status, a.trigger FROM feature_audit a"
        " JOIN features f ON f.id = a.feature_id ORDER BY f.feature_name",
    ) == sorted((name, status, "create") for name, (status, _) in STATUSES.items())
    command.upgrade(config, "head")
    owners = _rows(engine, "SELECT feature_name, owner FROM features ORDER BY feature_name")
    assert owners == sorted((name, creator) for name, (_, creator) in STATUSES.items())
