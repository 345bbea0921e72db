"""Health endpoint for load balancers and orchestrators; ignores roles."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from feature_gateway import __version__
from feature_gateway.api.access import public
from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.context import database, settings
from feature_gateway.config import AUTH_MODES
from feature_gateway.services.health import database_is_reachable

blp = ApiBlueprint("health", __name__, description="Service health")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["healthy", "unhealthy"]})
    version = fields.String(required=True, metadata={"example": __version__})
    database = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})
    auth = fields.String(
        required=True,
        metadata={
            "enum": list(AUTH_MODES),
            "description": "AUTH_MODE: trust (claimed identities) or token (API tokens)",
        },
    )


@public
@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database cannot be reached")
def health() -> tuple[dict[str, Any], int]:
    """Healthy when the database answers a trivial query."""
    body = {"version": __version__, "auth": settings().auth_mode}
    if not database_is_reachable(database()):
        return {"status": "unhealthy", "database": "unavailable", **body}, 503
    return {"status": "healthy", "database": "ok", **body}, 200
