"""What is derived from the field table and the lifecycle table agrees with them.

Each test names one way the declarations could drift apart: a column without a field, a
schema missing a field, a trigger without a stamp rule or an endpoint, a state missing from
the diagram or from the state table.
"""

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text

from feature_gateway.api.features.schemas import CreateFeatureSchema, UpdateFeatureSchema
from feature_gateway.db.models import FEATURES_TABLE
from feature_gateway.domain import feature_fields
from feature_gateway.domain.feature_fields import (
    CREATE_FIELDS,
    CRITICAL_FIELDS,
    EDITABLE_FIELDS,
    FEATURE_FIELDS,
    FIELD_NAMES,
    TRIGGER_STAMPS,
    Kind,
)
from feature_gateway.domain.lifecycle import (
    CREATED_STATUS,
    STATES,
    TRIGGERS,
    Status,
    fired_by_callers,
)
from feature_gateway.domain.lifecycle_diagram import mermaid_diagram
from feature_gateway.shapes import examples
from feature_gateway.shapes.feature_schemas import FeatureMetadataSchema, FeatureRecordSchema
from feature_gateway.shapes.trigger_endpoints import TRIGGER_ENDPOINTS

STORAGE_ONLY_COLUMNS = {"id", "canonical_name", "family_name", "version_key"}
SQL_TYPES = {
    Kind.NAME: String,
    Kind.CHOICE: String,
    Kind.STATUS: String,
    Kind.QUERY: Text,
    Kind.DESCRIPTION: Text,
    Kind.ACTOR: String,
    Kind.NOTE: Text,
    Kind.TIME: BigInteger,
    Kind.REVISION: Integer,
    Kind.TAGS: JSON,
    Kind.REFERENCE: String,
    Kind.FORCED: Boolean,
}


def test_the_features_table_has_a_column_for_each_field_and_only_storage_columns_besides():
    assert set(FEATURES_TABLE.c.keys()) == set(FIELD_NAMES) | STORAGE_ONLY_COLUMNS


@pytest.mark.parametrize("field", FEATURE_FIELDS, ids=lambda f: f.name)
def test_each_column_is_typed_and_nullable_as_its_field_says(field):
    column = FEATURES_TABLE.c[field.name]
    assert column.nullable == field.nullable
    assert type(column.type) is SQL_TYPES[field.kind]


def test_the_response_and_the_import_format_carry_every_field_in_table_order():
    assert tuple(FeatureMetadataSchema().fields) == FIELD_NAMES
    assert tuple(FeatureRecordSchema().fields) == FIELD_NAMES


def test_the_example_response_shows_every_field():
    assert set(examples.CREATED["metadata"]) == set(FIELD_NAMES)


def test_create_and_update_requests_take_exactly_the_create_and_editable_fields():
    role_and_actor = {"user_role", "last_updated_by"}
    assert set(CreateFeatureSchema().fields) == {"user_role", *CREATE_FIELDS}
    assert set(UpdateFeatureSchema().fields) == {"feature_name", *role_and_actor, *EDITABLE_FIELDS}


def test_critical_fields_are_the_definition_and_all_editable():
    assert CRITICAL_FIELDS == ("feature_type", "feature_data_type", "query")
    assert set(CRITICAL_FIELDS) <= set(EDITABLE_FIELDS)


def test_every_trigger_but_those_declared_stampless_has_a_stamp_rule():
    assert set(TRIGGER_STAMPS) == {name for name, t in TRIGGERS.items() if t.stamps}
    for name, stamps in TRIGGER_STAMPS.items():
        assert feature_fields.FIELDS_BY_NAME[stamps.actor].kind is Kind.ACTOR, name
        assert feature_fields.FIELDS_BY_NAME[stamps.time].kind is Kind.TIME, name


def test_a_trigger_without_its_stamp_columns_is_refused_at_import(monkeypatch):
    unstamped = [f for f in FEATURE_FIELDS if f.stamped_by != "fix"]
    monkeypatch.setattr(feature_fields, "FEATURE_FIELDS", tuple(unstamped))
    with pytest.raises(ValueError, match="trigger 'fix' must stamp one actor and one time"):
        feature_fields._stamps_of("fix")


def test_a_trigger_choosing_its_destination_takes_the_choice_in_its_request():
    for trigger in TRIGGERS.values():
        if trigger.dest_field is not None:
            assert trigger.dest_field in TRIGGER_STAMPS[trigger.name].values
            field = feature_fields.FIELDS_BY_NAME[trigger.dest_field]
            assert set(field.choices) == set(trigger.dests)


def test_every_state_is_declared_with_every_flag_stated():
    assert set(STATES) == set(Status)
    for status, state in STATES.items():
        assert not (state.transient and (state.editable or state.deletable or state.served))
        assert status is not CREATED_STATUS or state.editable


def test_no_trigger_leaves_a_terminal_state_and_every_state_is_reachable():
    reachable = {CREATED_STATUS}
    for trigger in TRIGGERS.values():
        assert not any(STATES[s].terminal for s in trigger.sources), trigger.name
        reachable.update(trigger.dests)
    assert reachable == set(Status)


def test_the_diagram_shows_every_state_and_every_transition():
    diagram = mermaid_diagram()
    for status in Status:
        assert f" {status} " in diagram or f" {status}:" in diagram, status
    for trigger in TRIGGERS.values():
        for source in trigger.sources:
            for dest in trigger.dests:
                assert f"    {source} --> {dest}: {trigger.name}" in diagram


def test_each_trigger_a_caller_fires_has_exactly_one_endpoint_and_no_other_has_one():
    endpoint_triggers = [endpoint.trigger for endpoint in TRIGGER_ENDPOINTS]
    assert sorted(endpoint_triggers) == sorted(t.name for t in fired_by_callers())
