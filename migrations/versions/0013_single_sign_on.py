"""single sign-on at the console (SPEC §12): sign-ins under way, the session's ID token

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

- ``oidc_sign_ins``: one row per browser sent to the OpenID provider and not yet back: the
  ``state`` it carries, and what the browser never holds (the nonce, the PKCE code verifier).
  The callback deletes the row it takes, so a ``state`` works once, even replayed with a
  copy of the cookie taken before.
- ``console_sessions.id_token``: a single sign-on session's ID token, the ``id_token_hint``
  of the provider's sign-out (RP-initiated logout); null for token and trust-mode sessions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_sign_ins",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("return_to", sa.String(length=2048), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("expires_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_oidc_sign_ins")),
    )
    op.create_index(
        "ix_oidc_sign_ins_expires_time", "oidc_sign_ins", ["expires_time"], unique=False
    )
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("id_token", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("id_token")
    op.drop_index("ix_oidc_sign_ins_expires_time", table_name="oidc_sign_ins")
    op.drop_table("oidc_sign_ins")
