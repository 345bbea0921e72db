"""list page indexes: each equality filter of the list with the name, the default order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

A filtered list page (``created_by=…``, ``feature_type=…``, ``feature_data_type=…``) read
the single-column index and then sorted every match to find the page (SQLite: "USE TEMP
B-TREE FOR ORDER BY"). With the name after the filter column, the page is one range of the
index in name order, and equality lookups on the column alone use it as before, so the
single-column indexes go.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FILTER_COLUMNS = ("feature_type", "feature_data_type", "created_by")


def upgrade() -> None:
    for column in _FILTER_COLUMNS:
        op.create_index(f"ix_features_{column}_feature_name", "features", [column, "feature_name"])
        op.drop_index(f"ix_features_{column}", table_name="features")


def downgrade() -> None:
    for column in _FILTER_COLUMNS:
        op.create_index(f"ix_features_{column}", "features", [column])
        op.drop_index(f"ix_features_{column}_feature_name", table_name="features")
