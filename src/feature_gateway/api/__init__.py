"""The JSON API: blueprints, problem+json errors, the role a request names, the API docs."""

from __future__ import annotations

from flask import Flask

from feature_gateway.api.access import AccessDocPlugin
from feature_gateway.api.catalog.routes import blp as catalog_blp
from feature_gateway.api.comments.routes import blp as comments_blp
from feature_gateway.api.docs import (
    MarshmallowPluginWithSchemaRules,
    docs_config,
    register_docs_assets,
)
from feature_gateway.api.events.routes import blp as events_blp
from feature_gateway.api.features.routes import blp as features_blp
from feature_gateway.api.health.routes import blp as health_blp
from feature_gateway.api.identity.routes import blp as identity_blp
from feature_gateway.api.ops.routes import blp as ops_blp
from feature_gateway.api.problems import GatewayApi, register_error_handlers
from feature_gateway.api.tokens.routes import blp as tokens_blp
from feature_gateway.api.values.feast_routes import blp as feast_blp
from feature_gateway.api.values.routes import blp as values_blp
from feature_gateway.api.webhooks.routes import blp as webhooks_blp
from feature_gateway.api.workflow.routes import blp as workflow_blp

BLUEPRINTS = (
    health_blp,
    ops_blp,
    features_blp,
    workflow_blp,
    catalog_blp,
    comments_blp,
    values_blp,
    feast_blp,
    tokens_blp,
    identity_blp,
    events_blp,
    webhooks_blp,
)


def register_api(app: Flask, *, token_mode: bool, sign_on: bool = False) -> GatewayApi:
    for key, value in docs_config(token_mode=token_mode).items():
        app.config.setdefault(key, value)
    spec_kwargs = {
        "marshmallow_plugin": MarshmallowPluginWithSchemaRules(token_mode=token_mode),
        "extra_plugins": [AccessDocPlugin(app, token_mode=token_mode, sign_on=sign_on)],
    }
    api = GatewayApi(app, spec_kwargs=spec_kwargs)
    app.extensions["gateway_api"] = api
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    register_docs_assets(app)
    register_error_handlers(app)
    return api
