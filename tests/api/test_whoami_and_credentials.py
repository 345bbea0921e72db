"""GET /whoami, and the credential every history and change-log entry records (SPEC §12):
``token:<token_id>`` for an API token, ``oidc:<issuer>`` for a JWT, null in trust mode."""

from sqlalchemy import text

from tests.conftest import SEED_FEATURE, bearer

CREATE = {k: v for k, v in SEED_FEATURE.items() if k not in ("user_role", "created_by")}
NAME = SEED_FEATURE["feature_name"]
SUBMIT = {"feature_name": NAME}


def _token_id(token):
    return token.split("_")[1]


def test_whoami_with_an_api_token_names_its_principal_roles_groups_and_credential(
    token_client, issue_token
):
    token = issue_token("approver", "developer", principal="carol", groups=["ml", "growth"])
    response = token_client.get("/whoami", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {
        "principal": "carol",
        "roles": ["developer", "approver"],
        "groups": ["growth", "ml"],
        "credential": f"token:{_token_id(token)}",
        "auth": "token",
    }


def test_whoami_with_a_jwt_names_the_provider(oidc_client, oidc_issuer):
    token = oidc_issuer.token(preferred_username="dana", groups=["qa-bots", "ml-approvers"])
    response = oidc_client.get("/whoami", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {
        "principal": "dana",
        "roles": ["approver", "external_testing_system"],
        "groups": ["ml-approvers", "qa-bots"],
        "credential": f"oidc:{oidc_issuer.url}",
        "auth": "token",
    }


def test_whoami_in_token_mode_needs_a_credential(token_client):
    response = token_client.get("/whoami")
    assert response.status_code == 401


def test_whoami_refuses_a_role_the_caller_does_not_have(token_client, issue_token):
    token = issue_token("developer", principal="carol")
    response = token_client.get("/whoami?user_role=approver", headers=bearer(token))
    assert response.status_code == 403


def test_whoami_in_trust_mode_reports_only_the_claimed_role(client):
    assert client.get("/whoami").get_json() == {
        "principal": None,
        "roles": [],
        "groups": [],
        "credential": None,
        "auth": "trust",
    }
    claimed = client.get("/whoami", headers={"X-User-Role": "approver"}).get_json()
    assert claimed["roles"] == ["approver"] and claimed["principal"] is None
    assert client.get("/whoami?user_role=developer").get_json()["roles"] == ["developer"]
    assert client.get("/whoami?user_role=admin").status_code == 422  # nobody claims admin


def _credentials(connection, table):
    rows = connection.execute(
        text(
            f"SELECT e.actor, e.authenticated, e.credential FROM {table} e"
            " JOIN features f ON f.id = e.feature_id WHERE f.feature_name = :name"
            " ORDER BY e.id"
        ),
        {"name": NAME},
    )
    return [(actor, bool(authenticated), credential) for actor, authenticated, credential in rows]


def _shown(client, headers):
    history = client.get(f"/features/{NAME}/history", headers=headers).get_json()["history"]
    changes = client.get(f"/features/{NAME}/changes", headers=headers).get_json()["changes"]
    return [e["credential"] for e in history], [e["credential"] for e in changes]


def test_entries_made_with_an_api_token_record_the_token(token_client, issue_token, connection):
    token = issue_token("developer", principal="carol")
    headers = bearer(token)
    assert token_client.post("/create_feature_metadata", json=CREATE, headers=headers).status_code == 201
    response = token_client.post("/ready_test_feature_metadata", json=SUBMIT, headers=headers)
    assert response.status_code == 200, response.get_json()
    expected = ("carol", True, f"token:{_token_id(token)}")
    assert _credentials(connection, "feature_audit") == [expected, expected]
    assert _credentials(connection, "feature_changes") == [expected, expected]
    assert _shown(token_client, headers) == ([expected[2]] * 2, [expected[2]] * 2)


def test_entries_made_with_a_jwt_record_the_provider(oidc_client, oidc_issuer, connection):
    headers = bearer(oidc_issuer.token(preferred_username="dana", groups=["ml-developers"]))
    assert oidc_client.post("/create_feature_metadata", json=CREATE, headers=headers).status_code == 201
    update = {"feature_name": NAME, "description": "changed"}
    assert oidc_client.post("/update_feature_metadata", json=update, headers=headers).status_code == 200
    expected = ("dana", True, f"oidc:{oidc_issuer.url}")
    assert _credentials(connection, "feature_audit") == [expected]
    assert _credentials(connection, "feature_changes") == [expected, expected]
    assert _shown(oidc_client, headers) == ([expected[2]], [expected[2]] * 2)


def test_entries_made_in_trust_mode_record_no_credential(client, connection):
    assert client.post("/create_feature_metadata", json=SEED_FEATURE).status_code == 201
    submit = {**SUBMIT, "submitted_by": "dev", "user_role": "developer"}
    assert client.post("/ready_test_feature_metadata", json=submit).status_code == 200
    expected = ("dev", False, None)
    assert _credentials(connection, "feature_audit") == [expected, expected]
    assert _credentials(connection, "feature_changes") == [expected, expected]
    role = {"X-User-Role": "developer"}
    assert _shown(client, role) == ([None, None], [None, None])


def test_the_event_feed_shows_the_credential(token_client, issue_token):
    token = issue_token("developer", principal="carol")
    token_client.post("/create_feature_metadata", json=CREATE, headers=bearer(token))
    feed = token_client.get("/events", headers=bearer(token))
    assert feed.status_code == 200, feed.get_json()
    [event] = feed.get_json()["events"]
    assert event["credential"] == f"token:{_token_id(token)}"
