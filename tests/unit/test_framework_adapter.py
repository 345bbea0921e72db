"""Private hooks of Flask, flask-smorest, webargs and marshmallow are bent in one module,
``framework_adapter``, and only in the library versions it was checked against."""

import ast
import hashlib
import importlib
import inspect
import pkgutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import flask
import marshmallow as ma
import pytest
from flask_smorest.utils import set_status_and_headers_in_response
from marshmallow import fields
from werkzeug.datastructures import Headers
from werkzeug.local import _ProxyLookup

import feature_gateway
from feature_gateway import framework_adapter

ADAPTER = framework_adapter.__name__
PACKAGE_ROOT = Path(feature_gateway.__file__).parent
# Documented extension points that happen to start with an underscore.
DOCUMENTED_FIELD_HOOKS = {"_serialize", "_deserialize"}  # marshmallow: custom fields
# SQLAlchemy: Row's public API; Flask's "Notes On Proxies": the object behind a proxy.
DOCUMENTED_PRIVATE_LOOKING = {"_mapping", "_asdict", "_get_current_object"}


def _modules() -> list[object]:
    names = [
        info.name for info in pkgutil.walk_packages([str(PACKAGE_ROOT)], prefix="feature_gateway.")
    ]
    return [importlib.import_module(name) for name in names]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _library_overrides() -> list[str]:
    """Our classes' methods that override a private attribute of a library base class."""
    found = []
    for module in _modules():
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            for name, value in vars(cls).items():
                function = getattr(value, "__func__", value)
                if not _private(name) or getattr(function, "__module__", None) != cls.__module__:
                    continue  # not a method written here (e.g. what Enum or a metaclass adds)
                if issubclass(cls, fields.Field) and name in DOCUMENTED_FIELD_HOOKS:
                    continue
                if any(
                    name in vars(base) and not base.__module__.startswith("feature_gateway")
                    for base in cls.__mro__[1:]
                ):
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    return found


def test_private_library_hooks_are_overridden_only_in_the_adapter_module():
    outside = [name for name in _library_overrides() if not name.startswith(ADAPTER + ".")]
    assert outside == []
    assert _library_overrides(), "the adapter overrides hooks; the check must see them"


def _names_defined_in(tree: ast.AST) -> set[str]:
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.alias):
            defined.add(node.asname or node.name)
    return defined


def test_private_library_attributes_are_used_only_in_the_adapter_module():
    adapter = Path(framework_adapter.__file__)
    trees = {
        path: ast.parse(path.read_text()) for path in PACKAGE_ROOT.rglob("*.py") if path != adapter
    }
    # What the adapter defines are library hooks too, so they count as the library's.
    ours = set().union(*(_names_defined_in(tree) for tree in trees.values()))
    uses = [
        f"{path.relative_to(PACKAGE_ROOT)}:{node.lineno} .{node.attr}"
        for path, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _private(node.attr)
        and node.attr not in ours | DOCUMENTED_PRIVATE_LOOKING
    ]
    assert uses == []


@pytest.mark.parametrize("distribution", sorted(framework_adapter.CHECKED_AGAINST))
def test_the_installed_libraries_are_the_versions_the_adapter_was_checked_against(distribution):
    installed = ".".join(version(distribution).split(".")[:2])
    assert installed == framework_adapter.CHECKED_AGAINST[distribution], (
        f"{distribution} {installed}: re-read the hooks in {ADAPTER} against it, then "
        "update CHECKED_AGAINST"
    )


def test_a_direct_schema_refuses_a_nested_schema_it_would_have_to_dump():
    # A page may take its items as they are only if they are in the item schema's shape.
    renamed = framework_adapter.DirectDumpSchema.from_dict(
        {"name": fields.String(data_key="title")}, name="Renamed"
    )
    refused = framework_adapter.DirectDumpSchema.from_dict(
        {"items": fields.List(fields.Nested(renamed))}, name="Refused"
    )
    with pytest.raises(TypeError, match="neither scalar nor direct"):
        refused()
    same = framework_adapter.DirectDumpSchema.from_dict({"name": fields.String()}, name="Same")
    page = framework_adapter.DirectDumpSchema.from_dict(
        {"items": fields.List(fields.Nested(same), data_key="rows"), "total": fields.Integer()},
        name="Page",
    )
    item = {"name": "a"}
    dumped = page().dump({"items": [item], "total": 1})
    assert dumped == {"rows": [item], "total": 1}
    assert dumped["rows"][0] is item  # passed through, not copied


def test_no_request_passes_through_a_flask_smorest_call_layer(tmp_path):
    """``doc``, ``arguments``, ``response`` and ``alt_response`` document a view without
    wrapping it in a function of flask-smorest's that only calls it: every function a
    request runs through, outermost first, is the view's, webargs' or the adapter's."""
    from feature_gateway import create_app

    app = create_app({"database_url": f"sqlite:///{tmp_path}/unused.db"})
    smorest = Path(inspect.getfile(importlib.import_module("flask_smorest"))).parent
    layers = {}
    for endpoint in ("features.get_feature_metadata_by_path", "features.get_feature_metadata",
                     "health.health", "features.create_feature_metadata"):  # fmt: skip
        function = app.view_functions[endpoint]
        while function is not None:
            path = Path(function.__code__.co_filename)
            if path.is_relative_to(smorest):
                layers.setdefault(endpoint, []).append(f"{path.name}:{function.__name__}")
            function = getattr(function, "__wrapped__", None)

    assert layers == {}


def _state(response: flask.Response) -> dict[str, object]:
    """What a response is: its attributes, the headers as their list."""
    state = dict(vars(response))
    state["headers"] = response.headers.to_wsgi_list()
    return state


@pytest.mark.parametrize("status", [200, 201, 304, 503, 599])
@pytest.mark.parametrize("body", [b"", b'{"feature":{"a":1}}', "é".encode() * 3000])
def test_a_json_response_is_the_one_the_constructor_makes_without_calling_it(
    monkeypatch, status, body
):
    made = flask.Response(body, status=status, content_type=framework_adapter.JSON_TYPE)

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the constructor ran")

    monkeypatch.setattr(flask.Response, "__init__", refused)
    monkeypatch.setattr(framework_adapter, "_RESPONSE_INIT", refused)  # as installed
    built = framework_adapter.json_response(flask.Response, body, status)
    assert type(built) is flask.Response
    assert _state(built) == _state(made)
    assert built.get_data() == body and built.status == made.status


def test_a_response_class_with_a_constructor_of_its_own_is_called():
    class Stamped(flask.Response):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self.headers["X-Stamped"] = "yes"

    built = framework_adapter.json_response(Stamped, b"{}", 200)
    assert built.headers["X-Stamped"] == "yes"
    assert built.headers["Content-Type"] == framework_adapter.JSON_TYPE


@pytest.mark.parametrize(
    "existing",
    [
        [],
        [("Content-Type", "application/json")],
        [("x-request-id", "old"), ("Vary", "Accept")],
        [("X-Request-ID", "a"), ("Vary", "Accept"), ("X-REQUEST-ID", "b")],
    ],
)
@pytest.mark.parametrize("value", ["abc-123", "café", "tab\there"])
def test_a_header_set_directly_is_set_as_werkzeug_sets_it(monkeypatch, existing, value):
    expected = Headers(existing)
    expected["X-Request-ID"] = value
    headers = Headers(existing)
    if value.isprintable() and not any(k.lower() == "x-request-id" for k, _ in existing):
        # the case taken directly: werkzeug's set never runs
        monkeypatch.setattr(Headers, "set", None)
        monkeypatch.setattr(Headers, "__setitem__", None)
    framework_adapter.set_header(headers, "X-Request-ID", value)
    assert headers.to_wsgi_list() == expected.to_wsgi_list()


def test_a_header_value_with_a_line_break_is_refused_as_werkzeug_refuses_it():
    with pytest.raises(ValueError, match="newline"):
        framework_adapter.set_header(Headers(), "X-Request-ID", "a\r\nSet-Cookie: x=1")


@pytest.mark.parametrize(
    "headers",
    [{"ETag": '"3"'}, {"ETag": '"3"', "Vary": ["Accept", "Origin"]}, {}, [("ETag", '"4"')], None],
)
@pytest.mark.parametrize("status", [None, 201, "202 ACCEPTED"])
def test_a_views_status_and_headers_are_set_as_flask_smorest_sets_them(headers, status):
    expected = flask.Response(b"{}", content_type="application/json")
    set_status_and_headers_in_response(expected, status, headers)
    response = flask.Response(b"{}", content_type="application/json")
    framework_adapter._set_status_and_headers(response, status, headers)
    assert _state(response) == _state(expected)


class _Envelope(framework_adapter.DirectDumpSchema):
    feature = fields.Dict()
    count = fields.Integer(data_key="total")


def test_a_direct_schema_dumps_a_dict_as_marshmallow_would_without_its_layer(monkeypatch):
    schema = _Envelope()
    item = {"feature": {"a": 1}, "count": 3}
    expected = ma.Schema.dump(schema, item)
    monkeypatch.setattr(ma.Schema, "dump", None)  # the dict is copied without it
    assert schema.dump(item) == expected == {"feature": {"a": 1}, "total": 3}


@pytest.mark.parametrize("step", sorted(framework_adapter.FLASK_STEPS_READ))
def test_flasks_own_steps_are_those_the_adapter_writes_again(step):
    source = inspect.getsource(getattr(flask.Flask, step))
    assert (
        hashlib.sha256(source.encode()).hexdigest() == framework_adapter.FLASK_STEPS_READ[step]
    ), f"Flask.{step} changed: read it again, then RequestBehindProxyFlask.{step}"


@pytest.mark.parametrize("step", sorted(framework_adapter.LIBRARY_STEPS_READ))
def test_the_library_steps_the_adapter_does_the_work_of_are_those_it_read(step):
    module, qualified_name = step
    found: Any = importlib.import_module(module)
    for part in qualified_name.split("."):
        found = getattr(found, part)
    source = inspect.getsource(found)
    assert (
        hashlib.sha256(source.encode()).hexdigest() == framework_adapter.LIBRARY_STEPS_READ[step]
    ), f"{module}.{qualified_name} changed: read it again, then the adapter's step doing its work"


def _hooked(app: flask.Flask, calls: list[str]) -> flask.Flask:
    """``app`` with a hook of every kind on itself and on a blueprint, each noting its run."""
    blueprint = flask.Blueprint("things", __name__)

    @blueprint.get("/things/<name>")
    def thing(name: str) -> str:
        calls.append(f"view {name} {flask.request.blueprints}")

        @flask.after_this_request
        def once(response: flask.Response) -> flask.Response:
            calls.append("after this request")
            return response

        return name

    @blueprint.route("/things", methods=["GET", "POST"])
    def things() -> str:
        return "all"

    for label, where in (("app", app), ("blueprint", blueprint)):

        def before(label: str = label) -> flask.Response | None:
            calls.append(f"before {label}")
            if flask.request.args.get("stop") == label:
                return flask.Response("stopped", status=418)
            return None

        def after(response: flask.Response, label: str = label) -> flask.Response:
            calls.append(f"after {label} {response.status_code}")
            response.headers.add("X-After", label)
            return response

        def teardown(exc: BaseException | None, label: str = label) -> None:
            calls.append(f"teardown {label} {exc!r}")

        def values(endpoint: str | None, args: dict | None, label: str = label) -> None:
            calls.append(f"url values {label} {endpoint} {args}")

        where.before_request(before)
        where.after_request(after)
        where.teardown_request(teardown)
        where.url_value_preprocessor(values)
    app.register_blueprint(blueprint)
    return app


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/things/a"),
        ("GET", "/things/a?stop=blueprint"),
        ("GET", "/things/a?stop=app"),
        ("OPTIONS", "/things"),
        ("DELETE", "/things"),  # 405
        ("GET", "/nothing"),  # 404
    ],
)
def test_the_steps_written_again_run_the_hooks_as_flasks_own(method, path):
    answers = []
    for app_class in (flask.Flask, framework_adapter.RequestBehindProxyFlask):
        calls: list[str] = []
        app = _hooked(app_class("steps"), calls)
        app.config["SECRET_KEY"] = "a session is saved"
        response = app.test_client().open(path, method=method)
        answers.append((calls, response.status_code, response.headers.to_wsgi_list(),
                        response.get_data()))  # fmt: skip
    assert answers[0] == answers[1]
    assert answers[0][0], "the hooks ran"


def test_a_request_looks_up_no_attribute_through_a_proxy(tmp_path, monkeypatch):
    """Flask's own steps read the request behind its proxy (``RequestBehindProxyFlask``):
    an attribute a proxy lacks is an AttributeError made and dropped first."""
    from feature_gateway import create_app

    app = create_app({"database_url": f"sqlite:///{tmp_path}/unused.db"})
    client = app.test_client()
    assert client.get("/health").status_code == 200
    looked_up = []
    lookup = _ProxyLookup.__get__

    def counted(self: _ProxyLookup, instance: object, owner: type | None = None) -> object:
        if instance is not None:
            looked_up.append(self.name)
        return lookup(self, instance, owner)

    monkeypatch.setattr(_ProxyLookup, "__get__", counted)
    assert client.get("/health").status_code == 200
    assert looked_up == []


def _upper(value):
    return value.upper()


def _refuse_x(value):
    if value == "X":
        raise ma.ValidationError("no X")


_FIELDS_AND_VALUES = [
    (fields.String(), ["a", "", ma.missing, None, 7]),
    (fields.String(required=True), ["a", ma.missing, None]),
    (fields.String(allow_none=True, load_default=lambda: "made"), ["a", None, ma.missing]),
    (fields.String(validate=[ma.validate.Length(max=2), _refuse_x]), ["ab", "abc", "X"]),
    (fields.String(pre_load=[_upper], post_load=[str.lower], validate=_refuse_x), ["x", "y"]),
    (fields.Integer(validate=ma.validate.Range(min=0)), [3, -1, "4", True, 2**70]),
    (fields.List(fields.String(), validate=ma.validate.Length(min=1)), [["a"], [], [1], "a"]),
]


@pytest.mark.parametrize(("field", "values"), _FIELDS_AND_VALUES)
def test_a_field_deserialized_directly_loads_and_refuses_as_marshmallow(field, values):
    """``deserialized`` answers as marshmallow's ``Field.deserialize``: the same value, or a
    ValidationError wherever marshmallow raises one (the schema then loads through it)."""
    assert framework_adapter.deserializes_plainly(field)
    for value in values:
        try:
            expected = field.deserialize(value, "key", {"key": value})
        except ma.ValidationError:
            with pytest.raises(ma.ValidationError):
                framework_adapter.deserialized(field, value, "key", {"key": value})
        else:
            assert framework_adapter.deserialized(field, value, "key", {"key": value}) == expected


def test_a_field_overriding_a_step_of_its_load_is_not_deserialized_directly():
    class Own(fields.String):
        def deserialize(self, value, attr=None, data=None, **kwargs):
            return "own"

    class OwnValidation(fields.String):
        def _validate(self, value):
            raise ma.ValidationError("never")

    class OwnConversion(fields.String):  # _deserialize is the documented hook: taken
        def _deserialize(self, value, attr, data, **kwargs):
            return "converted"

    assert not framework_adapter.deserializes_plainly(Own())
    assert not framework_adapter.deserializes_plainly(OwnValidation())
    assert framework_adapter.deserializes_plainly(OwnConversion())
    assert framework_adapter.deserialized(OwnConversion(), "a", "key", {}) == "converted"
