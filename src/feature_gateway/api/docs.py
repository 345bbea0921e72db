"""The API document's settings, and Swagger UI at /docs served from the service itself.

The Swagger UI files come from the ``swagger-ui-bundle`` Python package and are served by
the ``docs-assets`` blueprint below, so /docs works on a machine with no internet access.
That bundle is Swagger UI 4, which renders OpenAPI 3.0 (not 3.1): hence OPENAPI_VERSION.
"""

from __future__ import annotations

from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from flask import Blueprint, Flask, Response, send_from_directory
from marshmallow import Schema
from swagger_ui_bundle import swagger_ui_path

from feature_gateway.api.role_schemas import ROLE_HEADER

DOCS_PATH = "/docs"
DOCS_ASSETS_PATH = "/docs/static"
# Routes that serve the documentation itself rather than API operations.
DOCUMENTATION_ENDPOINTS = frozenset(
    {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs-assets.asset"}
)

DESCRIPTION = f"""\
System of record for ML feature metadata: definitions, the governance workflow
(developer → external testing system → approver → deployed) and its audit trail.

**Roles.** The metadata endpoints act as a role: `developer`, `approver` or
`external_testing_system`. POST endpoints read it from the body field `user_role`; GET
endpoints from the `user_role` query parameter or the `{ROLE_HEADER}` header. A missing or
unknown role is answered 422, a role that may not perform the action 403. The serving
endpoints (`POST /features`, `GET /features/available`) need no role, but one that is given
must be known; `/health`, `/livez` and `/metrics` ignore roles.

**Errors.** Every error is an RFC 9457 problem (`application/problem+json`) with `type`,
`title`, `status` and a human-readable `detail`; validation errors add `errors`, the messages
for each invalid field. Each operation lists the error statuses it can return.

**Times** are integer epoch milliseconds.
"""


def docs_config() -> dict[str, Any]:
    """flask-smorest settings for the document at /openapi.json and Swagger UI at /docs."""
    return {
        "API_TITLE": "Feature Metadata Gateway",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": DOCS_PATH,
        "OPENAPI_SWAGGER_UI_URL": f"{DOCS_ASSETS_PATH}/",
        "OPENAPI_SWAGGER_UI_CONFIG": {
            "validatorUrl": None,  # the default posts the document to an online validator
            "deepLinking": True,
            "displayOperationId": True,
            "displayRequestDuration": True,
        },
        "API_SPEC_OPTIONS": {
            "info": {
                "description": DESCRIPTION,
                "license": {"name": "MIT", "url": "https://opensource.org/licenses/MIT"},
            },
        },
    }


class _ConverterWithSchemaRules(OpenAPIConverter):
    """Adds a schema's ``OPENAPI_RULES``: what its ``validates_schema`` methods enforce across
    fields, which no single field's JSON schema can state (e.g. "at least one of")."""

    def schema2jsonschema(self, schema: type[Schema] | Schema) -> dict[str, Any]:
        json_schema: dict[str, Any] = super().schema2jsonschema(schema)  # type: ignore[no-untyped-call]
        json_schema.update(getattr(schema, "OPENAPI_RULES", {}))
        return json_schema


class MarshmallowPluginWithSchemaRules(MarshmallowPlugin):
    Converter = _ConverterWithSchemaRules


def register_docs_assets(app: Flask) -> None:
    assets = Blueprint("docs-assets", __name__, url_prefix=DOCS_ASSETS_PATH)

    @assets.get("/<path:filename>")
    def asset(filename: str) -> Response:
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    app.register_blueprint(assets)
