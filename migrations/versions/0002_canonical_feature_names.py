"""canonical feature names: one row per (view, feature, version), however it is spelled

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of the rule as it stands at this revision (migrations never import app code,
# which changes after them): the version's optional "v" is dropped.
_VERSION_PREFIX = re.compile(r":v([1-9][0-9]*)$")


def upgrade() -> None:
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canonical_name", sa.String(length=255), nullable=True))

    connection = op.get_bind()
    features = sa.table(
        "features", sa.column("id", sa.Integer), sa.column("feature_name", sa.String),
        sa.column("canonical_name", sa.String),
    )  # fmt: skip
    seen: dict[str, str] = {}
    for name in connection.scalars(sa.select(features.c.feature_name)):
        canonical = _VERSION_PREFIX.sub(r":\1", name)
        if canonical in seen:
            raise RuntimeError(
                f"Features {seen[canonical]!r} and {name!r} are the same version; rename or "
                "remove one before upgrading."
            )
        seen[canonical] = name
    if connection.dialect.name == "postgresql":
        # One statement, not a round trip per row, while the table is locked.
        connection.execute(
            features.update().values(
                canonical_name=sa.func.regexp_replace(
                    features.c.feature_name, r":v([1-9][0-9]*)$", r":\1"
                )
            )
        )
    else:
        for canonical, name in seen.items():
            connection.execute(
                features.update()
                .where(features.c.feature_name == name)
                .values(canonical_name=canonical)
            )

    # Left nullable: code from before this revision, still serving during a rolling
    # upgrade, inserts rows without it (they are found by their exact name).
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_features_canonical_name"), ["canonical_name"]
        )


def downgrade() -> None:
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_features_canonical_name"), type_="unique")
        batch_op.drop_column("canonical_name")
