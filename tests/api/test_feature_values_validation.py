"""POST /features refuses what it cannot serve: 422 problem+json naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from feature_gateway import create_app

SEED_REQUEST = {
    "features": ["driver_hourly_stats:conv_rate:1", "driver_hourly_stats:acc_rate:2"],
    "entities": {"driver_id": ["D001", "D002"]},
    "event_timestamp": 1751429485000,
}


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
            "max_entity_columns_per_request": 2,
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


def test_available_features_accepts_a_valid_role_and_refuses_an_unknown_one(client):
    assert client.get("/features/available?user_role=developer").status_code == 200
    assert (
        client.get("/features/available", headers={"X-User-Role": "approver"}).status_code == 200
    )
    _problem(client.get("/features/available?user_role=admin"))
    _problem(client.get("/features/available", headers={"X-User-Role": "root"}))


def test_more_entity_key_columns_than_configured_are_refused_before_any_is_checked(
    small_client,
):
    # The third column is malformed too: the limit is the one message.
    body = {"features": ["limits:f0:1"], "entities": {"a": [1], "b": [1], "not ok": [None]}}
    problem = _problem(small_client.post("/features", json=body))
    assert problem["errors"] == {"entities": ["At most 2 entity key columns per request, got 3."]}


@pytest.mark.parametrize(("columns", "status"), [(20, 200), (21, 422)])
def test_a_request_holds_twenty_entity_key_columns_by_default(client, columns, status):
    # Each key column is echoed in the answer: 90 of them made a 1.8 MB request a 24 MB answer.
    entities = {f"key_{i}": ["D1", "D2"] for i in range(columns)}
    response = client.post("/features", json={"features": [_NAME], "entities": entities})
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 422:
        assert _problem(response)["errors"] == {
            "entities": ["At most 20 entity key columns per request, got 21."]
        }
