"""Response and query shapes of comments on features (SPEC §10); the request's shape is in
``shapes.comment_schemas`` (the console loads it too), and both take the comment's fields
from its field table (``domain.comments``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from feature_gateway.domain.comments import COMMENT_FIELDS
from feature_gateway.shapes.feature_schemas import response_field
from feature_gateway.shapes.page_schemas import PageFields, PageQueryFields
from feature_gateway.shapes.role_schemas import UserRole
from feature_gateway.shapes.schema_fields import Credential

_AUTHENTICATED = (
    "true when the author was a verified principal, false when the name was claimed (trust mode)"
)
CommentSchema: Any = Schema.from_dict(
    {
        "comment_id": fields.Integer(
            required=True,
            metadata={"description": "Unique; comments are numbered in the order written"},
        ),
        "feature_name": fields.String(required=True),
        **{field.name: response_field(field) for field in COMMENT_FIELDS},
        "author_role": fields.String(
            required=True, metadata={"description": "The role it was written in"}
        ),
        "authenticated": fields.Boolean(required=True, metadata={"description": _AUTHENTICATED}),
        "credential": Credential(),
        "created_time": fields.Integer(
            required=True, metadata={"description": "Epoch milliseconds"}
        ),
    },
    name="CommentSchema",
)


class CommentEnvelopeSchema(Schema):
    comment = fields.Nested(CommentSchema, required=True)


class CommentsQuerySchema(PageQueryFields):
    user_role = UserRole()


class CommentPageSchema(PageFields):
    feature_name = fields.String(required=True)
    comments = fields.List(
        fields.Nested(CommentSchema), required=True, metadata={"description": "Oldest first"}
    )
