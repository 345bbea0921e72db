"""Request and response shapes of the feature metadata endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from feature_gateway.api.catalog_fields import (
    FILTER_NAME,
    NAMES_PATTERN,
    CommaSeparated,
    OneOrMany,
    TagFilterBody,
    TagFilterQuery,
    Tags,
    choices_pattern,
    time_bound,
)
from feature_gateway.api.common_schemas import (
    MAX_DESCRIPTION_LENGTH,
    Actor,
    Choice,
    FeatureMetadataSchema,
    FeatureName,
    FeatureRefSchema,
    JsonBoolean,
    JsonInteger,
    PageBodyFields,
    PageQueryFields,
    Query,
    QueryBoolean,
    QueryInteger,
    RoleBodySchema,
    ScalarRowSchema,
    StrictSchema,
    Text,
    UserRole,
    no_nul,
    page_limit,
)
from feature_gateway.domain.lifecycle import (
    TEST_RESULTS,
    TRANSIENT_STATES,
    UPDATABLE_FIELDS,
    DataType,
    FeatureType,
    Status,
)
from feature_gateway.domain.listing import MAX_PAGE_SIZE, SORT_ORDERS
from feature_gateway.domain.text import NUL_FREE_TEXT_PATTERN

_OWNER = "The team or person responsible for the feature; created_by when not given"


class CreateFeatureSchema(FeatureRefSchema):
    feature_type = Choice(FeatureType, required=True)
    feature_data_type = Choice(DataType, required=True)
    query = Query(required=True)
    description = Text(MAX_DESCRIPTION_LENGTH, required=True)
    created_by = Actor(required=True)
    owner = Actor(metadata={"description": _OWNER, "example": "pricing-team"})
    tags = Tags()


_STATUS_NOT_EDITABLE = (
    "status cannot be set through update; use the workflow endpoints "
    "(ready_test, test, approve, reject, fix)."
)


class UpdateFeatureSchema(FeatureRefSchema):
    OPENAPI_RULES: ClassVar[dict[str, Any]] = {
        "anyOf": [{"required": [field]} for field in UPDATABLE_FIELDS],
    }

    last_updated_by = Actor(required=True)
    description = Text(MAX_DESCRIPTION_LENGTH)
    query = Query()
    feature_type = Choice(FeatureType)
    feature_data_type = Choice(DataType)
    owner = Actor(metadata={"description": "The team or person responsible for the feature"})
    tags = Tags(metadata={"description": "Replaces all of the feature's tags"})

    @pre_load
    def _status_is_not_editable(self, data: Any, **_: Any) -> Any:
        # Any unknown field is a 422; this one gets a message saying where status changes.
        if isinstance(data, Mapping) and "status" in data:
            raise ValidationError(_STATUS_NOT_EDITABLE, "status")
        return data

    @validates_schema
    def _something_to_update(self, data: dict[str, Any], **_: Any) -> None:
        if not any(field in data for field in UPDATABLE_FIELDS):
            raise ValidationError(
                f"Nothing to update: send at least one of {', '.join(UPDATABLE_FIELDS)}."
            )


class DeleteFeatureSchema(FeatureRefSchema):
    deleted_by = Actor(required=True)
    deletion_reason = Text(MAX_DESCRIPTION_LENGTH, required=True)


class _ListFilterFields(StrictSchema):
    created_by = Actor(metadata={"description": "Only features created by this actor"})
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
    owner = OneOrMany(Actor(), metadata={"description": _OWNER_FILTER})
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


class _PageFields(Schema):
    total_count = fields.Integer(required=True, metadata={"description": "All matches"})
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class FeaturePageSchema(_PageFields):
    items = fields.List(fields.Nested(FeatureMetadataSchema), data_key="metadata", required=True)


class DeployedFeaturesSchema(_PageFields):
    # The seed's key for this list.
    items = fields.List(fields.Nested(FeatureMetadataSchema), data_key="features", required=True)


class AuditEntrySchema(ScalarRowSchema):
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


class HistorySchema(Schema):
    feature_name = fields.String(required=True)
    history = fields.List(fields.Nested(AuditEntrySchema), required=True)


class FeatureRecordSchema(StrictSchema):
    """One feature in the import/export file (``data/feature_metadata.json``)."""

    feature_name = FeatureName(required=True)
    feature_type = Choice(FeatureType, required=True)
    feature_data_type = Choice(DataType, required=True)
    query = Query(required=True)
    description = Text(MAX_DESCRIPTION_LENGTH, required=True)
    # APPROVED lasts only inside an approve request; a stored row is never in it.
    status = Choice(
        [s for s in Status if s not in TRANSIENT_STATES], load_default=Status.DRAFT.value
    )
    created_by = Actor(required=True)
    revision = fields.Integer(load_only=True)  # exported for information; never imported
    created_time = fields.Integer(allow_none=True)
    updated_time = fields.Integer(allow_none=True)
    last_updated_by = Actor(allow_none=True)
    submitted_by = Actor(allow_none=True)
    submitted_time = fields.Integer(allow_none=True)
    tested_by = Actor(allow_none=True)
    tested_time = fields.Integer(allow_none=True)
    test_result = Choice(TEST_RESULTS, allow_none=True)
    test_notes = fields.String(allow_none=True)
    approved_by = Actor(allow_none=True)
    approved_time = fields.Integer(allow_none=True)
    approval_notes = fields.String(allow_none=True)
    rejected_by = Actor(allow_none=True)
    rejected_time = fields.Integer(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    deployed_by = Actor(allow_none=True)
    deployed_time = fields.Integer(allow_none=True)
    fixed_by = Actor(allow_none=True)
    fixed_time = fields.Integer(allow_none=True)
    fix_description = fields.String(allow_none=True)
    deleted_by = Actor(allow_none=True)
    deleted_time = fields.Integer(allow_none=True)
    deletion_reason = fields.String(allow_none=True)
    owner = Actor(allow_none=True)  # created_by when null or absent
    tags = Tags(allow_none=True)
    previous_version = FeatureName(allow_none=True)
    deprecated_by = Actor(allow_none=True)
    deprecated_time = fields.Integer(allow_none=True)
    deprecation_reason = fields.String(allow_none=True)
    replaced_by = FeatureName(allow_none=True)
    retired_by = Actor(allow_none=True)
    retired_time = fields.Integer(allow_none=True)
    retirement_reason = fields.String(allow_none=True)
