"""The only code that builds queries. Repositories return rows; they never commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.domain.lifecycle import Status
from feature_gateway.domain.listing import FeatureQuery

_LIKE_ESCAPE = "\\"


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
        return self.session.scalars(
            select(Feature).where(Feature.feature_name == feature_name)
        ).one_or_none()

    def add(self, feature: Feature) -> None:
        self.session.add(feature)

    def list_page(self, query: FeatureQuery) -> tuple[Sequence[Feature], int]:
        conditions = self._conditions(query)
        return self._page(conditions, query.sort, query.limit, query.offset)

    def deployed(self, limit: int, offset: int) -> tuple[Sequence[Feature], int]:
        return self._page([Feature.status == Status.DEPLOYED], "feature_name", limit, offset)

    def deployed_names(self) -> list[str]:
        return list(
            self.session.scalars(
                select(Feature.feature_name)
                .where(Feature.status == Status.DEPLOYED)
                .order_by(Feature.feature_name)
            )
        )

    def all_in_name_order(self) -> Sequence[Feature]:
        return self.session.scalars(select(Feature).order_by(Feature.feature_name)).all()

    def _page(
        self, conditions: list[ColumnElement[bool]], sort: str, limit: int, offset: int
    ) -> tuple[Sequence[Feature], int]:
        total = self.session.scalar(select(func.count(Feature.id)).where(*conditions)) or 0
        statement: Select[tuple[Feature]] = (
            select(Feature)
            .where(*conditions)
            .order_by(*_order_by(sort))
            .limit(limit)
            .offset(offset)
        )
        return self.session.scalars(statement).all(), total

    @staticmethod
    def _conditions(query: FeatureQuery) -> list[ColumnElement[bool]]:
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
                Feature.feature_name.ilike(pattern, escape=_LIKE_ESCAPE)
                | Feature.description.ilike(pattern, escape=_LIKE_ESCAPE)
            )
        return conditions


def _order_by(sort: str) -> tuple[ColumnElement[Any], ...]:
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

    def append(self, entry: AuditEntry) -> None:
        self.session.add(entry)

    def for_feature(self, feature: Feature) -> Sequence[AuditEntry]:
        return self.session.scalars(
            select(AuditEntry).where(AuditEntry.feature_id == feature.id).order_by(AuditEntry.id)
        ).all()
