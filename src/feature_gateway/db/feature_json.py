"""A feature row's JSON: stored with the row, the list page's items.

A list page of 100 spent half its time having the driver fetch 4,500 values (100 rows of
45) and turning them into field name → value dicts that orjson then wrote out again, and
then, with the database writing each row's object, half its time in SQLite's
``json_object`` (docs/performance.md, "Issue 26"). Now each row keeps its JSON object, in
the field table's order (``domain.feature_fields``), in a column of its own
(``models.STORED_JSON``), with the revision it was written at; the page joins the stored
texts. The text is the one orjson writes for the dict the row would give: compact, the
same string escapes (``"``, ``\\``, ``\\b \\f \\n \\r \\t``, other control characters as
``\\u00xx``, everything else as UTF-8), integers, ``true``/``false``, ``null``, the tags
in their stored order.

Three writers of it, one text:

- the write path (``db.feature_writes``), for each row it inserts or updates:
  ``stored_json``, orjson's text of the row's fields, none when a value is not of the type
  the driver would hand back for its column (then the database writes it, below);
- the database, for a row whose stored revision is not its own (a row written by code
  predating the column, during a rolling upgrade, or by a statement of its own): the page
  has it write the object then (``feature_json``), so a stale text is never served;
- a migration (``rewrite_stored_json``), for every row, from the fields whose columns the
  table has: the backfill of 0015, and the last step of any later migration that adds,
  drops, renames or retypes a field's column or reorders the field table (the stored
  texts are of the fields as they were when written, and the revision does not change).

``tests/integration/test_feature_json.py`` compares all three with orjson's text of the
API's dict, on both databases, for every field and every write.

The database's expression is derived from the features table's columns (themselves the
field table's): each column type has one way to be written, and a type without one is an
error when the expression is built, never a value written differently.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    LargeBinary,
    String,
    Text,
    case,
    cast,
    func,
    inspect,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from feature_gateway.db.models import FEATURES_TABLE, STORED_JSON, STORED_JSON_REVISION
from feature_gateway.domain.feature_fields import FIELD_NAMES

# SQLite takes at most 127 arguments per function call (SQLITE_MAX_FUNCTION_ARG before
# 3.48): a row of more fields is written as several objects joined as text.
_SQLITE_PAIRS_PER_CALL = 60


@functools.cache
def feature_json(dialect_name: str) -> ColumnElement[Any]:
    """A feature row's JSON object, for a SELECT from the features table: the stored text
    where it was written at the row's revision, else written by the database; as UTF-8
    bytes on SQLite (a BLOB, which the driver hands over without decoding), as text on
    PostgreSQL. ``dialect_name`` is ``sqlite`` or ``postgresql``."""
    columns = FEATURES_TABLE.c
    # The object written from the row found again by its id, not from the outer row's
    # columns: PostgreSQL would otherwise carry all 42 fields through the page's sort (its
    # projection comes after it), for a branch nearly never taken.
    row = FEATURES_TABLE.alias("written")
    written = (
        select(_object(dialect_name, _field_columns(table=row), row))
        .where(row.c.id == columns.id)
        .correlate(FEATURES_TABLE)
    )
    return _as_item(
        dialect_name, case((_current(), columns[STORED_JSON]), else_=written.scalar_subquery())
    )


@functools.cache
def stored_feature_json(dialect_name: str) -> ColumnElement[Any]:
    """``feature_json`` without the database's writing: the stored text where it was
    written at the row's revision, else NULL (a text is stored only with its revision,
    ``db.feature_writes``, so NULL means "none current"). A statement without the other
    branch's subquery is about half as costly for PostgreSQL to plan (``db.feature_pages``,
    ``read_page_json``)."""
    return _as_item(dialect_name, case((_current(), FEATURES_TABLE.c[STORED_JSON])))


def _current() -> ColumnElement[bool]:
    """Whether the row's stored text was written at its revision."""
    columns = FEATURES_TABLE.c
    return columns[STORED_JSON_REVISION] == columns.revision


def _as_item(dialect_name: str, item: ColumnElement[Any]) -> ColumnElement[Any]:
    if dialect_name == "sqlite":
        return cast(item, LargeBinary).label("feature_json")
    return item.label("feature_json")


def _field_columns(
    present: frozenset[str] | None = None, table: Any = FEATURES_TABLE
) -> list[Column[Any]]:
    """The field table's columns of ``table`` (the features table or an alias of it) in its
    order (those of them in ``present``, if given)."""
    return [table.c[name] for name in FIELD_NAMES if present is None or name in present]


def _object(
    dialect_name: str, columns: list[Column[Any]], table: Any = FEATURES_TABLE
) -> ColumnElement[str]:
    """The JSON object of ``columns`` of a row of ``table``, as text, written by the
    database."""
    if dialect_name == "sqlite":
        return sqlite_object(columns)
    if dialect_name == "postgresql":
        return _postgresql_object(columns, table)
    raise ValueError(f"no JSON for feature rows on {dialect_name}")


# What the driver hands back for each kind of column: a value of another type (an int
# given for a text column, a bool for a number) may be read back as something else, so no
# text is stored for it (the database writes the object when the page is read).
_PYTHON_TYPES: dict[str, type] = {"text": str, "number": int, "boolean": bool, "object": dict}


@functools.cache
def _field_types() -> tuple[tuple[str, type], ...]:
    # The field table's names: a column's is a str subclass, which orjson takes for no key.
    return tuple((name, _PYTHON_TYPES[_kind(FEATURES_TABLE.c[name])]) for name in FIELD_NAMES)


def stored_json(values: Mapping[str, Any]) -> str | None:
    """The text to store for a row holding ``values`` (attribute → value, every field of
    the field table): orjson's text of its fields in the field table's order; None when a
    field is missing, or holds a value the driver would not hand back as it is."""
    fields = {}
    for name, wanted in _field_types():
        value = values.get(name, _missing)
        if value is not None and not _as_read(value, wanted):
            return None
        fields[name] = value
    try:
        return orjson.dumps(fields).decode()
    except orjson.JSONEncodeError:  # a lone surrogate, say: no driver stores it either
        return None


_missing = object()


def _as_read(value: Any, wanted: type) -> bool:
    """Whether ``value`` is what the driver hands back for a column of its kind."""
    if wanted is str:
        return isinstance(value, str)  # a str enum too: orjson writes its value
    if wanted is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if wanted is bool:
        return isinstance(value, bool)
    # Tags: string keys and values (the stored text is the JSON column's; orjson refuses
    # other keys, json.dumps would have turned them into strings).
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def rewrite_stored_json(connection: Connection) -> int:
    """Have the database write every features row's stored JSON from its fields, at its
    revision: of the field table's fields, those whose columns the table has (so that a
    migration run with later code writes the fields of its own revision's table; the
    migration adding a later field's column writes them again). The number of rows.

    For migrations: 0015's backfill, and the last step of the upgrade and the downgrade of
    any migration that changes which fields the table has, their columns' types, or (with
    no column changed) the field table's order."""
    present = frozenset(c["name"] for c in inspect(connection).get_columns("features"))
    columns = FEATURES_TABLE.c
    written = _object(connection.dialect.name, _field_columns(present))
    statement = update(FEATURES_TABLE).values(
        {columns[STORED_JSON]: written, columns[STORED_JSON_REVISION]: columns.revision}
    )
    return int(connection.execute(statement).rowcount)


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


def _postgresql_object(columns: list[Column[Any]], table: Any) -> ColumnElement[str]:
    # row_to_json writes compactly, in the subselect's column order (json_build_object
    # puts spaces around its separators and takes at most 100 arguments).
    row = select(*(_postgresql(c).label(c.name) for c in columns)).correlate(table)
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
