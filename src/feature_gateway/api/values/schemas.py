"""Request and response shapes of online serving (``POST /features``, ``/features/available``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from feature_gateway.api.context import value_limits
from feature_gateway.domain.value_requests import (
    ENTITY_KEY_RULE,
    MAX_EVENT_TIMESTAMP,
    entity_value_problem,
    is_valid_entity_key,
)
from feature_gateway.domain.values import NOT_FOUND, PRESENT
from feature_gateway.framework_adapter import PlainLoadSchema
from feature_gateway.shapes.outlines import ArrayOutline, ObjectOutline
from feature_gateway.shapes.role_schemas import UserRole
from feature_gateway.shapes.schema_fields import FeatureName, StrictSchema


def unique_names(names: list[str]) -> None:
    if len(set(names)) != len(names):
        repeated = sorted(name for name, count in Counter(names).items() if count > 1)
        raise ValidationError(
            f"Each feature may be requested once; repeated: {', '.join(repeated)}."
        )


class StringList(fields.List[str]):
    """``fields.List`` of a plain ``fields.String``: when every item is a string its
    validators accept, the list is taken in one pass. The generic path (a field call and
    an error collector per item) cost about 17,000 instructions a name, half of a values
    request's validation; anything else takes it, so the messages are the same."""

    def __init__(self, inner: fields.String, **kwargs: Any) -> None:
        if type(inner) is not fields.String:  # another field may convert its items
            raise TypeError("StringList takes a plain fields.String")
        super().__init__(inner, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[Any]:
        # (the types by one set of them, and the checks in loops: no generator's frame)
        if type(value) is list and (not value or set(map(type, value)) == _ONLY_STR):
            try:
                if _all_accepted(self.inner.validators, value):
                    return list(value)
            except ValidationError:
                pass  # the generic path names the item and its problem
        return super()._deserialize(value, attr, data, **kwargs)


_ONLY_STR = {str}


def _all_accepted(checks: list[Any], items: list[str]) -> bool:
    """Whether no check returns False for any item (one raising is left to the caller)."""
    for check in checks:
        for item in items:
            if check(item) is False:
                return False
    return True


class EntityColumns(fields.Field[dict[str, list[str | int]]]):
    """``{key column: [values]}``: one or more columns of strings or integers, equal lengths.

    One field for the whole mapping (not ``Dict(List(...))``): a request may carry 10,000
    rows, and one pass per column is far cheaper than a field object per value.
    """

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, list[str | int]]:
        if not isinstance(value, dict):
            raise ValidationError("Must be an object mapping each entity key column to a list.")
        if not value:
            raise ValidationError("At least one entity key column is required.")
        problems = {
            column: [problem]
            for column, values in value.items()
            if (problem := _column_problem(column, values))
        }
        if problems:
            raise ValidationError(problems)
        lengths = {column: len(values) for column, values in value.items()}
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{column} has {n}" for column, n in lengths.items())
            raise ValidationError(
                f"All entity key columns must have the same number of values: {sizes}."
            )
        return value


def _column_problem(column: str, values: Any) -> str | None:
    if not is_valid_entity_key(column):
        return f"Invalid entity key name: {ENTITY_KEY_RULE}."
    if not isinstance(values, list):
        return "Must be a list of entity key values."
    if not values:
        return "Must hold at least one value."
    if _all_text(values):
        return None
    return entity_value_problem(values)


def _all_text(values: list[Any]) -> bool:
    """Whether every value is a string, checked by one join (C) instead of a Python loop
    over the rows. The body was parsed from JSON, whose strings are ``str`` itself, so
    this says what ``entity_value_problem`` would (None) for them."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


class EpochMillis(fields.Integer):
    """An integer number of milliseconds since the Unix epoch; ``true`` is not ``1``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if type(value) is int:  # what Integer's conversion, int(value), returns: the value
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be an integer number of epoch milliseconds.")
        return super()._deserialize(value, attr, data, **kwargs)


# The entity key columns as the API document describes them (both serving endpoints).
ENTITIES_DOCUMENTATION: dict[str, Any] = {
    "description": "Entity key columns, all of the same length (rows): at most "
    "MAX_ENTITY_COLUMNS_PER_REQUEST (default 20) columns and "
    "MAX_ENTITY_ROWS_PER_REQUEST (default 10,000) rows. Column names match "
    "[A-Za-z_][A-Za-z0-9_]* (at most 255 characters); values are strings or "
    "64-bit integers",
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {
        "type": "array",
        "minItems": 1,
        "items": {
            "anyOf": [
                {"type": "string"},
                {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
            ]
        },
    },
    "example": {"driver_id": ["D001", "D002"]},
}


class ValuesRequestSchema(PlainLoadSchema, StrictSchema):
    """A request for values (``POST /features``, ``POST /get-online-features``): its size is
    checked against the same limits (``RequestLimits``) before anything else."""

    @pre_load
    def _within_limits(self, data: Any, **kwargs: Any) -> Any:
        """The size limits, before any name or key is checked: a request over them gets one
        message per limit, not one per item (docs/performance.md, "Figures behind the code")."""
        if isinstance(data, Mapping):
            value_limits().check(*request_size(data))
        return data

    # The hooks a body passes through unchanged when its keys are all fields of the schema
    # and it is within the limits: unknown fields counted, the limits, Feast's
    # feature_service (not a field). Another hook turns the shortcut in ``load`` off.
    PRE_LOADS_AS_IS = frozenset({"_few_unknown_fields", "_within_limits", "_no_feature_service"})

    def loads_plainly(self, data: dict[str, Any]) -> bool:
        """Within the limits: ``_within_limits`` leaves the body as it is."""
        return not value_limits().violations(*request_size(data))

    def answered_by_outline(self, outline: Any) -> bool:
        """Whether loading ``outline`` (``api.body_outline``) answers as loading the body
        would: a body that is not an object (refused as such, whatever it holds), or one
        over the limits, refused by ``_within_limits``. What runs before it reads no more
        than the outline keeps: the top-level keys (the unknown fields' count, Feast's
        ``feature_service``) and scalar values (the actor fields bound with a token);
        ``tests/unit/test_body_outline.py`` lists those hooks."""
        if not isinstance(outline, Mapping):
            return True
        return bool(value_limits().violations(*request_size(outline)))


def request_size(body: Mapping[str, Any]) -> tuple[int, int, int]:
    """The features, entity rows and entity key columns of a request's body, parsed or
    outlined (``api.body_outline``): what the limits are checked against."""
    features, entities = body.get("features"), body.get("entities")
    if isinstance(entities, ObjectOutline):
        rows, n_columns = entities.longest_array, entities.keys
    elif isinstance(entities, Mapping):
        rows, n_columns = 0, len(entities)
        for column in entities.values():  # a loop, not max() over a generator's frame
            if isinstance(column, list) and len(column) > rows:
                rows = len(column)
    else:
        rows, n_columns = 0, 0
    if isinstance(features, ArrayOutline):
        return features.length, rows, n_columns
    return len(features) if isinstance(features, list) else 0, rows, n_columns


class FeatureValuesRequestSchema(ValuesRequestSchema):
    features = StringList(
        FeatureName(),
        required=True,
        validate=[validate.Length(min=1, error="At least one feature is required."), unique_names],
        metadata={
            "description": "Feature names, each once; each is a column of the response, in "
            "this order. At most MAX_FEATURES_PER_REQUEST (default 1,000)",
            "uniqueItems": True,
        },
    )
    entities = EntityColumns(required=True, metadata=ENTITIES_DOCUMENTATION)
    event_timestamp = EpochMillis(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_EVENT_TIMESTAMP),
        metadata={
            "description": "Epoch milliseconds the values are asked for; default now",
            "example": 1751429485000,
        },
    )
    user_role = UserRole()


class FeatureNamesSchema(Schema):
    feature_names = fields.List(
        fields.String(), metadata={"description": "Entity key columns, then requested features"}
    )


class FeatureColumnSchema(Schema):
    values = fields.List(
        fields.Raw(allow_none=True),
        metadata={"description": "Typed by feature_data_type; null when NOT_FOUND"},
    )
    statuses = fields.List(fields.String(validate=validate.OneOf([PRESENT, NOT_FOUND])))
    event_timestamps = fields.List(
        fields.Integer(),
        metadata={
            "description": "Epoch ms: start of each value's time bucket (features), "
            "or the request's event_timestamp (keys, NOT_FOUND)"
        },
    )


class FeatureValuesResponseSchema(Schema):
    metadata = fields.Nested(FeatureNamesSchema)
    results = fields.List(fields.Nested(FeatureColumnSchema))


class AvailableFeaturesSchema(Schema):
    available_features = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Names of the served features: deployed and deprecated"},
    )
    deprecated_features = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Those of them that are deprecated: move off them"},
    )
