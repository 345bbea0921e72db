"""Token mode, request by request (SPEC §7): 401 first, then the role the token allows."""

import json
import logging

import pytest
from sqlalchemy import text

from tests.conftest import SEED_FEATURE, TEST_SECRET_KEY, bearer, token_secret

CHALLENGE = 'Bearer realm="feature-gateway"'
INVALID_TOKEN = 'Bearer realm="feature-gateway", error="invalid_token"'
WELL_FORMED_UNKNOWN = "fmg_0123456789abcdef_" + "A" * 43
CREATE = "/create_feature_metadata"
NEW = {k: v for k, v in SEED_FEATURE.items() if k not in ("created_by", "user_role")}


def _unauthorized(response, challenge):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 401 and body["title"] == "Unauthorized"
    return body


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, {"Authorization": "Token abc"}],
    ids=["no header", "basic", "other scheme"],
)
def test_without_a_bearer_token_every_api_request_is_401_without_an_error_code(
    token_client, headers
):
    for method, path in [
        ("POST", CREATE),
        ("GET", "/get_all_feature_metadata"),
        ("GET", "/get_feature_metadata/v:f:1"),
        ("POST", "/features"),
        ("GET", "/features/available"),
        ("GET", "/tokens"),
    ]:
        response = token_client.open(path, method=method, json={}, headers=headers)
        body = _unauthorized(response, CHALLENGE)
        assert "Authorization: Bearer" in body["detail"]


@pytest.mark.parametrize(
    "token",
    ["", "not-a-token", WELL_FORMED_UNKNOWN, WELL_FORMED_UNKNOWN.lower(), "fmg_" + "0" * 60],
)
def test_a_malformed_or_unknown_token_is_401_invalid_token_and_never_echoed(token_client, token):
    response = token_client.get("/get_all_feature_metadata", headers=bearer(token))
    body = _unauthorized(response, INVALID_TOKEN)
    if token:
        assert token not in response.get_data(as_text=True)
    assert body["detail"] in ("The bearer token is malformed.", "The bearer token is not valid.")


def test_a_known_id_with_the_wrong_secret_is_not_valid(token_client, issue_token):
    token = issue_token("developer")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    body = _unauthorized(
        token_client.get("/get_all_feature_metadata", headers=bearer(forged)), INVALID_TOKEN
    )
    assert body["detail"] == "The bearer token is not valid."


def test_an_expired_token_is_refused(token_client, issue_token):
    token = issue_token("developer", expires_time=2_000, now=1_000)
    body = _unauthorized(
        token_client.get("/get_all_feature_metadata", headers=bearer(token)), INVALID_TOKEN
    )
    assert body["detail"] == "The bearer token has expired."


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", json.dumps(NEW)),  # 415 without a token
        ("application/json", '{"feature_name": '),  # 400
        ("application/json", " " * (2 * 1024 * 1024 + 1)),  # 413
        ("application/json", json.dumps({"unexpected": 1})),  # 422
    ],
    ids=["415", "400", "413", "422"],
)
def test_authentication_comes_before_every_body_check(token_client, content_type, data):
    response = token_client.post(CREATE, data=data, content_type=content_type)
    _unauthorized(response, CHALLENGE)
    wrong = token_client.post(
        CREATE, data=data, content_type=content_type, headers=bearer(WELL_FORMED_UNKNOWN)
    )
    _unauthorized(wrong, INVALID_TOKEN)


def test_unknown_paths_and_wrong_methods_are_still_404_and_405(token_client):
    assert token_client.get("/no/such/path").status_code == 404
    assert token_client.delete(CREATE).status_code == 405


@pytest.mark.parametrize(
    "path",
    ["/health", "/livez", "/metrics", "/openapi.json", "/docs", "/docs/static/swagger-ui.css"],
)
def test_health_metrics_and_the_docs_need_no_token(token_client, path):
    with token_client.get(path) as response:
        assert response.status_code == 200


def test_health_reports_the_auth_mode(client, token_client):
    assert client.get("/health").get_json()["auth"] == "trust"
    assert token_client.get("/health").get_json()["auth"] == "token"


def test_every_response_says_nosniff(client, token_client, issue_token):
    responses = [
        client.get("/health"),
        client.get("/docs/static/swagger-ui.css"),
        client.get("/no/such/path"),
        client.post(CREATE, json={}),
        token_client.get("/get_all_feature_metadata"),
        token_client.get("/get_all_feature_metadata", headers=bearer(issue_token("approver"))),
    ]
    for response in responses:
        response.close()
    assert [r.headers.get("X-Content-Type-Options") for r in responses] == ["nosniff"] * 6


def test_the_role_is_inferred_from_the_token_and_actor_fields_are_the_principal(
    token_client, issue_token, audit_rows
):
    token = issue_token("developer", principal="alice")
    response = token_client.post(CREATE, json=NEW, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["metadata"]["created_by"] == "alice"
    [created] = audit_rows(NEW["feature_name"])
    assert (created["actor"], created["actor_role"]) == ("alice", "developer")


def test_an_actor_field_naming_the_principal_in_another_case_is_the_principal(
    token_client, issue_token
):
    token = issue_token("developer", principal="alice")
    response = token_client.post(
        CREATE, json={**NEW, "created_by": "ALICE"}, headers=bearer(token)
    )
    assert response.status_code == 201
    assert response.get_json()["metadata"]["created_by"] == "alice"


@pytest.mark.parametrize("given", [None, 7, ["alice"]])
def test_an_actor_field_given_as_a_non_string_is_422_even_with_a_token(
    token_client, issue_token, connection, given
):
    # Leaving the field out means "the principal"; null or another type is a bad request,
    # as it is without a token (the OpenAPI document declares a string).
    token = issue_token("developer", principal="alice")
    response = token_client.post(CREATE, json={**NEW, "created_by": given}, headers=bearer(token))
    assert response.status_code == 422, response.get_json()
    assert "created_by" in response.get_json()["errors"]
    count = connection.execute(text("SELECT count(*) FROM features")).scalar()
    assert count == 0


def test_acting_as_another_principal_is_403_and_creates_nothing(
    token_client, issue_token, connection
):
    token = issue_token("developer", principal="alice")
    response = token_client.post(CREATE, json={**NEW, "created_by": "bob"}, headers=bearer(token))
    assert response.status_code == 403
    assert "Acting as another principal" in response.get_json()["detail"]
    count = connection.execute(text("SELECT count(*) FROM features")).scalar()
    assert count == 0


def test_a_declared_role_must_be_one_of_the_tokens(token_client, issue_token):
    token = issue_token("developer", principal="alice")
    response = token_client.post(
        CREATE, json={**NEW, "user_role": "approver"}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert response.get_json()["detail"] == (
        "The token of alice does not carry the role 'approver'; it carries: developer."
    )
    header = token_client.get(
        "/get_all_feature_metadata", headers={**bearer(token), "X-User-Role": "approver"}
    )
    assert header.status_code == 403


def test_an_unknown_declared_role_is_still_422(token_client, issue_token):
    token = issue_token("developer")
    response = token_client.post(CREATE, json={**NEW, "user_role": "root"}, headers=bearer(token))
    assert response.status_code == 422
    assert "user_role" in response.get_json()["errors"]


def test_a_token_without_a_role_that_may_act_is_403(token_client, issue_token):
    token = issue_token("approver", "admin", principal="boss")
    response = token_client.post(CREATE, json=NEW, headers=bearer(token))
    assert response.status_code == 403
    assert response.get_json()["detail"] == (
        "The token of boss carries no role that may create features (it carries: admin, "
        "approver; allowed roles: developer)."
    )


def test_admin_reads_but_fires_no_trigger(token_client, issue_token, make_feature):
    name = make_feature("TEST_SUCCEEDED")["feature_name"]
    admin = bearer(issue_token("admin", principal="root"))
    assert token_client.get(f"/get_feature_metadata/{name}", headers=admin).status_code == 200
    response = token_client.post(
        "/approve_feature_metadata", json={"feature_name": name}, headers=admin
    )
    assert response.status_code == 403
    explicit = token_client.post(
        "/approve_feature_metadata",
        json={"feature_name": name, "user_role": "admin"},
        headers=admin,
    )
    assert explicit.status_code == 403
    assert "Role 'admin' may not approve features" in explicit.get_json()["detail"]


def test_serving_needs_a_token_with_any_role(token_client, issue_token):
    body = {"features": ["v:f:1"], "entities": {"driver_id": ["D1"]}}
    assert token_client.post("/features", json=body).status_code == 401
    for role in ("developer", "approver", "external_testing_system", "admin"):
        headers = bearer(issue_token(role, principal=f"{role}-client"))
        assert token_client.post("/features", json=body, headers=headers).status_code == 200
        assert token_client.get("/features/available", headers=headers).status_code == 200


def _last_used(connection, token):
    token_id = token.split("_")[1]
    return connection.execute(
        text("SELECT last_used_time FROM api_tokens WHERE token_id = :id"), {"id": token_id}
    ).scalar()


def test_last_used_time_is_written_at_most_once_a_minute(token_client, issue_token, connection):
    token = issue_token("developer")
    assert _last_used(connection, token) is None
    token_client.get("/get_all_feature_metadata", headers=bearer(token))
    first = _last_used(connection, token)
    assert first is not None
    token_client.get("/get_all_feature_metadata", headers=bearer(token))
    assert _last_used(connection, token) == first
    connection.execute(
        text("UPDATE api_tokens SET last_used_time = :t WHERE token_id = :id"),
        {"t": first - 60_000, "id": token.split("_")[1]},
    )
    token_client.get("/get_all_feature_metadata", headers=bearer(token))
    assert _last_used(connection, token) >= first


def test_the_access_line_names_the_principal_and_never_the_token(
    token_client, issue_token, caplog
):
    token = issue_token("developer", principal="alice")
    with caplog.at_level(logging.INFO, logger="feature_gateway.access"):
        token_client.get("/get_all_feature_metadata", headers=bearer(token))
    [record] = [r for r in caplog.records if r.name == "feature_gateway.access"]
    assert (record.principal, record.role) == ("alice", "developer")
    assert token_secret(token) not in str(record.__dict__)


def test_trust_mode_warns_at_start_and_token_mode_does_not(database, migrated_database, caplog):
    from feature_gateway import create_app

    for mode in ("trust", "token"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="feature_gateway"):
            create_app({"database": database, "database_url": migrated_database.url,
                        "auth_mode": mode, "secret_key": TEST_SECRET_KEY})  # fmt: skip
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("AUTH_MODE=trust" in w for w in warnings) == (mode == "trust")
