"""A large body a feature's write refuses is answered as before, and without being built
(issue 26, SPEC §6: a worker's memory, refused bodies included; docs/performance.md,
"i28-memory"): a create's tags of a million items took a worker 27 MB higher, 150,000
unknown fields 15-21 MB, while orjson parsed them only for the schema to refuse them."""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.conftest import SEED_FEATURE, bearer

ZEROS = b"0," * 999_999 + b"0"  # a million values, 2 MB: just under the body limit
UNKNOWN = b",".join(b'"u%d":0' % i for i in range(150_000))
CREATE = {**SEED_FEATURE, "feature_name": "big:f:1", "query": "SELECT 1", "description": "d"}
INVALID = "urn:feature-gateway:problem:unprocessable-content"


def _with(fields: dict[str, Any], raw: bytes) -> bytes:
    """``fields`` as a JSON object, then the raw ``"name": value`` members ``raw``."""
    return orjson.dumps(fields)[:-1] + b"," + raw + b"}"


def _answer(
    client: FlaskClient, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], int]:
    """Status, problem (without its request id) and the bytes traced at the peak."""
    tracemalloc.start()
    try:
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    problem = response.get_json()
    assert problem.pop("request_id") == response.headers["X-Request-ID"]
    return response.status_code, problem, peak


def _invalid(**errors: list[str]) -> dict[str, Any]:
    return {
        "type": INVALID,
        "title": "Unprocessable Content",
        "status": 422,
        "detail": f"The request has invalid or missing fields: {', '.join(sorted(errors))}.",
        "errors": errors,
    }


def _unknown(count: str, named: str) -> dict[str, Any]:
    message = f"{count} fields are not part of this request ({named}, ...)."
    return {
        "type": INVALID,
        "title": "Unprocessable Content",
        "status": 422,
        "detail": message,
        "errors": {"_schema": [message]},
    }


# Each: the path, the body, the answer. orjson's document and objects were 34-49 MB traced;
# what is left is the body's copies and the outline's reading (under 5 MB).
CASES = {
    "tags, an array of a million": (
        "/create_feature_metadata",
        _with(CREATE, b'"tags":[' + ZEROS + b"]"),
        _invalid(tags=["Not a valid mapping type."]),
    ),
    "tags, an object of 150,000 keys": (
        "/create_feature_metadata",
        _with(CREATE, b'"tags":{' + b",".join(b'"k%d":"v"' % i for i in range(150_000)) + b"}"),
        _invalid(tags=["At most 20 tags; got 150,000."]),
    ),
    "150,000 unknown fields": (
        "/create_feature_metadata",
        _with(CREATE, UNKNOWN),
        _unknown("150,000", "'u0', 'u1', 'u2'"),
    ),
    "150,000 unknown fields, then the known ones": (
        "/create_feature_metadata",
        b"{" + UNKNOWN + b"," + orjson.dumps(CREATE)[1:],
        _unknown("150,000", "'u0', 'u1', 'u2'"),
    ),
    "a description, an unknown field and a name of a million items": (
        "/create_feature_metadata",
        _with({**CREATE, "feature_name": 7}, b'"description":[' + ZEROS + b'],"x":[[1]]'),
        _invalid(
            feature_name=["Not a valid string."],
            description=["Not a valid string."],
            x=["Unknown field."],
        ),
    ),
    "a body that is not an object": (
        "/create_feature_metadata",
        b"[" + ZEROS + b"]",
        {
            "type": INVALID,
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "The request body must be a JSON object.",
            "errors": {"_schema": ["Invalid input type."]},
        },
    ),
    "an update giving the status among 150,000 unknown fields": (
        "/update_feature_metadata",
        b'{"status":"DEPLOYED",' + UNKNOWN + b"}",
        _unknown("150,001", "'status', 'u0', 'u1'"),
    ),
    "an update's tags of a million": (
        "/update_feature_metadata",
        _with(
            {"feature_name": "big:f:1", "user_role": "developer", "last_updated_by": "dev"},
            b'"tags":[' + ZEROS + b"]",
        ),
        _invalid(tags=["Not a valid mapping type."]),
    ),
    "a trigger's note of a million": (
        "/reject_feature_metadata",
        _with(
            {"feature_name": "big:f:1", "user_role": "approver", "rejected_by": "carol"},
            b'"rejection_reason":[' + ZEROS + b"]",
        ),
        _invalid(rejection_reason=["Not a valid string."]),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_large_refused_write_is_answered_as_before_without_being_built(
    unmigrated_client: FlaskClient, case: str
):
    # Refused before any statement runs: once, not once per database.
    path, body, expected = CASES[case]
    status, problem, peak = _answer(unmigrated_client, path, body)
    assert (status, problem) == (expected["status"], expected)
    assert peak < 10_000_000, f"{peak:,} bytes traced"


def test_with_a_token_the_actor_is_still_checked_first(token_client, issue_token):
    headers = bearer(issue_token("developer", principal="dora"))
    body = _with({**CREATE, "created_by": "mallory"}, b'"tags":[' + ZEROS + b"]")
    status, problem, peak = _answer(token_client, "/create_feature_metadata", body, headers)
    assert status == 403 and "mallory" in problem["detail"]
    assert peak < 10_000_000, f"{peak:,} bytes traced"
    body = _with({k: v for k, v in CREATE.items() if k != "created_by"}, UNKNOWN)
    status, problem, peak = _answer(token_client, "/create_feature_metadata", body, headers)
    assert (status, problem) == (422, _unknown("150,000", "'u0', 'u1', 'u2'"))
    assert peak < 10_000_000, f"{peak:,} bytes traced"


def test_a_valid_create_of_many_values_is_still_created(client: FlaskClient):
    # 20,000 commas in its query: read as an outline first, which holds every value.
    query = "SELECT " + ",".join(["a"] * 20_000) + " FROM t"
    body = orjson.dumps({**CREATE, "query": query, "tags": {"team": "x,y"}})
    response = client.post("/create_feature_metadata", data=body, content_type="application/json")
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    assert response.get_json()["metadata"]["query"] == query


def test_a_key_left_out_given_twice_is_parsed_as_before(client: FlaskClient):
    # The keys counted, not kept, cannot be told apart: such a body goes to orjson.
    repeated = b",".join(b'"u%d":0' % (i % 149_000) for i in range(150_000))
    status, problem, _ = _answer(client, "/create_feature_metadata", _with(CREATE, repeated))
    assert (status, problem) == (422, _unknown("149,000", "'u0', 'u1', 'u2'"))


# With an Idempotency-Key the body's fingerprint was taken from orjson's document of it
# (+26 MB for a million tags); now from its canonical bytes, read as the outline is.
KEYED_CASES = {
    "tags, an array of a million": (
        b'"tags":[' + ZEROS + b"]",
        _invalid(tags=["Not a valid mapping type."]),
    ),
    "tags, an object of 150,000 keys": (
        b'"tags":{' + b",".join(b'"k%d":"v"' % i for i in range(150_000)) + b"}",
        _invalid(tags=["At most 20 tags; got 150,000."]),
    ),
    "150,000 unknown fields": (UNKNOWN, _unknown("150,000", "'u0', 'u1', 'u2'")),
}


@pytest.mark.parametrize("case", KEYED_CASES)
def test_a_keyed_large_refused_write_is_stored_and_replayed_without_being_built(
    client: FlaskClient, connection, case: str
):
    raw, expected = KEYED_CASES[case]
    path, body = "/create_feature_metadata", _with(CREATE, raw)
    key = {"Idempotency-Key": f"big-{case}"}
    status, problem, peak = _answer(client, path, body, key)
    assert (status, problem) == (422, expected)
    assert peak < 10_000_000, f"{peak:,} bytes traced"
    assert _stored_keys(connection) == 1
    first = client.post(path, data=body, content_type="application/json", headers=key)
    # Spelled otherwise: the large member first, the others after it in reverse, indented.
    others = orjson.dumps(dict(reversed(CREATE.items())), option=orjson.OPT_INDENT_2)
    respelled = b"{ " + raw + b" ,\n" + others[1:]
    for same in (body, respelled):
        again = client.post(path, data=same, content_type="application/json", headers=key)
        assert (again.status_code, again.headers["Idempotent-Replayed"]) == (422, "true")
        assert again.get_data() == first.get_data()
    other = client.post(path, data=body[:-1] + b',"zz":0}', content_type="application/json",
                        headers=key)  # fmt: skip
    assert other.status_code == 422 and "another body" in other.get_json()["detail"]
    assert _stored_keys(connection) == 1


def test_a_body_is_the_same_request_whichever_way_its_fingerprint_is_taken(client: FlaskClient):
    # 20,000 commas in its query: a large body's canonical bytes; the same JSON with the
    # commas written as escapes has too few commas for that, and is parsed by orjson.
    query = "SELECT " + ",".join(["a"] * 20_000) + " FROM t"
    for order, name in ((0, "big:literal:1"), (1, "big:escaped:1")):
        literal = orjson.dumps({**CREATE, "feature_name": name, "query": query})
        escaped = orjson.dumps({**CREATE, "feature_name": name})[:-1] + b',"query":"'
        escaped += query.replace(",", "\\u002c").encode() + b'"}'
        assert orjson.loads(escaped) == orjson.loads(literal) and escaped.count(b",") < 20
        first, second = (literal, escaped) if order == 0 else (escaped, literal)
        key = {"Idempotency-Key": f"big-{name}"}
        created = client.post("/create_feature_metadata", data=first,
                              content_type="application/json", headers=key)  # fmt: skip
        assert created.status_code == 201, created.get_data(as_text=True)[:300]
        assert "Idempotent-Replayed" not in created.headers
        again = client.post("/create_feature_metadata", data=second,
                            content_type="application/json", headers=key)  # fmt: skip
        assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
        assert again.get_data() == created.get_data()


def test_a_keyed_body_nested_past_orjsons_depth_is_malformed_and_not_stored(
    client: FlaskClient, connection
):
    body, key = b"[" * 2_000_000, {"Idempotency-Key": "too-deep"}
    status, problem, peak = _answer(client, "/create_feature_metadata", body, key)
    assert (status, problem["errors"]) == (400, {"body": ["Invalid JSON body."]})
    assert peak < 1.3 * len(body), f"{peak:,} bytes traced"  # orjson's copy: 26 MB traced
    assert _stored_keys(connection) == 0


def _stored_keys(connection) -> int:
    return connection.execute(text("SELECT count(*) FROM idempotency_keys")).scalar_one()
