"""Migration 0015 stores each feature row's JSON: its backfill writes, for rows written
before it, the bytes the API gives for each (every field, odd values), on both databases;
the list page then serves them; a downgrade drops the columns and an upgrade writes them
again.

Rows written at 0014 and upgraded to head: a later migration that changes the fields the
table has without writing the stored texts again (``db.feature_json.rewrite_stored_json``)
fails here.
"""

import orjson
from alembic import command
from sqlalchemy import create_engine, insert, inspect

from feature_gateway.db.engine import make_engine
from feature_gateway.db.models import FEATURES_TABLE, STORED_JSON, STORED_JSON_REVISION
from feature_gateway.db.scopes import Database
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.services import features
from feature_gateway.shapes.feature_schemas import FeatureMetadataSchema
from tests.databases import settings_for
from tests.integration.test_feature_json import OWNER, _rows, assert_stored_as_the_api_writes
from tests.migrations.test_migrations import config_for, empty_database  # noqa: F401

_BEFORE = "0014"


def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("features")}
    finally:
        engine.dispose()


def test_the_backfill_stores_the_json_the_api_gives_for_every_row(empty_database):  # noqa: F811
    config = config_for(empty_database.url)
    command.upgrade(config, _BEFORE)
    engine = create_engine(empty_database.url)
    present = _columns(empty_database.url)  # a field added later has no column yet
    with engine.begin() as connection:
        rows = [{k: v for k, v in row.items() if k in present} for row in _rows(8)]
        connection.execute(insert(FEATURES_TABLE), rows)
    engine.dispose()

    command.upgrade(config, "head")

    app_engine = make_engine(settings_for(empty_database.url))
    try:
        database = Database(app_engine)
        with app_engine.connect() as connection:
            assert assert_stored_as_the_api_writes(connection, database) == 8
        page = features.list_features_json(database, FeatureQuery(created_by=OWNER, limit=100))
        listed = features.list_features(database, FeatureQuery(created_by=OWNER, limit=100))
        assert page.total_count == listed.total_count == 8
        expected = FeatureMetadataSchema(many=True).dump(listed.items)
        assert orjson.dumps(page.items) == orjson.dumps(expected)

        command.downgrade(config, _BEFORE)
        assert not {STORED_JSON, STORED_JSON_REVISION} & _columns(empty_database.url)
        command.upgrade(config, "head")
        with app_engine.connect() as connection:
            assert assert_stored_as_the_api_writes(connection, database) == 8
    finally:
        app_engine.dispose()
