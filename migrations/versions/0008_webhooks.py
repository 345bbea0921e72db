"""webhooks: subscriptions, their deliveries (the outbox), the feed's feature-name index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index(
        "ix_feature_changes_feature_name_id",
        "feature_changes",
        ["feature_name", "id"],
        unique=False,
    )
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_webhooks")),
    )
    op.create_index("ix_webhooks_created_time", "webhooks", ["created_time"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", _LOG_ID, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.String(length=32), nullable=False),
        sa.Column("change_id", _LOG_ID, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_time", sa.BigInteger(), nullable=True),
        sa.Column("delivered_time", sa.BigInteger(), nullable=True),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["feature_changes.id"],
            name=op.f("fk_webhook_deliveries_change_id_feature_changes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.webhook_id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_webhook_deliveries")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_time",
        "webhook_deliveries",
        ["state", "next_attempt_time"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_id_delivery_id",
        "webhook_deliveries",
        ["webhook_id", "delivery_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_webhook_id_delivery_id", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_state_next_attempt_time", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhooks_created_time", table_name="webhooks")
    op.drop_table("webhooks")
    op.drop_index("ix_feature_changes_feature_name_id", table_name="feature_changes")
