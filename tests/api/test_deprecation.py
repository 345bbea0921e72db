"""Deprecation and retirement: DEPLOYED → DEPRECATED (still served) → RETIRED (not served)."""

import pytest

ROWS = {"driver_id": ["D001", "D002"]}


def deprecate(client, name, **fields):
    body = {"feature_name": name, "deprecated_by": "boss", "user_role": "approver",
            "deprecation_reason": "superseded", **fields}  # fmt: skip
    return client.post("/deprecate_feature_metadata", json=body)


def retire(client, name, **fields):
    body = {"feature_name": name, "retired_by": "boss", "user_role": "approver", **fields}
    return client.post("/retire_feature_metadata", json=body)


def values(client, name):
    response = client.post("/features", json={"features": [name], "entities": ROWS,
                                               "event_timestamp": 1751429485000})  # fmt: skip
    assert response.status_code == 200
    return response.get_json()["results"][1]


def test_deprecating_stamps_the_feature_and_audits_it(client, make_feature, audit_rows):
    name = make_feature("DEPLOYED")["feature_name"]
    replacement = make_feature()["feature_name"]
    response = deprecate(client, name, replaced_by=replacement)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["previous_status"], body["new_status"]) == ("DEPLOYED", "DEPRECATED")
    metadata = body["metadata"]
    assert (metadata["deprecated_by"], metadata["deprecation_reason"], metadata["replaced_by"]) \
        == ("boss", "superseded", replacement)  # fmt: skip
    assert metadata["deprecated_time"] == metadata["updated_time"]
    assert audit_rows(name)[-1] == {
        "from_status": "DEPLOYED", "to_status": "DEPRECATED", "trigger": "deprecate",
        "actor": "boss", "actor_role": "approver", "reason": "superseded",
    }  # fmt: skip


def test_a_deprecated_feature_is_still_served_and_listed_as_deprecated(client, make_feature):
    name = make_feature("DEPLOYED")["feature_name"]
    served = values(client, name)
    deprecate(client, name)
    assert values(client, name) == served
    assert served["statuses"] == ["PRESENT", "PRESENT"]
    available = client.get("/features/available").get_json()
    assert name in available["available_features"]
    assert available["deprecated_features"] == [name]
    deployed = client.get("/get_deployed_features?user_role=developer").get_json()["features"]
    assert name not in [f["feature_name"] for f in deployed]


def test_a_retired_feature_is_not_served(client, make_feature, audit_rows):
    name = make_feature("DEPRECATED")["feature_name"]
    response = retire(client, name, retirement_reason="unused")
    assert response.status_code == 200
    metadata = response.get_json()["metadata"]
    assert (metadata["status"], metadata["retired_by"], metadata["retirement_reason"]) == (
        "RETIRED", "boss", "unused")  # fmt: skip
    assert values(client, name)["statuses"] == ["NOT_FOUND", "NOT_FOUND"]
    available = client.get("/features/available").get_json()
    assert name not in available["available_features"] + available["deprecated_features"]
    assert audit_rows(name)[-1]["trigger"] == "retire"


def test_retirement_reason_is_optional(client, make_feature):
    response = retire(client, make_feature("DEPRECATED")["feature_name"])
    assert response.status_code == 200
    assert response.get_json()["metadata"]["retirement_reason"] is None


@pytest.mark.parametrize("status", ["DRAFT", "TEST_SUCCEEDED", "DEPRECATED", "RETIRED", "DELETED"])
def test_only_a_deployed_feature_can_be_deprecated(client, make_feature, status):
    response = deprecate(client, make_feature(status)["feature_name"])
    assert response.status_code == 409
    assert response.get_json()["detail"].endswith("'deprecate' is allowed only from: DEPLOYED.")


@pytest.mark.parametrize("status", ["DEPLOYED", "RETIRED", "DRAFT"])
def test_only_a_deprecated_feature_can_be_retired(client, make_feature, status):
    response = retire(client, make_feature(status)["feature_name"])
    assert response.status_code == 409
    assert "allowed only from: DEPRECATED" in response.get_json()["detail"]


@pytest.mark.parametrize("status", ["DEPRECATED", "RETIRED"])
def test_deprecated_and_retired_features_are_immutable(client, make_feature, status):
    name = make_feature(status)["feature_name"]
    update = client.post("/update_feature_metadata", json={
        "feature_name": name, "description": "x", "last_updated_by": "a",
        "user_role": "developer",
    })  # fmt: skip
    delete = client.post("/delete_feature_metadata", json={
        "feature_name": name, "deleted_by": "a", "deletion_reason": "x",
        "user_role": "developer",
    })  # fmt: skip
    assert (update.status_code, delete.status_code) == (409, 409)


def test_a_retired_name_is_never_reused(client, make_feature):
    retired = make_feature("RETIRED")
    body = {k: retired[k] for k in ("feature_name", "feature_type", "feature_data_type",
                                    "query", "description", "created_by")}  # fmt: skip
    response = client.post("/create_feature_metadata", json={**body, "user_role": "developer"})
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("replaced_by", "message"),
    [("nope:nothing:1", "does not exist"), ("self", "is this feature itself")],
)
def test_replaced_by_must_name_another_existing_feature(client, make_feature, replaced_by,
                                                        message):  # fmt: skip
    name = make_feature("DEPLOYED")["feature_name"]
    response = deprecate(client, name, replaced_by=name if replaced_by == "self" else replaced_by)
    assert response.status_code == 422
    assert message in response.get_json()["errors"]["replaced_by"][0]
    metadata = client.get(f"/get_feature_metadata/{name}?user_role=developer").get_json()
    assert metadata["metadata"]["status"] == "DEPLOYED"


@pytest.mark.parametrize("role", ["developer", "external_testing_system"])
def test_only_an_approver_deprecates_or_retires(client, make_feature, role):
    assert deprecate(client, make_feature("DEPLOYED")["feature_name"],
                     user_role=role).status_code == 403  # fmt: skip
    assert retire(client, make_feature("DEPRECATED")["feature_name"],
                  user_role=role).status_code == 403  # fmt: skip


@pytest.mark.parametrize("missing", ["deprecated_by", "deprecation_reason"])
def test_deprecation_needs_an_actor_and_a_reason(client, make_feature, missing):
    name = make_feature("DEPLOYED")["feature_name"]
    body = {"feature_name": name, "deprecated_by": "boss", "user_role": "approver",
            "deprecation_reason": "old"}  # fmt: skip
    del body[missing]
    response = client.post("/deprecate_feature_metadata", json=body)
    assert response.status_code == 422
    assert missing in response.get_json()["errors"]
