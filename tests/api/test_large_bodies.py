"""A body near the size limit that the serving endpoints refuse is answered as before, and
without being built (docs/performance.md, "i27-bodies"): a million entity values took a
worker 110-140 MB while orjson parsed them, before the limits were checked."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest
from flask.testing import FlaskClient

SERVING = ["/features", "/get-online-features"]
ZEROS = b"0," * 999_999 + b"0"  # a million values, 2 MB: just under the body limit


@pytest.fixture
def client(unmigrated_client: FlaskClient) -> FlaskClient:
    """Every body here is refused before any statement runs: once, on the unmigrated app
    (on the suite's shared app, parametrised by database, each test ran twice to the same
    end, the traced ones 10-30 s each)."""
    return unmigrated_client


def _rows(head: bytes = b'{"features":["v:f"],"entities":{"id":[') -> bytes:
    return head + ZEROS + b"]}}"


def _answer(client: FlaskClient, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    response = client.post(path, data=body, content_type="application/json")
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert problem.pop("request_id") == response.headers["X-Request-ID"]
    return response.status_code, problem


def _too_large(*messages: str, **errors: list[str]) -> dict[str, Any]:
    return {
        "type": "urn:feature-gateway:problem:unprocessable-content",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "The request is too large: " + " ".join(messages),
        "errors": errors,
    }


ROWS = "At most 10,000 entity rows per request, got 1,000,000."
MALFORMED = {
    "type": "about:blank",
    "title": "Bad Request",
    "status": 400,
    "detail": "The request body is not valid JSON.",
    "errors": {"body": ["Invalid JSON body."]},
}


@pytest.mark.parametrize("path", SERVING)
def test_a_million_entity_rows_are_refused_naming_the_count(client: FlaskClient, path: str):
    assert _answer(client, path, _rows()) == (422, _too_large(ROWS, entities=[ROWS]))


@pytest.mark.parametrize("path", SERVING)
def test_a_refused_million_rows_is_not_built(client: FlaskClient, path: str):
    body = _rows()
    tracemalloc.start()
    try:
        status, _ = _answer(client, path, body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 422
    # orjson's document and objects were 33 MB; what is left is the body's copies.
    assert peak < 10_000_000, f"{peak:,} bytes traced"


@pytest.mark.parametrize("path", SERVING)
def test_a_refused_body_is_held_once(client: FlaskClient, path: str):
    # werkzeug read it into a growing buffer and copied that: 4.25 MB traced at the peak
    # for a body of 2 MB (docs/performance.md, "i30-refused").
    body = _rows()
    tracemalloc.start()
    try:
        assert _answer(client, path, body) == (422, _too_large(ROWS, entities=[ROWS]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.3 * len(body), f"{peak:,} bytes traced for a body of {len(body):,}"


def test_rows_and_values_over_their_limits_are_both_named(client: FlaskClient):
    body = _rows(b'{"features":["v:f","\\ud83d\\ude00"],"entities":{"id":[')
    values = (
        "At most 1,000,000 values (features times entity rows) per request, got 2 * "
        "1,000,000 = 2,000,000."
    )
    assert _answer(client, "/features", body) == (
        422,
        _too_large(ROWS, values, entities=[ROWS], _schema=[values]),
    )


def test_a_hundred_and_fifty_thousand_key_columns_are_counted(client: FlaskClient):
    columns = b",".join(b'"k%d":[0]' % i for i in range(150_000))
    body = b'{"features":["v:f"],"entities":{' + columns + b"}}"
    message = "At most 20 entity key columns per request, got 150,000."
    assert _answer(client, "/features", body) == (422, _too_large(message, entities=[message]))


def test_a_key_column_given_twice_counts_as_orjson_reads_it(client: FlaskClient):
    # orjson keeps the last value: one row, then the unknown feature is what is refused,
    # as for the body of that row alone; the million zeros replaced are not built.
    last_short = b'{"features":["v:f"],"entities":{"id":[' + ZEROS + b'],"id":[1]}}'
    tracemalloc.start()
    try:
        status, problem = _answer(client, "/features", last_short)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    alone = _answer(client, "/features", b'{"features":["v:f"],"entities":{"id":[1]}}')
    assert (status, problem) == alone and list(problem["errors"]) == ["features"]
    assert peak < 10_000_000, f"{peak:,} bytes traced"
    last_long = _rows(b'{"features":["v:f"],"entities":{"id":[1],"id":[')
    assert _answer(client, "/features", last_long) == (422, _too_large(ROWS, entities=[ROWS]))


def test_a_body_that_is_not_an_object_is_refused_as_such(client: FlaskClient):
    assert _answer(client, "/features", b"[" + ZEROS + b"]") == (
        422,
        {
            "type": "urn:feature-gateway:problem:unprocessable-content",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "The request body must be a JSON object.",
            "errors": {"_schema": ["Invalid input type."]},
        },
    )


def test_what_is_checked_before_the_limits_still_comes_first(client: FlaskClient):
    service = _rows(b'{"feature_service":"s","features":["v:f"],"entities":{"id":[')
    message = "Feature services are not supported: name the features in 'features' instead."
    assert _answer(client, "/get-online-features", service) == (
        422,
        {
            "type": "urn:feature-gateway:problem:unprocessable-content",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": "The request has invalid or missing fields: feature_service.",
            "errors": {"feature_service": [message]},
        },
    )
    unknown = b"".join(b'"u%d":0,' % i for i in range(60))
    message = "60 fields are not part of this request ('u0', 'u1', 'u2', ...)."
    assert _answer(
        client, "/features", _rows(b"{" + unknown + b'"features":[],"entities":{"id":[')
    ) == (
        422,
        {
            "type": "urn:feature-gateway:problem:unprocessable-content",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": message,
            "errors": {"_schema": [message]},
        },
    )


@pytest.mark.parametrize(
    "head, tail",
    [
        (b'{"features":["v:f"],"entities":{"id":[', b"]}} x"),
        (b'{"features":["v:f"],"entities":{"id":[', b"]},}"),
        (b'{"features":["v:f","\\ud800"],"entities":{"id":[', b"]}}"),
        (b'{"features":["v:f","\\ud83d\\\\ude00"],"entities":{"id":[', b"]}}"),
        (b'{"features":["v:f"],\x0c"entities":{"id":[', b"]}}"),
        (b'{"x":1e400,"features":["v:f"],"entities":{"id":[', b"]}}"),
        (b'{"x":' + b"[" * 1024 + b"]" * 1024 + b',"features":[],"entities":{"id":[', b"]}}"),
        (b'{"features":["v:f","\xed\xa0\x80"],"entities":{"id":[', b"]}}"),
    ],
    ids=["trailing", "comma", "surrogate", "half-pair", "form-feed", "infinity", "deep", "utf8"],
)
def test_a_large_body_orjson_refuses_is_malformed_however_large(
    client: FlaskClient, head: bytes, tail: bytes
):
    assert _answer(client, "/features", head + ZEROS + tail) == (400, MALFORMED)


@pytest.mark.parametrize("path", ["/features", "/create_feature_metadata"])
@pytest.mark.parametrize(
    "body",
    [b"[" * 2_000_000, b'{"a":' * 400_000, b' [ {"k" :' * 200_000],
    ids=["arrays", "objects", "both"],
)
def test_a_body_nested_past_orjsons_depth_is_malformed_without_being_copied(
    client: FlaskClient, path: str, body: bytes
):
    # orjson refused it only after copying it whole (and reserving 26 MB traced).
    tracemalloc.start()
    try:
        assert _answer(client, path, body) == (400, MALFORMED)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.3 * len(body), f"{peak:,} bytes traced for a body of {len(body):,}"
