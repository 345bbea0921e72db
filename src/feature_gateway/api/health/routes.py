"""Health endpoint for load balancers and orchestrators; ignores roles."""

from __future__ import annotations

from typing import Any

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


@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database cannot be reached")
def health() -> tuple[dict[str, Any], int]:
    """Healthy when the database answers a trivial query."""
    if not database_is_reachable(database()):
        return {"status": "unhealthy", "version": __version__, "database": "unavailable"}, 503
    return {"status": "healthy", "version": __version__, "database": "ok"}, 200
