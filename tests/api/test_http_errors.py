"""Transport-level errors: every one is problem+json with a human ``detail``."""

import io
import json

import pytest

from feature_gateway import create_app
from feature_gateway.services import features
from tests.conftest import SEED_FEATURE


def assert_problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"].endswith(".")
    return body


def test_malformed_json_is_400(client):
    response = client.post(
        "/create_feature_metadata", data='{"feature_name": ', content_type="application/json"
    )
    assert "not valid JSON" in assert_problem(response, 400)["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_bodies_that_are_not_json_are_415(client, content_type):
    response = client.post("/create_feature_metadata", data="a=b", content_type=content_type)
    assert "application/json" in assert_problem(response, 415)["detail"]


def test_a_json_body_that_is_not_an_object_is_422(client):
    response = client.post("/create_feature_metadata", json=["not", "an", "object"])
    assert_problem(response, 422)


def test_a_body_over_the_size_limit_is_413(client, app):
    limit = app.extensions["feature_gateway"].settings.max_body_bytes
    big = {**SEED_FEATURE, "description": "x" * (limit + 1)}
    assert_problem(client.post("/create_feature_metadata", json=big), 413)


def test_a_wrong_method_is_405(client):
    assert_problem(client.get("/create_feature_metadata"), 405)
    assert_problem(client.delete("/get_all_feature_metadata"), 405)


def test_an_unknown_path_is_404(client):
    assert_problem(client.get("/no/such/endpoint"), 404)


def test_an_unexpected_failure_is_500_without_internals(client, monkeypatch):
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals: SELECT * FROM features")

    monkeypatch.setattr(features, "get_feature_json", explode)
    response = client.get("/get_feature_metadata/a:b:1?user_role=developer")
    body = assert_problem(response, 500)
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_a_request_id_is_echoed_or_generated(client):
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/health").headers["X-Request-ID"]
    assert len(generated) == 32
    for hostile in ('<script>"x"</script>', "y" * 129):
        replaced = client.get("/health", headers={"X-Request-ID": hostile}).headers
        assert len(replaced["X-Request-ID"]) == 32


def test_health_reports_the_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["database"]) == ("healthy", "ok")
    assert body["version"]


@pytest.fixture
def unreachable_app():
    # Nothing listens on port 9 of loopback: every connection attempt is refused at once.
    return create_app({"database_url": "postgresql+psycopg://postgres@127.0.0.1:9/none",
                       "db_pool_timeout_s": 2})  # fmt: skip


def test_health_is_503_when_the_database_is_unreachable(unreachable_app):
    response = unreachable_app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unhealthy"


def test_requests_get_503_problem_when_the_database_is_unreachable(unreachable_app):
    client = unreachable_app.test_client()
    response = client.get("/get_feature_metadata/a:b:1?user_role=developer")
    assert_problem(response, 503)
    assert_problem(client.post("/create_feature_metadata", json=SEED_FEATURE), 503)
    assert "psycopg" not in response.get_data(as_text=True)


def test_a_chunked_body_over_the_size_limit_is_413_not_400(client, app):
    limit = app.extensions["feature_gateway"].settings.max_body_bytes
    body = json.dumps({**SEED_FEATURE, "description": "x" * (limit + 1)}).encode()
    response = client.post(
        "/create_feature_metadata",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets it
    )
    assert_problem(response, 413)


def test_a_chunked_body_of_exactly_the_limit_is_not_refused_for_its_size(client, app):
    limit = app.extensions["feature_gateway"].settings.max_body_bytes
    body = json.dumps({**SEED_FEATURE, "description": ""}).encode()
    padded = body[:-1] + b" " * (limit - len(body)) + b"}"  # JSON allows the spaces
    assert len(padded) == limit
    response = client.post(
        "/create_feature_metadata",
        input_stream=io.BytesIO(padded),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code != 413  # parsed: 422 for the blank description


def test_a_small_chunked_body_is_accepted(client):
    response = client.post(
        "/create_feature_metadata",
        input_stream=io.BytesIO(json.dumps(SEED_FEATURE).encode()),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201


def test_a_body_that_is_not_an_object_says_so(client):
    response = client.post("/create_feature_metadata", json=[1, 2])
    assert assert_problem(response, 422)["detail"] == "The request body must be a JSON object."


def test_every_422_has_the_same_type_and_title(client):
    invalid_field = client.post("/create_feature_metadata", json={**SEED_FEATURE, "query": ""})
    bad_path = client.get("/get_feature_metadata/bad%20name?user_role=developer")
    unknown_role = client.get("/get_feature_metadata/a:b:1?user_role=boss")
    bodies = [assert_problem(r, 422) for r in (invalid_field, bad_path, unknown_role)]
    assert {(b["type"], b["title"]) for b in bodies} == {
        ("urn:feature-gateway:problem:unprocessable-content", "Unprocessable Content")
    }
