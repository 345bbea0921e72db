"""Request and response shapes of the feature metadata endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from feature_gateway.domain.feature_fields import CREATE_FIELDS, EDITABLE_FIELDS
from feature_gateway.domain.lifecycle import DataType, FeatureType, Status
from feature_gateway.domain.listing import MAX_PAGE_SIZE, SORT_ORDERS
from feature_gateway.domain.text import NUL_FREE_TEXT_PATTERN
from feature_gateway.framework_adapter import DirectDumpSchema
from feature_gateway.shapes.catalog_fields import (
    FILTER_NAME,
    NAMES_PATTERN,
    CommaSeparated,
    OneOrMany,
    TagFilterBody,
    TagFilterQuery,
    choices_pattern,
    time_bound,
)
from feature_gateway.shapes.feature_schemas import (
    FeatureMetadataSchema,
    FeatureRecordSchema,
    request_schema,
)
from feature_gateway.shapes.page_schemas import (
    PageBodyFields,
    PageFields,
    PageQueryFields,
    page_limit,
)
from feature_gateway.shapes.role_schemas import FeatureRefSchema, RoleBodySchema, UserRole
from feature_gateway.shapes.schema_fields import (
    Actor,
    Choice,
    JsonBoolean,
    JsonInteger,
    QueryBoolean,
    QueryInteger,
    RecordedActor,
    StrictSchema,
    no_nul,
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


class _ListFilterFields(StrictSchema):
    created_by = RecordedActor(metadata={"description": "Only features created by this actor"})
    search = fields.String(
        validate=[no_nul, validate.Length(min=1, max=255)],
        metadata={
            "description": "Case-insensitive substring of the name or description; "
            "% and _ match themselves",
            "pattern": NUL_FREE_TEXT_PATTERN,
        },
    )
    sort = fields.String(load_default="feature_name", validate=validate.OneOf(SORT_ORDERS))


_ANY_OF = "; one value or several: any of them matches"
_STATUS_FILTER = "Only features in this status (DELETED ones included when asked for)" + _ANY_OF
_OWNER_FILTER = "Only features owned by this team or person" + _ANY_OF


class ListFiltersSchema(RoleBodySchema, PageBodyFields, _ListFilterFields):
    """The list filters as a JSON body (POST)."""

    include_deleted = JsonBoolean(load_default=False)
    status = OneOrMany(Choice(Status), metadata={"description": _STATUS_FILTER})
    feature_type = OneOrMany(Choice(FeatureType))
    feature_data_type = OneOrMany(Choice(DataType))
    owner = OneOrMany(RecordedActor(), metadata={"description": _OWNER_FILTER})
    tags = TagFilterBody()
    created_after = time_bound(JsonInteger, "created_after")
    created_before = time_bound(JsonInteger, "created_before")
    updated_after = time_bound(JsonInteger, "updated_after")
    updated_before = time_bound(JsonInteger, "updated_before")


class ListFiltersQuerySchema(PageQueryFields, _ListFilterFields):
    """The list filters as query parameters (GET); several values are comma-separated."""

    user_role = UserRole()
    include_deleted = QueryBoolean(load_default=False)
    status = CommaSeparated(
        Choice(Status), choices_pattern(Status), metadata={"description": _STATUS_FILTER}
    )
    feature_type = CommaSeparated(Choice(FeatureType), choices_pattern(FeatureType))
    feature_data_type = CommaSeparated(Choice(DataType), choices_pattern(DataType))
    owner = CommaSeparated(FILTER_NAME, NAMES_PATTERN, metadata={"description": _OWNER_FILTER})
    tags = TagFilterQuery(data_key="tag")
    created_after = time_bound(QueryInteger, "created_after")
    created_before = time_bound(QueryInteger, "created_before")
    updated_after = time_bound(QueryInteger, "updated_after")
    updated_before = time_bound(QueryInteger, "updated_before")


class DeployedQuerySchema(PageQueryFields):
    # The prototype returned every deployed feature: its clients read one page, so the
    # default page is the largest one (total_count tells when there are more).
    limit = page_limit(QueryInteger, default=MAX_PAGE_SIZE)
    user_role = UserRole()


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


class HistorySchema(Schema):
    feature_name = fields.String(required=True)
    history = fields.List(fields.Nested(AuditEntrySchema), required=True)
