"""Who may call what: 422 without a (known) role, 403 for a role that may not act."""

import pytest

from tests.conftest import SEED_FEATURE

NAME = SEED_FEATURE["feature_name"]
ENDPOINTS = {
    "/create_feature_metadata": ({k: v for k, v in SEED_FEATURE.items() if k != "user_role"},
                                 {"developer"}),
    "/update_feature_metadata": ({"feature_name": NAME, "last_updated_by": "dev",
                                  "description": "new"}, {"developer"}),
    "/delete_feature_metadata": ({"feature_name": NAME, "deleted_by": "dev",
                                  "deletion_reason": "x"}, {"developer"}),
    "/ready_test_feature_metadata": ({"feature_name": NAME, "submitted_by": "dev"},
                                     {"developer"}),
    "/test_feature_metadata": ({"feature_name": NAME, "test_result": "TEST_SUCCEEDED",
                                "tested_by": "qa"}, {"external_testing_system"}),
    "/approve_feature_metadata": ({"feature_name": NAME, "approved_by": "boss"}, {"approver"}),
    "/reject_feature_metadata": ({"feature_name": NAME, "rejected_by": "boss",
                                  "rejection_reason": "x"}, {"approver"}),
    "/fix_feature_metadata": ({"feature_name": NAME, "fixed_by": "dev",
                               "fix_description": "x"}, {"developer"}),
    "/get_feature_metadata": ({"feature_name": NAME}, None),
    "/get_all_feature_metadata": ({}, None),
    "/get_feature_history": ({"feature_name": NAME}, None),
}  # fmt: skip
ROLES = ("developer", "approver", "external_testing_system")
FORBIDDEN = [
    (path, role)
    for path, (_, allowed) in ENDPOINTS.items()
    if allowed is not None
    for role in ROLES
    if role not in allowed
]


@pytest.mark.parametrize(("path", "role"), FORBIDDEN)
def test_a_role_that_may_not_act_gets_403(client, path, role):
    body, _ = ENDPOINTS[path]
    response = client.post(path, json={**body, "user_role": role})
    assert response.status_code == 403
    assert role in response.get_json()["detail"]


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_a_missing_role_gets_422(client, path):
    body, _ = ENDPOINTS[path]
    response = client.post(path, json=body)
    assert response.status_code == 422
    assert "user_role" in response.get_json()["errors"]


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_an_unknown_role_gets_422(client, path):
    body, _ = ENDPOINTS[path]
    response = client.post(path, json={**body, "user_role": "admin"})
    assert response.status_code == 422
    assert "admin" in response.get_json()["detail"]


def test_forbidden_requests_change_nothing(client, make_feature, audit_rows):
    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    response = client.post(
        "/approve_feature_metadata",
        json={"feature_name": name, "approved_by": "dev", "user_role": "developer"},
    )
    assert response.status_code == 403
    stored = client.get(f"/get_feature_metadata/{name}?user_role=approver").get_json()
    assert stored["metadata"]["status"] == "TEST_SUCCEEDED"
    assert [r["trigger"] for r in audit_rows(name)] == ["create", "submit", "test"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_read(client, make_feature, role):
    name = make_feature()["feature_name"]
    assert client.get(f"/get_feature_metadata/{name}?user_role={role}").status_code == 200
    assert client.get(f"/get_all_feature_metadata?user_role={role}").status_code == 200
    assert client.get(f"/get_deployed_features?user_role={role}").status_code == 200
    assert client.get(f"/features/{name}/history?user_role={role}").status_code == 200


def test_get_requests_may_send_the_role_as_a_header(client, make_feature):
    name = make_feature()["feature_name"]
    response = client.get(f"/get_feature_metadata/{name}", headers={"X-User-Role": "approver"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path", ["/get_all_feature_metadata", "/get_deployed_features",
             f"/get_feature_metadata/{NAME}", f"/features/{NAME}/history"]
)  # fmt: skip
def test_get_requests_without_a_role_get_422(client, path):
    response = client.get(path)
    assert response.status_code == 422
    assert "X-User-Role" in response.get_json()["detail"]


def test_health_ignores_roles(client):
    assert client.get("/health?user_role=nobody").status_code == 200
