"""identity (SPEC §7): API tokens (hashes only), authenticated audit entries, definition changes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

- ``api_tokens``: one row per token; the token itself is never stored, only its SHA-256.
- ``feature_audit.authenticated``: existing entries were claims (trust mode): false.
- ``feature_definition_changes``: who ever changed a definition field (separation of
  duties). Filled for existing features with what the database knows: the actor of every
  ``reset`` (a critical field changed after DRAFT), and the last editor where it is not the
  creator (maybe a description-only edit: the rule errs on the side of four eyes).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=255), nullable=False),
        sa.Column("roles", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("expires_time", sa.BigInteger(), nullable=True),
        sa.Column("last_used_time", sa.BigInteger(), nullable=True),
        sa.Column("revoked_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_api_tokens")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_api_tokens_created_time", ["created_time"], unique=False)

    with op.batch_alter_table("feature_audit", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("authenticated", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "feature_definition_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
        sa.Column("changed_time", sa.BigInteger(), nullable=False),
        sa.Column("changed_fields", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["feature_id"],
            ["features.id"],
            name=op.f("fk_feature_definition_changes_feature_id_features"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_definition_changes")),
    )
    with op.batch_alter_table("feature_definition_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feature_definition_changes_feature_id", ["feature_id"], unique=False
        )
    _infer_definition_changes()


def _infer_definition_changes() -> None:
    """Two INSERT … SELECTs, the same on SQLite and PostgreSQL."""
    op.execute(
        "INSERT INTO feature_definition_changes (feature_id, changed_by, changed_time)"
        " SELECT feature_id, actor, timestamp FROM feature_audit WHERE trigger = 'reset'"
        " ORDER BY id"
    )
    op.execute(
        "INSERT INTO feature_definition_changes (feature_id, changed_by, changed_time)"
        " SELECT id, last_updated_by, updated_time FROM features"
        " WHERE last_updated_by IS NOT NULL AND lower(last_updated_by) <> lower(created_by)"
        " ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table("feature_definition_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_definition_changes_feature_id")
    op.drop_table("feature_definition_changes")
    with op.batch_alter_table("feature_audit", schema=None) as batch_op:
        batch_op.drop_column("authenticated")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_api_tokens_created_time")
    op.drop_table("api_tokens")
