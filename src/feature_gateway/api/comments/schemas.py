"""Request and response shapes of comments on features (SPEC §10); the request's fields
and their response fields come from the comment's field table (``domain.comments``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from feature_gateway.domain.comments import COMMENT_FIELDS
from feature_gateway.shapes.feature_schemas import request_field, response_field
from feature_gateway.shapes.page_schemas import PageFields, PageQueryFields
from feature_gateway.shapes.role_schemas import RoleBodySchema, UserRole

# body and author (an actor field: bound to the principal in token mode), and user_role.
CreateCommentSchema: Any = RoleBodySchema.from_dict(
    {field.name: request_field(field, required=True) for field in COMMENT_FIELDS},
    name="CreateCommentSchema",
)

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
