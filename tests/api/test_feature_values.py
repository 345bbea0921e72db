"""POST /features and GET /features/available through the test client, on both databases."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient
from werkzeug.local import _ProxyLookup

from feature_gateway.api.values.routes import render_online_features
from feature_gateway.api.values.schemas import FeatureValuesResponseSchema
from feature_gateway.domain.values import Column, FeatureSpec, OnlineFeatures
from feature_gateway.services.clock import now_ms
from tests.value_oracle import simulated_value

SEED_REQUEST = {
    "features": ["driver_hourly_stats:conv_rate:1", "driver_hourly_stats:acc_rate:2"],
    "entities": {"driver_id": ["D001", "D002"]},
    "event_timestamp": 1751429485000,
}
SEED_DAY = 1751414400000  # 2025-07-02T00:00:00Z, the UTC day of the seed's timestamp
DATA_TYPES = ("string", "float", "double", "decimal", "integer", "int", "bigint", "boolean")
MakeFeature = Callable[..., dict[str, Any]]


def _values(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    """The 200 body of POST /features, checked against the documented response schema."""
    response = client.post("/features", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    answer: dict[str, Any] = response.get_json()
    assert FeatureValuesResponseSchema().validate(answer) == {}
    return answer


def _deploy(make_feature: MakeFeature, name: str, **fields: Any) -> FeatureSpec:
    feature = make_feature("DEPLOYED", feature_name=name, **fields)
    return FeatureSpec(name, feature["feature_type"], feature["feature_data_type"])


def test_the_seed_example_is_answered_with_pinned_values(client, make_feature):
    _deploy(make_feature, "driver_hourly_stats:conv_rate:1")
    _deploy(make_feature, "driver_hourly_stats:acc_rate:2")

    body = _values(client, SEED_REQUEST)

    t, day = SEED_REQUEST["event_timestamp"], SEED_DAY
    assert body == {
        "metadata": {"feature_names": ["driver_id", *SEED_REQUEST["features"]]},
        "results": [
            {
                "values": ["D001", "D002"],
                "statuses": ["PRESENT", "PRESENT"],
                "event_timestamps": [t, t],
            },
            # Pinned: a change here breaks every client's expectations across versions.
            {
                "values": [0.3794, 0.2552],
                "statuses": ["PRESENT", "PRESENT"],
                "event_timestamps": [day, day],
            },
            {
                "values": [0.1597, 0.9216],
                "statuses": ["PRESENT", "PRESENT"],
                "event_timestamps": [day, day],
            },
        ],
    }


def test_the_seed_example_succeeds_before_anything_is_deployed(client):
    body = _values(client, SEED_REQUEST)
    t = SEED_REQUEST["event_timestamp"]
    assert (
        body["results"][1:]
        == [
            {
                "values": [None, None],
                "statuses": ["NOT_FOUND", "NOT_FOUND"],
                "event_timestamps": [t, t],
            },
        ]
        * 2
    )


def test_columns_are_entity_keys_then_features_in_request_order(client, make_feature):
    names = [_deploy(make_feature, f"order_view:f{i}:1").name for i in range(3)]
    request = {
        "features": [names[2], "order_view:missing:1", names[0], names[1]],
        "entities": {"region": ["eu", "us", "eu"], "driver_id": [1, 2, 3]},
        "event_timestamp": 1_700_000_000_000,
    }

    body = _values(client, request)

    assert body["metadata"]["feature_names"] == ["region", "driver_id", *request["features"]]
    assert body["results"][0]["values"] == ["eu", "us", "eu"]
    assert body["results"][1]["values"] == [1, 2, 3]
    assert [c["statuses"][0] for c in body["results"]] == [
        "PRESENT",
        "PRESENT",
        "PRESENT",
        "NOT_FOUND",
        "PRESENT",
        "PRESENT",
    ]
    for column in body["results"]:
        assert set(column) == {"values", "statuses", "event_timestamps"}
        assert len(column["values"]) == len(column["statuses"]) == 3
        assert len(column["event_timestamps"]) == 3


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_values_are_typed_by_the_feature_data_type(client, make_feature, data_type):
    spec = _deploy(make_feature, f"typed:{data_type}_value:1", feature_data_type=data_type)
    rows = [f"D{i:03d}" for i in range(50)]
    t = 1_751_429_485_000

    values = _values(
        client, {"features": [spec.name], "entities": {"driver_id": rows}, "event_timestamp": t}
    )["results"][1]["values"]

    expected_type = {
        "string": str,
        "boolean": bool,
        "float": float,
        "double": float,
        "decimal": float,
    }.get(data_type, int)
    assert {type(v) for v in values} == {expected_type}
    assert values == [simulated_value(spec, {"driver_id": d}, t) for d in rows]
    assert len(set(values)) > 1  # values vary by entity


@pytest.mark.parametrize(
    ("feature_type", "bucket_ms"),
    [("batch", 86_400_000), ("compute-first", 60_000), ("real-time", 1_000)],
)
def test_each_feature_type_has_one_value_per_time_bucket(
    client, make_feature, feature_type, bucket_ms
):
    spec = _deploy(make_feature, "bucketed:value:1", feature_type=feature_type)
    start = 1_751_414_400_000 + 7 * bucket_ms  # a bucket boundary for all three sizes

    def ask(t: int) -> dict[str, Any]:
        request = {
            "features": [spec.name],
            "entities": {"id": list(range(20))},
            "event_timestamp": t,
        }
        return _values(client, request)["results"][1]  # type: ignore[no-any-return]

    first, last, next_bucket = ask(start), ask(start + bucket_ms - 1), ask(start + bucket_ms)
    assert first == last
    assert first["event_timestamps"] == [start] * 20
    assert next_bucket["event_timestamps"] == [start + bucket_ms] * 20
    assert next_bucket["values"] != first["values"]


def test_the_event_timestamp_defaults_to_now(client, make_feature):
    spec = _deploy(make_feature, "clock:value:1", feature_type="real-time")
    before = now_ms()
    body = _values(client, {"features": [spec.name], "entities": {"id": [1]}})
    after = now_ms()

    keys, feature = body["results"]
    assert before <= keys["event_timestamps"][0] <= after
    assert before - 1000 < feature["event_timestamps"][0] <= after


@pytest.mark.parametrize(
    "status",
    ["DRAFT", "READY_FOR_TESTING", "TEST_SUCCEEDED", "TEST_FAILED", "REJECTED", "DELETED"],
)
def test_features_that_are_not_deployed_are_not_found(client, make_feature, status):
    feature = make_feature(status)
    t = 1_751_429_485_000

    body = _values(
        client,
        {
            "features": [feature["feature_name"]],
            "entities": {"id": ["a", "b"]},
            "event_timestamp": t,
        },
    )

    assert body["results"][1] == {
        "values": [None, None],
        "statuses": ["NOT_FOUND"] * 2,
        "event_timestamps": [t, t],
    }


def test_a_feature_is_served_the_moment_it_is_deployed(client, make_feature):
    name = make_feature("TEST_SUCCEEDED")["feature_name"]
    request = {"features": [name], "entities": {"id": [1, 2]}}
    assert _values(client, request)["results"][1]["statuses"] == ["NOT_FOUND"] * 2
    assert name not in client.get("/features/available").get_json()["available_features"]

    approved = client.post(
        "/approve_feature_metadata",
        json={"feature_name": name, "approved_by": "boss", "user_role": "approver"},
    )
    assert approved.status_code == 200

    assert _values(client, request)["results"][1]["statuses"] == ["PRESENT"] * 2
    assert name in client.get("/features/available").get_json()["available_features"]


def test_composite_keys_give_each_row_its_own_value(client, make_feature):
    spec = _deploy(make_feature, "trips:fare:1", feature_data_type="double")
    entities = {"driver_id": ["D1", "D1", "D2", "D2"], "city": ["paris", "rome"] * 2}
    t = 1_751_429_485_000

    body = _values(client, {"features": [spec.name], "entities": entities, "event_timestamp": t})

    values = body["results"][2]["values"]
    rows = [dict(zip(entities, row, strict=True)) for row in zip(*entities.values(), strict=True)]
    assert values == [simulated_value(spec, row, t) for row in rows]
    assert len(set(values)) == 4


def test_the_order_of_key_columns_does_not_change_the_values(client, make_feature):
    spec = _deploy(make_feature, "trips:distance:1", feature_data_type="integer")
    ids, cities = ["D1", "D2", "D3"], ["paris", "rome", "oslo"]

    one = _values(
        client,
        {"features": [spec.name], "entities": {"id": ids, "city": cities}, "event_timestamp": 0},
    )
    other = _values(
        client,
        {"features": [spec.name], "entities": {"city": cities, "id": ids}, "event_timestamp": 0},
    )

    assert one["results"][2] == other["results"][2]


def test_string_and_integer_keys_are_different_entities(client, make_feature):
    spec = _deploy(make_feature, "keys:kind:1", feature_data_type="bigint")
    as_ints = _values(
        client,
        {"features": [spec.name], "entities": {"id": list(range(10))}, "event_timestamp": 0},
    )
    as_strings = _values(
        client,
        {
            "features": [spec.name],
            "entities": {"id": [str(i) for i in range(10)]},
            "event_timestamp": 0,
        },
    )
    assert as_ints["results"][1]["values"] != as_strings["results"][1]["values"]


def test_a_repeated_entity_row_gets_the_same_value(client, make_feature):
    spec = _deploy(make_feature, "repeat:value:1", feature_data_type="string")
    body = _values(client, {"features": [spec.name], "entities": {"id": ["x", "y", "x"]}})
    values = body["results"][1]["values"]
    assert values[0] == values[2]


def test_a_valid_role_is_accepted(client):
    _values(client, {**SEED_REQUEST, "user_role": "approver"})


def test_available_features_lists_the_deployed_names_in_order(client, make_feature):
    deployed = sorted(make_feature("DEPLOYED")["feature_name"] for _ in range(3))
    make_feature("TEST_SUCCEEDED")
    make_feature("DELETED")

    response = client.get("/features/available")

    assert response.status_code == 200
    assert response.get_json() == {"available_features": deployed, "deprecated_features": []}


def test_the_openapi_document_describes_both_endpoints(client):
    spec = client.get("/openapi.json").get_json()
    assert {"post"} <= set(spec["paths"]["/features"])
    assert {"get"} <= set(spec["paths"]["/features/available"])
    schemas = spec["components"]["schemas"]
    assert {"FeatureValuesRequest", "FeatureValuesResponse", "AvailableFeatures"} <= set(schemas)


def test_arrays_orjson_cannot_write_directly_are_written_as_lists(app):
    strided = np.arange(6, dtype=np.uint64)[::2]  # not C-contiguous
    result = OnlineFeatures(["id"], [Column(strided, ["PRESENT"] * 3, [0] * 3)])
    with app.app_context():
        body = render_online_features(result).get_json()
    assert body["results"][0]["values"] == [0, 2, 4]


def test_a_small_answer_has_a_length_and_a_large_one_is_streamed_in_pieces(client, make_feature):
    spec = _deploy(make_feature, "streamed:f:1", feature_data_type="string")
    small = {"features": [spec.name], "entities": {"id": ["a", "b"]}, "event_timestamp": 0}
    large = {**small, "entities": {"id": [f"row{i}" for i in range(10_000)]}}

    short = client.post("/features", json=small)
    long = client.post("/features", json=large)

    assert short.headers["Content-Length"] == str(len(short.get_data()))
    assert "Content-Length" not in long.headers and long.is_streamed
    body = long.get_json()
    assert FeatureValuesResponseSchema().validate(body) == {}
    assert body["results"][1]["values"][-1] == simulated_value(spec, {"id": "row9999"}, 0)
    assert [len(c["values"]) for c in body["results"]] == [10_000, 10_000]


@pytest.mark.parametrize("path", ["/features", "/get-online-features"])
def test_serving_reads_the_app_g_and_request_behind_flasks_proxies_directly(
    client, make_feature, path
):
    """The service's own code takes the object behind ``current_app``, ``g`` and
    ``request`` (``_get_current_object()``, Flask's "Notes On Proxies"): an attribute looked
    up through the proxy is found by its ``__getattr__`` only after an ``AttributeError`` is
    made and dropped, about 7 K instructions each, 12 a values request (docs/performance.md,
    "i29-serving"). Flask's and webargs' own lookups are theirs."""
    spec = _deploy(make_feature, "proxied:f:1")
    ref = "proxied:f" if path == "/get-online-features" else spec.name
    body = {"features": [ref], "entities": {"id": ["a", "b"]}}
    through_proxies: list[str] = []

    def profile(frame: Any, event: str, _arg: Any) -> None:
        lookup = frame.f_locals.get("self") if event == "call" else None
        if type(lookup) is _ProxyLookup and lookup.name == "__getattr__":
            caller = frame.f_back
            if caller.f_globals.get("__name__", "").startswith("feature_gateway"):
                through_proxies.append(f"{caller.f_code.co_filename}:{caller.f_lineno}")

    sys.setprofile(profile)
    try:
        response = client.post(path, json=body)
    finally:
        sys.setprofile(None)
    assert response.status_code == 200
    assert through_proxies == []
