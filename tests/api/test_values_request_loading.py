"""The values requests' schemas and the requests naming one feature load a body that has no
problem by their fields alone (``framework_adapter.PlainLoadSchema.load``): the same dict as
marshmallow's whole load, and any body with a problem goes through marshmallow's, so its
refusal is the same."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from marshmallow import Schema, ValidationError

from feature_gateway.api.values.feast_schemas import OnlineFeaturesRequestSchema
from feature_gateway.api.values.schemas import FeatureValuesRequestSchema, ValuesRequestSchema
from feature_gateway.errors import ValidationError as LimitsError
from feature_gateway.framework_adapter import PlainLoadSchema
from feature_gateway.shapes.feature_schemas import CreateFeatureSchema
from feature_gateway.shapes.role_schemas import FeatureRefSchema
from tests.conftest import SEED_FEATURE

_NAMES = ["driver_hourly_stats:conv_rate:1", "driver_hourly_stats:acc_rate:v2"]
_REFS = ["driver_hourly_stats:conv_rate", "driver_hourly_stats@v2:acc_rate", "v:f:3"]
_ENTITIES = {"driver_id": ["D001", "D002"], "n": [1, -(2**63)]}

_REF = {"feature_name": "driver_hourly_stats:conv_rate:1", "user_role": "developer"}
LOADED: dict[type[PlainLoadSchema], list[Any]] = {
    FeatureRefSchema: [
        _REF,
        {**_REF, "feature_name": "v:f:v2"},
        {**_REF, "user_role": "anything"},  # a role is checked by api.roles, not the schema
    ],
    CreateFeatureSchema: [
        SEED_FEATURE,
        {**SEED_FEATURE, "tags": {"team": "pricing"}, "description": "é 😀"},
    ],
    FeatureValuesRequestSchema: [
        {"features": _NAMES, "entities": _ENTITIES},
        {"features": _NAMES[:1], "entities": {"a": ["x"]}, "event_timestamp": 0},
        {"features": _NAMES, "entities": _ENTITIES, "event_timestamp": None},
        {"features": _NAMES, "entities": _ENTITIES, "event_timestamp": 253_402_300_799_999},
        {"features": _NAMES, "entities": _ENTITIES, "user_role": "developer"},
        {"features": _NAMES, "entities": _ENTITIES, "user_role": "anything"},
    ],
    OnlineFeaturesRequestSchema: [
        {"features": _REFS, "entities": _ENTITIES},
        {"features": _REFS, "entities": _ENTITIES, "full_feature_names": True},
        {
            "features": _REFS[:1],
            "entities": {"k": [7]},
            "full_feature_names": False,
            "include_feature_view_version_metadata": True,
        },
    ],
}
REFUSED: dict[type[PlainLoadSchema], list[Any]] = {
    FeatureRefSchema: [
        [],
        {},
        {"user_role": "developer"},
        {**_REF, "feature_name": "no version"},
        {**_REF, "feature_name": 5},
        {**_REF, "feature_name": None},
        {**_REF, "user_role": None},
        {**_REF, "user_role": 7},
        {**_REF, "unknown": 1},
    ],
    CreateFeatureSchema: [
        {**SEED_FEATURE, "feature_name": "no version"},
        {**SEED_FEATURE, "tags": {"team": 1}},
        {**SEED_FEATURE, "query": "DELETE FROM t"},
        {**SEED_FEATURE, "revision": 3},
        {key: value for key, value in SEED_FEATURE.items() if key != "created_by"},
    ],
    FeatureValuesRequestSchema: [
        [],
        {"entities": _ENTITIES},
        {"features": [], "entities": _ENTITIES},
        {"features": [*_NAMES, _NAMES[0]], "entities": _ENTITIES},
        {"features": ["no version"], "entities": _ENTITIES},
        {"features": _NAMES, "entities": {"a": ["x"], "b": []}},
        {"features": _NAMES, "entities": {"a": [True]}},
        {"features": _NAMES, "entities": None},
        {"features": _NAMES, "entities": _ENTITIES, "event_timestamp": -1},
        {"features": _NAMES, "entities": _ENTITIES, "event_timestamp": True},
        {"features": _NAMES, "entities": _ENTITIES, "user_role": None},
        {"features": _NAMES, "entities": _ENTITIES, "unknown": 1},
        {"features": _NAMES * 600, "entities": _ENTITIES},
        {"features": _NAMES, "entities": {"a": list(range(10_001))}},
    ],
    OnlineFeaturesRequestSchema: [
        {"features": _REFS, "entities": _ENTITIES, "feature_service": "s"},
        {"features": _REFS, "entities": _ENTITIES, "full_feature_names": 1},
        {"features": ["a:conv_rate", "b:conv_rate"], "entities": _ENTITIES},
        {"features": ["driver_id:x", "v:driver_id"], "entities": _ENTITIES},
        {"features": ["not a ref"], "entities": _ENTITIES},
    ],
}


def _schemas(schema_class: type[PlainLoadSchema]) -> list[PlainLoadSchema]:
    # As webargs is handed them: without and with a token (user_role may be left out).
    return [schema_class(), schema_class(partial=("user_role",))]


def _cases(table: dict[type[PlainLoadSchema], list[Any]]) -> list[Any]:
    return [(cls, body) for cls, bodies in table.items() for body in bodies]


@pytest.mark.parametrize(("schema_class", "body"), _cases(LOADED))
def test_a_body_without_problems_loads_by_its_fields_as_marshmallow_loads_it(
    app: Flask, schema_class: type[PlainLoadSchema], body: dict[str, Any]
) -> None:
    with app.test_request_context():
        for schema in _schemas(schema_class):
            expected = Schema.load(schema, body)  # marshmallow's whole load
            assert schema._loaded_by_fields(body) == expected
            assert schema.load(body) == expected


@pytest.mark.parametrize(("schema_class", "body"), _cases(REFUSED))
def test_a_body_with_a_problem_is_refused_by_marshmallow_as_before(
    app: Flask, schema_class: type[PlainLoadSchema], body: Any
) -> None:
    with app.test_request_context():
        for schema in _schemas(schema_class):
            assert schema._loaded_by_fields(body) is None
            with pytest.raises((ValidationError, LimitsError)) as refused:
                Schema.load(schema, body)
            with pytest.raises(refused.type) as refused_again:
                schema.load(body)
            assert str(refused_again.value) == str(refused.value)


def test_a_schema_with_another_hook_loads_every_body_through_marshmallow(app: Flask) -> None:
    from marshmallow import post_load, pre_load

    from feature_gateway.framework_adapter import schema_validators_if_plain

    class Renaming(FeatureValuesRequestSchema):
        @post_load
        def _renamed(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            return {"renamed": data}

    class Trimming(FeatureValuesRequestSchema):
        @pre_load
        def _trimmed(self, data: Any, **_: Any) -> Any:
            return data

    body = LOADED[FeatureValuesRequestSchema][0]
    plain = ValuesRequestSchema.PRE_LOADS_AS_IS
    assert schema_validators_if_plain(FeatureValuesRequestSchema(), plain) == ()
    assert schema_validators_if_plain(OnlineFeaturesRequestSchema(), plain) == (
        "_one_name_per_column",
    )
    with app.test_request_context():
        for schema_class in (Renaming, Trimming):
            assert schema_validators_if_plain(schema_class(), plain) is None
        assert Renaming().load(body) == {
            "renamed": Schema.load(FeatureValuesRequestSchema(), body)
        }


def test_the_values_requests_fields_are_loaded_by_marshmallows_steps_directly() -> None:
    # (framework_adapter.deserialized: without the And of validators made on every load)
    for schema_class in (FeatureValuesRequestSchema, OnlineFeaturesRequestSchema):
        assert all(plainly for *_, plainly in schema_class()._plan)


_PARSED_BODIES = [
    *LOADED[FeatureValuesRequestSchema],
    *REFUSED[FeatureValuesRequestSchema],
    {"feature_name": "v:f:1"},  # unknown fields
]


@pytest.mark.parametrize("body", _PARSED_BODIES)
def test_a_json_body_is_parsed_as_webargs_own_parse_parses_it(app: Flask, body: Any) -> None:
    """``OrjsonBodyParser.parse`` does webargs' steps directly for a JSON body: the same
    loaded dict, or the same refusal (status and messages)."""
    from webargs.flaskparser import FlaskParser
    from werkzeug.exceptions import HTTPException

    from feature_gateway.api.blueprint import ApiBlueprint, _IdentityAwareSchemas

    parser = ApiBlueprint.ARGUMENTS_PARSER
    argmap = _IdentityAwareSchemas(FeatureValuesRequestSchema)
    answers = []
    for parse in (parser.parse, lambda *a, **k: FlaskParser.parse(parser, *a, **k)):
        with app.test_request_context("/features", method="POST", json=body):
            try:
                answers.append(("loaded", parse(argmap, location="json")))
            except HTTPException as refused:
                answers.append((refused.code, getattr(refused, "data", None)))
            except LimitsError as refused:
                answers.append(("limits", str(refused)))
    assert answers[0] == answers[1]
