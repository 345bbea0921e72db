"""Health endpoint for load balancers and orchestrators; ignores roles."""

from __future__ import annotations

import orjson
from flask import Response, current_app
from marshmallow import Schema, fields

from feature_gateway import __version__
from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.context import database
from feature_gateway.services.health import database_is_reachable

blp = ApiBlueprint("health", __name__, description="Service health")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["healthy", "unhealthy"]})
    version = fields.String(required=True, metadata={"example": __version__})
    database = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})


# The only two bodies there are, in HealthSchema's shape (the contract tests check every
# answer against it): written once, instead of dumped through the schema per probe.
_HEALTHY = orjson.dumps({"status": "healthy", "version": __version__, "database": "ok"})
_UNHEALTHY = orjson.dumps(
    {"status": "unhealthy", "version": __version__, "database": "unavailable"}
)


@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database cannot be reached")
def health() -> Response:
    """Healthy when the database answers a trivial query."""
    if database_is_reachable(database()):
        return current_app.response_class(_HEALTHY, status=200, mimetype="application/json")
    return current_app.response_class(_UNHEALTHY, status=503, mimetype="application/json")
