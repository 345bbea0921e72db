"""Every route the app serves is in the OpenAPI document, and everything documented exists.

The comparison is generic (Flask's url_map against the document's paths), so an endpoint
added anywhere later is held to it without touching this file.
"""

from __future__ import annotations

import re

from flask import Flask

from feature_gateway.web.access import DOCUMENTATION_ENDPOINTS, is_console
from tests.contract.openapi_contract import Contract

# HEAD and OPTIONS are answered by Flask for every GET / every route, not API operations.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
# Endpoints left out on purpose, each with the reason (DOCUMENTATION_ENDPOINTS in web.access):
#   api-docs.openapi_json        /openapi.json, the document itself
#   api-docs.openapi_swagger_ui  /docs, the Swagger UI page that renders it
#   docs-assets.asset            /docs/static/<filename>, Swagger UI's JavaScript and CSS
#   front-door.index             /, links to the console and the documentation
EXCLUDED = DOCUMENTATION_ENDPOINTS
# and every endpoint of the review console (is_console): HTML pages and form posts for
# people (docs/console.md), not operations of the JSON API.

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def served_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXCLUDED or is_console(rule.endpoint):
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        for method in (rule.methods or set()) - IMPLICIT_METHODS:
            operations.add((method, path))
    return operations


def documented_operations(contract: Contract) -> set[tuple[str, str]]:
    return {(operation.method.upper(), operation.path) for operation in contract.operations()}


def test_every_served_endpoint_is_documented(docs_app: Flask, contract: Contract) -> None:
    undocumented = served_operations(docs_app) - documented_operations(contract)
    assert not undocumented, f"served but missing from /openapi.json: {sorted(undocumented)}"


def test_every_documented_operation_is_served(docs_app: Flask, contract: Contract) -> None:
    phantom = documented_operations(contract) - served_operations(docs_app)
    assert not phantom, f"documented but not served: {sorted(phantom)}"


def test_the_excluded_endpoints_exist_so_the_exclusions_cannot_go_stale(docs_app: Flask) -> None:
    assert {rule.endpoint for rule in docs_app.url_map.iter_rules()} >= EXCLUDED


def test_the_comparison_sees_every_api_route(docs_app: Flask) -> None:
    # Guards the test itself: a broken rule-to-path conversion would compare two empty sets.
    served = served_operations(docs_app)
    assert ("POST", "/create_feature_metadata") in served
    assert ("GET", "/features/{feature_name}/history") in served
    assert len(served) >= 16
