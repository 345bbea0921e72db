"""Request and response shapes of the feature metadata endpoints."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from feature_gateway.api.common_schemas import (
    MAX_DESCRIPTION_LENGTH,
    Actor,
    Choice,
    FeatureMetadataSchema,
    FeatureName,
    FeatureRefSchema,
    PageQueryFields,
    Query,
    RoleQuerySchema,
    StrictSchema,
    Text,
    UserRole,
)
from feature_gateway.domain.lifecycle import UPDATABLE_FIELDS, DataType, FeatureType, Status
from feature_gateway.domain.listing import SORT_ORDERS


class CreateFeatureSchema(FeatureRefSchema):
    feature_type = Choice(FeatureType, required=True)
    feature_data_type = Choice(DataType, required=True)
    query = Query(required=True)
    description = Text(MAX_DESCRIPTION_LENGTH, required=True)
    created_by = Actor(required=True)


def _status_is_not_editable(_value: Any) -> None:
    raise ValidationError(
        "status cannot be set through update; use the workflow endpoints "
        "(ready_test, test, approve, reject, fix)."
    )


class UpdateFeatureSchema(FeatureRefSchema):
    last_updated_by = Actor(required=True)
    description = Text(MAX_DESCRIPTION_LENGTH)
    query = Query()
    feature_type = Choice(FeatureType)
    feature_data_type = Choice(DataType)
    status = fields.Raw(
        load_only=True,
        validate=_status_is_not_editable,
        metadata={"description": "Never accepted; present to explain the 422"},
    )

    @validates_schema
    def _something_to_update(self, data: dict[str, Any], **_: Any) -> None:
        if not any(field in data for field in UPDATABLE_FIELDS):
            raise ValidationError(
                f"Nothing to update: send at least one of {', '.join(UPDATABLE_FIELDS)}."
            )


class DeleteFeatureSchema(FeatureRefSchema):
    deleted_by = Actor(required=True)
    deletion_reason = Text(MAX_DESCRIPTION_LENGTH, required=True)


class ListFiltersSchema(PageQueryFields):
    user_role = UserRole()
    status = Choice(Status)
    feature_type = Choice(FeatureType)
    feature_data_type = Choice(DataType)
    created_by = fields.String(validate=validate.Length(min=1, max=255))
    search = fields.String(validate=validate.Length(min=1, max=255))
    include_deleted = fields.Boolean(load_default=False)
    sort = fields.String(load_default="feature_name", validate=validate.OneOf(SORT_ORDERS))


class DeployedQuerySchema(PageQueryFields):
    user_role = UserRole()


class FeaturePageSchema(Schema):
    items = fields.List(fields.Nested(FeatureMetadataSchema), data_key="metadata")
    total_count = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class DeployedFeaturesSchema(Schema):
    items = fields.List(fields.Nested(FeatureMetadataSchema), data_key="features")
    total_count = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class AuditEntrySchema(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    trigger = fields.String()
    actor = fields.String()
    actor_role = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    timestamp = fields.Integer(metadata={"description": "Epoch milliseconds"})


class HistorySchema(Schema):
    feature_name = fields.String()
    history = fields.List(fields.Nested(AuditEntrySchema))


class HistoryQuerySchema(RoleQuerySchema):
    pass


class FeatureNamePathSchema(Schema):
    feature_name = FeatureName(required=True)


class FeatureRecordSchema(StrictSchema):
    """One feature in the import/export file (``data/feature_metadata.json``)."""

    feature_name = FeatureName(required=True)
    feature_type = Choice(FeatureType, required=True)
    feature_data_type = Choice(DataType, required=True)
    query = Query(required=True)
    description = Text(MAX_DESCRIPTION_LENGTH, required=True)
    status = Choice(Status, load_default=Status.DRAFT.value)
    created_by = Actor(required=True)
    revision = fields.Integer(load_only=True)  # exported for information; never imported
    created_time = fields.Integer(allow_none=True)
    updated_time = fields.Integer(allow_none=True)
    last_updated_by = Actor(allow_none=True)
    submitted_by = Actor(allow_none=True)
    submitted_time = fields.Integer(allow_none=True)
    tested_by = Actor(allow_none=True)
    tested_time = fields.Integer(allow_none=True)
    test_result = fields.String(
        allow_none=True,
        validate=validate.OneOf([Status.TEST_SUCCEEDED.value, Status.TEST_FAILED.value]),
    )
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
