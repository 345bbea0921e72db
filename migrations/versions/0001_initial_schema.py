"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_name", sa.String(length=255), nullable=False),
        sa.Column("feature_type", sa.String(length=32), nullable=False),
        sa.Column("feature_data_type", sa.String(length=32), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("last_updated_by", sa.String(length=255), nullable=True),
        sa.Column("submitted_by", sa.String(length=255), nullable=True),
        sa.Column("submitted_time", sa.BigInteger(), nullable=True),
        sa.Column("tested_by", sa.String(length=255), nullable=True),
        sa.Column("tested_time", sa.BigInteger(), nullable=True),
        sa.Column("test_result", sa.String(length=32), nullable=True),
        sa.Column("test_notes", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.String(length=255), nullable=True),
        sa.Column("approved_time", sa.BigInteger(), nullable=True),
        sa.Column("approval_notes", sa.Text(), nullable=True),
        sa.Column("rejected_by", sa.String(length=255), nullable=True),
        sa.Column("rejected_time", sa.BigInteger(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("deployed_by", sa.String(length=255), nullable=True),
        sa.Column("deployed_time", sa.BigInteger(), nullable=True),
        sa.Column("fixed_by", sa.String(length=255), nullable=True),
        sa.Column("fixed_time", sa.BigInteger(), nullable=True),
        sa.Column("fix_description", sa.Text(), nullable=True),
        sa.Column("deleted_by", sa.String(length=255), nullable=True),
        sa.Column("deleted_time", sa.BigInteger(), nullable=True),
        sa.Column("deletion_reason", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features")),
        sa.UniqueConstraint("feature_name", name=op.f("uq_features_feature_name")),
    )
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.create_index("ix_features_created_by", ["created_by"], unique=False)
        batch_op.create_index("ix_features_created_time", ["created_time"], unique=False)
        batch_op.create_index("ix_features_feature_data_type", ["feature_data_type"], unique=False)
        batch_op.create_index("ix_features_feature_type", ["feature_type"], unique=False)
        batch_op.create_index(
            "ix_features_status_feature_name", ["status", "feature_name"], unique=False
        )
        batch_op.create_index("ix_features_updated_time", ["updated_time"], unique=False)

    op.create_table(
        "feature_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("actor_role", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"],
            ["features.id"],
            name=op.f("fk_feature_audit_feature_id_features"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_audit")),
    )
    with op.batch_alter_table("feature_audit", schema=None) as batch_op:
        batch_op.create_index("ix_feature_audit_feature_id_id", ["feature_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feature_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_audit_feature_id_id")

    op.drop_table("feature_audit")
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_index("ix_features_updated_time")
        batch_op.drop_index("ix_features_status_feature_name")
        batch_op.drop_index("ix_features_feature_type")
        batch_op.drop_index("ix_features_feature_data_type")
        batch_op.drop_index("ix_features_created_time")
        batch_op.drop_index("ix_features_created_by")

    op.drop_table("features")
