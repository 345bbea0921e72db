"""Request and response shapes of ``POST /get-online-features``, Feast's feature-server
protocol (SPEC §13); checked against feast 0.67's ``feature_server.py`` (its request model)
and ``infra/online_stores/remote.py`` (what its client sends and reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from feature_gateway.api.values.schemas import (
    ENTITIES_DOCUMENTATION,
    EntityColumns,
    StringList,
    ValuesRequestSchema,
    unique_names,
)
from feature_gateway.domain.feature_refs import (
    INVALID_REF,
    REF_PORTABLE_PATTERN,
    column_collisions,
    parse_ref,
)
from feature_gateway.domain.names import MAX_FEATURE_NAME_LENGTH
from feature_gateway.domain.values import NOT_FOUND, PRESENT
from feature_gateway.shapes.schema_fields import JsonBoolean

FEATURE_SERVICES_UNSUPPORTED = (
    "Feature services are not supported: name the features in 'features' instead."
)


def _valid_ref(value: str) -> None:
    if parse_ref(value) is None:
        raise ValidationError(INVALID_REF)


class OnlineFeaturesRequestSchema(ValuesRequestSchema):
    features = StringList(
        fields.String(
            validate=_valid_ref,
            metadata={
                "pattern": REF_PORTABLE_PATTERN,
                "maxLength": MAX_FEATURE_NAME_LENGTH,
                "example": "driver_hourly_stats:conv_rate",
            },
        ),
        required=True,
        validate=[
            validate.Length(min=1, error="At least one feature is required."),
            unique_names,
        ],
        metadata={
            "description": "Feature references, each once: 'view:feature' (its served "
            "version with the highest number), 'view@vN:feature' (version N) or a full "
            "name 'view:feature:N'. At most MAX_FEATURES_PER_REQUEST (default 1,000)",
            "uniqueItems": True,
        },
    )
    entities = EntityColumns(required=True, metadata=ENTITIES_DOCUMENTATION)
    full_feature_names = JsonBoolean(
        load_default=False,
        metadata={
            "description": "Name feature columns 'view__feature' (a pinned version: "
            "'view@vN__feature') instead of 'feature'"
        },
    )
    include_feature_view_version_metadata = JsonBoolean(
        load_default=False,
        metadata={
            "description": "Add metadata.feature_view_metadata: the view and version of "
            "each served feature"
        },
    )

    @pre_load
    def _no_feature_service(self, data: Any, **_: Any) -> Any:
        # Any unknown field is a 422; Feast's feature_service gets one saying what to do.
        if isinstance(data, Mapping) and "feature_service" in data:
            raise ValidationError(FEATURE_SERVICES_UNSUPPORTED, "feature_service")
        return data

    @validates_schema(skip_on_field_errors=True)
    def _one_name_per_column(self, data: dict[str, Any], **_: Any) -> None:
        refs = [parse_ref(ref) for ref in data["features"]]
        repeated = column_collisions(
            list(data["entities"]), [r for r in refs if r], data["full_feature_names"]
        )
        if repeated:
            hint = "" if data["full_feature_names"] else "; set full_feature_names to true"
            raise ValidationError(
                f"Each column of the answer needs its own name; these would name several: "
                f"{', '.join(repeated)}{hint}.",
                "features",
            )


class FeastMetadataSchema(Schema):
    class FeatureViewSchema(Schema):
        name = fields.String(required=True, metadata={"example": "driver_hourly_stats"})
        version = fields.Integer(required=True, metadata={"example": 1})

    feature_names = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Entity key columns, then a column per requested feature"},
    )
    feature_view_metadata = fields.List(
        fields.Nested(FeatureViewSchema),
        metadata={
            "description": "With include_feature_view_version_metadata: each view and "
            "version served, in request order"
        },
    )


class FeastColumnSchema(Schema):
    values = fields.List(
        fields.Raw(allow_none=True),
        metadata={"description": "POST /features' values; null when NOT_FOUND"},
    )
    statuses = fields.List(fields.String(validate=validate.OneOf([PRESENT, NOT_FOUND])))
    event_timestamps = fields.List(
        fields.String(metadata={"format": "date-time", "example": "2025-07-02T00:00:00Z"}),
        metadata={
            "description": "RFC 3339 UTC: the start of each value's time bucket (features), "
            "or the time of the request (keys, NOT_FOUND)"
        },
    )


class OnlineFeaturesResponseSchema(Schema):
    metadata = fields.Nested(FeastMetadataSchema, required=True)
    results = fields.List(fields.Nested(FeastColumnSchema), required=True)
