"""Schema building blocks shared by the blueprints: strict bases, fields, the feature shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from feature_gateway.domain.lifecycle import DataType, FeatureType, Role, Status
from feature_gateway.domain.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from feature_gateway.domain.names import FEATURE_NAME_RULE, is_valid_feature_name
from feature_gateway.domain.sql_check import UnsafeQueryError, check_read_only_query

MAX_ACTOR_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 10_000
MAX_QUERY_LENGTH = 100_000
MAX_NOTE_LENGTH = 10_000


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _valid_feature_name(value: str) -> None:
    if not is_valid_feature_name(value):
        raise ValidationError(f"Invalid feature name: {FEATURE_NAME_RULE}.")


def _read_only_query(value: str) -> None:
    try:
        check_read_only_query(value)
    except UnsafeQueryError as exc:
        raise ValidationError(str(exc)) from None


def FeatureName(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=_valid_feature_name,
        metadata={
            "description": "`<view>:<feature>:<version>`",
            "example": "driver_hourly_stats:conv_rate:1",
        },
        **kwargs,
    )


def Actor(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[_not_blank, validate.Length(max=MAX_ACTOR_LENGTH)],
        metadata={"description": "Who performs the action", "example": "dev"},
        **kwargs,
    )


def Text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=[_not_blank, validate.Length(max=max_length)], **kwargs)


def Choice(values: Any, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([v.value for v in values]), **kwargs)


def Query(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[validate.Length(max=MAX_QUERY_LENGTH), _read_only_query],
        metadata={
            "description": "One read-only SQL statement (SELECT or WITH ... SELECT)",
            "example": "SELECT conv_rate FROM driver_hourly_stats WHERE driver_id = ?",
        },
        **kwargs,
    )


def UserRole(**kwargs: Any) -> fields.String:
    # Checked by api.roles (the single place that may be swapped for authentication).
    return fields.String(
        metadata={"description": "Acting role", "enum": [r.value for r in Role]}, **kwargs
    )


class RoleBodySchema(StrictSchema):
    user_role = UserRole()


class FeatureRefSchema(RoleBodySchema):
    feature_name = FeatureName(required=True)


class RoleQuerySchema(StrictSchema):
    user_role = UserRole()


class PageQueryFields(StrictSchema):
    limit = fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE)
    )
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


_TIME = {"description": "Epoch milliseconds"}
_SCALAR_FIELDS = (fields.String, fields.Integer, fields.Boolean)


class ScalarRowSchema(Schema):
    """A response schema over a database row whose columns are already JSON scalars.

    marshmallow's per-field dispatch costs ~3 µs a field, which made a page of 100 features
    spend most of its time in ``dump``. Here every declared field is a plain string,
    integer or boolean read from a column of the same type, so dumping is copying: the
    declared fields still define the names, keys and OpenAPI document, only the copy is
    direct.
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
        if isinstance(obj, Mapping):  # plain rows from the repository's read-only pages
            return {key: obj.get(attribute) for key, attribute in self._copy_plan}
        return {key: getattr(obj, attribute, None) for key, attribute in self._copy_plan}


class FeatureMetadataSchema(ScalarRowSchema):
    """Every column of the feature row; ``null`` when unset, so the shape never varies."""

    feature_name = fields.String()
    feature_type = Choice(FeatureType)
    feature_data_type = Choice(DataType)
    query = fields.String()
    description = fields.String()
    status = Choice(Status)
    revision = fields.Integer(metadata={"description": "Increases on every change"})
    created_time = fields.Integer(metadata=_TIME)
    updated_time = fields.Integer(metadata=_TIME)
    created_by = fields.String()
    last_updated_by = fields.String(allow_none=True)
    submitted_by = fields.String(allow_none=True)
    submitted_time = fields.Integer(allow_none=True, metadata=_TIME)
    tested_by = fields.String(allow_none=True)
    tested_time = fields.Integer(allow_none=True, metadata=_TIME)
    test_result = fields.String(allow_none=True)
    test_notes = fields.String(allow_none=True)
    approved_by = fields.String(allow_none=True)
    approved_time = fields.Integer(allow_none=True, metadata=_TIME)
    approval_notes = fields.String(allow_none=True)
    rejected_by = fields.String(allow_none=True)
    rejected_time = fields.Integer(allow_none=True, metadata=_TIME)
    rejection_reason = fields.String(allow_none=True)
    deployed_by = fields.String(allow_none=True)
    deployed_time = fields.Integer(allow_none=True, metadata=_TIME)
    fixed_by = fields.String(allow_none=True)
    fixed_time = fields.Integer(allow_none=True, metadata=_TIME)
    fix_description = fields.String(allow_none=True)
    deleted_by = fields.String(allow_none=True)
    deleted_time = fields.Integer(allow_none=True, metadata=_TIME)
    deletion_reason = fields.String(allow_none=True)


class FeatureEnvelopeSchema(Schema):
    feature = fields.Nested(FeatureMetadataSchema, data_key="metadata")


class FeatureMessageSchema(FeatureEnvelopeSchema):
    message = fields.String()
