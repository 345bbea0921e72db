"""Pages of the feature list: one statement, compiled once per shape, run by the driver.

A page and its total count come from one statement (the count is a scalar subquery), so
they agree with each other without a transaction around two statements: it runs on a
pooled connection in autocommit (``unit_of_work.Lookup``), like a read by name.

Every value of a list query is a named parameter, so the SQL depends only on which
filters are given (and how many values each has), the sort and the dialect: that is the
key it is compiled under, once (``db.compiled``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
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
from feature_gateway.db.models import FEATURES_TABLE
from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.domain.lifecycle import Status
from feature_gateway.domain.listing import FeatureQuery

_LIKE_ESCAPE = "\\"
FIELD_COLUMNS = tuple(FEATURES_TABLE.c[name] for name in FIELD_NAMES)
_COLUMNS = FEATURES_TABLE.c
# Distinct shapes a process keeps compiled; far more than clients use, and bounded.
_MAX_SHAPES = 512


class _Parameters:
    """Names each value of a query as it is used; the names in order are its shape."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, name: str, value: Any) -> BindParameter[Any]:
        self.values[name] = value
        return bindparam(name)

    def each(self, name: str, values: Sequence[Any]) -> list[BindParameter[Any]]:
        return [self(f"{name}_{i}", value) for i, value in enumerate(values)]


def page_conditions(query: FeatureQuery, dialect_name: str) -> tuple[list[Any], dict[str, Any]]:
    """The WHERE conditions of a list query, and the values of their named parameters."""
    given = _Parameters()
    conditions: list[ColumnElement[bool]] = []
    if query.status:
        conditions.append(_COLUMNS.status.in_(given.each("status", query.status)))
    elif not query.include_deleted:
        conditions.append(_COLUMNS.status != given("not_status", Status.DELETED.value))
    for name in ("feature_type", "feature_data_type", "owner"):
        wanted = getattr(query, name)
        if wanted:
            conditions.append(_COLUMNS[name].in_(given.each(name, wanted)))
    if query.created_by is not None:
        conditions.append(_COLUMNS.created_by == given("created_by", query.created_by))
    # Time bounds: after is inclusive, before exclusive.
    for name, column, inclusive in (
        ("created_after", _COLUMNS.created_time, True),
        ("created_before", _COLUMNS.created_time, False),
        ("updated_after", _COLUMNS.updated_time, True),
        ("updated_before", _COLUMNS.updated_time, False),
    ):
        bound = getattr(query, name)
        if bound is not None:
            param = given(name, bound)
            conditions.append(column >= param if inclusive else column < param)
    for i, (key, value) in enumerate(query.tags):
        # Each is ``id IN (ids with that tag)``, answered by the (key, value, feature_id)
        # index alone, so its cost follows the number of tagged features, not the table.
        tagged = select(FeatureTag.feature_id).where(FeatureTag.key == given(f"tag_{i}", key))
        if value is not None:
            tagged = tagged.where(FeatureTag.value == given(f"tag_{i}_value", value))
        conditions.append(_COLUMNS.id.in_(tagged))
    if query.search:
        conditions.append(_search(given, query.search, dialect_name))
    return conditions, given.values


def _search(given: _Parameters, text: str, dialect_name: str) -> ColumnElement[bool]:
    """Case-insensitive LIKE of the name or description. SQLite folds ASCII only, so a
    pattern with other letters goes through the Unicode-aware function the engine
    registers (slower: a Python call per row, hence only when needed)."""
    pattern = _contains_pattern(text)
    columns: tuple[Any, ...] = (_COLUMNS.feature_name, _COLUMNS.description)
    if not pattern.isascii() and dialect_name == "sqlite":
        fold = getattr(func, SQLITE_FOLD_CASE)
        wanted = fold(given("search_folded", pattern))
        matches = [fold(column).like(wanted, escape=_LIKE_ESCAPE) for column in columns]
    else:
        wanted = given("search", pattern)
        matches = [column.ilike(wanted, escape=_LIKE_ESCAPE) for column in columns]
    return or_(*matches)


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


def _page_statement(conditions: list[Any], sort: str) -> Select[Any]:
    # correlate(None): the count is of the whole table's matches, not of the outer row.
    total = _count_statement(conditions).correlate(None).scalar_subquery()
    return (
        select(total.label("total_count"), *FIELD_COLUMNS)
        .where(*conditions)
        .order_by(*_order_by(sort))
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


class _Shapes:
    """The compiled statements by (dialect, statement, parameter names, sort)."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[Any, ...], CompiledStatement] = {}
        self._lock = threading.Lock()

    def get(
        self, key: tuple[Any, ...], dialect: Dialect, build: Callable[[], Select[Any]]
    ) -> CompiledStatement:
        found = self._compiled.get(key)
        if found is None:
            found = compile_statement(build(), dialect)
            with self._lock:
                if len(self._compiled) >= _MAX_SHAPES:
                    self._compiled.clear()
                self._compiled[key] = found
        return found


_SHAPES = _Shapes()


def read_page(
    cursor_of: Callable[[], Any], dialect: Dialect, query: FeatureQuery
) -> tuple[list[dict[str, Any]], int]:
    """One page of features as field name → value, and the count of all matches.

    ``cursor_of`` gives a new DBAPI cursor of the connection to read on."""
    conditions, values = page_conditions(query, dialect.name)
    shape = (dialect.name, tuple(values), query.sort)
    page = _SHAPES.get(("page", *shape), dialect, lambda: _page_statement(conditions, query.sort))
    rows = fetch_all(cursor_of, page, {**values, "limit": query.limit, "offset": query.offset})
    if rows:
        return feature_rows(rows, page.processors, start=1), rows[0][0]
    if query.offset == 0:
        return [], 0
    # Past the last match: the count alone (no row carried it).
    count = _SHAPES.get(("count", *shape), dialect, lambda: _count_statement(conditions))
    return [], fetch_all(cursor_of, count, values)[0][0]


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
