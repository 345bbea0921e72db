"""The list page's items (``db.feature_json``) are byte for byte what orjson writes for
the rows read as field name → value, on both databases: the JSON the database writes, the
JSON each write stores with its row, and the JSON the migrations' backfill stores.

The rows are inserted as the service stores them (SQLAlchemy Core, so the tags are its
JSON text) with a value for every field of the field table, chosen by the column's type,
and odd ones: quotes, backslashes, every control character, non-ASCII letters, emoji and
line separators, the largest integers, empty strings and tags, nulls in every nullable
field. Rows inserted so have no stored JSON (as rows written by code predating it): the
page has the database write theirs. Every write the service makes, through the API, the
import and a keyed write, stores the text the API writes for the row, at its revision.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite

from feature_gateway.db.feature_json import (
    _kind,
    feature_json,
    rewrite_stored_json,
    sqlite_object,
    stored_json,
)
from feature_gateway.db.feature_pages import read_page_json
from feature_gateway.db.models import FEATURES_TABLE, STORED_JSON, STORED_JSON_REVISION
from feature_gateway.domain.feature_fields import FEATURE_FIELDS, FIELD_NAMES, Kind
from feature_gateway.domain.lifecycle import Status
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.services import features, transfer
from feature_gateway.shapes.feature_schemas import FeatureMetadataSchema, FeatureRecordSchema
from tests.conftest import SEED_FEATURE

OWNER = "json-rows"
CONTROL = "".join(chr(c) for c in range(1, 0x20)) + "\x7f"
ODD_TEXTS = (
    'quote " backslash \\ slash / ' + CONTROL,
    "é ß Ä 中文 😀 \u2028 \u2029 \ufeff \u0085 </script> &amp;",
    "",
    '\\u00e9 \\" literally',
)
ODD_TAGS: tuple[dict[str, str], ...] = (
    # Not in key order: the stored order is kept.
    {"zeta": ODD_TEXTS[0], "alpha": ODD_TEXTS[1], "m.id-1_x": "", "b": ODD_TEXTS[3]},
    {},
    {f"k{i}": f"v{i} ü" for i in range(20)},
    {"team": "pricing", "note": "plain: text, / and spaces  "},  # no escapes when stored
)
ODD_NUMBERS = (0, 2**63 - 1, 1_733_480_000_123, -1)


def _value(field: Any, row: int) -> Any:
    """A value of the field for the ``row``-th row: row 1 leaves every nullable field null."""
    column = FEATURES_TABLE.c[field.name]
    if row == 1 and field.nullable:
        return None
    if field.choices:  # the stored strings the service writes
        return field.choices[row % len(field.choices)]
    if field.kind is Kind.REVISION:
        return (1, 2**31 - 1)[row % 2]
    if isinstance(column.type, Boolean):
        return row % 2 == 0
    if isinstance(column.type, JSON):
        return ODD_TAGS[row % len(ODD_TAGS)]
    if isinstance(column.type, Integer):
        return ODD_NUMBERS[row % len(ODD_NUMBERS)]
    assert isinstance(column.type, String), f"no odd value for {field.name}"
    text = ODD_TEXTS[row % len(ODD_TEXTS)]
    length = getattr(column.type, "length", None)
    return text[:length] if length else text


def _rows(count: int) -> list[dict[str, Any]]:
    rows = []
    for row in range(count):
        values = {field.name: _value(field, row) for field in FEATURE_FIELDS}
        values.update(feature_name=f"json:row_{row}:1", created_by=OWNER)
        values["status"] = Status.DRAFT.value if row != 3 else Status.DEPLOYED.value
        rows.append(values)
    return rows


@pytest.mark.parametrize("sort", ["feature_name", "-created_time", "revision"])
def test_the_database_writes_each_rows_json_as_orjson_writes_its_fields(
    database, connection, sort
):
    connection.execute(insert(FEATURES_TABLE), _rows(8))
    query = FeatureQuery(created_by=OWNER, sort=sort, limit=100)

    as_fields = features.list_features(database, query)
    as_json = features.list_features_json(database, query)

    assert len(as_fields.items) == 8
    expected = orjson.dumps(FeatureMetadataSchema(many=True).dump(as_fields.items))
    odd = (b"\\u0001", b'\\"', "\U0001f600 \u2028".encode(), b"9223372036854775807",
           b":true", b":false", b":null", b'"tags":{}', b'"tags":{"zeta":',
           b'"tags":{"team":')  # fmt: skip
    assert all(value in expected for value in odd)  # the rows hold what they should test
    assert orjson.dumps(as_json.items) == expected
    assert (as_json.total_count, as_json.limit, as_json.offset) == (8, 100, 0)


def test_a_page_past_the_last_match_is_an_empty_array_with_the_count(database, connection):
    connection.execute(insert(FEATURES_TABLE), _rows(3))
    query = FeatureQuery(created_by=OWNER, limit=2, offset=5)

    page = features.list_features_json(database, query)

    assert orjson.dumps(page.items) == b"[]"
    assert page.total_count == 3


def test_every_field_has_a_way_to_be_written():
    for field in FEATURE_FIELDS:
        assert _kind(FEATURES_TABLE.c[field.name]) in ("text", "number", "boolean", "object")


def test_a_row_of_more_fields_than_sqlite_takes_in_one_call_is_one_object():
    columns = [Column(f"c{i}", Integer if i % 2 else String) for i in range(130)]
    Table("features", MetaData(), *columns)
    row = [i if i % 2 else f'"{i}"\n' for i in range(130)]
    sql = sqlite_object(columns).compile(dialect=sqlite.dialect())
    with sqlite3.connect(":memory:") as db:
        db.execute(f"CREATE TABLE features ({', '.join(c.name for c in columns)})")
        db.execute(f"INSERT INTO features VALUES ({', '.join('?' * 130)})", row)
        (written,) = db.execute(f"SELECT {sql} FROM features").fetchone()

    expected = {str(c.name): v for c, v in zip(columns, row, strict=True)}
    assert written.encode() == orjson.dumps(expected)


_C = FEATURES_TABLE.c


def _api_json(database: Any, name: str) -> bytes:
    """orjson's text of the API's dict of the feature (as a read by name answers it)."""
    return orjson.dumps(FeatureMetadataSchema().dump(features.get_feature(database, name)))


def assert_stored_as_the_api_writes(connection: Any, database: Any) -> int:
    """Every row's stored JSON is the API's text of it, stored at its revision; the rows."""
    rows = connection.execute(
        select(_C.feature_name, _C[STORED_JSON], _C[STORED_JSON_REVISION], _C.revision)
    ).all()
    for name, stored, at, revision in rows:
        assert stored is not None, name
        assert (stored.encode(), at) == (_api_json(database, name), revision), name
    return len(rows)


def _listed(client: Any, **query: Any) -> bytes:
    response = client.post(
        "/get_all_feature_metadata", json={"user_role": "developer", "limit": 100, **query}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


DEV = {"user_role": "developer"}
ODD_CREATE = {
    **SEED_FEATURE,
    "feature_name": "json:odd_write:1",
    "description": ODD_TEXTS[0],
    "owner": "équipe 😀",
    "tags": ODD_TAGS[0],
}


def test_every_write_stores_the_json_the_api_gives_for_the_row(
    client, connection, database, flush_usage
):
    name = ODD_CREATE["feature_name"]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("/create_feature_metadata", ODD_CREATE),
        # Ownership and the catalog's fields; then a critical field (a definition change).
        ("/update_feature_metadata", {"owner": "pricing-team", "tags": ODD_TAGS[2],
                                      "last_updated_by": "ann", **DEV}),
        ("/update_feature_metadata", {"description": ODD_TEXTS[1], "tags": {},
                                      "query": "SELECT 2", "last_updated_by": "ann", **DEV}),
        ("/ready_test_feature_metadata", {"submitted_by": "dev", **DEV}),
        ("/test_feature_metadata", {"test_result": "TEST_FAILED", "tested_by": "qa",
                                    "test_notes": ODD_TEXTS[3],
                                    "user_role": "external_testing_system"}),
        ("/fix_feature_metadata", {"fixed_by": "dev", "fix_description": ODD_TEXTS[0], **DEV}),
        ("/ready_test_feature_metadata", {"submitted_by": "dev", **DEV}),
        ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                    "user_role": "external_testing_system"}),
        # A critical field of a tested feature: back to DRAFT (the reset trigger).
        ("/update_feature_metadata", {"query": "SELECT 3", "last_updated_by": "ann", **DEV}),
        ("/ready_test_feature_metadata", {"submitted_by": "dev", **DEV}),
        ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                    "user_role": "external_testing_system"}),
        ("/reject_feature_metadata", {"rejected_by": "boss", "rejection_reason": "no",
                                      "user_role": "approver"}),
        ("/fix_feature_metadata", {"fixed_by": "dev", "fix_description": "again", **DEV}),
        ("/ready_test_feature_metadata", {"submitted_by": "dev", **DEV}),
        ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                    "user_role": "external_testing_system"}),
        # Approved, then deployed by the trigger it fires.
        ("/approve_feature_metadata", {"approved_by": "boss", "approval_notes": ODD_TEXTS[1],
                                       "user_role": "approver"}),
    ]  # fmt: skip
    for path, body in steps:
        _ok(
            client.post(path, json={**body, "feature_name": name}),
            201 if "create" in path else 200,
        )
        assert assert_stored_as_the_api_writes(connection, database) == 1, path

    version = {"feature_name": name, "description": ODD_TEXTS[3], "tags": ODD_TAGS[3],
               "created_by": "dev", **DEV}  # fmt: skip
    _ok(client.post("/create_feature_version", json=version), 201)
    assert assert_stored_as_the_api_writes(connection, database) == 2
    _ok(client.post(
        "/deprecate_feature_metadata",
        json={"feature_name": name, "deprecated_by": "boss", "deprecation_reason": "superseded",
              "replaced_by": "json:odd_write:2", "user_role": "approver"},
    ))  # fmt: skip
    assert assert_stored_as_the_api_writes(connection, database) == 2
    # Read in the quiet period: retired by force (retirement_forced true).
    _ok(client.post("/features", json={"features": [name], "entities": {"id": [1]}}))
    flush_usage()
    retire = {"feature_name": name, "retired_by": "boss", "retirement_reason": "unused",
              "force": True, "user_role": "approver"}  # fmt: skip
    assert _ok(client.post("/retire_feature_metadata", json=retire))["metadata"][
        "retirement_forced"
    ]
    assert assert_stored_as_the_api_writes(connection, database) == 2
    # A comment leaves the row as it is; a delete stamps it.
    comment = {"body": "looks fine", "author": "dev", **DEV}
    _ok(client.post("/features/json:odd_write:2/comments", json=comment), 201)
    assert assert_stored_as_the_api_writes(connection, database) == 2
    delete = {"feature_name": "json:odd_write:2", "deleted_by": "dev", "deletion_reason": "x"}
    _ok(client.post("/delete_feature_metadata", json={**delete, **DEV}))
    assert assert_stored_as_the_api_writes(connection, database) == 2
    # A keyed write (its own transaction scope, a savepoint around the use case).
    keyed = {**SEED_FEATURE, "feature_name": "json:keyed:1", "tags": ODD_TAGS[0]}
    headers = {"Idempotency-Key": "stored-json"}
    _ok(client.post("/create_feature_metadata", json=keyed, headers=headers), 201)
    _ok(client.post("/create_feature_metadata", json=keyed, headers=headers), 201)  # replayed
    assert assert_stored_as_the_api_writes(connection, database) == 3
    # The list page serves the stored texts: the same bytes as before any was stored.
    page = _listed(client, include_deleted=True)
    connection.execute(update(FEATURES_TABLE).values({STORED_JSON_REVISION: None}))
    assert _listed(client, include_deleted=True) == page
    assert all(_api_json(database, n) in page for n in (name, "json:odd_write:2", "json:keyed:1"))


def test_imported_features_store_the_json_the_api_gives(connection, database):
    record = {**SEED_FEATURE, "feature_name": "json:imported:1", "status": "DEPLOYED",
              "tags": ODD_TAGS[0], "description": ODD_TEXTS[1], "created_time": 5,
              "deployed_by": "ops", "deployed_time": 7}  # fmt: skip
    record.pop("user_role")
    loaded = FeatureRecordSchema(many=True).load([record])

    report = transfer.import_features(database, loaded, source="test")

    assert report.imported == ["json:imported:1"]
    assert assert_stored_as_the_api_writes(connection, database) == 1


def test_rows_without_a_stored_json_are_listed_as_the_database_writes_them(database, connection):
    connection.execute(insert(FEATURES_TABLE), _rows(8))
    query = FeatureQuery(created_by=OWNER, limit=100)
    written = orjson.dumps(features.list_features_json(database, query).items)
    assert connection.scalar(select(_C[STORED_JSON]).limit(1)) is None

    assert rewrite_stored_json(connection) == 8  # as the migration's backfill does

    assert assert_stored_as_the_api_writes(connection, database) == 8
    assert orjson.dumps(features.list_features_json(database, query).items) == written


def test_a_row_changed_by_a_statement_of_its_own_is_listed_as_it_is_now(
    client, database, connection
):
    # A statement outside the write path (older code during a rolling upgrade) moves the
    # revision, as every write of a row does: the stored text is no longer served.
    name = _ok(client.post("/create_feature_metadata", json=ODD_CREATE), 201)["metadata"][
        "feature_name"
    ]
    connection.execute(
        text("UPDATE features SET description = 'changed', revision = revision + 1")
    )
    page = _listed(client, created_by=SEED_FEATURE["created_by"])
    assert b'"description":"changed"' in page
    assert _api_json(database, name) in page


class _Statements:
    """A DBAPI connection's cursors, each statement they run kept."""

    def __init__(self, connection: Any) -> None:
        self.sql: list[str] = []
        self._connection = connection.connection.dbapi_connection

    def __call__(self) -> Any:
        return _Kept(self._connection.cursor(), self.sql)


class _Kept:
    def __init__(self, cursor: Any, sql: list[str]) -> None:
        self._cursor, self._sql = cursor, sql

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        self._sql.append(sql)
        return self._cursor.execute(sql, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def test_a_page_of_current_texts_is_read_without_the_databases_writing(
    client, database, connection
):
    # PostgreSQL plans a page for the values given on every run, the other branch's
    # subquery too (docs/performance.md, "i31-pgwrite"): it is left out until a row needs it.
    for i in range(3):
        _ok(client.post("/create_feature_metadata", json={**ODD_CREATE,
            "feature_name": f"json:current_{i}:1"}), 201)  # fmt: skip
    query = FeatureQuery(created_by=ODD_CREATE["created_by"], limit=100)
    statements = _Statements(connection)

    page, total = read_page_json(statements, connection.dialect, query)

    assert len(statements.sql) == 1
    # SQLite prepares it once per connection: there the page is one statement as before.
    assert ("written" in statements.sql[0]) is (connection.dialect.name == "sqlite")
    assert "written" in str(feature_json(connection.dialect.name))
    assert (page, total) == (_listed_items(database, query), 3)


def test_a_page_holding_a_row_without_a_current_text_is_read_again_whole(
    client, database, connection
):
    names = [
        _ok(client.post("/create_feature_metadata", json={**ODD_CREATE,
            "feature_name": f"json:mixed_{i}:1"}), 201)["metadata"]["feature_name"]
        for i in range(3)
    ]  # fmt: skip
    connection.execute(
        update(FEATURES_TABLE)
        .where(_C.feature_name == names[1])
        .values(description="changed behind the write path", revision=_C.revision + 1)
    )
    query = FeatureQuery(created_by=ODD_CREATE["created_by"], limit=100)
    statements = _Statements(connection)

    page, total = read_page_json(statements, connection.dialect, query)

    assert len(statements.sql) == (1 if connection.dialect.name == "sqlite" else 2)
    assert "written" in statements.sql[-1]
    assert total == 3 and page.count(b"changed behind the write path") == 1
    assert page == b"[" + b",".join(_api_json(database, name) for name in names) + b"]"


def _listed_items(database: Any, query: FeatureQuery) -> bytes:
    return orjson.dumps(FeatureMetadataSchema(many=True).dump(
        features.list_features(database, query).items))  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [("description", 5), ("revision", True), ("retirement_forced", 1), ("tags", {"a": 1})],
)
def test_a_value_the_driver_would_not_hand_back_as_it_is_stores_no_json(field, value):
    # An int in a text column comes back as text from SQLite, a bool in a number column
    # as an int: the database writes the row's object instead.
    row: dict[str, Any] = dict.fromkeys(FIELD_NAMES)
    row.update(description="d", revision=1, tags={})
    assert stored_json(row) is not None
    assert stored_json({**row, field: value}) is None
    del row["tags"]
    assert stored_json(row) is None  # a field not given (a server default)


def _read_by_name(client: Any, name: str) -> tuple[bytes, str]:
    """A read by name's body and ETag, the same by GET and by POST."""
    by_path = client.get(f"/get_feature_metadata/{name}", query_string=DEV)
    by_body = client.post("/get_feature_metadata", json={"feature_name": name, **DEV})
    assert by_path.status_code == by_body.status_code == 200, by_path.get_data(as_text=True)
    assert (by_path.get_data(), by_path.headers["ETag"]) == (
        by_body.get_data(),
        by_body.headers["ETag"],
    )
    return by_path.get_data(), by_path.headers["ETag"]


def test_a_read_by_name_answers_the_rows_json_stored_or_not_and_never_a_stale_one(
    client, database, connection
):
    connection.execute(insert(FEATURES_TABLE), _rows(8))
    names = connection.execute(select(_C.feature_name, _C.revision)).all()
    # No stored text (a row written by code predating it): the database writes the object.
    read = {name: _read_by_name(client, name) for name, _ in names}
    for name, revision in names:
        assert read[name] == (b'{"metadata":' + _api_json(database, name) + b"}", f'"{revision}"')

    rewrite_stored_json(connection)  # the stored texts, then served
    assert {name: _read_by_name(client, name) for name, _ in names} == read

    # A statement outside the write path moves the revision (the rows' are 1 and 2**31 - 1):
    # the stored text is not served.
    connection.execute(text("UPDATE features SET description = 'changed', revision = 7"))
    for name, _ in names:
        body, tag = _read_by_name(client, name)
        assert b'"description":"changed"' in body
        assert (body, tag) == (b'{"metadata":' + _api_json(database, name) + b"}", '"7"')
