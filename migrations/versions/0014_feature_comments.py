"""comments on features (SPEC §10)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

- ``feature_comments``: one row per comment, never updated; ``change_id`` is its change-log
  entry (action ``comment``), which is its ``feature.comment`` event (SPEC §9).
- ``ix_feature_comments_feature_id_id``: a feature's comments, oldest first, and their count
  (``GET /features/<name>/comments``) are one index range; the unique ``change_id`` joins an
  event to its comment (the feed, the webhook worker, ``audit verify``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
# 0012: the credential column every audit entry has (i21-identity, merged into this branch).
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CREDENTIAL_LENGTH = 1024  # db.models.CREDENTIAL_LENGTH when this was written


def upgrade() -> None:
    op.create_table(
        "feature_comments",
        sa.Column("id", LOG_ID, autoincrement=True, nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("change_id", LOG_ID, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("author_role", sa.String(length=64), nullable=False),
        sa.Column("authenticated", sa.Boolean(), nullable=False),
        sa.Column("credential", sa.String(length=_CREDENTIAL_LENGTH), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"],
            ["features.id"],
            name=op.f("fk_feature_comments_feature_id_features"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["feature_changes.id"],
            name=op.f("fk_feature_comments_change_id_feature_changes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_comments")),
        sa.UniqueConstraint("change_id", name=op.f("uq_feature_comments_change_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_feature_comments_feature_id_id", "feature_comments", ["feature_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_feature_comments_feature_id_id", table_name="feature_comments")
    op.drop_table("feature_comments")
