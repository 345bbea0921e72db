"""Online serving: batch feature values (``POST /features``) and the served feature names.

Both endpoints take the seed's payloads as they are: no role is needed, but a role, if
given, must be a known one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Response, jsonify
from flask_smorest import Blueprint

from feature_gateway.api.common_schemas import RoleQuerySchema
from feature_gateway.api.context import database, value_limits
from feature_gateway.api.roles import caller_role
from feature_gateway.api.values.schemas import (
    AvailableFeaturesSchema,
    FeatureValuesRequestSchema,
    FeatureValuesResponseSchema,
)
from feature_gateway.domain.values import OnlineFeatures
from feature_gateway.services import feature_values

blp = Blueprint("values", __name__, description="Serve simulated values of deployed features")


@blp.route("/features", methods=["POST"])
@blp.arguments(FeatureValuesRequestSchema)
@blp.response(200, FeatureValuesResponseSchema)
def get_online_features(args: dict[str, Any]) -> Response:
    """Values of features for a batch of entity rows, column-oriented (Feast-style).

    Unknown and not-deployed features are answered with null values and status NOT_FOUND.
    """
    caller_role(args.pop("user_role", None))
    request = feature_values.ValuesRequest(**args)
    result = feature_values.get_online_features(database(), request, limits=value_limits())
    return render_online_features(result)


def render_online_features(result: OnlineFeatures) -> Response:
    payload = {
        "metadata": {"feature_names": result.feature_names},
        "results": [
            {
                "values": _plain(c.values),
                "statuses": c.statuses,
                "event_timestamps": c.event_timestamps,
            }
            for c in result.columns
        ],
    }
    return jsonify(FeatureValuesResponseSchema().dump(payload))


def _plain(values: Any) -> Any:
    return values.tolist() if isinstance(values, np.ndarray) else values


@blp.route("/features/available", methods=["GET"])
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, AvailableFeaturesSchema)
def available_features(args: dict[str, Any]) -> dict[str, Any]:
    """Names of the deployed features, which POST /features serves."""
    caller_role(args.get("user_role"))
    return {"available_features": feature_values.available_features(database())}
