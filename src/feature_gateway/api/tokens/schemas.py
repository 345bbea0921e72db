"""Request and response shapes of the token management endpoints (SPEC §7)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from feature_gateway.domain.lifecycle import Role
from feature_gateway.domain.tokens import (
    MAX_EXPIRES_TIME,
    MAX_TOKEN_GROUPS,
    TOKEN_ID_PATTERN,
    TOKEN_PATTERN,
)
from feature_gateway.shapes.role_schemas import UserRole
from feature_gateway.shapes.schema_fields import (
    MAX_NOTE_LENGTH,
    Actor,
    Choice,
    JsonInteger,
    StrictSchema,
    Text,
)

_TIME = {"description": "Epoch milliseconds"}


class TokenCreateSchema(StrictSchema):
    principal = Actor(
        required=True, metadata={"description": "Who the token identifies", "example": "alice"}
    )
    roles = fields.List(
        Choice(Role),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "Roles the token may act in (one or more)"},
    )
    groups = fields.List(
        Actor(metadata={"description": "A group's name (the rule of a person's name)"}),
        validate=validate.Length(max=MAX_TOKEN_GROUPS),
        metadata={
            "description": "Teams the token's holder belongs to (ownership reads them); "
            f"at most {MAX_TOKEN_GROUPS}, each a name as a principal's",
            "example": ["growth"],
        },
    )
    expires_time = JsonInteger(
        validate=validate.Range(min=1, max=MAX_EXPIRES_TIME),
        metadata={"description": "When the token stops working (epoch ms, in the future)"},
    )
    description = Text(MAX_NOTE_LENGTH, metadata={"description": "What the token is for"})
    user_role = UserRole()


class TokenMetadataSchema(Schema):
    token_id = fields.String(required=True, metadata={"pattern": TOKEN_ID_PATTERN})
    principal = fields.String(required=True)
    roles = fields.List(Choice(Role), required=True)
    groups = fields.List(fields.String(), required=True)
    description = fields.String(required=True, allow_none=True)
    created_time = fields.Integer(required=True, metadata=_TIME)
    created_by = fields.String(required=True)
    expires_time = fields.Integer(required=True, allow_none=True, metadata=_TIME)
    last_used_time = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Epoch milliseconds; refreshed at most once a minute"},
    )
    revoked_time = fields.Integer(required=True, allow_none=True, metadata=_TIME)


class IssuedTokenSchema(Schema):
    token = fields.String(
        required=True,
        metadata={
            "description": "The token itself: shown this once, never stored",
            "pattern": f"^{TOKEN_PATTERN.pattern}$",
        },
    )
    metadata = fields.Nested(TokenMetadataSchema, required=True)


class TokenEnvelopeSchema(Schema):
    metadata = fields.Nested(TokenMetadataSchema, required=True)


class TokenListSchema(Schema):
    tokens = fields.List(fields.Nested(TokenMetadataSchema), required=True)


TOKEN_ID_PATH_PARAMETER: dict[str, Any] = {
    "in": "path",
    "name": "token_id",
    "required": True,
    "description": "The token's id (its `token_id`, also the part after `fmg_`)",
    "schema": {"type": "string", "pattern": TOKEN_ID_PATTERN},
}
CREATE_EXAMPLE = {
    "principal": "alice",
    "roles": ["developer"],
    "groups": ["growth"],
    "description": "alice's laptop",
}
