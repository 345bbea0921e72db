"""Fixtures for the contract tests: the service's own OpenAPI document, read once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from feature_gateway import create_app
from tests.contract.openapi_contract import Contract
from tests.databases import close_app


@pytest.fixture(scope="session")
def docs_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app for reading the document and the docs pages (never touches its database)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'unused.db'}"
    app = create_app({"database_url": url, "TESTING": True})
    yield app
    close_app(app)


@pytest.fixture(scope="session")
def document(docs_app: Flask) -> dict[str, Any]:
    response = docs_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def contract(document: dict[str, Any]) -> Contract:
    return Contract(document)
