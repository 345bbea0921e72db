"""The only code that builds queries. Repositories return rows; they never commit."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Select, UnaryExpression, bindparam, func, select
from sqlalchemy.orm import Session

from feature_gateway.db.catalog_repositories import tag_conditions, time_conditions
from feature_gateway.db.engine import SQLITE_FOLD_CASE
from feature_gateway.db.models import FEATURES_TABLE, AuditEntry, Feature
from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.domain.lifecycle import SERVED_STATES, Status
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.domain.names import canonical_feature_name, is_valid_feature_name
from feature_gateway.domain.versions import family_name, version_key, version_number

_LIKE_ESCAPE = "\\"
_FIELD_COLUMNS = tuple(FEATURES_TABLE.c[name] for name in FIELD_NAMES)
_SERVED = sorted(SERVED_STATES)
# Built once: a read by name is the most frequent query, and building the statement cost
# as much as running it.
_FIELDS_BY_NAME = select(*_FIELD_COLUMNS).where(FEATURES_TABLE.c.feature_name == bindparam("n"))
_FIELDS_BY_CANONICAL_NAME = select(*_FIELD_COLUMNS).where(
    FEATURES_TABLE.c.canonical_name == bindparam("n")
)


def _contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere ('%' and '_' are not wildcards)."""
    escaped = (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


class FeatureLookup:
    """Reads of one feature that change nothing, run by the driver on a pooled connection.

    The statements are SQLAlchemy's, compiled once per dialect. Executing them through a
    ``Connection`` (a cache-key walk and a result wrapper per execution) cost five times
    what the driver takes for the same indexed SELECT, and a read is little else
    (docs/performance.md).
    """

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self._connection = dbapi_connection
        self._dialect = dialect

    def find(self, feature_name: str) -> dict[str, Any] | None:
        """The feature as field name → value, found as ``FeatureRepository.get`` finds it."""
        found = self._one(_FIELDS_BY_NAME, feature_name)
        if found is None and is_valid_feature_name(feature_name):
            found = self._one(_FIELDS_BY_CANONICAL_NAME, canonical_feature_name(feature_name))
        return found

    def _one(self, statement: Select[Any], value: str) -> dict[str, Any] | None:
        sql, positional, processors = _compiled(statement, self._dialect)
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, (value,) if positional else {"n": value})
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return {
            name: raw if process is None else process(raw)
            for name, raw, process in zip(FIELD_NAMES, row, processors, strict=True)
        }


ResultProcessor = Callable[[Any], Any] | None


@functools.lru_cache(maxsize=8)
def _compiled(
    statement: Select[Any], dialect: Dialect
) -> tuple[str, bool, tuple[ResultProcessor, ...]]:
    """The SQL of a statement with its one parameter ``n``, whether it is positional, and
    each column type's conversion of what the driver returns (a JSON column's text, for
    one), as SQLAlchemy would apply it."""
    compiled = statement.compile(dialect=dialect)
    processors = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.selected_columns
    )
    return compiled.string, bool(compiled.positional), processors


class FeatureRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, feature_name: str) -> Feature | None:
        """The feature stored for this version, whichever way its version is spelled
        (``view:f:1`` finds ``view:f:v1``).

        The exact name first: that is nearly every call, and one index lookup. Rows written
        by code predating canonical names (a rolling upgrade) have none and are found so.
        """
        found = self.session.scalars(
            select(Feature).where(Feature.feature_name == feature_name)
        ).one_or_none()
        if found is not None or not is_valid_feature_name(feature_name):
            return found
        canonical = canonical_feature_name(feature_name)
        return self.session.scalars(
            select(Feature).where(Feature.canonical_name == canonical)
        ).one_or_none()

    def add(self, feature: Feature) -> None:
        feature.canonical_name = canonical_feature_name(feature.feature_name)
        feature.family_name = family_name(feature.feature_name)
        feature.version_key = version_key(version_number(feature.feature_name))
        self.session.add(feature)

    def list_page(self, query: FeatureQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of features as field name → value (the field table's fields), and the
        count of all matches."""
        conditions = self._conditions(query)
        return self._page(conditions, query.sort, query.limit, query.offset)

    def served_names(self) -> list[tuple[str, str]]:
        """(name, status) of every served feature, in name order."""
        statement = (
            select(Feature.feature_name, Feature.status)
            .where(Feature.status.in_(_SERVED))
            .order_by(Feature.feature_name)
        )
        return [(name, status) for name, status in self.session.execute(statement)]

    def served_types(self, names: Collection[str]) -> dict[str, tuple[str, str, str]]:
        """Requested name → (stored name, feature_type, feature_data_type) of those of
        ``names`` that are served, whichever way their versions are spelled.

        One indexed query for a whole batch request (the unique name indexes serve IN).
        """
        wanted = {name: canonical_feature_name(name) for name in names}
        statement = select(
            Feature.feature_name,
            Feature.canonical_name,
            Feature.feature_type,
            Feature.feature_data_type,
        ).where(
            Feature.status.in_(_SERVED),
            Feature.feature_name.in_(wanted) | Feature.canonical_name.in_(set(wanted.values())),
        )
        by_name: dict[str, tuple[str, str, str]] = {}
        for stored, canonical, feature_type, data_type in self.session.execute(statement):
            by_name[stored] = (stored, feature_type, data_type)
            by_name.setdefault(canonical or stored, by_name[stored])
        return {
            name: by_name.get(name) or by_name[canonical]
            for name, canonical in wanted.items()
            if name in by_name or canonical in by_name
        }

    def all_in_name_order(self) -> list[dict[str, Any]]:
        statement = select(*_FIELD_COLUMNS).order_by(Feature.feature_name)
        return [dict(row._mapping) for row in self.session.execute(statement)]

    def _page(
        self, conditions: list[ColumnElement[bool]], sort: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Pages are only ever read: both statements run on the session's connection as plain
        SQL expressions, so their rows skip the ORM's result processing (building 100 mapped
        objects, or even ORM-wrapped rows, cost more than the queries themselves)."""
        connection = self.session.connection()
        count = select(func.count()).select_from(FEATURES_TABLE).where(*conditions)
        total = connection.scalar(count) or 0
        statement = (
            select(*_FIELD_COLUMNS)
            .where(*conditions)
            .order_by(*_order_by(sort))
            .limit(limit)
            .offset(offset)
        )
        rows = connection.execute(statement).all()  # one fetchall, not a fetchone per row
        return [dict(zip(FIELD_NAMES, row, strict=True)) for row in rows], total

    def _conditions(self, query: FeatureQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if query.status:
            conditions.append(Feature.status.in_(query.status))
        elif not query.include_deleted:
            conditions.append(Feature.status != Status.DELETED)
        for column, wanted in (
            (Feature.feature_type, query.feature_type),
            (Feature.feature_data_type, query.feature_data_type),
            (Feature.owner, query.owner),
        ):
            if wanted:
                conditions.append(column.in_(wanted))
        if query.created_by is not None:
            conditions.append(Feature.created_by == query.created_by)
        conditions += time_conditions(query) + tag_conditions(Feature.id, query.tags)
        if query.search:
            pattern = _contains_pattern(query.search)
            conditions.append(
                self._matches(Feature.feature_name, pattern)
                | self._matches(Feature.description, pattern)
            )
        return conditions

    def _matches(self, column: Any, pattern: str) -> ColumnElement[bool]:
        """Case-insensitive LIKE. SQLite folds ASCII only, so a pattern with other letters
        goes through the Unicode-aware function the engine registers (slower: a Python
        call per row, hence only when needed)."""
        if not pattern.isascii() and self.session.get_bind().dialect.name == "sqlite":
            folded = getattr(func, SQLITE_FOLD_CASE)
            return folded(column).like(folded(pattern), escape=_LIKE_ESCAPE)  # type: ignore[no-any-return]
        return column.ilike(pattern, escape=_LIKE_ESCAPE)  # type: ignore[no-any-return]


def _order_by(sort: str) -> tuple[UnaryExpression[Any], ...]:
    descending = sort.startswith("-")
    column = getattr(Feature, sort.lstrip("-"))
    primary = column.desc() if descending else column.asc()
    # The name is unique, so it makes every order total and pages stable.
    if column is Feature.feature_name:
        return (primary,)
    tiebreak = Feature.feature_name.desc() if descending else Feature.feature_name.asc()
    return (primary, tiebreak)


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.appended: list[AuditEntry] = []  # this unit of work's entries, in order

    def append(self, entry: AuditEntry) -> None:
        self.session.add(entry)
        self.appended.append(entry)

    def for_feature(self, feature: Feature) -> Sequence[AuditEntry]:
        return self.session.scalars(
            select(AuditEntry).where(AuditEntry.feature_id == feature.id).order_by(AuditEntry.id)
        ).all()
