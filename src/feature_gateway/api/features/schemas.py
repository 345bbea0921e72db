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
    choices_pattern,
    time_bound,
)
from feature_gateway.api.feature_schemas import (
    FeatureMetadataSchema,
    FeatureRecordSchema,
    request_schema,
)
from feature_gateway.api.framework_adapter import DirectDumpSchema
from feature_gateway.api.page_schemas import (
    PageBodyFields,
    PageFields,
    PageQueryFields,
    page_limit,
)
from feature_gateway.api.role_schemas import FeatureRefSchema, RoleBodySchema, UserRole
from feature_gateway.api.schema_fields import (
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
from feature_gateway.api.workflow.endpoints import WORKFLOW_ENDPOINTS
from feature_gateway.domain.feature_fields import CREATE_FIELDS, EDITABLE_FIELDS
from feature_gateway.domain.lifecycle import Status
from feature_gateway.domain.listing import (
    LIST_FILTERS,
    MAX_PAGE_SIZE,
    SORT_ORDERS,
    Filter,
    FilterKind,
)
from feature_gateway.domain.text import NUL_FREE_TEXT_PATTERN

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


# The filters whose field is the same in a body and a query string come first, with sort.
_SAME_IN_BODY_AND_QUERY = (FilterKind.EQUALS, FilterKind.SEARCH)
_ANY_OF = "; one value or several: any of them matches"


def _same_field(list_filter: Filter) -> fields.Field[Any]:
    description = {"description": list_filter.description}
    if list_filter.kind is FilterKind.SEARCH:
        return fields.String(
            validate=[no_nul, validate.Length(min=1, max=255)],
            metadata={**description, "pattern": NUL_FREE_TEXT_PATTERN},
        )
    return RecordedActor(metadata=description)  # an actor or owner name


def _filter_field(list_filter: Filter, *, body: bool) -> fields.Field[Any]:
    """The field of ``list_filter`` in a JSON body, or else in a query string."""
    kind, choices = list_filter.kind, list_filter.choices
    if kind in _SAME_IN_BODY_AND_QUERY:
        return _same_field(list_filter)
    if kind is FilterKind.FLAG:
        return (JsonBoolean if body else QueryBoolean)(load_default=False)
    if kind is FilterKind.TAGS:
        return TagFilterBody() if body else TagFilterQuery(data_key="tag")
    if list_filter.on_time:
        integer = JsonInteger if body else QueryInteger
        return time_bound(integer, list_filter.description or list_filter.name)
    description = list_filter.description
    options = {"metadata": {"description": description + _ANY_OF}} if description else {}
    if body:
        return OneOrMany(Choice(choices) if choices else RecordedActor(), **options)
    if choices:
        return CommaSeparated(Choice(choices), choices_pattern(choices), **options)
    return CommaSeparated(FILTER_NAME, NAMES_PATTERN, **options)


def _filter_fields(*, body: bool) -> dict[str, fields.Field[Any]]:
    return {
        f.name: _filter_field(f, body=body)
        for f in LIST_FILTERS
        if f.kind not in _SAME_IN_BODY_AND_QUERY
    }


_ListFilterFields = StrictSchema.from_dict(
    {
        **{f.name: _same_field(f) for f in LIST_FILTERS if f.kind in _SAME_IN_BODY_AND_QUERY},
        "sort": fields.String(load_default="feature_name", validate=validate.OneOf(SORT_ORDERS)),
    },
    name="ListFilterFields",
)


class _ListBody(RoleBodySchema, PageBodyFields, _ListFilterFields):  # type: ignore[misc,valid-type]
    """The list filters as a JSON body (POST)."""


class _ListQuery(PageQueryFields, _ListFilterFields):  # type: ignore[misc,valid-type]
    """The list filters as query parameters (GET); several values are comma-separated."""

    user_role = UserRole()


ListFiltersSchema = _ListBody.from_dict(_filter_fields(body=True), name="ListFiltersSchema")
ListFiltersQuerySchema = _ListQuery.from_dict(
    _filter_fields(body=False), name="ListFiltersQuerySchema"
)


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
