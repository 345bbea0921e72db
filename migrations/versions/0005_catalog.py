"""catalog: owner, tags, versions, deprecation and retirement; the tag index and change log

Existing features get owner = created_by, no tags, and their family name and version number.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# A copy of the name rule as it stands at this revision (migrations never import app code).
_NAME = re.compile(r"(?P<family>[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*):v?(?P<n>[0-9]+)")


def _new_columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("tags", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("previous_version", sa.String(length=255), nullable=True),
        sa.Column("deprecated_by", sa.String(length=255), nullable=True),
        sa.Column("deprecated_time", sa.BigInteger(), nullable=True),
        sa.Column("deprecation_reason", sa.Text(), nullable=True),
        sa.Column("replaced_by", sa.String(length=255), nullable=True),
        sa.Column("retired_by", sa.String(length=255), nullable=True),
        sa.Column("retired_time", sa.BigInteger(), nullable=True),
        sa.Column("retirement_reason", sa.Text(), nullable=True),
        sa.Column("family_name", sa.String(length=255), nullable=True),
        sa.Column("version_key", sa.String(length=255), nullable=True),
    )


_NEW_INDEXES = {
    "ix_features_owner_feature_name": ["owner", "feature_name"],
    "ix_features_family_name_version_key": ["family_name", "version_key"],
}


def upgrade() -> None:
    # owner stays nullable: code predating it, still serving during a rolling upgrade,
    # inserts rows without it. tags defaults to {} for the same reason.
    with op.batch_alter_table("features", schema=None) as batch_op:
        for column in _new_columns():
            batch_op.add_column(column)
        for name, columns in _NEW_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    _backfill()
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


def _backfill() -> None:
    connection = op.get_bind()
    features = sa.table(
        "features", sa.column("id", sa.Integer), sa.column("feature_name", sa.String),
        sa.column("created_by", sa.String), sa.column("owner", sa.String),
        sa.column("family_name", sa.String), sa.column("version_key", sa.String),
    )  # fmt: skip
    connection.execute(features.update().values(owner=features.c.created_by))
    versions = []
    for feature_id, name in connection.execute(sa.select(features.c.id, features.c.feature_name)):
        match = _NAME.fullmatch(name)
        if match is None:
            raise RuntimeError(f"Feature {name!r} has no valid name; fix it before upgrading.")
        digits = str(int(match["n"]))  # the sort key of domain.versions.version_key
        versions.append(
            {"row_id": feature_id, "family": match["family"], "key": f"{len(digits):03d}{digits}"}
        )
    if versions:  # one statement, executed for every row
        connection.execute(
            features.update()
            .where(features.c.id == sa.bindparam("row_id"))
            .values(family_name=sa.bindparam("family"), version_key=sa.bindparam("key")),
            versions,
        )


def downgrade() -> None:
    op.drop_index("ix_feature_changes_feature_id_id", table_name="feature_changes")
    op.drop_table("feature_changes")
    op.drop_index("ix_feature_tags_key_value", table_name="feature_tags")
    op.drop_table("feature_tags")
    with op.batch_alter_table("features", schema=None) as batch_op:
        for name in _NEW_INDEXES:
            batch_op.drop_index(name)
        for column in reversed(_new_columns()):
            batch_op.drop_column(column.name)
