"""Request and response shapes of the feature metadata endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from feature_gateway.domain.feature_fields import CREATE_FIELDS, EDITABLE_FIELDS
from feature_gateway.domain.lifecycle import Status
from feature_gateway.domain.listing import MAX_PAGE_SIZE
from feature_gateway.framework_adapter import DirectDumpSchema
from feature_gateway.shapes.feature_schemas import (
    FeatureMetadataSchema,
    FeatureRecordSchema,
    request_schema,
)
from feature_gateway.shapes.page_schemas import (
    PageFields,
    PageQueryFields,
    page_limit,
)
from feature_gateway.shapes.role_schemas import FeatureRefSchema, UserRole
from feature_gateway.shapes.schema_fields import (
    Actor,
    Choice,
    Credential,
    QueryInteger,
)
from feature_gateway.shapes.trigger_endpoints import WORKFLOW_ENDPOINTS

__all__ = ["FeatureRecordSchema"]  # the import format, read by the CLI

CreateFeatureSchema = request_schema(FeatureRefSchema, CREATE_FIELDS, "CreateFeatureSchema")

_STATUS_NOT_EDITABLE = (
    "status cannot be set through update; use the workflow endpoints "
    f"({', '.join(endpoint.short_name for endpoint in WORKFLOW_ENDPOINTS)})."
)


class _UpdateRules(FeatureRefSchema):
    OPENAPI_RULES: ClassVar[dict[str, Any]] = {
        "anyOf": [{"required": [field]} for field in EDITABLE_FIELDS],
    }

    last_updated_by = Actor(required=True)

    @pre_load
    def _status_is_not_editable(self, data: Any, **_: Any) -> Any:
        # Any unknown field is a 422; this one gets a message saying where status changes.
        if isinstance(data, Mapping) and "status" in data:
            raise ValidationError(_STATUS_NOT_EDITABLE, "status")
        return data

    @validates_schema
    def _something_to_update(self, data: dict[str, Any], **_: Any) -> None:
        if not any(field in data for field in EDITABLE_FIELDS):
            raise ValidationError(
                f"Nothing to update: send at least one of {', '.join(EDITABLE_FIELDS)}."
            )


UpdateFeatureSchema = request_schema(
    _UpdateRules, EDITABLE_FIELDS, "UpdateFeatureSchema", required=False
)


class DeployedQuerySchema(PageQueryFields):
    # The prototype returned every deployed feature: its clients read one page, so the
    # default page is the largest one (total_count tells when there are more).
    limit = page_limit(QueryInteger, default=MAX_PAGE_SIZE)
    user_role = UserRole()
    at = QueryInteger(
        validate=validate.Range(min=0),
        metadata={
            "description": "Epoch ms, not in the future: the features served then (DEPLOYED "
            "or DEPRECATED), each as it was then (from the change log)"
        },
    )


class FeaturePageSchema(DirectDumpSchema, PageFields):
    items = fields.List(fields.Nested(FeatureMetadataSchema), data_key="metadata", required=True)


class DeployedFeaturesSchema(DirectDumpSchema, PageFields):
    # The seed's key for this list.
    items = fields.List(fields.Nested(FeatureMetadataSchema), data_key="features", required=True)


class AuditEntrySchema(DirectDumpSchema):
    from_status = Choice(
        Status,
        required=True,
        allow_none=True,
        metadata={"description": "null for the row that created the feature"},
    )
    to_status = Choice(Status, required=True)
    trigger = fields.String(required=True, metadata={"example": "submit"})
    actor = fields.String(required=True)
    actor_role = fields.String(
        required=True, allow_none=True, metadata={"description": "null for imported features"}
    )
    reason = fields.String(required=True, allow_none=True)
    timestamp = fields.Integer(required=True, metadata={"description": "Epoch milliseconds"})
    authenticated = fields.Boolean(
        required=True,
        metadata={
            "description": "true: the actor was a verified principal (token mode); false: "
            "the name was claimed (trust mode, imports)"
        },
    )
    credential = Credential()
    forced = fields.Boolean(
        required=True,
        metadata={
            "description": "true: the request overrode the trigger's guard (a retirement "
            'of a feature read in the quiet period, with "force")'
        },
    )


class HistorySchema(Schema):
    feature_name = fields.String(required=True)
    history = fields.List(fields.Nested(AuditEntrySchema), required=True)
