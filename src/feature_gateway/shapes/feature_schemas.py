"""The feature's shapes in the API, built from the field table (``domain.feature_fields``).

A field's kind decides its schema field in each use: the response (every field, ``null``
when unset), a request that sets it (create, update, the trigger that stamps it) and the
import file. Adding a field to the table adds it to all of them.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from feature_gateway.domain.changes import VERSIONED_FIELDS
from feature_gateway.domain.feature_fields import (
    CREATE_FIELDS,
    FEATURE_FIELDS,
    FIELDS_BY_NAME,
    FORCE_REQUEST_FIELD,
    TRIGGER_STAMPS,
    Field,
    Kind,
)
from feature_gateway.domain.lifecycle import CREATED_STATUS, STORED_STATES, Status
from feature_gateway.framework_adapter import DirectDumpSchema
from feature_gateway.shapes.catalog_fields import Tags
from feature_gateway.shapes.role_schemas import FeatureRefSchema
from feature_gateway.shapes.schema_fields import (
    MAX_DESCRIPTION_LENGTH,
    MAX_NOTE_LENGTH,
    Actor,
    Choice,
    FeatureName,
    JsonBoolean,
    Query,
    RecordedActor,
    StrictSchema,
    Text,
)

_TIME_DESCRIPTION = "Epoch milliseconds"
# Given by every request on one feature, through FeatureRefSchema.
_FEATURE_REF = "feature_name"


def response_field(field: Field) -> fields.Field[Any]:
    """Always present in a response; ``null`` when unset if the field is nullable."""
    metadata: dict[str, Any] = {}
    description = field.description or (_TIME_DESCRIPTION if field.kind is Kind.TIME else None)
    if description:
        metadata["description"] = description
    if field.example is not None:
        metadata["example"] = field.example
    options: dict[str, Any] = {"required": True, "metadata": metadata}
    if field.nullable:
        options["allow_none"] = True
    if field.choices:
        return Choice(field.choices, **options)
    if field.kind in (Kind.TIME, Kind.REVISION):
        return fields.Integer(**options)
    if field.kind is Kind.TAGS:
        return fields.Dict(keys=fields.String(), values=fields.String(), **options)
    if field.kind is Kind.FORCED:
        return fields.Boolean(**options)
    return fields.String(**options)


def request_field(field: Field, **options: Any) -> fields.Field[Any]:
    """The field as a request gives it, with every rule its kind holds it to."""
    if field.kind in (Kind.NAME, Kind.REFERENCE):
        return FeatureName(**options)
    if field.kind is Kind.TAGS:
        return Tags(**options)
    if field.kind is Kind.CHOICE:
        return Choice(field.choices, **options)
    if field.kind is Kind.QUERY:
        return Query(**options)
    if field.kind is Kind.DESCRIPTION:
        return Text(MAX_DESCRIPTION_LENGTH, **options)
    if field.kind in (Kind.ACTOR, Kind.TEAM):
        return Actor(**options)
    if field.kind is Kind.NOTE:
        return Text(MAX_NOTE_LENGTH, **options)
    if field.kind is Kind.FORCED:
        description = "true: fire the trigger even though its guard refuses (give the reason)"
        return JsonBoolean(
            data_key=FORCE_REQUEST_FIELD,
            load_default=False,
            metadata={"description": description},
            **options,
        )
    raise ValueError(f"{field.name} ({field.kind}) is never given in a request")


def _record_field(field: Field) -> fields.Field[Any]:
    """The field in the import file: what an export wrote, held to the request rules
    where a request could have set it."""
    if field.kind is Kind.STATUS:
        # A transient state (APPROVED) lasts only inside a request; no stored row is in it.
        stored = [s for s in Status if s in STORED_STATES]
        return Choice(stored, load_default=CREATED_STATUS.value)
    if field.kind is Kind.REVISION:
        return fields.Integer(load_only=True)  # exported for information; never imported
    if field.kind is Kind.TIME:
        return fields.Integer(allow_none=True)  # the importer fills in missing times
    if field.kind is Kind.NOTE:
        return fields.String(allow_none=True)
    if field.kind is Kind.FORCED:
        return fields.Boolean(allow_none=True)
    if field.kind in (Kind.ACTOR, Kind.TEAM):  # names exported before the name rule import
        nullable = field.nullable
        return RecordedActor(allow_none=nullable, required=not nullable)
    if field.nullable or field.kind is Kind.TAGS:  # the importer fills in missing tags
        return request_field(field, allow_none=True)
    return request_field(field, required=True)


def request_schema(
    base: type[Schema], names: tuple[str, ...], name: str, *, required: bool | None = None
) -> Any:
    """``base`` plus the request fields ``names`` (all ``required`` or not, else each as
    its field says), as a schema class called ``name`` (its name in the API document)."""
    declared = {
        field.name: request_field(field, required=field.required if required is None else required)
        for field in (FIELDS_BY_NAME[n] for n in names if n != _FEATURE_REF)
    }
    return base.from_dict(declared, name=name)


def trigger_request_schema(trigger: str, name: str) -> Any:
    """The request body of the endpoint firing ``trigger``: the fields it stamps."""
    return request_schema(FeatureRefSchema, TRIGGER_STAMPS[trigger].request_fields, name)


FeatureMetadataSchema: Any = DirectDumpSchema.from_dict(
    {field.name: response_field(field) for field in FEATURE_FIELDS},
    name="FeatureMetadataSchema",
)
# One feature in the import/export file (``data/feature_metadata.json``).
FeatureRecordSchema: Any = StrictSchema.from_dict(
    {field.name: _record_field(field) for field in FEATURE_FIELDS},
    name="FeatureRecordSchema",
)


class FeatureEnvelopeSchema(DirectDumpSchema):
    feature = fields.Nested(FeatureMetadataSchema, data_key="metadata", required=True)


class FeatureMessageSchema(FeatureEnvelopeSchema):
    message = fields.String(required=True)


class _NewVersionRules(FeatureRefSchema):
    """``feature_name`` is the version to copy; the fields given replace the copied ones."""

    created_by = Actor(required=True)


# The create request (the API's create_feature_metadata, and the console's form for it).
CreateFeatureSchema = request_schema(FeatureRefSchema, CREATE_FIELDS, "CreateFeatureSchema")
CreateVersionSchema = request_schema(
    _NewVersionRules, VERSIONED_FIELDS, "CreateVersionSchema", required=False
)
