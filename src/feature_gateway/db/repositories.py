"""The only code that builds queries. Repositories return rows; they never commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, func, select
from sqlalchemy.orm import Session

from feature_gateway.db.engine import SQLITE_FOLD_CASE
from feature_gateway.db.models import FEATURES_TABLE, AuditEntry, Feature
from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.domain.lifecycle import SERVED_STATES, Status
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.domain.names import canonical_feature_name, is_valid_feature_name

_LIKE_ESCAPE = "\\"
_FIELD_COLUMNS = tuple(FEATURES_TABLE.c[name] for name in FIELD_NAMES)
# One state today: "= 'DEPLOYED'" as before, and an IN list once more states are served.
_SERVED = sorted(SERVED_STATES)


def _contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere ('%' and '_' are not wildcards)."""
    escaped = (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


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
        self.session.add(feature)

    def list_page(self, query: FeatureQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of features as field name → value (the field table's fields), and the
        count of all matches."""
        conditions = self._conditions(query)
        return self._page(conditions, query.sort, query.limit, query.offset)

    def served_names(self) -> list[str]:
        return list(
            self.session.scalars(
                select(Feature.feature_name)
                .where(Feature.status.in_(_SERVED))
                .order_by(Feature.feature_name)
            )
        )

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
        """Pages are only ever read, so they skip ORM identity tracking: building 100
        mapped objects cost more than the queries themselves."""
        total = (
            self.session.scalar(select(func.count()).select_from(Feature).where(*conditions)) or 0
        )
        statement = (
            select(*_FIELD_COLUMNS)
            .where(*conditions)
            .order_by(*_order_by(sort))
            .limit(limit)
            .offset(offset)
        )
        return [dict(row._mapping) for row in self.session.execute(statement)], total

    def _conditions(self, query: FeatureQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if query.status is not None:
            conditions.append(Feature.status == query.status)
        elif not query.include_deleted:
            conditions.append(Feature.status != Status.DELETED)
        if query.feature_type is not None:
            conditions.append(Feature.feature_type == query.feature_type)
        if query.feature_data_type is not None:
            conditions.append(Feature.feature_data_type == query.feature_data_type)
        if query.created_by is not None:
            conditions.append(Feature.created_by == query.created_by)
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
