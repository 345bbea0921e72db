"""POST /features and GET /features/available through the test client, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from feature_gateway import create_app
from feature_gateway.api.values.schemas import FeatureValuesResponseSchema
from feature_gateway.domain.values import FeatureSpec, simulated_value
from feature_gateway.services.clock import now_ms

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


def _problem(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def _body(**changes: Any) -> dict[str, Any]:
    body = {**SEED_REQUEST, **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()
_NAME = "driver_hourly_stats:conv_rate:1"

INVALID_REQUESTS = {
    "features missing": (_body(features=_DROP), "features"),
    "features empty": (_body(features=[]), "features"),
    "features not a list": (_body(features=_NAME), "features"),
    "duplicate features": (_body(features=[_NAME, "a:b:1", _NAME]), "features"),
    "malformed feature name": (_body(features=[_NAME, "no_version:here"]), "features"),
    "feature name not a string": (_body(features=[_NAME, 7]), "features"),
    "entities missing": (_body(entities=_DROP), "entities"),
    "entities empty": (_body(entities={}), "entities"),
    "entities not an object": (_body(entities=[["D001"]]), "entities"),
    "entity column not a list": (_body(entities={"driver_id": "D001"}), "entities"),
    "entity column empty": (_body(entities={"driver_id": []}), "entities"),
    "entity columns of unequal length": (
        _body(entities={"driver_id": ["D1", "D2"], "city": ["rome"]}),
        "entities",
    ),
    "boolean entity value": (_body(entities={"driver_id": ["D1", True]}), "entities"),
    "float entity value": (_body(entities={"driver_id": [1.5]}), "entities"),
    "null entity value": (_body(entities={"driver_id": ["D1", None]}), "entities"),
    "list entity value": (_body(entities={"driver_id": [["D1"]]}), "entities"),
    "object entity value": (_body(entities={"driver_id": [{"id": 1}]}), "entities"),
    "entity integer beyond 64 bits": (_body(entities={"driver_id": [2**63]}), "entities"),
    "malformed entity key name": (_body(entities={"driver id": ["D1"]}), "entities"),
    "event_timestamp a string": (_body(event_timestamp="2025-07-02"), "event_timestamp"),
    "event_timestamp a boolean": (_body(event_timestamp=True), "event_timestamp"),
    "event_timestamp a float": (_body(event_timestamp=1.5), "event_timestamp"),
    "event_timestamp negative": (_body(event_timestamp=-1), "event_timestamp"),
    "event_timestamp beyond year 9999": (_body(event_timestamp=10**15), "event_timestamp"),
    "unknown field": (_body(feature_service="driver"), "feature_service"),
    "unknown role": (_body(user_role="admin"), "user_role"),
}


@pytest.mark.parametrize(("body", "field"), INVALID_REQUESTS.values(), ids=INVALID_REQUESTS)
def test_invalid_requests_are_rejected_with_the_field_named(client, body, field):
    problem = _problem(client.post("/features", json=body))
    assert field in problem["errors"], problem


def test_entity_errors_name_the_column_and_the_item(client):
    problem = _problem(
        client.post("/features", json=_body(entities={"driver_id": ["D1", "D2", False]}))
    )
    assert problem["errors"]["entities"] == {
        "driver_id": ["Item 2: entity key values must be strings or integers, got a boolean."]
    }


def test_unequal_columns_are_explained(client):
    problem = _problem(
        client.post(
            "/features", json=_body(entities={"driver_id": ["D1", "D2"], "city": ["rome"]})
        )
    )
    assert problem["errors"]["entities"] == [
        "All entity key columns must have the same number of values: "
        "driver_id has 2, city has 1."
    ]


def test_a_body_that_is_not_json_is_refused(client):
    response = client.post("/features", data="features=a:b:1", content_type="text/plain")
    _problem(response, 415)


@pytest.fixture
def small_client(database, migrated_database) -> FlaskClient:
    app = create_app(
        {
            "database": database,
            "database_url": migrated_database.url,
            "TESTING": True,
            "max_features_per_request": 3,
            "max_entity_rows_per_request": 4,
            "max_values_per_request": 6,
        }
    )
    return app.test_client()


def _sized(n_features: int, n_rows: int) -> dict[str, Any]:
    return {
        "features": [f"limits:f{i}:1" for i in range(n_features)],
        "entities": {"id": list(range(n_rows))},
    }


@pytest.mark.parametrize(
    ("n_features", "n_rows", "field"),
    [(4, 1, "features"), (1, 5, "entities"), (3, 3, "_schema")],
    ids=["too many features", "too many rows", "too many values"],
)
def test_requests_beyond_the_configured_limits_are_rejected(
    small_client, n_features, n_rows, field
):
    problem = _problem(small_client.post("/features", json=_sized(n_features, n_rows)))
    assert list(problem["errors"]) == [field]
    assert "per request" in problem["detail"]


@pytest.mark.parametrize(("n_features", "n_rows"), [(3, 2), (1, 4), (2, 3)])
def test_requests_at_the_configured_limits_are_served(small_client, n_features, n_rows):
    response = small_client.post("/features", json=_sized(n_features, n_rows))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_the_default_limits_allow_a_thousand_features_by_a_thousand_rows(client):
    response = client.post("/features", json=_sized(1_000, 1_000))
    assert response.status_code == 200
    response = client.post("/features", json=_sized(1_001, 1))
    assert _problem(response)["errors"]["features"] == [
        "At most 1,000 features per request, got 1,001."
    ]


def test_available_features_lists_the_deployed_names_in_order(client, make_feature):
    deployed = sorted(make_feature("DEPLOYED")["feature_name"] for _ in range(3))
    make_feature("TEST_SUCCEEDED")
    make_feature("DELETED")

    response = client.get("/features/available")

    assert response.status_code == 200
    assert response.get_json() == {"available_features": deployed}


def test_available_features_accepts_a_valid_role_and_refuses_an_unknown_one(client):
    assert client.get("/features/available?user_role=developer").status_code == 200
    assert (
        client.get("/features/available", headers={"X-User-Role": "approver"}).status_code == 200
    )
    _problem(client.get("/features/available?user_role=admin"))
    _problem(client.get("/features/available", headers={"X-User-Role": "root"}))


def test_the_openapi_document_describes_both_endpoints(client):
    spec = client.get("/openapi.json").get_json()
    assert {"post"} <= set(spec["paths"]["/features"])
    assert {"get"} <= set(spec["paths"]["/features/available"])
    schemas = spec["components"]["schemas"]
    assert {"FeatureValuesRequest", "FeatureValuesResponse", "AvailableFeatures"} <= set(schemas)
