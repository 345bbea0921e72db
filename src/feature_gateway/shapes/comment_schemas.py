"""A comment's request shape (SPEC §10), built from its field table (``domain.comments``):
the API's endpoint and the console's form both load it."""

from __future__ import annotations

from typing import Any

from feature_gateway.domain.comments import COMMENT_FIELDS
from feature_gateway.shapes.feature_schemas import request_field
from feature_gateway.shapes.role_schemas import RoleBodySchema

# body and author (an actor field: bound to the principal in token mode), and user_role.
CreateCommentSchema: Any = RoleBodySchema.from_dict(
    {field.name: request_field(field, required=True) for field in COMMENT_FIELDS},
    name="CreateCommentSchema",
)
