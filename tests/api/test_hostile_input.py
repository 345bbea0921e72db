"""Inputs that used to break the service or its documented contract (found by fuzzing).

Each test names what was wrong before: a 500, or a request the OpenAPI document calls
invalid being accepted (or the other way round).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import SEED_FEATURE

LIST = "/get_all_feature_metadata"
READER = {"user_role": "developer"}


def _post_raw(client: FlaskClient, path: str, data: bytes) -> Any:
    return client.post(path, data=data, content_type="application/json")


def _invalid_fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return set(response.get_json()["errors"])


# --- numbers: 500 on an OFFSET past the database's integer range -------------------------


@pytest.mark.parametrize("offset", [2**31, 10**20])
def test_an_offset_past_the_integer_range_is_invalid_not_a_server_error(
    client: FlaskClient, offset: int
) -> None:
    assert _invalid_fields(client.get(LIST, query_string={**READER, "offset": offset})) == {
        "offset"
    }
    body = json.dumps({**READER, "offset": offset}).encode()  # orjson cannot write 10**20
    assert _invalid_fields(_post_raw(client, LIST, body)) == {"offset"}


def test_an_offset_at_the_documented_maximum_is_an_empty_page(client: FlaskClient) -> None:
    response = client.get(LIST, query_string={**READER, "offset": 2**31 - 1})
    assert response.status_code == 200
    assert response.get_json()["metadata"] == []


@pytest.mark.parametrize("limit", [10.5, 1e2, "10", True])
def test_a_json_integer_field_takes_only_integers(client: FlaskClient, limit: Any) -> None:
    # 10.5 used to be truncated to 10, "10" and true coerced: none is a JSON integer.
    assert _invalid_fields(client.post(LIST, json={**READER, "limit": limit})) == {"limit"}


@pytest.mark.parametrize("limit", ["1_0", "\u0661\u0660", " 10", "1e1"])
def test_a_query_integer_takes_only_ascii_digits(client: FlaskClient, limit: str) -> None:
    response = client.get(LIST, query_string={**READER, "limit": limit})
    assert _invalid_fields(response) == {"limit"}


@pytest.mark.parametrize("flag", [1, "true", None])
def test_a_json_boolean_field_takes_only_true_or_false(client: FlaskClient, flag: Any) -> None:
    body = {**READER, "include_deleted": flag}
    assert _invalid_fields(client.post(LIST, json=body)) == {"include_deleted"}


@pytest.mark.parametrize(
    ("flag", "status"), [("true", 200), ("false", 200), ("yes", 422), ("1", 422)]
)
def test_a_query_boolean_is_spelled_true_or_false(
    client: FlaskClient, flag: str, status: int
) -> None:
    response = client.get(LIST, query_string={**READER, "include_deleted": flag})
    assert response.status_code == status


# --- text: NUL is a 500 on PostgreSQL, which cannot store it -----------------------------


@pytest.mark.parametrize("field", ["description", "query", "created_by", "feature_type"])
def test_nul_in_a_text_field_is_invalid_on_every_database(client: FlaskClient, field: str) -> None:
    body = {**SEED_FEATURE, field: SEED_FEATURE[field] + "\x00"}
    assert _invalid_fields(client.post("/create_feature_metadata", json=body)) == {field}


def test_nul_in_a_search_is_invalid(client: FlaskClient) -> None:
    response = client.get(LIST, query_string={**READER, "search": "a\x00b"})
    assert _invalid_fields(response) == {"search"}
    assert _invalid_fields(client.post(LIST, json={**READER, "created_by": "dev\x00"})) == {
        "created_by"
    }


@pytest.mark.parametrize("blank", ["", " ", "\u3000\t", "\x1c"])
def test_blank_text_is_invalid_whatever_the_whitespace(client: FlaskClient, blank: str) -> None:
    body = {**SEED_FEATURE, "created_by": blank}
    assert _invalid_fields(client.post("/create_feature_metadata", json=body)) == {"created_by"}


def test_text_with_unusual_unicode_round_trips(
    client: FlaskClient, make_feature: Callable[..., dict[str, Any]]
) -> None:
    text = "d\u00e9j\u00e0 vu \U0001f600 \u202e\u200b \u0085 end"
    feature = make_feature(description=text, created_by="\u00e9quipe \U0001f916")
    assert feature["description"] == text
    response = client.get(LIST, query_string={**READER, "search": "\U0001f600"})
    assert [f["feature_name"] for f in response.get_json()["metadata"]] == [
        feature["feature_name"]
    ]


# --- JSON: what the database cannot store is malformed JSON, not a 500 -------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"feature_name": "\\ud800", "user_role": "developer"}',  # lone surrogate escape
        b'{"feature_name": "\xff", "user_role": "developer"}',  # not UTF-8
        b'{"limit": NaN, "user_role": "developer"}',
        b'{"limit": Infinity, "user_role": "developer"}',
    ],
)
def test_json_that_is_not_strict_utf8_json_is_malformed(client: FlaskClient, body: bytes) -> None:
    for path in ("/get_feature_metadata", LIST):
        response = _post_raw(client, path, body)
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.get_json()["detail"] == "The request body is not valid JSON."


def test_an_empty_json_body_reports_the_missing_fields(client: FlaskClient) -> None:
    assert _invalid_fields(_post_raw(client, "/get_feature_metadata", b"")) == {
        "feature_name",
        "user_role",
    }


# --- HTTP: a 405 must say which methods are allowed --------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", "/health", {"GET", "HEAD", "OPTIONS"}),
        ("GET", "/create_feature_metadata", {"POST", "OPTIONS"}),
        ("DELETE", LIST, {"GET", "HEAD", "OPTIONS", "POST"}),
    ],
)
def test_method_not_allowed_lists_the_allowed_methods(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == allowed


# --- roles: each place a role can come from is held to the documented enum ---------------


def test_a_role_header_naming_no_role_is_refused_even_when_the_query_has_one(
    client: FlaskClient,
) -> None:
    response = client.get(LIST, query_string=READER, headers={"X-User-Role": "root"})
    assert _invalid_fields(response) == {"X-User-Role"}


def test_the_query_role_wins_over_a_different_valid_header_role(
    client: FlaskClient, make_feature: Callable[..., dict[str, Any]]
) -> None:
    name = make_feature()["feature_name"]
    response = client.get(
        f"/get_feature_metadata/{name}",
        query_string={"user_role": "approver"},
        headers={"X-User-Role": "developer"},
    )
    assert response.status_code == 200


def test_the_role_header_alone_is_enough_for_a_read(client: FlaskClient) -> None:
    assert client.get(LIST, headers={"X-User-Role": "approver"}).status_code == 200


def test_a_read_without_any_role_is_unprocessable(client: FlaskClient) -> None:
    assert _invalid_fields(client.get(LIST)) == {"user_role"}


def test_a_body_without_user_role_is_unprocessable(client: FlaskClient) -> None:
    body = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
    assert _invalid_fields(client.post("/create_feature_metadata", json=body)) == {"user_role"}


# --- update: the cross-field rules the document states -----------------------------------


def test_sending_status_to_update_points_to_the_workflow(
    client: FlaskClient, make_feature: Callable[..., dict[str, Any]]
) -> None:
    name = make_feature()["feature_name"]
    for status in ("DEPLOYED", None, {}):
        body = {
            "feature_name": name,
            "last_updated_by": "dev",
            "user_role": "developer",
            "description": "x",
            "status": status,
        }
        response = client.post("/update_feature_metadata", json=body)
        assert _invalid_fields(response) == {"status"}
        assert "workflow endpoints" in response.get_json()["errors"]["status"][0]


def test_an_update_must_name_something_to_change(
    client: FlaskClient, make_feature: Callable[..., dict[str, Any]]
) -> None:
    name = make_feature()["feature_name"]
    body = {"feature_name": name, "last_updated_by": "dev", "user_role": "developer"}
    response = client.post("/update_feature_metadata", json=body)
    assert response.status_code == 422
    assert "Nothing to update" in response.get_json()["detail"]
