"""What is derived from the field table and the lifecycle table agrees with them.

Each test names one way the declarations could drift apart: a column without a field, a
schema missing a field, a trigger without a stamp rule or an endpoint, a state missing from
the diagram or from the state table.
"""

import ast
import inspect

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text

from feature_gateway.api.features.schemas import CreateFeatureSchema, UpdateFeatureSchema
from feature_gateway.db import models
from feature_gateway.db.base import Base
from feature_gateway.db.feature_pages import page_conditions
from feature_gateway.db.models import (
    FEATURES_TABLE,
    STORED_JSON,
    STORED_JSON_REVISION,
    filter_index,
)
from feature_gateway.domain import feature_fields
from feature_gateway.domain.changes import ChangeAction, change_actions
from feature_gateway.domain.comments import COMMENT_FIELDS
from feature_gateway.domain.feature_fields import (
    CREATE_FIELDS,
    CRITICAL_FIELDS,
    EDITABLE_FIELDS,
    FEATURE_FIELDS,
    FIELD_NAMES,
    TRIGGER_STAMPS,
    Kind,
)
from feature_gateway.domain.identity import ACTOR_FIELDS, IDENTITY_FIELDS
from feature_gateway.domain.lifecycle import (
    CREATED_STATUS,
    STATES,
    TRIGGERS,
    Action,
    Role,
    Status,
    Trigger,
    Write,
    fired_by_callers,
)
from feature_gateway.domain.lifecycle_diagram import mermaid_diagram
from feature_gateway.domain.listing import LIST_FILTERS, FeatureQuery, FilterKind
from feature_gateway.shapes import examples
from feature_gateway.shapes.feature_schemas import FeatureMetadataSchema, FeatureRecordSchema
from feature_gateway.shapes.list_filters import ListFiltersQuerySchema, ListFiltersSchema
from feature_gateway.shapes.trigger_endpoints import TRIGGER_ENDPOINTS

STORAGE_ONLY_COLUMNS = {
    "id",
    "canonical_name",
    "family_name",
    "version_key",
    STORED_JSON,  # the row's fields as JSON (db.feature_json), never a field itself
    STORED_JSON_REVISION,
}
SQL_TYPES = {
    Kind.NAME: String,
    Kind.CHOICE: String,
    Kind.STATUS: String,
    Kind.QUERY: Text,
    Kind.DESCRIPTION: Text,
    Kind.ACTOR: String,
    Kind.TEAM: String,
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


# The trigger trial: a trigger added as docs/architecture.md says (its entry in TRIGGERS,
# its stamp fields in the field table), built through the same derivations as the real ones.
REINSTATE = Trigger(
    "reinstate",
    frozenset({Status.DEPRECATED}),
    (Status.DEPLOYED,),
    frozenset({Role.APPROVER}),
    Action.DEPRECATE,
)
REINSTATE_STAMPS = (
    feature_fields._stamp("reinstated_by", Kind.ACTOR, "reinstate"),
    feature_fields._stamp("reinstated_time", Kind.TIME, "reinstate"),
)


# The table without any reinstate trigger, so that the trial runs as well once it is real.
OTHER_FIELDS = tuple(f for f in FEATURE_FIELDS if f.stamped_by != "reinstate")
OTHER_CALLER_TRIGGERS = [t for t in fired_by_callers() if t.name != "reinstate"]


def test_a_new_triggers_actor_field_is_an_actor_field_bound_to_the_principal():
    fields = (*OTHER_FIELDS, *REINSTATE_STAMPS)
    stamps = feature_fields.trigger_stamps(fields, {**TRIGGERS, "reinstate": REINSTATE})
    assert stamps["reinstate"].actor == "reinstated_by"
    assert "reinstated_by" in feature_fields.actor_fields(fields)


def test_a_new_trigger_whose_actor_is_not_declared_an_actor_is_refused():
    as_team = (
        feature_fields.Field("reinstated_by", Kind.TEAM, stamped_by="reinstate"),
        REINSTATE_STAMPS[1],
    )
    with pytest.raises(ValueError, match="trigger 'reinstate' must stamp one actor"):
        feature_fields.trigger_stamps(
            (*OTHER_FIELDS, *as_team), {**TRIGGERS, "reinstate": REINSTATE}
        )


def test_an_actor_field_naming_no_write_is_refused():
    unstamped = feature_fields.Field("reviewed_by", Kind.ACTOR)
    with pytest.raises(ValueError, match=r"must name the write .*\['reviewed_by'\]"):
        feature_fields.actor_fields((*FEATURE_FIELDS, unstamped))


def test_a_new_trigger_a_caller_fires_is_a_change_log_action_and_an_event_type():
    actions = list(change_actions([*OTHER_CALLER_TRIGGERS, REINSTATE]).values())
    assert actions[-1] == "reinstate"
    assert actions[:-1] == [action for action in ChangeAction if action != "reinstate"]


def test_every_actor_a_write_stamps_is_bound_and_no_other_field_is():
    stamped_actors = {stamps.actor for stamps in TRIGGER_STAMPS.values()}
    comment_authors = {f.name for f in COMMENT_FIELDS if f.kind is Kind.ACTOR}
    assert comment_authors == {"author"}
    assert stamped_actors | {"created_by", "last_updated_by"} | comment_authors == set(
        ACTOR_FIELDS
    )
    assert set(ACTOR_FIELDS) <= IDENTITY_FIELDS
    for field in FEATURE_FIELDS:
        assert (field.kind is Kind.ACTOR) == (field.name in ACTOR_FIELDS), field.name
    assert "owner" not in ACTOR_FIELDS  # names who answers for a feature, not who acts


def test_the_change_actions_are_the_writes_then_the_triggers_a_caller_fires():
    expected = [*Write, *(t.name for t in fired_by_callers())]
    assert list(ChangeAction) == expected
    assert {t.name for t in TRIGGERS.values() if t.action is None}.isdisjoint(ChangeAction)


def test_a_new_row_gets_the_defaults_the_field_table_declares():
    given = {"created_by": "dev", "tags": None}
    assert feature_fields.with_defaults(given) == {"created_by": "dev", "owner": "dev", "tags": {}}
    tags = {"team": "pricing"}
    row = feature_fields.with_defaults({"created_by": "dev", "owner": "ops", "tags": tags})
    assert row["owner"] == "ops" and row["tags"] == tags and row["tags"] is not tags
    for field in FEATURE_FIELDS:
        assert field.default_from is None or field.default_from in FIELD_NAMES, field.name


def _type_checking_annotations() -> dict[str, str]:
    """The attribute annotations ``db/models.py`` gives ``Feature`` for mypy, as written."""
    tree = ast.parse(inspect.getsource(models))
    feature = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Feature")
    block = next(n for n in feature.body if isinstance(n, ast.If))
    assert ast.unparse(block.test) == "TYPE_CHECKING"
    return {
        statement.target.id: ast.unparse(statement.annotation)
        for statement in block.body
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
    }


def test_the_models_annotations_for_mypy_agree_with_the_columns():
    annotations = _type_checking_annotations()
    assert annotations
    for name, annotation in annotations.items():
        column = FEATURES_TABLE.c[name]
        python_type = column.type.python_type.__name__
        if python_type == "dict":
            python_type = "dict[str, str]"
        optional = " | None" if column.nullable else ""
        assert annotation == f"Mapped[{python_type}{optional}]", name


@pytest.mark.parametrize("list_filter", LIST_FILTERS, ids=lambda f: f.name)
def test_each_list_filter_has_the_index_it_needs(list_filter):
    # The models' indexes are checked against the migrations by `alembic check`.
    needed = filter_index(list_filter)
    if needed is None:
        assert list_filter.kind in (FilterKind.SEARCH, FilterKind.FLAG)
        return
    table, columns = needed
    indexes = [tuple(c.name for c in i.columns) for i in Base.metadata.tables[table].indexes]
    assert any(index[: len(columns)] == columns for index in indexes), (table, columns)


def _sample(list_filter):
    return {
        FilterKind.FLAG: True,
        FilterKind.ANY_OF: (list_filter.choices or ("pricing-team",))[:1],
        FilterKind.TAGS: (("team", None),),
        FilterKind.AT_OR_AFTER: 1,
        FilterKind.BEFORE: 1,
        FilterKind.EQUALS: "dev",
        FilterKind.SEARCH: "conv",
    }[list_filter.kind]


@pytest.mark.parametrize("list_filter", LIST_FILTERS, ids=lambda f: f.name)
def test_each_list_filter_given_changes_the_statement_and_reads_its_column(list_filter):
    assert list_filter.column is None or list_filter.column in FIELD_NAMES
    _, unfiltered = page_conditions(FeatureQuery(), "sqlite")
    query = FeatureQuery(**{list_filter.name: _sample(list_filter)})
    build, values = page_conditions(query, "sqlite")
    assert values != unfiltered
    if list_filter.column is not None:
        sql = " AND ".join(str(condition) for condition in build())
        assert f"features.{list_filter.column}" in sql


def test_both_list_schemas_take_every_filter_and_the_page_and_sort():
    query_fields = set(FeatureQuery.__dataclass_fields__)
    for schema in (ListFiltersSchema(), ListFiltersQuerySchema()):
        assert set(schema.fields) - {"user_role"} == query_fields
