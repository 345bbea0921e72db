"""The catalog's tables: the tag index, the change log (SPEC §8) and comments (SPEC §10).

``feature_tags`` is the index of every feature's tags, one row per (feature, key), so that
tag filters are index lookups on SQLite and PostgreSQL alike (JSON containment is indexable
on PostgreSQL only). ``feature_changes`` is the log of every successful write: the change log
of one feature, and, read in ``id`` order across features, the event feed (SPEC §9).
``feature_comments`` holds the text of each comment; its change-log entry (action
``comment``) is its event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feature_gateway.db.base import Base
from feature_gateway.db.models import CREDENTIAL_LENGTH, Feature
from feature_gateway.domain.tags import MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH

# SQLite assigns a rowid alias only to INTEGER PRIMARY KEY; PostgreSQL gets 64 bits.
LOG_ID = BigInteger().with_variant(Integer(), "sqlite")


class FeatureTag(Base):
    """One tag of one feature; kept equal to the feature's ``tags`` by the repository."""

    __tablename__ = "feature_tags"

    feature_id: Mapped[int] = mapped_column(
        ForeignKey("features.id", ondelete="RESTRICT"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(MAX_TAG_KEY_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(String(MAX_TAG_VALUE_LENGTH))

    # "has key k with value v" and "has key k" are both prefixes of this index, and the
    # feature id it ends with answers them without reading the table.
    __table_args__ = (Index("ix_feature_tags_key_value", "key", "value", "feature_id"),)


class FeatureChange(Base):
    """One successful write on one feature. Rows are only ever inserted.

    ``id`` increases with every entry, so it is the cursor of the event feed; the feature's
    name, action and statuses are stored with it so that a feed page needs no join.
    """

    __tablename__ = "feature_changes"

    id: Mapped[int] = mapped_column(LOG_ID, primary_key=True, autoincrement=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="RESTRICT"))
    feature_name: Mapped[str] = mapped_column(String(255))
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    actor_role: Mapped[str | None] = mapped_column(String(64))
    # True when the actor was a verified principal (token mode), false when claimed.
    authenticated: Mapped[bool] = mapped_column(Boolean)
    # How the actor was verified: "token:<token_id>", "oidc:<issuer>"; null when claimed.
    credential: Mapped[str | None] = mapped_column(String(CREDENTIAL_LENGTH))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    previous_status: Mapped[str | None] = mapped_column(String(32))
    new_status: Mapped[str] = mapped_column(String(32))
    # {field: {"from": old, "to": new}}; JSON keeps the order the fields were compared in.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)

    # Set instead of feature_id, so that an entry is flushed with its feature, new or not.
    feature: Mapped[Feature] = relationship(lazy="raise")
    # The comment whose event this entry is (action "comment"); loaded where events are
    # built (the feed, the webhook worker), never lazily.
    comment: Mapped[FeatureComment | None] = relationship(
        back_populates="change", lazy="raise", uselist=False
    )

    __table_args__ = (
        Index("ix_feature_changes_feature_id_id", "feature_id", "id"),
        # A feature's entries after a time (GET /get_deployed_features?at=): one range.
        Index("ix_feature_changes_feature_id_timestamp", "feature_id", "timestamp"),
        # The event feed filtered by feature name (SPEC §9) is a range scan of this index.
        Index("ix_feature_changes_feature_name_id", "feature_name", "id"),
        # SQLite's AUTOINCREMENT: ids only ever grow (without it SQLite may hand out the id
        # of a removed newest row again), as a feed cursor relies on.
        {"sqlite_autoincrement": True},
    )


class FeatureComment(Base):
    """One comment on one feature (SPEC §10). Rows are only ever inserted.

    Written with its change-log entry, at commit under the log lock (``db.recording``), so
    that ``change_id`` is never null: every comment has its event, and an entry's comment is
    one index lookup away.
    """

    __tablename__ = "feature_comments"

    id: Mapped[int] = mapped_column(LOG_ID, primary_key=True, autoincrement=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="RESTRICT"))
    change_id: Mapped[int] = mapped_column(
        ForeignKey("feature_changes.id", ondelete="RESTRICT"), unique=True
    )
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(255))
    author_role: Mapped[str] = mapped_column(String(64))
    # True when the author was a verified principal (token mode), false when claimed.
    authenticated: Mapped[bool] = mapped_column(Boolean)
    # How the author was verified, as history entries say it ("token:<token_id>"); null
    # when claimed.
    credential: Mapped[str | None] = mapped_column(String(CREDENTIAL_LENGTH))
    created_time: Mapped[int] = mapped_column(BigInteger)

    feature: Mapped[Feature] = relationship(lazy="raise")
    change: Mapped[FeatureChange] = relationship(back_populates="comment", lazy="raise")

    __table_args__ = (
        # A feature's comments, oldest first, a page at a time, and their count: one range.
        Index("ix_feature_comments_feature_id_id", "feature_id", "id"),
        {"sqlite_autoincrement": True},
    )
