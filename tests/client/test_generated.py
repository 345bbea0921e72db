"""The client cannot drift from the API: its generated files are what the served document
makes of them now, every operation has a method, and it carries the service's version."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import feature_gateway
import feature_gateway_client
from feature_gateway import create_app
from feature_gateway.config import PROJECT_ROOT
from feature_gateway_client import OPERATIONS, Client, models
from tests.conftest import TEST_SECRET_KEY
from tests.databases import close_app


def _load_generator() -> ModuleType:
    """The generator is a script (clients/python/codegen), not part of either package."""
    path = PROJECT_ROOT / "clients" / "python" / "codegen" / "generate.py"
    spec = importlib.util.spec_from_file_location("client_codegen", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generator()
PACKAGE = PROJECT_ROOT / "clients" / "python" / "src" / "feature_gateway_client"


def _document(tmp_path: Path, mode: str) -> dict[str, Any]:
    app = create_app({"auth_mode": mode, "secret_key": TEST_SECRET_KEY,
                      "database_url": f"sqlite:///{tmp_path / 'unused.db'}"})  # fmt: skip
    document: dict[str, Any] = app.extensions["gateway_api"].spec.to_dict()
    close_app(app)
    return document


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        operation["operationId"]: (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in generate.HTTP_METHODS
    }


def test_the_checked_in_client_is_what_the_served_document_generates_now() -> None:
    fresh = generate.generate(generate.served_document())
    stale = [name for name, text in fresh.items() if (PACKAGE / name).read_text() != text]
    assert stale == [], f"{stale} differ from a fresh generation: run `make client`"


@pytest.mark.parametrize("mode", ["trust", "token"])
def test_every_operation_of_the_served_document_has_a_method(tmp_path: Path, mode: str) -> None:
    served = _operations(_document(tmp_path, mode))
    missing = [name for name in served if not callable(getattr(Client, name, None))]
    assert missing == []
    assert {name: (op.method, op.path) for name, op in OPERATIONS.items()} == served


def test_every_method_takes_each_parameter_and_body_field_of_its_operation(
    tmp_path: Path,
) -> None:
    document = _document(tmp_path, "token")
    for path, item in document["paths"].items():
        for method, operation in ((m, o) for m, o in item.items() if m in generate.HTTP_METHODS):
            names = {
                generate._identifier(p["name"])
                for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                if p["name"] not in ("X-User-Role", "Idempotency-Key")
            }
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                schema = document["components"]["schemas"][body["schema"]["$ref"].split("/")[-1]]
                names |= set(schema["properties"])
            taken = set(inspect.signature(getattr(Client, operation["operationId"])).parameters)
            assert names - {"self"} == taken - {"self"}, f"{method} {path}"


def test_each_model_has_exactly_the_properties_of_its_schema(tmp_path: Path) -> None:
    schemas = _document(tmp_path, "token")["components"]["schemas"]
    classes = [c for _, c in inspect.getmembers(models, dataclasses.is_dataclass)]
    assert len(classes) > 20
    for model in classes:
        members = {f.metadata.get("json", f.name) for f in dataclasses.fields(model)}
        assert members == set(schemas[model.__name__]["properties"]), model.__name__


def test_the_client_carries_the_services_version() -> None:
    assert feature_gateway_client.__version__ == feature_gateway.__version__
