"""A request schema's refused load raises the error marshmallow would, field for field, and
leaves no reference cycle behind (docs/performance.md, "i29-drift")."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from marshmallow import Schema, ValidationError, fields

from feature_gateway import create_app
from feature_gateway.shapes.schema_fields import StrictSchema
from tests.databases import close_app

FIELDS = {"name": fields.String(required=True), "count": fields.Integer()}
Strict = StrictSchema.from_dict(FIELDS, name="Strict")
Plain = Schema.from_dict(FIELDS, name="Plain")


def _refusal(schema: Schema, data: Any, **load: Any) -> tuple[Any, ...]:
    try:
        schema.load(data, **load)
    except ValidationError as error:
        return (type(error), error.args, error.messages, error.field_name, error.data,
                error.valid_data, error.kwargs)  # fmt: skip
    raise AssertionError("not refused")


@pytest.mark.parametrize(
    "data, load",
    [
        ({"count": "x"}, {}),
        ({"name": "n", "count": 1, "other": 2}, {}),
        ([{"name": "n"}, {"count": 1}], {"many": True}),
        ({"count": "x"}, {"partial": True}),
        ("not an object", {}),
    ],
)
def test_a_refused_load_raises_the_error_marshmallow_would(data: Any, load: dict[str, Any]):
    plain = Plain(unknown="raise")
    assert _refusal(Strict(), data, **load) == _refusal(plain, data, **load)


def test_a_refused_load_leaves_nothing_for_the_garbage_collector():
    schema = Strict()
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            _refusal(schema, {"count": "x", "other": 1})
        assert gc.collect() == 0
        _refusal(Plain(), {"count": "x"})  # marshmallow's own error: its frame, its traceback
        assert gc.collect() > 0
    finally:
        gc.enable()


def test_every_schema_a_view_loads_is_a_strict_schema(tmp_path):
    # What the views' arguments load (flask-smorest's doc info): each refusal is raised by
    # StrictSchema.handle_error, so none leaves its request behind.
    app = create_app({"database_url": f"sqlite:///{tmp_path / 'unused.db'}", "TESTING": True})
    try:
        loaded = {
            (endpoint, parameter["schema"])
            for endpoint, view in app.view_functions.items()
            for parameter in getattr(view, "_apidoc", {})
            .get("arguments", {})
            .get("parameters", [])
        }
    finally:
        close_app(app)
    assert len(loaded) > 30
    classes = {(endpoint, s if isinstance(s, type) else type(s)) for endpoint, s in loaded}
    assert sorted(e for e, schema in classes if not issubclass(schema, StrictSchema)) == []
