"""Operational endpoints for orchestrators and monitoring; like /health they ignore roles."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Response
from marshmallow import Schema, fields

from feature_gateway import __version__
from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.ops.metrics import delivery_exposition, exposition
from feature_gateway.errors import DatabaseUnavailableError
from feature_gateway.services import webhooks
from feature_gateway.services.health import replica_health
from feature_gateway.web.access import public
from feature_gateway.web.context import database, settings

blp = ApiBlueprint("ops", __name__, description="Liveness and metrics")


class LivenessSchema(Schema):
    status = fields.String(metadata={"enum": ["alive"]})
    version = fields.String()


@public
@blp.route("/livez", methods=["GET"])
@blp.response(200, LivenessSchema)
def livez() -> dict[str, Any]:
    """Alive when the worker answers; never touches the database (see /health for that)."""
    return {"status": "alive", "version": __version__}


@public
@blp.route("/metrics", methods=["GET"])
@blp.doc(
    summary="Prometheus metrics",
    responses={
        "200": {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics() -> Response:
    """Request counts and latencies, status changes, the read replica's lag and where its
    reads were served; summed over all gunicorn workers. The webhook outbox's figures are
    read from the database (left out while it is down)."""
    replica_health(database())  # measured again when due, for the replica's gauges
    body, content_type = exposition(settings().prometheus_multiproc_dir)
    with contextlib.suppress(DatabaseUnavailableError):
        body += delivery_exposition(webhooks.delivery_stats(database()))
    return Response(body, content_type=content_type)
