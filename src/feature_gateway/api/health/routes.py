"""Health endpoint for load balancers and orchestrators; ignores roles."""

from __future__ import annotations

import functools

import orjson
from flask import Response, current_app
from marshmallow import Schema, fields

from feature_gateway import __version__
from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.config import AUTH_MODES
from feature_gateway.db.replicas import ReplicaState
from feature_gateway.framework_adapter import json_response
from feature_gateway.services.health import database_is_reachable, replica_health
from feature_gateway.web.access import public
from feature_gateway.web.context import gateway

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
    replica = fields.String(
        metadata={
            "enum": [state.value for state in ReplicaState],
            "description": "Only with DATABASE_READ_URL: the read replica's state. While it "
            "is lagging (more than READ_MAX_LAG_S behind) or down, its reads go to the "
            "primary: the service stays healthy.",
        }
    )
    replica_lag_s = fields.Float(
        allow_none=True,
        metadata={"description": "Only with DATABASE_READ_URL: the replica's lag as last "
                  "measured, in seconds; null while it is down."},
    )  # fmt: skip


# The only bodies there are, in HealthSchema's shape (the contract tests check every
# answer against it): written once per auth mode, instead of dumped per probe.
@functools.lru_cache(maxsize=4)
def _bodies(auth_mode: str) -> tuple[bytes, bytes]:
    common = {"version": __version__, "auth": auth_mode}
    healthy = orjson.dumps({"status": "healthy", "database": "ok", **common})
    unhealthy = orjson.dumps({"status": "unhealthy", "database": "unavailable", **common})
    return healthy, unhealthy


@public
@blp.route("/health", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database cannot be reached")
def health() -> Response:
    """Healthy when the database answers a trivial query (the primary: a replica that is
    down or lagging only sends its reads to the primary)."""
    # The app and its gateway looked up once (each ``current_app`` access is a lookup; an
    # attribute its proxy lacks, an AttributeError made and dropped).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = gateway()
    healthy, unhealthy = _bodies(found.settings.auth_mode)
    reachable = database_is_reachable(found.database)
    body, status = (healthy, 200) if reachable else (unhealthy, 503)
    replica = replica_health(found.database)
    if replica is not None:
        extra = {"replica": replica.state, "replica_lag_s": replica.lag_s}
        body = orjson.dumps({**orjson.loads(body), **extra})
    return json_response(app.response_class, body, status)
