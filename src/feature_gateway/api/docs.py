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

from feature_gateway.api.access import BEARER_SCHEME, SECURITY_SCHEMES
from feature_gateway.domain.identity import IDENTITY_FIELDS, ROLE_FIELD, claimable_roles
from feature_gateway.shapes.role_schemas import ROLE_HEADER
from feature_gateway.shapes.schema_fields import StrictSchema

DOCS_PATH = "/docs"
DOCS_ASSETS_PATH = "/docs/static"

DESCRIPTION = f"""\
System of record for ML feature metadata: definitions, the governance workflow
(developer → external testing system → approver → deployed) and its audit trail.

**Roles.** The metadata endpoints act as a role: `developer`, `approver` or
`external_testing_system`. POST endpoints read it from the body field `user_role`; GET
endpoints from the `user_role` query parameter or the `{ROLE_HEADER}` header. A missing or
unknown role is answered 422, a role that may not perform the action 403. The serving
endpoints (`POST /features`, `GET /features/available`) need no role, but one that is given
must be known; `/health`, `/livez` and `/metrics` ignore roles.

{{authentication}}

**Separation of duties** (both modes): the tester may not be the feature's creator, anyone
who changed its definition or its submitter; the approver (or rejecter) none of them, nor
the tester. Refusals are 403 naming the rule and the person.

**Errors.** Every error is an RFC 9457 problem (`application/problem+json`) with `type`,
`title`, `status` and a human-readable `detail`; validation errors add `errors`, the messages
for each invalid field. Each operation lists the error statuses it can return.

**Times** are integer epoch milliseconds.
"""


_CLAIMED_IDENTITIES = """\
**Authentication.** This service runs in trust mode (`AUTH_MODE=trust`): the role and the
actor names (`created_by`, `approved_by`, ...) are what each request claims, and nothing
verifies them."""

_VERIFIED_IDENTITIES = """\
**Authentication.** This service runs in token mode (`AUTH_MODE=token`): every operation but
`/health`, `/livez` and `/metrics` needs `Authorization: Bearer <token>` (the *Authorize*
button above), else 401. The token says who you are and which roles you may act in:
`user_role` may be left out (the token's role that may perform the action is used) and so
may the actor fields (`created_by`, `approved_by`, ...); when given, they must be one of the
token's roles and your own name (else 403)."""


def docs_config(*, token_mode: bool = False) -> dict[str, Any]:
    """flask-smorest settings for the document at /openapi.json and Swagger UI at /docs."""
    description = DESCRIPTION.replace(
        "{authentication}", _VERIFIED_IDENTITIES if token_mode else _CLAIMED_IDENTITIES
    )
    security: dict[str, Any] = {}
    if token_mode:
        security = {
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "security": [{BEARER_SCHEME: []}],
        }
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
                "description": description,
                "license": {"name": "MIT", "url": "https://opensource.org/licenses/MIT"},
            },
            **security,
        },
    }


class _ConverterWithSchemaRules(OpenAPIConverter):
    """Adds a schema's ``OPENAPI_RULES``: what its ``validates_schema`` methods enforce across
    fields, which no single field's JSON schema can state (e.g. "at least one of").

    In token mode the identity fields of request bodies (role and actor names) are optional,
    as the parser loads them (``api.roles.identity_fields_optional``).
    """

    token_mode = False

    def schema2jsonschema(self, schema: type[Schema] | Schema) -> dict[str, Any]:
        json_schema: dict[str, Any] = super().schema2jsonschema(schema)  # type: ignore[no-untyped-call]
        json_schema.update(getattr(schema, "OPENAPI_RULES", {}))
        is_request = isinstance(schema, StrictSchema) or (
            isinstance(schema, type) and issubclass(schema, StrictSchema)
        )
        if self.token_mode and is_request and "required" in json_schema:
            required = [f for f in json_schema["required"] if f not in IDENTITY_FIELDS]
            json_schema["required"] = required
            if not required:
                del json_schema["required"]
        return json_schema


def _role_enum(converter: _ConverterWithSchemaRules, field: Any, **_: Any) -> dict[str, Any]:
    """The roles a request may name: the workflow's in trust mode, admin too with a token."""
    if field.name != ROLE_FIELD:
        return {}
    return {"enum": claimable_roles(token_mode=converter.token_mode)}


class MarshmallowPluginWithSchemaRules(MarshmallowPlugin):
    Converter = _ConverterWithSchemaRules

    def __init__(self, *args: Any, token_mode: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token_mode = token_mode

    def init_spec(self, spec: Any) -> None:
        super().init_spec(spec)
        if not isinstance(self.converter, _ConverterWithSchemaRules):
            raise TypeError("MarshmallowPlugin made a converter of another class")
        self.converter.token_mode = self.token_mode
        self.converter.add_attribute_function(_role_enum)  # type: ignore[no-untyped-call]


def register_docs_assets(app: Flask) -> None:
    assets = Blueprint("docs-assets", __name__, url_prefix=DOCS_ASSETS_PATH)

    @assets.get("/<path:filename>")
    def asset(filename: str) -> Response:
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    app.register_blueprint(assets)
