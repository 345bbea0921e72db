"""A refused request is freed as soon as it is answered, without the garbage collector
(issue 26, SPEC §6: <= 100 MB RSS per worker at all times; docs/performance.md,
"i29-drift"). marshmallow's load kept the error it raised in a local of a frame its
traceback held: the frames, the loaded data and the request with its body stayed as
cyclic garbage until a collection of their generation, so a worker's RSS drifted up by
each refused 2 MB body (+12 MB over a few of them)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import flask
import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SEED_FEATURE

ZEROS = b"0," * 999_999 + b"0"  # a million values, 2 MB: just under the body limit
CREATE = {**SEED_FEATURE, "feature_name": "freed:f:1", "query": "SELECT 1", "description": "d"}
JSON = "application/json"


def _create_with(raw: bytes) -> bytes:
    return orjson.dumps(CREATE)[:-1] + b"," + raw + b"}"


# Each: the path, the body, the headers, the answer's status and its errors (or detail).
CASES: dict[str, tuple[str, bytes, dict[str, str], int, dict[str, Any]]] = {
    "a create's tags of a million": (
        "/create_feature_metadata",
        _create_with(b'"tags":[' + ZEROS + b"]"),
        {},
        422,
        {"errors": {"tags": ["Not a valid mapping type."]}},
    ),
    "the same with an Idempotency-Key": (
        "/create_feature_metadata",
        _create_with(b'"tags":[' + ZEROS + b"]"),
        {"Idempotency-Key": "freed-1"},
        422,
        {"errors": {"tags": ["Not a valid mapping type."]}},
    ),
    "a create's description of 2 MB": (
        "/create_feature_metadata",
        _create_with(b'"description":"' + b"x" * 1_999_000 + b'"'),
        {},
        422,
        {"errors": {"description": ["Longer than maximum length 10000."]}},
    ),
    "a small create with a field missing": (
        "/create_feature_metadata",
        orjson.dumps({k: v for k, v in CREATE.items() if k != "query"}),
        {},
        422,
        {"errors": {"query": ["Missing data for required field."]}},
    ),
    "POST /features, a key column given twice": (
        "/features",
        b'{"features":["v:f"],"entities":{"id":[' + ZEROS + b'],"id":[1]}}',
        {},
        422,
        {"detail": "The request has invalid or missing fields: features."},
    ),
    "an unknown query parameter": (
        "/get_all_feature_metadata?user_role=developer&nope=1",
        b"",
        {},
        422,
        {"errors": {"nope": ["Unknown field."]}},
    ),
}


@pytest.fixture
def requests_seen(app: Flask) -> Iterator[list[weakref.ref[flask.Request]]]:
    """A weak reference to each request the app starts (Flask's documented signal)."""
    seen: list[weakref.ref[flask.Request]] = []

    def started(sender: Flask, **extra: Any) -> None:
        seen.append(weakref.ref(flask.request._get_current_object()))  # type: ignore[attr-defined]

    flask.request_started.connect(started, app)
    try:
        yield seen
    finally:
        flask.request_started.disconnect(started, app)


@pytest.mark.parametrize("case", CASES)
def test_a_refused_request_is_freed_once_answered_without_the_garbage_collector(
    client: FlaskClient, requests_seen: list[weakref.ref[flask.Request]], case: str
):
    path, body, headers, status, expected = CASES[case]
    method = client.post if body else client.get
    client.get("/health")  # whatever the first request of an app builds, built
    gc.collect()
    gc.disable()
    try:
        response = method(path, data=body, content_type=JSON, headers=headers)
        answer = response.get_json()
        assert response.status_code == status, answer
        assert {key: answer[key] for key in expected} == expected
        del response
        assert len(requests_seen) == 2
        # Nothing but reference counting has run: the request (and its body) is gone.
        assert requests_seen[-1]() is None
    finally:
        gc.enable()
