"""catalog: the tag index and the change log

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feature_tags",
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"],
            ["features.id"],
            name=op.f("fk_feature_tags_feature_id_features"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("feature_id", "key", name=op.f("pk_feature_tags")),
    )
    op.create_index(
        "ix_feature_tags_key_value", "feature_tags", ["key", "value", "feature_id"], unique=False
    )
    op.create_table(
        "feature_changes",
        sa.Column("id", _LOG_ID, autoincrement=True, nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("feature_name", sa.String(length=255), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("actor_role", sa.String(length=64), nullable=True),
        sa.Column("authenticated", sa.Boolean(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("previous_status", sa.String(length=32), nullable=True),
        sa.Column("new_status", sa.String(length=32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"],
            ["features.id"],
            name=op.f("fk_feature_changes_feature_id_features"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_feature_changes_feature_id_id", "feature_changes", ["feature_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_feature_changes_feature_id_id", table_name="feature_changes")
    op.drop_table("feature_changes")
    op.drop_index("ix_feature_tags_key_value", table_name="feature_tags")
    op.drop_table("feature_tags")
