"""Comments on features (SPEC §10): write one, read a feature's discussion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feature_gateway.db.catalog_models import FeatureComment
from feature_gateway.db.recording import Acting
from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.domain.identity import Principal
from feature_gateway.services.clock import now_ms
from feature_gateway.services.rows import load_feature

CommentData = dict[str, Any]


@dataclass(frozen=True)
class CommentPage:
    feature_name: str
    comments: list[CommentData]
    total_count: int
    limit: int
    offset: int


def comment_data(comment: FeatureComment, feature_name: str) -> CommentData:
    return {
        "comment_id": comment.id,
        "feature_name": feature_name,
        "body": comment.body,
        "author": comment.author,
        "author_role": comment.author_role,
        "authenticated": comment.authenticated,
        "credential": comment.credential,
        "created_time": comment.created_time,
    }


def add_comment(
    database: Database,
    feature_name: str,
    body: str,
    *,
    author: str,
    role: str,
    caller: Principal | None = None,
) -> CommentData:
    """``author`` comments on the feature, in any status, for ``caller`` (None: claimed, in
    trust mode): a comment row and its ``feature.comment`` event; the feature itself
    (revision, status, fields) is unchanged."""
    with database.writing() as uow:
        feature = load_feature(uow, feature_name)
        uow.features.lock(feature)
        comment = uow.record.comment(feature, body, Acting.by(author, role, now_ms(), caller))
        uow.commit()
        return comment_data(comment, feature.feature_name)


def list_comments(
    database: Database,
    feature_name: str,
    *,
    limit: int,
    offset: int,
    freshness: Freshness = WITHIN_LAG,
) -> CommentPage:
    """A page of the feature's comments, oldest first (one snapshot: page and count agree)."""

    def read(uow: UnitOfWork) -> CommentPage:
        feature = load_feature(uow, feature_name)
        rows, total = uow.comments.page(feature.id, limit, offset)
        items = [comment_data(row, feature.feature_name) for row in rows]
        return CommentPage(feature.feature_name, items, total, limit, offset)

    return database.replicated_read(read, freshness.of(feature_name), snapshot=True)
