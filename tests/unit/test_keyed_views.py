"""A keyed write's view works on the Database it is handed, never on one it fetches.

``api.idempotency`` hands every writing POST view the Database it writes through as ``db``:
the application's without an Idempotency-Key, the request transaction's with one. Nothing
ambient switches what ``web.context.database()`` returns, so a view that called it would
commit its change apart from its stored response; these tests keep every view from it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from feature_gateway import create_app
from feature_gateway.api.blueprint import ApiBlueprint
from tests.databases import close_app


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path_factory.mktemp('keyed-views') / 'unused.db'}"
    application = create_app({"database_url": url, "TESTING": True})
    yield application
    close_app(application)


def keyed_operations(app: Flask) -> set[str]:
    """The operationIds of the POSTs documenting Idempotency-Key: the view functions' names."""
    document = app.test_client().get("/openapi.json").get_json()
    return {
        operation["operationId"]
        for operations in document["paths"].values()
        for method, operation in operations.items()
        if method == "post"
        and any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    }


def test_every_keyed_writes_view_works_on_the_database_it_is_handed(app):
    names = keyed_operations(app)
    assert {"create_feature_metadata", "approve_feature_metadata", "create_token"} <= names
    views = {
        endpoint.rsplit(".", 1)[-1]: inspect.unwrap(view)
        for endpoint, view in app.view_functions.items()
    }
    for name in names:
        view = views[name]
        assert "db" in inspect.signature(view).parameters, name
        assert "database" not in view.__code__.co_names, f"{name} fetches its own Database"


def test_a_writing_post_whose_view_takes_no_database_is_refused_when_declared():
    blueprint = ApiBlueprint("keyed_views_probe", __name__)

    def write(args: dict[str, Any]) -> dict[str, Any]:
        return args

    with pytest.raises(TypeError, match="write: a keyed write's view takes the Database"):
        blueprint.route("/probe", methods=["POST"])(write)
    blueprint.route("/probe_read", methods=["POST"], reads_only=True)(write)  # a read: fine
