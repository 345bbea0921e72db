"""Reading every feature's audit trail in one pass, for ``audit verify``.

Four streams, each ordered by feature and then by entry id (the primary key and the three
``(feature_id, id)`` indexes answer them without sorting): the feature rows, their history
(``feature_audit``), their change log (``feature_changes``) and their comments
(``feature_comments``). The caller merges them
feature by feature, so the whole table is read once, a batch at a time, with no query per
feature. Only the columns the checks need are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from feature_gateway.db.catalog_models import FeatureChange, FeatureComment
from feature_gateway.db.models import AuditEntry, Feature

# Rows fetched per round trip; on PostgreSQL each stream is a server-side cursor.
BATCH_ROWS = 10_000

_FEATURES = select(Feature.id, Feature.feature_name, Feature.status, Feature.revision).order_by(
    Feature.id
)
_HISTORY = select(
    AuditEntry.feature_id,
    AuditEntry.id,
    AuditEntry.from_status,
    AuditEntry.to_status,
    AuditEntry.trigger,
    AuditEntry.timestamp,
).order_by(AuditEntry.feature_id, AuditEntry.id)
_CHANGES = select(
    FeatureChange.feature_id,
    FeatureChange.id,
    FeatureChange.revision,
    FeatureChange.action,
    FeatureChange.previous_status,
    FeatureChange.new_status,
    FeatureChange.timestamp,
).order_by(FeatureChange.feature_id, FeatureChange.id)


_COMMENTS = select(
    FeatureComment.feature_id, FeatureComment.id, FeatureComment.change_id
).order_by(FeatureComment.feature_id, FeatureComment.id)


class AuditTrailReader:
    """The four ordered streams, read in the caller's (snapshot) transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def features(self) -> Iterator[Row[Any]]:
        return self._stream(_FEATURES)

    def history(self) -> Iterator[Row[Any]]:
        return self._stream(_HISTORY)

    def changes(self) -> Iterator[Row[Any]]:
        return self._stream(_CHANGES)

    def comments(self) -> Iterator[Row[Any]]:
        return self._stream(_COMMENTS)

    def _stream(self, statement: Select[Any]) -> Iterator[Row[Any]]:
        # Core, not the ORM: plain rows, without the ORM's per-row loading.
        result = self.session.connection().execute(
            statement, execution_options={"yield_per": BATCH_ROWS, "stream_results": True}
        )
        for partition in result.partitions():
            yield from partition
