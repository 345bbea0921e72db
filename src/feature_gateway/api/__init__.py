"""The HTTP layer: blueprints, schemas, problem+json errors, the role check."""

from __future__ import annotations

from flask import Flask

from feature_gateway.api.features.routes import blp as features_blp
from feature_gateway.api.health.routes import blp as health_blp
from feature_gateway.api.json_provider import OrjsonProvider
from feature_gateway.api.ops.routes import blp as ops_blp
from feature_gateway.api.problems import GatewayApi, register_error_handlers
from feature_gateway.api.request_hooks import register_request_hooks
from feature_gateway.api.values.routes import blp as values_blp
from feature_gateway.api.workflow.routes import blp as workflow_blp

BLUEPRINTS = (health_blp, ops_blp, features_blp, workflow_blp, values_blp)


def register_api(app: Flask, *, max_body_bytes: int) -> GatewayApi:
    app.json = OrjsonProvider(app)
    app.config.setdefault("API_TITLE", "Feature Metadata Gateway")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = GatewayApi(app)
    app.extensions["gateway_api"] = api
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    register_request_hooks(app, max_body_bytes)
    register_error_handlers(app)
    return api
