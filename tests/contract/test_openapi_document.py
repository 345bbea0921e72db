"""The OpenAPI document at /openapi.json: valid, complete, and the same one the CLI writes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate

from feature_gateway.shapes import examples
from tests.conftest import SEED_FEATURE
from tests.contract.openapi_contract import Contract

PROBLEM = "application/problem+json"
JSON_BODY_ERRORS = {400, 413, 415, 422}


def test_the_served_document_is_a_valid_openapi_3_document(document: dict[str, Any]) -> None:
    validate(document)  # raises with the first violation
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Feature Metadata Gateway"


def test_the_document_is_served_as_json(docs_app: Flask) -> None:
    response = docs_app.test_client().get("/openapi.json")
    assert response.mimetype == "application/json"


def test_the_cli_writes_the_served_document(
    docs_app: Flask, document: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "openapi.json"
    result = docs_app.test_cli_runner().invoke(args=["openapi", "-o", str(target)])
    assert result.exit_code == 0, result.output
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written == document
    validate(written)


def test_the_cli_prints_the_document_without_an_output_file(
    docs_app: Flask, document: dict[str, Any]
) -> None:
    result = docs_app.test_cli_runner().invoke(args=["openapi"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == document


def test_every_operation_has_a_unique_operation_id(contract: Contract) -> None:
    ids = [operation.spec.get("operationId") for operation in contract.operations()]
    assert None not in ids, "an operation has no operationId: declare it on ApiBlueprint"
    assert len(ids) == len(set(ids))


def test_every_operation_has_a_summary_and_a_tag(contract: Contract) -> None:
    for operation in contract.operations():
        assert operation.spec.get("summary"), operation.label
        assert operation.spec.get("tags"), operation.label


def test_every_error_response_is_a_documented_problem(contract: Contract) -> None:
    for operation in contract.operations():
        for status, response in operation.spec["responses"].items():
            if int(status) < 400 or operation.path == "/health":
                continue  # /health answers 503 with its own body
            content = contract.resolve(response)["content"]
            assert list(content) == [PROBLEM], f"{operation.label} {status}"
            assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_no_operation_relies_on_a_catch_all_default_response(contract: Contract) -> None:
    for operation in contract.operations():
        assert "default" not in operation.spec["responses"], operation.label


def test_operations_with_a_json_body_document_its_transport_errors(contract: Contract) -> None:
    for operation in contract.operations():
        if "requestBody" in operation.spec:
            assert operation.statuses >= JSON_BODY_ERRORS, operation.label
            assert list(operation.spec["requestBody"]["content"]) == ["application/json"]


def test_the_problem_schema_states_the_rfc_9457_members(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"errors", "request_id"} <= set(problem["properties"])


def test_get_operations_taking_user_role_also_document_the_role_header(
    contract: Contract,
) -> None:
    for operation in contract.operations():
        names = {(p["in"], p["name"]) for p in operation.parameters}
        if operation.method == "get" and ("query", "user_role") in names:
            assert ("header", "X-User-Role") in names, operation.label


def test_bodies_that_carry_a_role_require_it(contract: Contract) -> None:
    for operation in contract.operations():
        example = operation.body_example
        if example is not None and "user_role" in example:
            schema = contract.resolve(
                operation.spec["requestBody"]["content"]["application/json"]["schema"]
            )
            assert "user_role" in schema["required"], operation.label


@pytest.mark.parametrize("direction", ["request", "response"])
def test_every_example_is_valid_against_its_schema(contract: Contract, direction: str) -> None:
    checked = 0
    for operation in contract.operations():
        if direction == "request" and "requestBody" in operation.spec:
            media = operation.spec["requestBody"]["content"]["application/json"]
            medias = [media]
        elif direction == "response":
            medias = [
                m
                for r in operation.spec["responses"].values()
                for m in contract.resolve(r).get("content", {}).values()
            ]
        else:
            continue
        for media in medias:
            if "example" in media:
                errors = contract.schema_errors(
                    media["schema"], media["example"], reading=direction == "response"
                )
                assert not errors, f"{operation.label} {direction} example: {errors}"
                checked += 1
    assert checked > 0


def test_every_operation_with_a_body_shows_an_example(contract: Contract) -> None:
    for operation in contract.operations():
        if "requestBody" in operation.spec:
            # {} is an example too, for a body whose every field is optional (redeliver)
            assert operation.body_example is not None, operation.label


def test_the_create_example_is_the_seed_payload(contract: Contract) -> None:
    create = next(o for o in contract.operations() if o.operation_id == "create_feature_metadata")
    assert create.body_example == SEED_FEATURE == examples.CREATE


def test_the_name_in_a_path_follows_the_same_rule_as_in_a_body(
    contract: Contract, document: dict[str, Any]
) -> None:
    body_rule = document["components"]["schemas"]["FeatureRef"]["properties"]["feature_name"]
    for operation in contract.operations():
        for parameter in operation.parameters:
            if parameter["in"] == "path" and parameter["name"] == "feature_name":
                assert parameter["schema"]["pattern"] == body_rule["pattern"]
                assert parameter["schema"]["maxLength"] == body_rule["maxLength"]


def test_docs_page_loads_swagger_ui_from_the_service_itself(docs_app: Flask) -> None:
    client = docs_app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/openapi.json" in html
    assert not re.search(
        r"(src|href)=\"(https?:)?//", html
    ), "the page must not load remote assets"
    assets = re.findall(r"(?:src|href)=\"(/docs/static/[^\"]+)\"", html)
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.get_data()) > 1000, asset
        response.close()


def test_swagger_ui_is_configured_not_to_call_the_online_validator(docs_app: Flask) -> None:
    html = docs_app.test_client().get("/docs").get_data(as_text=True)
    assert '"validatorUrl":null' in html.replace(" ", "")
