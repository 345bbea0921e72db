"""POST/GET/DELETE /tokens: admin only, token mode only, secrets shown once (SPEC §7)."""

import pytest
from sqlalchemy import text

from feature_gateway.domain.tokens import TOKEN_PATTERN
from tests.conftest import bearer, token_secret

TOKEN_FIELDS = {
    "token_id", "principal", "roles", "groups", "description", "created_time", "created_by",
    "expires_time", "last_used_time", "revoked_time",
}  # fmt: skip
NEW_TOKEN = {"principal": "carol", "roles": ["external_testing_system"], "description": "CI"}


@pytest.fixture
def admin(issue_token):
    return bearer(issue_token("admin", principal="root"))


def _stored_row(connection, token_id):
    row = connection.execute(
        text("SELECT * FROM api_tokens WHERE token_id = :id"), {"id": token_id}
    ).one()
    return dict(row._mapping)


def test_an_admin_issues_a_token_shown_once_and_stored_as_a_hash(token_client, admin, connection):
    response = token_client.post("/tokens", json=NEW_TOKEN, headers=admin)
    assert response.status_code == 201, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    token, metadata = body["token"], body["metadata"]
    assert TOKEN_PATTERN.fullmatch(token)
    assert set(metadata) == TOKEN_FIELDS
    assert metadata["principal"] == "carol"
    assert metadata["roles"] == ["external_testing_system"]
    assert metadata["created_by"] == "root"
    assert metadata["expires_time"] is metadata["last_used_time"] is metadata["revoked_time"]
    row = _stored_row(connection, metadata["token_id"])
    secret = token_secret(token)
    assert not any(isinstance(v, str) and secret in v for v in row.values())
    # The new token works at once, as its principal and role.
    me = token_client.get("/get_all_feature_metadata", headers=bearer(token))
    assert me.status_code == 200


def test_the_token_list_has_metadata_only(token_client, admin, issue_token):
    issued = issue_token("developer", principal="dave", description="laptop")
    response = token_client.get("/tokens", headers=admin)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.get_json()["tokens"]
    # Oldest first; two tokens issued in the same millisecond are ordered by their id.
    assert sorted(t["principal"] for t in tokens) == ["dave", "root"]
    assert tokens == sorted(tokens, key=lambda t: (t["created_time"], t["token_id"]))
    assert all(set(t) == TOKEN_FIELDS for t in tokens)
    assert token_secret(issued) not in response.get_data(as_text=True)
    assert "fmg_" not in response.get_data(as_text=True)


def test_a_revoked_token_is_refused_from_its_next_request(token_client, admin, issue_token):
    token = issue_token("developer", principal="dave")
    token_id = token.split("_")[1]
    assert token_client.get("/get_all_feature_metadata", headers=bearer(token)).status_code == 200
    response = token_client.delete(f"/tokens/{token_id}", headers=admin)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    revoked = response.get_json()["metadata"]
    assert revoked["token_id"] == token_id and revoked["revoked_time"] is not None
    refused = token_client.get("/get_all_feature_metadata", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.get_json()["detail"] == "The bearer token has been revoked."
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    again = token_client.delete(f"/tokens/{token_id}", headers=admin)
    assert again.status_code == 200
    assert again.get_json()["metadata"]["revoked_time"] == revoked["revoked_time"]


def test_revoking_an_unknown_token_is_404_and_a_malformed_id_422(token_client, admin):
    assert token_client.delete("/tokens/0123456789abcdef", headers=admin).status_code == 404
    malformed = token_client.delete("/tokens/not-an-id", headers=admin)
    assert malformed.status_code == 422
    assert "token_id" in malformed.get_json()["errors"]


def test_an_admin_can_revoke_its_own_token(token_client, issue_token):
    token = issue_token("admin", principal="root")
    response = token_client.delete(f"/tokens/{token.split('_')[1]}", headers=bearer(token))
    assert response.status_code == 200
    assert token_client.get("/tokens", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("role", ["developer", "approver", "external_testing_system"])
def test_only_admin_manages_tokens(token_client, issue_token, role):
    headers = bearer(issue_token(role, principal="mallory"))
    assert token_client.post("/tokens", json=NEW_TOKEN, headers=headers).status_code == 403
    assert token_client.get("/tokens", headers=headers).status_code == 403
    assert token_client.delete("/tokens/0123456789abcdef", headers=headers).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"principal": "c", "roles": []}, "roles"),
        ({"principal": "c", "roles": ["root"]}, "roles"),
        ({"principal": "c"}, "roles"),
        ({"principal": " ", "roles": ["developer"]}, "principal"),
        ({"principal": "c" * 256, "roles": ["developer"]}, "principal"),
        ({"roles": ["developer"]}, "principal"),
        ({"principal": "c", "roles": ["developer"], "expires_time": 1_000}, "expires_time"),
        ({"principal": "c", "roles": ["developer"], "expires_time": "soon"}, "expires_time"),
        ({"principal": "c", "roles": ["developer"], "expires_time": 2**63}, "expires_time"),
        ({"principal": "c", "roles": ["developer"], "secret": "x"}, "secret"),
    ],
)
def test_invalid_token_requests_are_422_and_issue_nothing(
    token_client, admin, connection, body, field
):
    response = token_client.post("/tokens", json=body, headers=admin)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 1


def test_duplicate_roles_are_kept_once_in_declaration_order(token_client, admin):
    body = {"principal": "erin", "roles": ["admin", "developer", "admin"]}
    response = token_client.post("/tokens", json=body, headers=admin)
    assert response.get_json()["metadata"]["roles"] == ["developer", "admin"]


def test_a_token_with_an_expiry_works_until_then(token_client, admin):
    from feature_gateway.services.clock import now_ms

    body = {"principal": "erin", "roles": ["developer"], "expires_time": now_ms() + 60_000}
    token = token_client.post("/tokens", json=body, headers=admin).get_json()["token"]
    assert token_client.get("/get_all_feature_metadata", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/tokens", NEW_TOKEN), ("GET", "/tokens", None),
     ("DELETE", "/tokens/0123456789abcdef", None)],
)  # fmt: skip
@pytest.mark.parametrize("role", ["developer", "approver", "external_testing_system", None])
def test_in_trust_mode_token_management_is_403_naming_the_cli(
    client, connection, method, path, body, role
):
    query = {"user_role": role} if role and method != "POST" else {}
    json_body = {**body, **({"user_role": role} if role else {})} if body else None
    response = client.open(path, method=method, json=json_body, query_string=query)
    assert response.status_code == 403
    assert "feature-gateway tokens" in response.get_json()["detail"]
    assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 0


def test_in_trust_mode_nobody_can_claim_admin(client):
    response = client.get("/tokens", query_string={"user_role": "admin"})
    assert response.status_code == 422
    listed = client.get("/get_all_feature_metadata", query_string={"user_role": "admin"})
    assert listed.status_code == 422
