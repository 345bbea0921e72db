"""What was served at a time (``GET /get_deployed_features?at=``, SPEC §13), read from the
features table and the change log with index ranges only.

The features deployed by then (``ix_features_deployed_time``), not retired by then, and
already in the change log then (a feature imported later had no revision yet) are the
candidates; each is then taken back to its revision at that time by undoing its change-log
entries after it (``ix_feature_changes_feature_id_timestamp``): a served feature changes
little after its deployment, so the cost follows the page, not the length of the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from feature_gateway.db.catalog_models import FeatureChange
from feature_gateway.db.feature_pages import FIELD_COLUMNS
from feature_gateway.db.models import FEATURES_TABLE
from feature_gateway.domain.changes import LaterChange
from feature_gateway.domain.comments import COMMENT_ACTION

_FEATURES = FEATURES_TABLE.c
_CHANGES = FeatureChange.__table__.c
# A comment's entry changes nothing (its revision is the one before it): never undone.
_CHANGED_THE_ROW = _CHANGES.action != COMMENT_ACTION.value


def served_at_condition(at: int) -> ColumnElement[bool]:
    """The features that may have been served at ``at`` (the caller checks the status the
    change log gives them then)."""
    logged_by_then = exists().where(_CHANGES.feature_id == _FEATURES.id, _CHANGES.timestamp <= at)
    return (
        (_FEATURES.deployed_time <= at)
        & or_(_FEATURES.retired_time.is_(None), _FEATURES.retired_time > at)
        & logged_by_then
    )


# Sorted as an expression, not by the column: the planners would otherwise walk the whole
# name index in order to skip the sort (SQLite without statistics did), reading every
# feature ever made; the deployed ones by then are one range of ix_features_deployed_time.
_NAME_ORDER = _FEATURES.feature_name.op("||")("")


class ServedAtRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(self, at: int, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """(id, fields) of a page of the candidates in name order, and how many there are."""
        condition = served_at_condition(at)
        statement = (
            select(_FEATURES.id, *FIELD_COLUMNS)
            .where(condition)
            .order_by(_NAME_ORDER)
            .limit(limit)
            .offset(offset)
        )
        rows = [dict(row._mapping) for row in self.session.execute(statement)]
        total = self.session.scalar(
            select(func.count()).select_from(FEATURES_TABLE).where(condition)
        )
        return rows, int(total or 0)

    def changes_after(self, feature_ids: Sequence[int], at: int) -> dict[int, list[LaterChange]]:
        """Each feature's change-log entries after ``at``, newest first."""
        statement = (
            select(_CHANGES.feature_id, _CHANGES.revision, _CHANGES.fields)
            .where(_CHANGES.feature_id.in_(feature_ids), _CHANGES.timestamp > at, _CHANGED_THE_ROW)
            .order_by(_CHANGES.id.desc())
        )
        later: dict[int, list[LaterChange]] = {}
        for feature_id, revision, fields in self.session.execute(statement):
            later.setdefault(feature_id, []).append(LaterChange(revision, fields))
        return later

    def last_change_times(self, feature_ids: Sequence[int], at: int) -> dict[int, int]:
        """The time of each feature's last change-log entry at or before ``at``."""
        statement = (
            select(_CHANGES.feature_id, func.max(_CHANGES.timestamp))
            .where(
                _CHANGES.feature_id.in_(feature_ids), _CHANGES.timestamp <= at, _CHANGED_THE_ROW
            )
            .group_by(_CHANGES.feature_id)
        )
        return {feature_id: int(time) for feature_id, time in self.session.execute(statement)}
