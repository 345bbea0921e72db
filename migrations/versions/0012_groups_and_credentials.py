"""single sign-on (SPEC §12): groups on API tokens, the credential of every audit entry

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

- ``api_tokens.groups``: the teams a token's holder belongs to, a JSON list of names;
  existing tokens belong to none (``[]``).
- ``feature_audit.credential`` and ``feature_changes.credential``: how the actor was
  verified, ``token:<token_id>`` or ``oidc:<issuer>``, null when the name was claimed.
  Existing entries stay null: no entry recorded which token was used (only the principal's
  name and ``authenticated``), and a principal may hold several tokens, so guessing one
  would forge what the audit trail certifies. ``authenticated`` still tells their kind.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREDENTIAL_LENGTH = 1024


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("groups", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    for table in ("feature_audit", "feature_changes"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("credential", sa.String(length=_CREDENTIAL_LENGTH), nullable=True)
            )


def downgrade() -> None:
    for table in ("feature_changes", "feature_audit"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("credential")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("groups")
