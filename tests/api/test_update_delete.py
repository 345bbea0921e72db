import pytest

EDITABLE = ["DRAFT", "READY_FOR_TESTING", "TEST_SUCCEEDED", "TEST_FAILED", "REJECTED"]


def update(client, name, **fields):
    body = {"feature_name": name, "last_updated_by": "editor", "user_role": "developer",
            **fields}  # fmt: skip
    return client.post("/update_feature_metadata", json=body)


@pytest.mark.parametrize("state", EDITABLE)
def test_changing_only_the_description_keeps_the_status_and_adds_no_audit_row(
    client, make_feature, audit_rows, state
):
    feature = make_feature(state)
    before = audit_rows(feature["feature_name"])
    response = update(client, feature["feature_name"], description="Clearer words")
    assert response.status_code == 200
    metadata = response.get_json()["metadata"]
    assert response.get_json()["message"] == "Feature updated successfully"
    assert (metadata["status"], metadata["description"]) == (state, "Clearer words")
    assert metadata["revision"] == feature["revision"] + 1
    assert metadata["last_updated_by"] == "editor"
    assert audit_rows(feature["feature_name"]) == before


@pytest.mark.parametrize("state", [s for s in EDITABLE if s != "DRAFT"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("query", "SELECT 2 AS other"), ("feature_type", "real-time"),
     ("feature_data_type", "string")],
)  # fmt: skip
def test_changing_a_critical_field_resets_to_draft_with_an_audit_row(
    client, make_feature, audit_rows, state, field, value
):
    feature = make_feature(state)
    response = update(client, feature["feature_name"], **{field: value})
    assert response.status_code == 200
    metadata = response.get_json()["metadata"]
    assert metadata["status"] == "DRAFT"
    assert metadata[field] == value
    assert audit_rows(feature["feature_name"])[-1] == {
        "from_status": state, "to_status": "DRAFT", "trigger": "reset", "actor": "editor",
        "actor_role": "developer", "reason": "critical field changed",
    }  # fmt: skip


def test_changing_a_critical_field_of_a_draft_adds_no_audit_row(client, make_feature, audit_rows):
    name = make_feature("DRAFT")["feature_name"]
    response = update(client, name, query="SELECT 3")
    assert response.get_json()["metadata"]["status"] == "DRAFT"
    assert [r["trigger"] for r in audit_rows(name)] == ["create"]


def test_sending_current_values_is_not_a_change(client, make_feature, audit_rows):
    feature = make_feature("TEST_SUCCEEDED")
    response = update(
        client, feature["feature_name"], query=feature["query"],
        feature_type=feature["feature_type"], description=feature["description"],
    )  # fmt: skip
    metadata = response.get_json()["metadata"]
    assert response.status_code == 200
    assert (metadata["status"], metadata["revision"]) == ("TEST_SUCCEEDED", feature["revision"])
    assert metadata["last_updated_by"] == feature["last_updated_by"]
    assert [r["trigger"] for r in audit_rows(feature["feature_name"])][-1] == "test"


@pytest.mark.parametrize("state", ["DEPLOYED", "DELETED"])
def test_terminal_features_cannot_be_updated(client, make_feature, state):
    feature = make_feature(state)
    response = update(client, feature["feature_name"], description="sneaky")
    assert response.status_code == 409
    assert state in response.get_json()["detail"]
    stored = client.get(f"/get_feature_metadata/{feature['feature_name']}?user_role=developer")
    assert stored.get_json()["metadata"]["description"] == feature["description"]


def test_status_is_never_settable_through_update(client, make_feature):
    name = make_feature("DRAFT")["feature_name"]
    response = update(client, name, status="DEPLOYED")
    assert response.status_code == 422
    assert "workflow" in response.get_json()["errors"]["status"][0]


def test_an_update_must_change_something(client, make_feature):
    name = make_feature("DRAFT")["feature_name"]
    response = update(client, name)
    assert response.status_code == 422
    assert "Nothing to update" in response.get_json()["detail"]


def test_an_update_with_an_unsafe_query_changes_nothing(client, make_feature):
    feature = make_feature("TEST_SUCCEEDED")
    response = update(client, feature["feature_name"], query="DELETE FROM t")
    assert response.status_code == 422
    stored = client.get(f"/get_feature_metadata/{feature['feature_name']}?user_role=developer")
    assert stored.get_json()["metadata"]["status"] == "TEST_SUCCEEDED"


def test_updating_an_unknown_feature_is_404(client):
    assert update(client, "nope:nothing:1", description="x").status_code == 404


def test_deleting_is_soft_and_keeps_who_and_why(client, make_feature, audit_rows):
    name = make_feature("TEST_FAILED")["feature_name"]
    response = client.post(
        "/delete_feature_metadata",
        json={"feature_name": name, "deleted_by": "dev", "user_role": "developer",
              "deletion_reason": "No longer needed"},
    )  # fmt: skip
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Feature deleted successfully"
    metadata = body["metadata"]
    assert (metadata["status"], metadata["deleted_by"]) == ("DELETED", "dev")
    assert metadata["deletion_reason"] == "No longer needed"
    assert metadata["deleted_time"] is not None
    assert audit_rows(name)[-1]["trigger"] == "delete"
    stored = client.get(f"/get_feature_metadata/{name}?user_role=developer")
    assert stored.get_json()["metadata"]["status"] == "DELETED"


@pytest.mark.parametrize("state", ["DEPLOYED", "DELETED"])
def test_terminal_features_cannot_be_deleted(client, make_feature, state):
    name = make_feature(state)["feature_name"]
    response = client.post(
        "/delete_feature_metadata",
        json={"feature_name": name, "deleted_by": "dev", "user_role": "developer",
              "deletion_reason": "x"},
    )  # fmt: skip
    assert response.status_code == 409
