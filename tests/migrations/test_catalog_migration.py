"""Migration 0005 upgrades a database holding features in every status, and downgrades."""

import json

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tests.migrations.test_migrations import (  # noqa: F401
    config_for,
    empty_database,
    insert_feature_with_audit,
    rows,
)

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
        insert_feature_with_audit(connection, name, status, creator)


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
    features = rows(
        engine,
        "SELECT feature_name, status, owner, tags, family_name, version_key, revision,"
        " previous_version, deprecated_by, retired_by FROM features ORDER BY feature_name",
    )
    assert len(features) == len(STATUSES)
    for name, status, owner, tags, family, number, revision, *unset in features:
        assert (status, owner) == STATUSES[name]
        assert (tags if isinstance(tags, dict) else json.loads(tags)) == {}
        assert f"{family}:{int(number[3:])}" == name.replace(":v", ":")
        assert int(number[:3]) == len(number) - 3
        assert revision == 1  # the backfill is no change of the feature
        assert unset == [None, None, None]
    assert rows(engine, "SELECT count(*) FROM feature_tags") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM feature_changes") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM feature_audit") == [(len(STATUSES),)]
    command.check(config)


def test_downgrading_drops_the_catalog_and_keeps_features_and_their_audit(populated):
    config, engine = populated
    command.upgrade(config, "head")
    with engine.begin() as connection:
        connection.execute(text("UPDATE features SET owner = 'team_x'"))
    command.downgrade(config, _before_catalog(config))
    assert rows(
        engine,
        "SELECT f.feature_name, f.status, a.trigger FROM feature_audit a"
        " JOIN features f ON f.id = a.feature_id ORDER BY f.feature_name",
    ) == sorted((name, status, "create") for name, (status, _) in STATUSES.items())
    command.upgrade(config, "head")
    owners = rows(engine, "SELECT feature_name, owner FROM features ORDER BY feature_name")
    assert owners == sorted((name, creator) for name, (_, creator) in STATUSES.items())
