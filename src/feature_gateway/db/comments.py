"""Comments on features (SPEC §10): a feature's comments a page at a time. Written only by
the recorder (``db.recording``), with their change-log entries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feature_gateway.db.catalog_models import FeatureComment


class CommentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self, feature_id: int, limit: int, offset: int
    ) -> tuple[Sequence[FeatureComment], int]:
        """The feature's comments, oldest first, and how many it has: two ranges of
        ``ix_feature_comments_feature_id_id``."""
        of_feature = FeatureComment.feature_id == feature_id
        rows = self.session.scalars(
            select(FeatureComment)
            .where(of_feature)
            .order_by(FeatureComment.id)
            .limit(limit)
            .offset(offset)
        ).all()
        total = self.session.scalar(
            select(func.count()).select_from(FeatureComment).where(of_feature)
        )
        return rows, int(total or 0)
