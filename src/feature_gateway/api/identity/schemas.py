"""The shape of ``GET /whoami`` (SPEC §12)."""

from __future__ import annotations

from marshmallow import Schema, fields

from feature_gateway.config import AUTH_MODES
from feature_gateway.domain.lifecycle import Role
from feature_gateway.shapes.schema_fields import Choice, Credential


class WhoamiSchema(Schema):
    principal = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Who the caller is: an API token's principal or the name the "
            "identity provider vouches for; null in trust mode, where names are claimed "
            "in each write's actor fields",
            "example": "alice",
        },
    )
    roles = fields.List(
        Choice(Role),
        required=True,
        metadata={
            "description": "The roles the caller may act in (a token's roles, or those its "
            "groups map to through OIDC_ROLE_MAP); in trust mode the role the request "
            "claims (user_role or X-User-Role), if any",
            "example": ["developer"],
        },
    )
    groups = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "The caller's groups (a token's, or the provider's groups claim); "
            "empty in trust mode",
            "example": ["ml-developers"],
        },
    )
    credential = Credential()
    auth = Choice(
        AUTH_MODES,
        required=True,
        metadata={"description": "The service's AUTH_MODE", "example": "token"},
    )
