"""Pages of the feature list: one statement, compiled once per shape, run by the driver.

A page and its total count come from one statement (the count is a scalar subquery), so
they agree with each other without a transaction around two statements: it runs on a
pooled connection in autocommit (``db.lookup.Lookup``), like a read by name.

Every value of a list query is a named parameter, so the SQL depends only on which
filters are given (and how many values each has), the sort and the dialect: that is the
key it is compiled under, once (``db.compiled``).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Select,
    UnaryExpression,
    bindparam,
    func,
    or_,
    select,
)

from feature_gateway.db.catalog_models import FeatureTag
from feature_gateway.db.compiled import (
    CompiledStatement,
    ResultProcessor,
    compile_statement,
    fetch_all,
)
from feature_gateway.db.engine import SQLITE_FOLD_CASE
from feature_gateway.db.feature_json import feature_json, stored_feature_json
from feature_gateway.db.models import FEATURES_TABLE
from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.domain.lifecycle import Status
from feature_gateway.domain.listing import LIST_FILTERS, FeatureQuery, Filter, FilterKind

_LIKE_ESCAPE = "\\"
FIELD_COLUMNS = tuple(FEATURES_TABLE.c[name] for name in FIELD_NAMES)
_COLUMNS = FEATURES_TABLE.c
# Distinct shapes a process keeps compiled; far more than clients use, and bounded.
_MAX_SHAPES = 512


Condition = Callable[[], ColumnElement[bool]]


class _Parameters:
    """Names each value of a query as it is used; the names in order are its shape."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, name: str, value: Any) -> str:
        self.values[name] = value
        return name

    def each(self, name: str, values: Sequence[Any]) -> list[str]:
        return [self(f"{name}_{i}", value) for i, value in enumerate(values)]


def page_conditions(
    query: FeatureQuery, dialect_name: str
) -> tuple[Callable[[], list[ColumnElement[bool]]], dict[str, Any]]:
    """How to build the WHERE conditions of a list query, and the values of their named
    parameters: one condition for each filter of the table that is given, in table order.
    The values are named at once, as they are the key of the compiled statement; the
    conditions are built only when it has to be compiled (building them is a measurable part
    of a page: docs/performance.md, "Figures behind the code")."""
    given = _Parameters()
    conditions: list[Condition] = []
    for list_filter in LIST_FILTERS:
        value = getattr(query, list_filter.name)
        if list_filter.kind is FilterKind.FLAG:
            # Unless asked for (or named by a status filter), DELETED features are hidden.
            if not value and not query.status:
                not_status = given("not_status", Status.DELETED.value)
                conditions.append(functools.partial(_not_equal, _COLUMNS.status, not_status))
        elif list_filter.kind is FilterKind.SEARCH:
            if value:
                conditions.append(_search(given, value, dialect_name))
        elif value is not None and value != ():
            conditions.extend(_conditions(given, list_filter, value))
    return lambda: [condition() for condition in conditions], given.values


def _conditions(given: _Parameters, list_filter: Filter, value: Any) -> list[Condition]:
    name, kind = list_filter.name, list_filter.kind
    column: Any = None if list_filter.column is None else _COLUMNS[list_filter.column]
    if kind is FilterKind.ANY_OF:
        return [functools.partial(_any_of, column, given.each(name, value))]
    if kind is FilterKind.EQUALS:
        equal = given(name, value)
        return [lambda: column == bindparam(equal)]
    if kind in (FilterKind.AT_OR_AFTER, FilterKind.BEFORE):
        inclusive = kind is FilterKind.AT_OR_AFTER
        return [functools.partial(_within, column, given(name, value), inclusive)]
    if kind is FilterKind.TAGS:
        return [
            functools.partial(
                _tagged, given(f"tag_{i}", key), None if v is None else given(f"tag_{i}_value", v)
            )
            for i, (key, v) in enumerate(value)
        ]
    raise ValueError(f"no condition for the {kind} filter {name}")


def _any_of(column: Any, names: list[str]) -> ColumnElement[bool]:
    return column.in_([bindparam(name) for name in names])  # type: ignore[no-any-return]


def _not_equal(column: Any, name: str) -> ColumnElement[bool]:
    return column != bindparam(name)  # type: ignore[no-any-return]


def _within(column: Any, name: str, inclusive: bool) -> ColumnElement[bool]:
    """``after`` bounds are inclusive, ``before`` bounds exclusive."""
    bound: Any = bindparam(name)
    return column >= bound if inclusive else column < bound  # type: ignore[no-any-return]


def _tagged(key: str, value: str | None) -> ColumnElement[bool]:
    """``id IN (ids with that tag)``, answered by the (key, value, feature_id) index alone,
    so its cost follows the number of tagged features, not the size of the table."""
    tagged = select(FeatureTag.feature_id).where(FeatureTag.key == bindparam(key))
    if value is not None:
        tagged = tagged.where(FeatureTag.value == bindparam(value))
    return _COLUMNS.id.in_(tagged)


def _search(given: _Parameters, text: str, dialect_name: str) -> Condition:
    """Case-insensitive LIKE of the name or description. SQLite folds ASCII only, so a
    pattern with other letters goes through the Unicode-aware function the engine
    registers (slower: a Python call per row, hence only when needed)."""
    pattern = _contains_pattern(text)
    columns: tuple[Any, ...] = (_COLUMNS.feature_name, _COLUMNS.description)
    if not pattern.isascii() and dialect_name == "sqlite":
        folded = given("search_folded", pattern)

        def fold_matches() -> ColumnElement[bool]:
            fold = getattr(func, SQLITE_FOLD_CASE)
            pattern = fold(bindparam(folded))
            return or_(*(fold(c).like(pattern, escape=_LIKE_ESCAPE) for c in columns))

        return fold_matches
    wanted = given("search", pattern)
    return lambda: or_(*(c.ilike(bindparam(wanted), escape=_LIKE_ESCAPE) for c in columns))


def _contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere ('%' and '_' are not wildcards)."""
    escaped = (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def _order_by(sort: str) -> tuple[UnaryExpression[Any], ...]:
    descending = sort.startswith("-")
    column = _COLUMNS[sort.lstrip("-")]
    primary = column.desc() if descending else column.asc()
    # The name is unique, so it makes every order total and pages stable.
    if column is _COLUMNS.feature_name:
        return (primary,)
    tiebreak = _COLUMNS.feature_name.desc() if descending else _COLUMNS.feature_name.asc()
    return (primary, tiebreak)


def _count_statement(conditions: list[Any]) -> Select[Any]:
    return select(func.count()).select_from(FEATURES_TABLE).where(*conditions)


def _page_statement(
    conditions: list[Any], sort: str, columns: Sequence[ColumnElement[Any]]
) -> Select[Any]:
    # correlate(None): the count is of the whole table's matches, not of the outer row.
    total = _count_statement(conditions).correlate(None).scalar_subquery()
    return (
        select(total.label("total_count"), *columns)
        .select_from(FEATURES_TABLE)  # the columns may be SQL text naming no table
        .where(*conditions)
        .order_by(*_order_by(sort))
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


class _Shapes:
    """The compiled statements by (statement, dialect, parameter names, sort), the least
    recently used dropped first beyond ``_MAX_SHAPES``."""

    def __init__(self) -> None:
        self._compiled: OrderedDict[tuple[Any, ...], CompiledStatement] = OrderedDict()
        self._lock = threading.Lock()  # gthread workers: one cache, several threads

    def get(
        self, key: tuple[Any, ...], dialect: Dialect, build: Callable[[], Select[Any]]
    ) -> CompiledStatement:
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
                return found
        found = compile_statement(build(), dialect)  # outside the lock: compiling is slow
        with self._lock:
            self._compiled[key] = found
            if len(self._compiled) > _MAX_SHAPES:
                self._compiled.popitem(last=False)
        return found


_SHAPES = _Shapes()


def read_page(
    cursor_of: Callable[[], Any], dialect: Dialect, query: FeatureQuery
) -> tuple[list[dict[str, Any]], int]:
    """One page of features as field name → value, and the count of all matches.

    ``cursor_of`` gives a new DBAPI cursor of the connection to read on."""
    rows, total, page = _read(cursor_of, dialect, query, "page", FIELD_COLUMNS)
    return feature_rows(rows, page.processors, start=1), total


def read_page_json(
    cursor_of: Callable[[], Any], dialect: Dialect, query: FeatureQuery
) -> tuple[bytes, int]:
    """The same page as one JSON array (UTF-8), each feature's object written by the
    database (``db.feature_json``), and the count of all matches.

    The page is read with the stored texts alone (``stored_feature_json``); one holding a
    row without a current text (written by code predating the column, or by a statement of
    its own) is read again whole by the statement that has the database write those rows'
    objects. Each answer comes from one statement, so its rows and count agree, as before;
    what a page with such a row adds is the first statement's run. PostgreSQL plans a page
    for the values given on every run past a small table, the other branch's subquery too
    (docs/performance.md, "i31-pgwrite"); SQLite prepares a statement once per connection
    (the driver's cache), so there the page stays the one statement with both branches."""
    if dialect.name != "sqlite":
        stored = (stored_feature_json(dialect.name),)
        rows, total, _ = _read(cursor_of, dialect, query, "stored", stored)
        try:
            return _joined(dialect.name, rows), total
        except TypeError:  # a NULL among the texts (no scan of the rows for it first)
            pass
    rows, total, _ = _read(cursor_of, dialect, query, "json", (feature_json(dialect.name),))
    return _joined(dialect.name, rows), total


def _joined(dialect_name: str, rows: list[Any]) -> bytes:
    """The rows' JSON objects (their second column) as one JSON array."""
    if dialect_name == "sqlite":  # bytes (a BLOB): no decoding to str and back
        return b"[" + b",".join(row[1] for row in rows) + b"]"
    return ("[" + ",".join(row[1] for row in rows) + "]").encode()


def _read(
    cursor_of: Callable[[], Any],
    dialect: Dialect,
    query: FeatureQuery,
    kind: str,
    columns: Sequence[ColumnElement[Any]],
) -> tuple[list[Any], int, CompiledStatement]:
    """The rows of a page (the count first, then ``columns``), the count of all matches
    and the statement; ``kind`` names ``columns`` in the key it is compiled under."""
    conditions, values = page_conditions(query, dialect.name)
    # The dialect itself, not its name: the SQL depends on its driver and settings.
    shape = (dialect, tuple(values), query.sort)
    page = _SHAPES.get(
        (kind, *shape), dialect, lambda: _page_statement(conditions(), query.sort, columns)
    )
    rows = fetch_all(cursor_of, page, {**values, "limit": query.limit, "offset": query.offset})
    if rows:
        return rows, rows[0][0], page
    if query.offset == 0 and query.limit > 0:
        return [], 0, page
    # Past the last match (or a page of none): the count alone, as no row carried it.
    count = _SHAPES.get(("count", *shape), dialect, lambda: _count_statement(conditions()))
    return [], fetch_all(cursor_of, count, values)[0][0], page


def feature_rows(
    rows: Sequence[Sequence[Any]], processors: tuple[ResultProcessor, ...], *, start: int = 0
) -> list[dict[str, Any]]:
    """Rows whose columns from ``start`` on are the field columns, as field name → value."""
    # Each row is as wide as the statement's columns, which the strict zip below checks
    # once: checking every row was a tenth of a page's conversion.
    features = [dict(zip(FIELD_NAMES, row[start:], strict=False)) for row in rows]
    for name, process in zip(FIELD_NAMES, processors[start:], strict=True):
        if process is not None:  # few columns need converting (on SQLite: the tags' JSON)
            for feature in features:
                feature[name] = process(feature[name])
    return features
