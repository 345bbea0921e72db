"""The list page's items written by the database (``db.feature_json``) are byte for byte
what orjson writes for the rows read as field name → value, on both databases.

The rows are inserted as the service stores them (SQLAlchemy Core, so the tags are its
JSON text) with a value for every field of the field table, chosen by the column's type,
and odd ones: quotes, backslashes, every control character, non-ASCII letters, emoji and
line separators, the largest integers, empty strings and tags, nulls in every nullable
field.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import pytest
from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, insert
from sqlalchemy.dialects import sqlite

from feature_gateway.db.feature_json import _kind, sqlite_object
from feature_gateway.db.models import FEATURES_TABLE
from feature_gateway.domain.feature_fields import FEATURE_FIELDS, Kind
from feature_gateway.domain.lifecycle import Status
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.services import features
from feature_gateway.shapes.feature_schemas import FeatureMetadataSchema

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
