"""Schema building blocks shared by the blueprints: strict bases, fields, the feature shape.

Every constraint a field enforces is also stated in its OpenAPI schema (pattern, length,
range, enum), so that a request the document calls valid is one the service accepts; the
only rule JSON Schema cannot state, that a query is one read-only SQL statement, is named by
the ``sql-select`` format instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from feature_gateway.domain.lifecycle import TEST_RESULTS, DataType, FeatureType, Role, Status
from feature_gateway.domain.listing import DEFAULT_PAGE_SIZE, MAX_OFFSET, MAX_PAGE_SIZE
from feature_gateway.domain.names import (
    FEATURE_NAME_PORTABLE_PATTERN,
    INVALID_FEATURE_NAME,
    MAX_FEATURE_NAME_LENGTH,
    is_valid_feature_name,
)
from feature_gateway.domain.sql_check import UnsafeQueryError, check_read_only_query
from feature_gateway.domain.text import (
    NON_BLANK_TEXT_PATTERN,
    has_nul,
    is_blank,
)

MAX_ACTOR_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 10_000
MAX_QUERY_LENGTH = 100_000
MAX_NOTE_LENGTH = 10_000
ROLE_HEADER = "X-User-Role"
SQL_SELECT_FORMAT = "sql-select"


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE


def no_nul(value: str) -> None:
    if has_nul(value):
        raise ValidationError("Must not contain the NUL character (U+0000).")


def _not_blank(value: str) -> None:
    if is_blank(value):
        raise ValidationError("Must not be blank.")


def _valid_feature_name(value: str) -> None:
    if not is_valid_feature_name(value):
        raise ValidationError(INVALID_FEATURE_NAME)


def _read_only_query(value: str) -> None:
    try:
        check_read_only_query(value)
    except UnsafeQueryError as exc:
        raise ValidationError(str(exc)) from None


_NAME_DESCRIPTION = "`<view>:<feature>:<version>`"
_NAME_EXAMPLE = "driver_hourly_stats:conv_rate:1"
_NAME_RULES = {"pattern": FEATURE_NAME_PORTABLE_PATTERN, "maxLength": MAX_FEATURE_NAME_LENGTH}


def FeatureName(**kwargs: Any) -> fields.String:
    metadata = {
        "description": _NAME_DESCRIPTION,
        "example": _NAME_EXAMPLE,
        **kwargs.pop("metadata", {}),
        **_NAME_RULES,
    }
    return fields.String(validate=_valid_feature_name, metadata=metadata, **kwargs)


# The name as a path segment (GET endpoints); checked by api.context.checked_feature_name.
FEATURE_NAME_PATH_PARAMETER: dict[str, Any] = {
    "in": "path",
    "name": "feature_name",
    "required": True,
    "description": _NAME_DESCRIPTION,
    "example": _NAME_EXAMPLE,
    "schema": {"type": "string", **_NAME_RULES},
}


def Text(max_length: int, **kwargs: Any) -> fields.String:
    """Free text: not blank, no NUL, at most ``max_length`` characters."""
    metadata = {"pattern": NON_BLANK_TEXT_PATTERN, **kwargs.pop("metadata", {})}
    return fields.String(
        validate=[no_nul, _not_blank, validate.Length(max=max_length)],
        metadata=metadata,
        **kwargs,
    )


def Actor(**kwargs: Any) -> fields.String:
    metadata = {
        "description": "Who performs the action",
        "example": "dev",
        **kwargs.pop("metadata", {}),
    }
    return Text(MAX_ACTOR_LENGTH, metadata=metadata, **kwargs)


def Choice(values: Any, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([v.value for v in values]), **kwargs)


def Query(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[no_nul, _not_blank, validate.Length(max=MAX_QUERY_LENGTH), _read_only_query],
        metadata={
            "description": "One read-only SQL statement (SELECT or WITH ... SELECT); "
            "it is stored, never executed",
            "format": SQL_SELECT_FORMAT,
            "pattern": NON_BLANK_TEXT_PATTERN,
            "example": "SELECT conv_rate FROM driver_hourly_stats WHERE driver_id = ?",
        },
        **kwargs,
    )


def UserRole(**kwargs: Any) -> fields.String:
    # Checked by api.roles (the single place that may be swapped for authentication).
    metadata = {
        "description": "Acting role",
        "enum": [r.value for r in Role],
        "example": Role.DEVELOPER.value,
        **kwargs.pop("metadata", {}),
    }
    return fields.String(metadata=metadata, **kwargs)


class JsonInteger(fields.Integer):
    """A JSON integer, never coerced: 10.5, 1e2, "10" and true are errors, not 10 or 1."""

    def _validated(self, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


_DECIMAL_INTEGER = re.compile(r"-?[0-9]+")


class QueryInteger(fields.Integer):
    """An integer in a query string: ASCII digits only (int() takes "1_0" and Arabic digits)."""

    def _validated(self, value: Any) -> int:
        if not isinstance(value, str) or not _DECIMAL_INTEGER.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class JsonBoolean(fields.Boolean):
    """A JSON boolean: true or false, not 1 or "yes"."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


class QueryBoolean(fields.Boolean):
    """A boolean in a query string, spelled as OpenAPI serialises it: true or false."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if value in ("true", "false"):
            return bool(value == "true")
        raise self.make_error("invalid", input=value)


class RoleBodySchema(StrictSchema):
    user_role = UserRole(required=True)


class FeatureRefSchema(RoleBodySchema):
    feature_name = FeatureName(required=True)


class RoleQuerySchema(StrictSchema):
    user_role = UserRole()


class RoleHeaderSchema(Schema):
    """The role header GET endpoints accept instead of the query parameter (documentation)."""

    class Meta:
        unknown = EXCLUDE

    user_role = UserRole(
        data_key=ROLE_HEADER,
        metadata={
            "description": "Acting role, used when the user_role query parameter is not "
            "given (which wins if both are)"
        },
    )


def page_limit(integer: type[fields.Integer], default: int = DEFAULT_PAGE_SIZE) -> fields.Integer:
    return integer(
        load_default=default,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": "Page size"},
    )


def _offset(integer: type[fields.Integer]) -> fields.Integer:
    return integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_OFFSET),
        metadata={"description": "Number of matches to skip"},
    )


class PageBodyFields(StrictSchema):
    limit = page_limit(JsonInteger)
    offset = _offset(JsonInteger)


class PageQueryFields(StrictSchema):
    limit = page_limit(QueryInteger)
    offset = _offset(QueryInteger)


_TIME = {"description": "Epoch milliseconds"}


def _always(field: type[fields.Field[Any]], **kwargs: Any) -> Any:
    """A response field that is always present (``null`` when unset if ``allow_none``)."""
    return field(required=True, **kwargs)


# Dict: a JSON column (tags), already a plain object of strings.
_SCALAR_FIELDS = (fields.String, fields.Integer, fields.Boolean, fields.Dict)


class ScalarRowSchema(Schema):
    """A response schema over a database row whose columns are already JSON scalars.

    marshmallow's per-field dispatch costs ~3 µs a field, which made a page of 100 features
    spend most of its time in ``dump``. Here every declared field is a plain string,
    integer or boolean read from a column of the same type, so dumping is copying: the
    declared fields still define the names, keys and OpenAPI document, only the copy is
    direct. Rows are mapped objects or, for read-only pages, plain dicts.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plan = []
        for name, field in self.dump_fields.items():
            if not isinstance(field, _SCALAR_FIELDS):
                raise TypeError(f"{type(self).__name__}.{name} is not a scalar field")
            plan.append((field.data_key or name, field.attribute or name))
        self._copy_plan = tuple(plan)

    def _serialize(self, obj: Any, *, many: bool = False) -> Any:
        if many and obj is not None:
            return [self._serialize(item) for item in obj]
        if isinstance(obj, Mapping):
            return {key: obj.get(attribute) for key, attribute in self._copy_plan}
        return {key: getattr(obj, attribute, None) for key, attribute in self._copy_plan}


class FeatureMetadataSchema(ScalarRowSchema):
    """Every column of the feature row; ``null`` when unset, so the shape never varies."""

    feature_name = _always(fields.String)
    feature_type = Choice(FeatureType, required=True)
    feature_data_type = Choice(DataType, required=True)
    query = _always(fields.String)
    description = _always(fields.String)
    status = Choice(Status, required=True)
    revision = _always(fields.Integer, metadata={"description": "Increases on every change"})
    created_time = _always(fields.Integer, metadata=_TIME)
    updated_time = _always(fields.Integer, metadata=_TIME)
    created_by = _always(fields.String)
    last_updated_by = _always(fields.String, allow_none=True)
    submitted_by = _always(fields.String, allow_none=True)
    submitted_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    tested_by = _always(fields.String, allow_none=True)
    tested_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    test_result = Choice(TEST_RESULTS, required=True, allow_none=True)
    test_notes = _always(fields.String, allow_none=True)
    approved_by = _always(fields.String, allow_none=True)
    approved_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    approval_notes = _always(fields.String, allow_none=True)
    rejected_by = _always(fields.String, allow_none=True)
    rejected_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    rejection_reason = _always(fields.String, allow_none=True)
    deployed_by = _always(fields.String, allow_none=True)
    deployed_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    fixed_by = _always(fields.String, allow_none=True)
    fixed_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    fix_description = _always(fields.String, allow_none=True)
    deleted_by = _always(fields.String, allow_none=True)
    deleted_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    deletion_reason = _always(fields.String, allow_none=True)
    owner = _always(
        fields.String,
        allow_none=True,
        metadata={"description": "The team or person responsible; created_by unless given"},
    )
    tags = _always(
        fields.Dict,
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Labels {key: value}", "example": {"team": "pricing"}},
    )
    previous_version = _always(
        fields.String,
        allow_none=True,
        metadata={"description": "The version this one was made from"},
    )
    deprecated_by = _always(fields.String, allow_none=True)
    deprecated_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    deprecation_reason = _always(fields.String, allow_none=True)
    replaced_by = _always(
        fields.String, allow_none=True, metadata={"description": "The feature to use instead"}
    )
    retired_by = _always(fields.String, allow_none=True)
    retired_time = _always(fields.Integer, allow_none=True, metadata=_TIME)
    retirement_reason = _always(fields.String, allow_none=True)


class FeatureEnvelopeSchema(Schema):
    feature = fields.Nested(FeatureMetadataSchema, data_key="metadata", required=True)


class FeatureMessageSchema(FeatureEnvelopeSchema):
    message = fields.String(required=True)
