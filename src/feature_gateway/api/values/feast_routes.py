"""``POST /get-online-features``: Feast's feature-server protocol (SPEC §13), so that Feast's
own client (its ``remote`` online store) reads values from the service unchanged.

The values are ``POST /features``' (one engine, ``services.feature_values``); only the wire
format differs: refs instead of full names, columns named ``feature`` or ``view__feature``,
timestamps as RFC 3339 strings, and no ``event_timestamp`` (Feast asks for now).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response

from feature_gateway.api.access import names_no_role
from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.context import read_counter, value_limits
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import read_freshness
from feature_gateway.api.roles import consumer, require_any_role
from feature_gateway.api.values.feast_schemas import (
    OnlineFeaturesRequestSchema,
    OnlineFeaturesResponseSchema,
)
from feature_gateway.api.values.routes import columns_response
from feature_gateway.domain.feature_refs import FeatureRef, parse_ref, rfc3339
from feature_gateway.domain.names import parse_feature_name
from feature_gateway.services import feature_values
from feature_gateway.web.context import database

blp = ApiBlueprint("feast", __name__, description="Serve values to Feast's own client")

EXAMPLE = {
    "features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats@v2:acc_rate"],
    "entities": {"driver_id": ["D001", "D002"]},
    "full_feature_names": False,
}


@names_no_role
@blp.route("/get-online-features", methods=["POST"], replicated=True)
@blp.arguments(OnlineFeaturesRequestSchema, example=EXAMPLE)
@blp.response(200, OnlineFeaturesResponseSchema)
@blp.problems(Problems.VALUES)
def get_online_features_feast(args: dict[str, Any]) -> Response:
    """Values of features for a batch of entity rows, in Feast's feature-server protocol.

    Unknown and not-served features are answered with null values and status NOT_FOUND.
    """
    require_any_role()  # Feast's protocol has no field naming one
    refs = [ref for ref in map(parse_ref, args["features"]) if ref is not None]
    request = feature_values.RefsRequest(refs, args["entities"])
    served = feature_values.get_online_features_by_refs(
        database(),
        request,
        limits=value_limits(),
        count_reads=read_counter(consumer()),
        freshness=read_freshness(),
    )
    names = [ref.column_name(args["full_feature_names"]) for ref in refs]
    metadata: dict[str, Any] = {"feature_names": [*args["entities"], *names]}
    if args["include_feature_view_version_metadata"]:
        metadata["feature_view_metadata"] = _views_served(refs, served)
    return columns_response(metadata, served.features.columns, Rfc3339Columns())


def _views_served(
    refs: Sequence[FeatureRef], served: feature_values.ServedRefs
) -> list[dict[str, Any]]:
    """Each view and version a served ref read, once, in request order."""
    views: dict[tuple[str, int], dict[str, Any]] = {}
    for ref in refs:
        spec = served.versions.get(ref.ref)
        parts = parse_feature_name(spec.name) if spec is not None else None
        if parts is not None:
            views.setdefault(
                (ref.view, parts.version), {"name": ref.view, "version": parts.version}
            )
    return list(views.values())


class Rfc3339Columns:
    """A column's epoch-ms timestamps as RFC 3339 strings. The engine shares one list among
    all the columns of a time bucket, so each list is converted once per response."""

    def __init__(self) -> None:
        self._converted: dict[int, tuple[Sequence[int], list[str]]] = {}

    def __call__(self, times: Sequence[int]) -> list[str]:
        known = self._converted.get(id(times))
        if known is None:
            strings = _converted(times)
            # The list is kept with its strings, so its id is not reused while we look.
            known = self._converted[id(times)] = (times, strings)
        return known[1]


def _converted(times: Sequence[int]) -> list[str]:
    """Each time as RFC 3339. The engine's lists hold one time each (a bucket's start, or
    the request's time), written once then; any other list is converted value by value."""
    if times and times.count(times[0]) == len(times):
        return [rfc3339(times[0])] * len(times)
    texts: dict[int, str] = {}
    return [texts.get(t) or texts.setdefault(t, rfc3339(t)) for t in times]
