"""The feature list's filters, sort and page: as a JSON body (``POST /search_features``)
and as query parameters (``GET /get_all_feature_metadata``, the console's search form).

Both are derived from the filter table (``domain.listing.FeatureQuery``): what each filter
means is declared there; these say how a request spells it, and both front doors load a
request with them.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from feature_gateway.domain.listing import LIST_FILTERS, SORT_ORDERS, Filter, FilterKind
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
