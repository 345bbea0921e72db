"""Where a request says which role it acts as: the ``user_role`` field, parameter or header.

The value is checked by ``api.roles`` (against the caller ``web.caller`` knows), not by
these schemas.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields

from feature_gateway.domain.lifecycle import Role
from feature_gateway.framework_adapter import PlainLoadSchema
from feature_gateway.shapes.schema_fields import FeatureName, StrictSchema

ROLE_HEADER = "X-User-Role"


def UserRole(**kwargs: Any) -> fields.String:
    metadata = {
        "description": "Acting role",
        "enum": [r.value for r in Role],
        "example": Role.DEVELOPER.value,
        **kwargs.pop("metadata", {}),
    }
    return fields.String(metadata=metadata, **kwargs)


class RoleBodySchema(StrictSchema):
    user_role = UserRole(required=True)


class FeatureRefSchema(PlainLoadSchema, RoleBodySchema):
    # A large body is loaded as its outline where that answers alike (api.body_outline).
    outline_answers = True
    # A body of its fields only passes the unknown fields' count as it is: loaded by its
    # fields alone (a read by name as POST, and the writes naming one feature).
    PRE_LOADS_AS_IS = frozenset({"_few_unknown_fields"})

    feature_name = FeatureName(required=True)


class RoleQuerySchema(StrictSchema):
    user_role = UserRole()


class RoleHeaderSchema(Schema):
    """The role header GET endpoints accept instead of the query parameter (documentation)."""

    class Meta:
        unknown = EXCLUDE

    user_role = UserRole(
        data_key=ROLE_HEADER,
        metadata={
            "description": "Acting role, used when the user_role query parameter is not "
            "given (which wins if both are)"
        },
    )
