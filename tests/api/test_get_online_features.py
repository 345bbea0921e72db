"""POST /get-online-features, Feast's feature-server protocol, on both databases (SPEC §13).

The values must be POST /features' for the same feature, entity rows and time bucket: the
tests ask POST /features at the bucket start the Feast answer names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from feature_gateway.api.values.feast_schemas import OnlineFeaturesResponseSchema
from feature_gateway.errors import MAX_ERROR_MESSAGES
from feature_gateway.services.clock import now_ms
from tests.conftest import bearer

MakeFeature = Callable[..., dict[str, Any]]
ENTITIES = {"driver_id": ["D001", "D002", 7]}


def _feast(client: FlaskClient, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = client.post("/get-online-features", json=body, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    assert OnlineFeaturesResponseSchema().validate(answer) == {}
    return answer


def _problem(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/get-online-features", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()  # type: ignore[no-any-return]


def epoch_ms(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def _post_features(client: FlaskClient, names: list[str], at: int) -> list[dict[str, Any]]:
    body = {"features": names, "entities": ENTITIES, "event_timestamp": at}
    response = client.post("/features", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"][1:]  # type: ignore[no-any-return]


def _versions(make_feature: MakeFeature, family: str, statuses: list[str], **fields: Any) -> None:
    for number, status in enumerate(statuses, start=1):
        make_feature(status, feature_name=f"{family}:{number}", **fields)


def test_a_plain_ref_reads_the_served_version_with_the_highest_number(client, make_feature):
    _versions(make_feature, "drivers:rate", ["DEPLOYED", "DEPRECATED", "DEPLOYED", "DRAFT"])
    _versions(make_feature, "drivers:old", ["DEPLOYED", "DEPRECATED", "RETIRED"])

    body = _feast(client, {"features": ["drivers:rate", "drivers:old"], "entities": ENTITIES})

    keys, rate, old = body["results"]
    assert body["metadata"] == {"feature_names": ["driver_id", "rate", "old"]}
    assert keys["values"] == ENTITIES["driver_id"] and keys["statuses"] == ["PRESENT"] * 3
    # A batch feature's timestamps: the start of today (UTC), as RFC 3339.
    day = epoch_ms(rate["event_timestamps"][0])
    assert rate["event_timestamps"] == [rate["event_timestamps"][0]] * 3
    assert rate["event_timestamps"][0].endswith("T00:00:00Z") and day % 86_400_000 == 0
    expected_rate, expected_old = _post_features(client, ["drivers:rate:3", "drivers:old:2"], day)
    assert (rate["values"], rate["statuses"]) == (expected_rate["values"], ["PRESENT"] * 3)
    assert (old["values"], old["statuses"]) == (expected_old["values"], ["PRESENT"] * 3)


@pytest.mark.parametrize("ref", ["drivers@v1:rate", "drivers:rate:1", "drivers:rate:v1"])
def test_a_pinned_ref_reads_that_version(client, make_feature, ref):
    _versions(make_feature, "drivers:rate", ["DEPLOYED", "DEPLOYED"])

    column = _feast(client, {"features": [ref], "entities": ENTITIES})["results"][1]

    expected = _post_features(client, ["drivers:rate:1"], epoch_ms(column["event_timestamps"][0]))
    assert column["values"] == expected[0]["values"]
    assert column["values"] != _post_features(client, ["drivers:rate:2"], now_ms())[0]["values"]


@pytest.mark.parametrize("status", ["DRAFT", "TEST_SUCCEEDED", "REJECTED", "DELETED", "RETIRED"])
def test_refs_to_features_that_are_not_served_are_not_found(client, make_feature, status):
    make_feature(status, feature_name="drivers:rate:1")
    before = now_ms()

    body = _feast(
        client,
        {
            "features": ["drivers:rate", "drivers@v1:rate", "nowhere:rate"],
            "entities": ENTITIES,
            "full_feature_names": True,
        },
    )

    for column in body["results"][1:]:
        assert column["values"] == [None] * 3
        assert column["statuses"] == ["NOT_FOUND"] * 3
        # Not-found columns carry the time of the request, as the entity columns do.
        assert column["event_timestamps"] == body["results"][0]["event_timestamps"]
    assert before <= epoch_ms(body["results"][0]["event_timestamps"][0]) <= now_ms()


@pytest.mark.parametrize(
    ("feature_type", "bucket_ms"),
    [("batch", 86_400_000), ("compute-first", 60_000), ("real-time", 1_000)],
)
def test_values_equal_post_features_for_every_type_and_time_bucket(
    client, make_feature, feature_type, bucket_ms
):
    data_types = ["string", "float", "double", "decimal", "integer", "int", "bigint", "boolean"]
    for data_type in data_types:
        make_feature(
            "DEPLOYED",
            feature_name=f"typed:{data_type}_value:1",
            feature_type=feature_type,
            feature_data_type=data_type,
        )
    refs = [f"typed:{data_type}_value" for data_type in data_types]

    body = _feast(client, {"features": refs, "entities": ENTITIES})

    start = epoch_ms(body["results"][1]["event_timestamps"][0])
    assert start % bucket_ms == 0
    expected = _post_features(client, [f"{ref}:1" for ref in refs], start)
    assert [c["values"] for c in body["results"][1:]] == [c["values"] for c in expected]


def test_full_feature_names_name_each_column_after_its_view_and_pinned_version(
    client, make_feature
):
    _versions(make_feature, "drivers:rate", ["DEPLOYED", "DEPLOYED"])

    body = _feast(
        client,
        {
            "features": ["drivers:rate", "drivers@v1:rate", "drivers:rate:2"],
            "entities": ENTITIES,
            "full_feature_names": True,
        },
    )

    assert body["metadata"]["feature_names"] == [
        "driver_id",
        "drivers__rate",
        "drivers@v1__rate",
        "drivers@v2__rate",
    ]
    assert body["results"][1]["values"] == body["results"][3]["values"]


def test_version_metadata_names_each_view_and_version_served(client, make_feature):
    _versions(make_feature, "drivers:rate", ["DEPLOYED", "DEPLOYED"])
    make_feature("DEPLOYED", feature_name="drivers:trips:4")

    body = _feast(
        client,
        {
            "features": ["drivers:rate", "drivers:trips", "drivers@v1:rate", "gone:rate"],
            "entities": ENTITIES,
            "full_feature_names": True,
            "include_feature_view_version_metadata": True,
        },
    )

    assert body["metadata"]["feature_view_metadata"] == [
        {"name": "drivers", "version": 2},
        {"name": "drivers", "version": 4},
        {"name": "drivers", "version": 1},
    ]


def test_columns_that_would_share_a_name_are_refused(client, make_feature):
    problem = _problem(
        client, {"features": ["drivers:rate", "fleet@v2:rate"], "entities": ENTITIES}
    )
    assert problem["errors"]["features"] == [
        "Each column of the answer needs its own name; these would name several: rate; set "
        "full_feature_names to true."
    ]
    clash_with_key = {"features": ["drivers:driver_id"], "entities": ENTITIES}
    assert "driver_id" in _problem(client, clash_with_key)["errors"]["features"][0]


def test_a_feature_service_is_refused_saying_it_is_not_supported(client):
    problem = _problem(client, {"feature_service": "driver_activity", "entities": ENTITIES})
    assert problem["errors"]["feature_service"] == [
        "Feature services are not supported: name the features in 'features' instead."
    ]


INVALID = {
    "unknown field": ({"event_timestamp": 1}, "event_timestamp"),
    "user_role is not part of the protocol": ({"user_role": "developer"}, "user_role"),
    "malformed ref": ({"features": ["drivers"]}, "features"),
    "two pins": ({"features": ["drivers@v1:rate:2"]}, "features"),
    "repeated ref": ({"features": ["d:rate", "d:rate"]}, "features"),
    "no features": ({"features": []}, "features"),
    "flag not a boolean": ({"full_feature_names": "yes"}, "full_feature_names"),
    "entities of unequal length": ({"entities": {"a": [1], "b": [1, 2]}}, "entities"),
    "too many features": ({"features": [f"v:f{i}" for i in range(1001)]}, "features"),
}


@pytest.mark.parametrize(("changes", "field"), INVALID.values(), ids=INVALID.keys())
def test_invalid_requests_are_422_naming_the_field(client, changes, field):
    body = {"features": ["drivers:rate"], "entities": ENTITIES, **changes}
    assert field in _problem(client, body)["errors"]


def test_the_value_limits_of_post_features_apply(client):
    rows = {"id": list(range(2_000))}
    problem = _problem(client, {"features": [f"v:f{i}" for i in range(600)], "entities": rows})
    assert "1,000,000 values" in problem["detail"]


@pytest.mark.parametrize(("columns", "status"), [(20, 200), (21, 422)])
def test_a_request_holds_twenty_entity_key_columns_like_post_features(client, columns, status):
    entities = {f"key_{i}": ["D1", "D2"] for i in range(columns)}
    response = client.post(
        "/get-online-features", json={"features": ["drivers:rate"], "entities": entities}
    )
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 422:
        assert response.get_json()["errors"] == {
            "entities": ["At most 20 entity key columns per request, got 21."]
        }


def test_more_refs_than_a_request_may_hold_are_one_message_before_any_ref_is_checked(client):
    # Each of them malformed, and a malformed key column besides: the limit is the message.
    body = {"features": [f"x{i}" for i in range(100_000)], "entities": {"not ok": [None]}}
    response = client.post("/get-online-features", json=body)
    assert response.status_code == 422
    assert len(response.get_data()) < 16_000
    assert response.get_json()["errors"] == {
        "features": ["At most 1,000 features per request, got 100,000."]
    }


def test_past_fifty_messages_the_rest_are_counted_like_post_features(client):
    problem = _problem(client, {"features": [f"x{i}" for i in range(1_000)], "entities": ENTITIES})
    assert len(problem["errors"]["features"]) == MAX_ERROR_MESSAGES
    assert problem["errors_omitted"] == 1_000 - MAX_ERROR_MESSAGES


def test_token_mode_needs_a_token_of_any_role(token_client, issue_token, make_feature):
    make_feature("DEPLOYED", feature_name="drivers:rate:1")
    body = {"features": ["drivers:rate"], "entities": ENTITIES}

    assert token_client.post("/get-online-features", json=body).status_code == 401
    token = issue_token("external_testing_system", principal="ranker")
    answer = _feast(token_client, body, headers=bearer(token))
    assert answer["results"][1]["statuses"] == ["PRESENT"] * 3
