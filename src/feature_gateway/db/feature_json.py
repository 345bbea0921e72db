"""A feature row's JSON, written by the database: the list page's items.

A list page of 100 spent half its time having the driver fetch 4,500 values (100 rows of
45) and turning them into field name → value dicts that orjson then wrote out again
(docs/performance.md, "Issue 26"). Here the database writes each row's JSON object, in
the field table's order (``domain.feature_fields``), and the page's body takes the text as
it is. The text is the one orjson writes for the dict the row would give: compact, the
same string escapes (``"``, ``\\``, ``\\b \\f \\n \\r \\t``, other control characters as
``\\u00xx``, everything else as UTF-8), integers, ``true``/``false``, ``null``, the tags
in their stored order; ``tests/integration/test_feature_json.py`` compares the two on both
databases for every field.

The expression is derived from the features table's columns (themselves the field
table's): each column type has one way to be written, and a type without one is an error
when the expression is built, never a value written differently.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Integer,
    LargeBinary,
    String,
    Text,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from feature_gateway.db.models import FEATURES_TABLE
from feature_gateway.domain.feature_fields import FIELD_NAMES

# SQLite takes at most 127 arguments per function call (SQLITE_MAX_FUNCTION_ARG before
# 3.48): a row of more fields is written as several objects joined as text.
_SQLITE_PAIRS_PER_CALL = 60


@functools.cache
def feature_json(dialect_name: str) -> ColumnElement[Any]:
    """A feature row's JSON object, for a SELECT from the features table: as UTF-8 bytes
    on SQLite (a BLOB, which the driver hands over without decoding), as text on
    PostgreSQL. ``dialect_name`` is ``sqlite`` or ``postgresql``."""
    columns = [FEATURES_TABLE.c[name] for name in FIELD_NAMES]
    if dialect_name == "sqlite":
        return cast(sqlite_object(columns), LargeBinary).label("feature_json")
    if dialect_name == "postgresql":
        return _postgresql_object(columns).label("feature_json")
    raise ValueError(f"no JSON for feature rows on {dialect_name}")


def _kind(column: Column[Any]) -> str:
    """How a column's values are written: as text, a number, a boolean or a JSON object
    of strings (tags, ``domain.tags``)."""
    column_type = column.type
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, JSON):
        return "object"
    if isinstance(column_type, (Integer, BigInteger)):  # BigInteger is an Integer too
        return "number"
    if isinstance(column_type, String):  # Text is a String
        return "text"
    raise TypeError(f"{column.name}: no JSON for a {column_type!r} column")


def _sql(text: str) -> ColumnElement[Any]:
    """A constant of the statement's text (a key, a separator): never a bound parameter,
    which the compiled statement would otherwise carry (``db.compiled``)."""
    return literal_column(f"'{text}'")


def sqlite_object(columns: list[Column[Any]]) -> ColumnElement[str]:
    """``json_object`` of the columns, by their names, in their order."""
    calls = []
    for start in range(0, len(columns), _SQLITE_PAIRS_PER_CALL):
        chunk = columns[start : start + _SQLITE_PAIRS_PER_CALL]
        calls.append(func.json_object(*(v for c in chunk for v in (_sql(c.name), _sqlite(c)))))
    if len(calls) == 1:
        return calls[0]
    # '{"a":1}' and '{"b":2}' → '{"a":1,"b":2}': each but the last without its '}', each
    # but the first without its '{'.
    two: ColumnElement[Any] = literal_column("2")
    parts = [func.rtrim(calls[0], _sql("}"))]
    parts += [func.substr(call, two, func.length(call) - two) for call in calls[1:-1]]
    parts.append(func.substr(calls[-1], two))
    return functools.reduce(lambda a, b: a.op("||")(_sql(",")).op("||")(b), parts)


def _sqlite(column: Column[Any]) -> ColumnElement[Any]:
    kind = _kind(column)
    if kind == "boolean":  # stored as 0 or 1
        true, false = func.json(_sql("true")), func.json(_sql("false"))
        return case((column.is_(None), null()), (column, true), else_=false)
    if kind == "object":
        # The stored text is Python's json.dumps (spaces after separators, non-ASCII and
        # control characters escaped): without a backslash, json() compacts it to orjson's
        # text; else each pair is read and written again.
        each = func.json_each(column).table_valued("key", "value")
        rewritten = select(func.json_group_object(each.c.key, each.c.value)).scalar_subquery()
        return case(
            (func.instr(column, _sql("\\")) == literal_column("0"), func.json(column)),
            else_=rewritten,
        )
    return column


def _postgresql_object(columns: list[Column[Any]]) -> ColumnElement[str]:
    # row_to_json writes compactly, in the subselect's column order (json_build_object
    # puts spaces around its separators and takes at most 100 arguments).
    row = select(*(_postgresql(c).label(c.name) for c in columns)).correlate(FEATURES_TABLE)
    fields = row.subquery("r")
    written = select(func.row_to_json(fields.table_valued())).select_from(fields)
    return cast(written.scalar_subquery(), Text)


def _postgresql(column: Column[Any]) -> ColumnElement[Any]:
    # Imported here: PostgreSQL's dialect at start added it to every SQLite worker's memory.
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    if _kind(column) != "object":
        return column
    # A json column is embedded as stored (json.dumps' spaces and escapes): each pair is
    # read and quoted again, in the stored order; concat() skips the NULL of no pairs. No
    # tags (the text '{}') is the common case, and costs the server nothing more.
    each = func.json_each_text(column).table_valued("key", "value", with_ordinality="n")
    each = each.render_derived("e")
    pair = func.concat(
        cast(func.to_json(each.c.key), Text), _sql(":"), cast(func.to_json(each.c.value), Text)
    )
    pairs = func.string_agg(pair, aggregate_order_by(_sql(","), each.c.n))
    rewritten = cast(select(func.concat(_sql("{"), pairs, _sql("}"))).scalar_subquery(), JSON)
    empty = cast(_sql("{}"), JSON)
    return case((cast(column, Text) == _sql("{}"), empty), else_=rewritten)
