"""Request and response shapes of the catalog endpoints: versions, change log, diff,
usage."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from feature_gateway.domain.changes import ChangeAction
from feature_gateway.domain.usage import DEFAULT_USAGE_DAYS, MAX_USAGE_DAYS
from feature_gateway.shapes.feature_schemas import FeatureMetadataSchema
from feature_gateway.shapes.role_schemas import UserRole
from feature_gateway.shapes.schema_fields import (
    Choice,
    Credential,
    FeatureName,
    QueryInteger,
    StrictSchema,
)


class VersionsSchema(Schema):
    feature = fields.String(
        required=True, metadata={"description": "`<view>:<feature>`, shared by its versions"}
    )
    versions = fields.List(
        fields.Nested(FeatureMetadataSchema),
        required=True,
        metadata={"description": "Every version, any status, by version number"},
    )


class FieldChangeSchema(Schema):
    from_ = fields.Raw(data_key="from", attribute="from", required=True, allow_none=True)
    to = fields.Raw(required=True, allow_none=True)


def _field_changes(description: str) -> fields.Dict:
    """``{field: {"from": old, "to": new}}`` under the key ``fields``."""
    return fields.Dict(
        keys=fields.String(),
        values=fields.Nested(FieldChangeSchema),
        required=True,
        data_key="fields",
        attribute="fields",
        metadata={"description": description},
    )


class ChangeEntrySchema(Schema):
    revision = fields.Integer(required=True, metadata={"description": "After this change"})
    action = Choice(ChangeAction, required=True)
    actor = fields.String(required=True)
    actor_role = fields.String(
        required=True, allow_none=True, metadata={"description": "null for imported features"}
    )
    authenticated = fields.Boolean(
        required=True,
        metadata={"description": "true when the actor was a verified principal, false when "
                  "the name was claimed (trust mode)"},
    )  # fmt: skip
    credential = Credential()
    timestamp = fields.Integer(required=True, metadata={"description": "Epoch milliseconds"})
    fields_ = _field_changes("Every field whose value changed: {field: {from, to}}")


class ChangesSchema(Schema):
    feature_name = fields.String(required=True)
    changes = fields.List(fields.Nested(ChangeEntrySchema), required=True)


class DiffQuerySchema(StrictSchema):
    user_role = UserRole()
    against = FeatureName(
        metadata={"description": "The version to compare with; default: previous_version"}
    )


class DiffSchema(Schema):
    feature_name = fields.String(required=True)
    against = fields.String(required=True)
    fields_ = _field_changes(
        "The definition fields that differ: {field: {from: the compared version's value, "
        "to: this one's}}"
    )
    query_diff = fields.String(
        required=True, metadata={"description": "Unified diff of the two queries, or empty"}
    )


class UsageQuerySchema(StrictSchema):
    user_role = UserRole()
    days = QueryInteger(
        load_default=DEFAULT_USAGE_DAYS,
        validate=validate.Range(min=1, max=MAX_USAGE_DAYS),
        metadata={"description": "The last N UTC days, today included"},
    )


class ConsumerUsageSchema(Schema):
    principal = fields.String(
        required=True,
        metadata={"description": "Who read it: a principal (token mode), or 'anonymous'"},
    )
    reads = fields.Integer(required=True, metadata={"description": "Requests that read it"})
    first_read_time = fields.Integer(required=True, metadata={"description": "Epoch ms"})
    last_read_time = fields.Integer(required=True, metadata={"description": "Epoch ms"})


class UsageSchema(Schema):
    feature_name = fields.String(required=True)
    days = fields.Integer(required=True)
    reads = fields.Integer(required=True, metadata={"description": "All consumers' reads"})
    consumers = fields.List(
        fields.Nested(ConsumerUsageSchema),
        required=True,
        metadata={
            "description": "The busiest first; counts reach the database every "
            "USAGE_FLUSH_S seconds"
        },
    )
