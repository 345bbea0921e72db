"""The feature list's filters, sort and page: as a JSON body (``POST /search_features``)
and as query parameters (``GET /get_all_feature_metadata``, the console's search form).

What each filter means is ``domain.listing.FeatureQuery``; these say how a request spells
it, and both front doors load a request with them.
"""

from __future__ import annotations

from marshmallow import fields, validate

from feature_gateway.domain.lifecycle import DataType, FeatureType, Status
from feature_gateway.domain.listing import SORT_ORDERS
from feature_gateway.domain.text import NUL_FREE_TEXT_PATTERN
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
from feature_gateway.shapes.page_schemas import PageBodyFields, PageQueryFields
from feature_gateway.shapes.role_schemas import RoleBodySchema, UserRole
from feature_gateway.shapes.schema_fields import (
    Choice,
    JsonBoolean,
    JsonInteger,
    QueryBoolean,
    QueryInteger,
    RecordedActor,
    StrictSchema,
    no_nul,
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
