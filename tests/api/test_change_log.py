"""The change log: one entry per successful write, field by field, in the same transaction."""

import pytest
from sqlalchemy import text

from tests.conftest import SEED_FEATURE


def changes(client, name):
    response = client.get(f"/features/{name}/changes?user_role=external_testing_system")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["changes"]


def test_create_logs_every_set_field_from_null(client):
    metadata = client.post(
        "/create_feature_metadata", json={**SEED_FEATURE, "tags": {"team": "x"}}
    ).get_json()["metadata"]
    (entry,) = changes(client, metadata["feature_name"])
    assert {k: entry[k] for k in ("revision", "action", "actor", "actor_role", "authenticated")} \
        == {"revision": 1, "action": "create", "actor": "dev", "actor_role": "developer",
            "authenticated": False}  # fmt: skip
    assert entry["timestamp"] == metadata["created_time"]
    set_fields = {k: v for k, v in metadata.items() if v is not None}
    del set_fields["updated_time"], set_fields["revision"]
    assert entry["fields"] == {k: {"from": None, "to": v} for k, v in set_fields.items()}


def test_every_write_adds_one_entry_with_what_changed(client, make_feature):
    feature = make_feature()
    name = feature["feature_name"]
    client.post("/update_feature_metadata", json={
        "feature_name": name, "description": "new", "owner": "team-b",
        "last_updated_by": "ann", "user_role": "developer",
    })  # fmt: skip
    for path, body in [
        ("/ready_test_feature_metadata", {"submitted_by": "dev", "user_role": "developer"}),
        ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                    "user_role": "external_testing_system"}),
        ("/approve_feature_metadata", {"approved_by": "boss", "user_role": "approver"}),
        ("/deprecate_feature_metadata", {"deprecated_by": "boss", "user_role": "approver",
                                         "deprecation_reason": "old"}),
        ("/retire_feature_metadata", {"retired_by": "boss", "user_role": "approver"}),
    ]:  # fmt: skip
        assert client.post(path, json={"feature_name": name, **body}).status_code == 200
    log = changes(client, name)
    assert [e["action"] for e in log] == [
        "create", "update", "submit", "test", "approve", "deprecate", "retire"
    ]  # fmt: skip
    assert [e["revision"] for e in log] == list(range(1, 8))
    update = log[1]
    assert (update["actor"], update["fields"]) == ("ann", {
        "description": {"from": feature["description"], "to": "new"},
        "owner": {"from": "dev", "to": "team-b"},
        "last_updated_by": {"from": "dev", "to": "ann"},
    })  # fmt: skip
    approve = log[4]
    assert approve["fields"]["status"] == {"from": "TEST_SUCCEEDED", "to": "DEPLOYED"}
    assert approve["fields"]["approved_by"] == {"from": None, "to": "boss"}
    assert approve["fields"]["deployed_by"] == {"from": None, "to": "boss"}
    assert set(log[6]["fields"]) == {"status", "retired_by", "retired_time"}
    assert all("updated_time" not in e["fields"] for e in log)


def test_a_reset_shows_the_status_change_in_the_update_entry(client, make_feature):
    name = make_feature("TEST_FAILED")["feature_name"]
    client.post("/update_feature_metadata", json={
        "feature_name": name, "query": "SELECT 2", "last_updated_by": "ann",
        "user_role": "developer",
    })  # fmt: skip
    entry = changes(client, name)[-1]
    assert entry["action"] == "update"
    assert entry["fields"]["status"] == {"from": "TEST_FAILED", "to": "DRAFT"}
    assert entry["fields"]["query"]["to"] == "SELECT 2"


def test_refused_and_empty_writes_leave_no_entry(client, make_feature):
    name = make_feature("DEPLOYED")["feature_name"]
    before = changes(client, name)
    assert client.post("/update_feature_metadata", json={
        "feature_name": name, "description": "x", "last_updated_by": "a",
        "user_role": "developer",
    }).status_code == 409  # fmt: skip
    assert client.post("/approve_feature_metadata", json={
        "feature_name": name, "approved_by": "b", "user_role": "approver",
    }).status_code == 409  # fmt: skip
    draft = make_feature(description="same")["feature_name"]
    client.post("/update_feature_metadata", json={
        "feature_name": draft, "description": "same", "last_updated_by": "a",
        "user_role": "developer",
    })  # fmt: skip
    assert changes(client, name) == before
    assert len(changes(client, draft)) == 1


def test_entries_are_rows_of_the_log_table_with_statuses_for_the_feed(
    client, make_feature, connection
):
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    rows = connection.execute(
        text("SELECT c.id, c.feature_name, c.action, c.previous_status, c.new_status"
             " FROM feature_changes c JOIN features f ON f.id = c.feature_id"
             " WHERE f.feature_name = :name ORDER BY c.id"), {"name": name},
    ).all()  # fmt: skip
    assert [tuple(row[1:]) for row in rows] == [
        (name, "create", None, "DRAFT"), (name, "submit", "DRAFT", "READY_FOR_TESTING")
    ]  # fmt: skip
    assert rows[0].id < rows[1].id


def test_the_change_log_of_an_unknown_feature_is_404(client):
    response = client.get("/features/nope:nothing:1/changes?user_role=developer")
    assert response.status_code == 404


def test_the_change_log_needs_a_role(client, make_feature):
    name = make_feature()["feature_name"]
    assert client.get(f"/features/{name}/changes").status_code == 422
    headers = {"X-User-Role": "approver"}
    assert client.get(f"/features/{name}/changes", headers=headers).status_code == 200


def test_history_still_shows_status_changes_only(client, make_feature):
    name = make_feature()["feature_name"]
    client.post("/update_feature_metadata", json={
        "feature_name": name, "description": "x", "last_updated_by": "a",
        "user_role": "developer",
    })  # fmt: skip
    history = client.get(f"/features/{name}/history?user_role=developer").get_json()["history"]
    assert [h["trigger"] for h in history] == ["create"]
    assert len(changes(client, name)) == 2


@pytest.mark.parametrize("status", ["TEST_SUCCEEDED", "DELETED"])
def test_an_entrys_revision_is_the_revision_the_write_produced(client, make_feature, status):
    feature = make_feature(status)
    assert changes(client, feature["feature_name"])[-1]["revision"] == feature["revision"]
