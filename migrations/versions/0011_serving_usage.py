"""serving (SPEC §13): read counts, forced retirements, what was deployed when

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

- ``feature_usage``: read counts per feature, UTC day and consumer, added to by every
  worker's flush (an upsert on the primary key).
- ``features.retirement_forced`` and ``feature_audit.forced``: a retirement that overrode
  the guard (the feature was read in the quiet period) says so on the row, in the history
  and, through the row's field, in the change log.
- ``ix_features_deployed_time`` and ``ix_feature_changes_feature_id_timestamp``: the
  features deployed by a time, and a feature's entries after it, are index ranges
  (``GET /get_deployed_features?at=``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feature_usage",
        sa.Column("feature_name", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("consumer", sa.String(length=255), nullable=False),
        sa.Column("reads", sa.BigInteger(), nullable=False),
        sa.Column("first_read_time", sa.BigInteger(), nullable=False),
        sa.Column("last_read_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("feature_name", "day", "consumer", name=op.f("pk_feature_usage")),
    )
    with op.batch_alter_table("features") as batch:
        batch.add_column(sa.Column("retirement_forced", sa.Boolean(), nullable=True))
        batch.create_index("ix_features_deployed_time", ["deployed_time"])
    with op.batch_alter_table("feature_audit") as batch:
        batch.add_column(
            sa.Column("forced", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_index(
        "ix_feature_changes_feature_id_timestamp", "feature_changes", ["feature_id", "timestamp"]
    )


def downgrade() -> None:
    op.drop_index("ix_feature_changes_feature_id_timestamp", table_name="feature_changes")
    with op.batch_alter_table("feature_audit") as batch:
        batch.drop_column("forced")
    with op.batch_alter_table("features") as batch:
        batch.drop_index("ix_features_deployed_time")
        batch.drop_column("retirement_forced")
    op.drop_table("feature_usage")
