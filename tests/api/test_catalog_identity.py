"""The catalog (SPEC §8) under identity (SPEC §7): change-log entries say whether their actor
was verified, the principal is what they record, a new version with another definition
counts its maker as a definition changer, and deprecate/retire are the approver's alone."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import bearer

NAME = "identity_catalog:feature:1"
CREATE = {
    "feature_name": NAME,
    "feature_type": "batch",
    "feature_data_type": "float",
    "query": "SELECT 1",
    "description": "d",
}


def _ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _changes(client, name, **headers):
    body = _ok(client.get(f"/features/{name}/changes", headers=headers))
    return body["changes"]


def test_change_log_entries_record_the_principal_and_authenticated_in_token_mode(
    token_client, issue_token
):
    dev = bearer(issue_token("developer", principal="alice"))
    _ok(token_client.post("/create_feature_metadata", json=CREATE, headers=dev), 201)
    _ok(
        token_client.post(
            "/update_feature_metadata",
            json={"feature_name": NAME, "query": "SELECT 2"},
            headers=dev,
        )
    )
    _ok(
        token_client.post("/create_feature_version", json={"feature_name": NAME}, headers=dev), 201
    )
    _ok(
        token_client.post("/ready_test_feature_metadata", json={"feature_name": NAME}, headers=dev)
    )
    entries = _changes(token_client, NAME, **dev)
    assert [(e["action"], e["actor"], e["authenticated"]) for e in entries] == [
        ("create", "alice", True),
        ("update", "alice", True),
        ("submit", "alice", True),
    ]
    version = _changes(token_client, "identity_catalog:feature:2", **dev)
    assert [(e["actor"], e["authenticated"]) for e in version] == [("alice", True)]


def test_change_log_entries_are_unauthenticated_in_trust_mode(client):
    _ok(
        client.post(
            "/create_feature_metadata",
            json={**CREATE, "created_by": "bob", "user_role": "developer"},
        ),
        201,
    )
    entries = _changes(client, NAME, **{"X-User-Role": "developer"})
    assert [(e["actor"], e["authenticated"]) for e in entries] == [("bob", False)]


def test_a_new_version_with_another_query_records_its_maker_as_definition_changer(
    client, connection
):
    _ok(
        client.post(
            "/create_feature_metadata",
            json={**CREATE, "created_by": "bob", "user_role": "developer"},
        ),
        201,
    )
    for body in ({"description": "same definition"}, {"query": "SELECT 3"}):
        version = {"feature_name": NAME, "created_by": "erin", "user_role": "developer", **body}
        _ok(client.post("/create_feature_version", json=version), 201)
    rows = connection.execute(
        text(
            "SELECT f.feature_name, d.changed_by, d.changed_fields"
            " FROM feature_definition_changes d JOIN features f ON f.id = d.feature_id"
            " WHERE f.feature_name LIKE 'identity_catalog:%' ORDER BY d.id"
        )
    ).all()
    # The unchanged copy (2) inherits its source's author (SPEC §7); the changed one (3) is
    # erin's own.
    assert [tuple(r) for r in rows] == [
        ("identity_catalog:feature:2", "bob", None),
        ("identity_catalog:feature:3", "erin", "query"),
    ]


def test_deprecate_and_retire_are_for_approvers_and_never_admin(
    token_client, issue_token, make_feature
):
    name = make_feature("DEPLOYED")["feature_name"]
    admin = bearer(issue_token("admin", principal="root"))
    developer = bearer(issue_token("developer", principal="dev2"))
    approver = bearer(issue_token("approver", principal="carol"))
    body = {"feature_name": name, "deprecation_reason": "old"}
    for headers in (admin, developer):
        assert (
            token_client.post(
                "/deprecate_feature_metadata", json=body, headers=headers
            ).status_code
            == 403
        )
    deprecated = _ok(token_client.post("/deprecate_feature_metadata", json=body, headers=approver))
    assert deprecated["metadata"]["deprecated_by"] == "carol"
    retire = {"feature_name": name, "retirement_reason": "unused"}
    assert (
        token_client.post("/retire_feature_metadata", json=retire, headers=admin).status_code
        == 403
    )
    retired = _ok(token_client.post("/retire_feature_metadata", json=retire, headers=approver))
    assert retired["new_status"] == "RETIRED"
    history = _ok(token_client.get(f"/features/{name}/history", headers=approver))["history"]
    assert [(e["trigger"], e["actor"], e["authenticated"]) for e in history[-2:]] == [
        ("deprecate", "carol", True),
        ("retire", "carol", True),
    ]
