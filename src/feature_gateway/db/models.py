"""The two tables: features (one row per feature name) and its append-only audit trail."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feature_gateway.db.base import Base

ACTOR = String(255)


class Feature(Base):
    __tablename__ = "features"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_name: Mapped[str] = mapped_column(String(255), unique=True)
    # The name with its version spelled one way (domain.names.canonical_feature_name), so
    # that "view:f:1" and "view:f:v1" cannot both exist. Set by FeatureRepository.add;
    # nullable so that code predating it keeps working during a rolling upgrade.
    canonical_name: Mapped[str | None] = mapped_column(String(255), unique=True)
    feature_type: Mapped[str] = mapped_column(String(32))
    feature_data_type: Mapped[str] = mapped_column(String(32))
    query: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    # Epoch milliseconds, as the API speaks them; no time-zone conversions anywhere.
    created_time: Mapped[int] = mapped_column(BigInteger)
    updated_time: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(ACTOR)
    last_updated_by: Mapped[str | None] = mapped_column(ACTOR)
    submitted_by: Mapped[str | None] = mapped_column(ACTOR)
    submitted_time: Mapped[int | None] = mapped_column(BigInteger)
    tested_by: Mapped[str | None] = mapped_column(ACTOR)
    tested_time: Mapped[int | None] = mapped_column(BigInteger)
    test_result: Mapped[str | None] = mapped_column(String(32))
    test_notes: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(ACTOR)
    approved_time: Mapped[int | None] = mapped_column(BigInteger)
    approval_notes: Mapped[str | None] = mapped_column(Text)
    rejected_by: Mapped[str | None] = mapped_column(ACTOR)
    rejected_time: Mapped[int | None] = mapped_column(BigInteger)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    deployed_by: Mapped[str | None] = mapped_column(ACTOR)
    deployed_time: Mapped[int | None] = mapped_column(BigInteger)
    fixed_by: Mapped[str | None] = mapped_column(ACTOR)
    fixed_time: Mapped[int | None] = mapped_column(BigInteger)
    fix_description: Mapped[str | None] = mapped_column(Text)
    deleted_by: Mapped[str | None] = mapped_column(ACTOR)
    deleted_time: Mapped[int | None] = mapped_column(BigInteger)
    deletion_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic concurrency: every UPDATE is "... WHERE revision = <the one we read>",
    # so of two racing writers one matches no row and is answered 409.
    revision: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": revision}
    __table_args__ = (
        Index("ix_features_status_feature_name", "status", "feature_name"),
        Index("ix_features_feature_type", "feature_type"),
        Index("ix_features_feature_data_type", "feature_data_type"),
        Index("ix_features_created_by", "created_by"),
        Index("ix_features_created_time", "created_time"),
        Index("ix_features_updated_time", "updated_time"),
    )


class AuditEntry(Base):
    """One status change. Rows are only ever inserted."""

    __tablename__ = "feature_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="RESTRICT"))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(ACTOR)
    actor_role: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    # True when the actor was a verified principal (token mode), false for a claimed name.
    authenticated: Mapped[bool] = mapped_column(Boolean, server_default=false())

    feature: Mapped[Feature] = relationship(lazy="raise")

    __table_args__ = (Index("ix_feature_audit_feature_id_id", "feature_id", "id"),)
