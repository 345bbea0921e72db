"""each feature row's JSON stored with it (the list page's items)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

- ``features.fields_json``: the row's fields as one JSON object, orjson's text of them
  (``db.feature_json``), written with the row by the write path; the list page joins the
  stored texts instead of having the database write 100 objects a page.
- ``features.fields_json_revision``: the revision it was written at. The page serves the
  stored text only where it is the row's revision, and has the database write the object
  otherwise: rows written by code from before this revision (a rolling upgrade) are never
  served a stale text.
- The backfill: every row's text written by the database, as the page wrote it until now
  (the same bytes: ``tests/migrations/test_stored_json_migration.py``).

The backfill is ``db.feature_json.rewrite_stored_json``, app code: it writes the fields of
the field table whose columns the table has at the time it runs, so this migration run by
later code writes the fields of this revision, and a later migration that adds, drops,
renames or retypes a field's column (or reorders the field table) calls it again as the
last step of its upgrade and of its downgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from feature_gateway.db.feature_json import rewrite_stored_json

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fields_json", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("fields_json_revision", sa.Integer(), nullable=True))
    rewrite_stored_json(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_column("fields_json_revision")
        batch_op.drop_column("fields_json")
