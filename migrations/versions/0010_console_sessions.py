"""console sessions: one row per signed-in browser, so that signing out ends it everywhere

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

The console's cookie used to be the whole session: signing out cleared the browser's copy,
and a copy taken before stayed valid for up to 8 hours. The cookie now names a row of this
table, which sign-out deletes (SPEC §10), on every worker and host alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=255), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("expires_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_console_sessions")),
    )
    op.create_index(
        "ix_console_sessions_expires_time", "console_sessions", ["expires_time"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_console_sessions_expires_time", table_name="console_sessions")
    op.drop_table("console_sessions")
