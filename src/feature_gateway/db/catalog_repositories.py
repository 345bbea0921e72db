"""Queries of the catalog's tables: the tag index and the change log. They never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, insert, select
from sqlalchemy.orm import Session

from feature_gateway.db.catalog_models import FeatureChange, FeatureTag
from feature_gateway.domain.tags import TagFilter


def replace_tags(connection: Connection, feature_id: int, tags: Mapping[str, str]) -> None:
    """Make the tag index hold exactly ``tags`` for the feature (two statements at most)."""
    connection.execute(delete(FeatureTag).where(FeatureTag.feature_id == feature_id))
    if tags:
        connection.execute(
            insert(FeatureTag),
            [{"feature_id": feature_id, "key": k, "value": v} for k, v in tags.items()],
        )


def tag_conditions(feature_id: Any, wanted: TagFilter) -> list[ColumnElement[bool]]:
    """One condition per wanted pair (all must hold); a ``None`` value means "has the key".

    Each is ``id IN (ids with that tag)``, answered by the (key, value, feature_id) index
    alone, so its cost follows the number of tagged features, not the size of the table.
    """
    conditions: list[ColumnElement[bool]] = []
    for key, value in wanted.items():
        tagged = select(FeatureTag.feature_id).where(FeatureTag.key == key)
        if value is not None:
            tagged = tagged.where(FeatureTag.value == value)
        conditions.append(feature_id.in_(tagged))
    return conditions


class ChangeLogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.appended: list[FeatureChange] = []  # this unit of work's entries, in order

    def append(self, entry: FeatureChange) -> None:
        self.session.add(entry)
        self.appended.append(entry)

    def for_feature(self, feature_id: int) -> Sequence[FeatureChange]:
        return self.session.scalars(
            select(FeatureChange)
            .where(FeatureChange.feature_id == feature_id)
            .order_by(FeatureChange.id)
        ).all()
