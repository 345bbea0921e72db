"""Every trigger from every state: allowed moves succeed and are audited, others get 409."""

import pytest
from transitions import Machine

from feature_gateway.domain.lifecycle import source_states
from feature_gateway.services import workflow

ALL_STATES = ["DRAFT", "READY_FOR_TESTING", "TEST_SUCCEEDED", "TEST_FAILED", "REJECTED",
              "DEPLOYED", "DELETED"]  # fmt: skip
# endpoint → (trigger, body, expected new status)
ACTIONS = {
    "submit": ("/ready_test_feature_metadata",
               {"submitted_by": "dev", "user_role": "developer"}, "READY_FOR_TESTING"),
    "pass": ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                        "user_role": "external_testing_system"},
             "TEST_SUCCEEDED"),
    "fail": ("/test_feature_metadata", {"test_result": "TEST_FAILED", "tested_by": "qa",
                                        "user_role": "external_testing_system"}, "TEST_FAILED"),
    "approve": ("/approve_feature_metadata", {"approved_by": "boss", "user_role": "approver"},
                "DEPLOYED"),
    "reject": ("/reject_feature_metadata", {"rejected_by": "boss", "user_role": "approver",
                                            "rejection_reason": "too noisy"}, "REJECTED"),
    "fix": ("/fix_feature_metadata", {"fixed_by": "dev", "user_role": "developer",
                                      "fix_description": "fixed the join"}, "DRAFT"),
    "delete": ("/delete_feature_metadata", {"deleted_by": "dev", "user_role": "developer",
                                            "deletion_reason": "obsolete"}, "DELETED"),
}  # fmt: skip
TRIGGER = {"submit": "submit", "pass": "test", "fail": "test", "approve": "approve",
           "reject": "reject", "fix": "fix", "delete": "delete"}  # fmt: skip
CASES = [(action, state) for action in ACTIONS for state in ALL_STATES]


@pytest.mark.parametrize(("action", "state"), CASES)
def test_each_trigger_from_each_state(client, make_feature, audit_rows, action, state):
    name = make_feature(state)["feature_name"]
    before = audit_rows(name)
    path, body, expected = ACTIONS[action]
    response = client.post(path, json={"feature_name": name, **body})
    allowed = state in source_states(TRIGGER[action])
    stored = client.get(f"/get_feature_metadata/{name}?user_role=developer").get_json()
    if allowed:
        assert response.status_code == 200, response.get_json()
        result = response.get_json()
        if action != "delete":  # delete answers like update: message and metadata only
            assert (result["previous_status"], result["new_status"]) == (state, expected)
        assert result["metadata"]["status"] == expected == stored["metadata"]["status"]
        assert len(audit_rows(name)) == len(before) + (2 if action == "approve" else 1)
    else:
        assert response.status_code == 409
        detail = response.get_json()["detail"]
        assert state in detail
        for source in source_states(TRIGGER[action]):
            assert source in detail
        assert stored["metadata"]["status"] == state
        assert audit_rows(name) == before


def test_approving_deploys_and_audits_approve_then_deploy(client, make_feature, audit_rows):
    name = make_feature("TEST_SUCCEEDED")["feature_name"]
    response = client.post(
        "/approve_feature_metadata",
        json={"feature_name": name, "approved_by": "boss", "user_role": "approver",
              "approval_notes": "ship it"},
    )  # fmt: skip
    metadata = response.get_json()["metadata"]
    assert metadata["approved_by"] == metadata["deployed_by"] == "boss"
    assert metadata["approval_notes"] == "ship it"
    assert metadata["approved_time"] == metadata["deployed_time"] is not None
    assert audit_rows(name)[-2:] == [
        {"from_status": "TEST_SUCCEEDED", "to_status": "APPROVED", "trigger": "approve",
         "actor": "boss", "actor_role": "approver", "reason": "ship it"},
        {"from_status": "APPROVED", "to_status": "DEPLOYED", "trigger": "deploy",
         "actor": "boss", "actor_role": "approver", "reason": None},
    ]  # fmt: skip


def test_approving_twice_conflicts(client, make_feature):
    name = make_feature("DEPLOYED")["feature_name"]
    response = client.post(
        "/approve_feature_metadata",
        json={"feature_name": name, "approved_by": "boss", "user_role": "approver"},
    )
    assert response.status_code == 409
    assert "DEPLOYED" in response.get_json()["detail"]


def test_recording_a_test_result_keeps_the_result_and_notes(client, make_feature, audit_rows):
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    response = client.post(
        "/test_feature_metadata",
        json={"feature_name": name, "test_result": "TEST_FAILED", "tested_by": "ci",
              "test_notes": "nulls", "user_role": "external_testing_system"},
    )  # fmt: skip
    metadata = response.get_json()["metadata"]
    assert (metadata["test_result"], metadata["test_notes"], metadata["tested_by"]) == (
        "TEST_FAILED", "nulls", "ci")  # fmt: skip
    assert audit_rows(name)[-1]["reason"] == "nulls"


def test_an_invalid_test_result_is_rejected(client, make_feature):
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    response = client.post(
        "/test_feature_metadata",
        json={"feature_name": name, "test_result": "PASSED", "tested_by": "ci",
              "user_role": "external_testing_system"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "test_result" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("path", "missing"),
    [("/reject_feature_metadata", "rejection_reason"), ("/fix_feature_metadata",
      "fix_description"), ("/delete_feature_metadata", "deletion_reason")],
)  # fmt: skip
def test_reasons_are_required(client, make_feature, path, missing):
    name = make_feature("TEST_SUCCEEDED")["feature_name"]
    _, body, _ = next(a for a in ACTIONS.values() if a[0] == path)
    body = {k: v for k, v in body.items() if k != missing}
    response = client.post(path, json={"feature_name": name, **body})
    assert response.status_code == 422
    assert missing in response.get_json()["errors"]


def test_workflow_on_an_unknown_feature_is_404(client):
    response = client.post(
        "/ready_test_feature_metadata",
        json={"feature_name": "nope:nothing:1", "submitted_by": "dev", "user_role": "developer"},
    )
    assert response.status_code == 404
    assert "nope:nothing:1" in response.get_json()["detail"]


def test_the_full_lifecycle_through_a_failure_and_a_fix(client, make_feature, audit_rows):
    name = make_feature("TEST_FAILED")["feature_name"]
    for action in ("fix", "submit", "pass", "approve"):
        path, body, _ = ACTIONS[action]
        assert client.post(path, json={"feature_name": name, **body}).status_code == 200
    history = client.get(f"/features/{name}/history?user_role=approver").get_json()["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "DRAFT"), ("DRAFT", "READY_FOR_TESTING"), ("READY_FOR_TESTING", "TEST_FAILED"),
        ("TEST_FAILED", "DRAFT"), ("DRAFT", "READY_FOR_TESTING"),
        ("READY_FOR_TESTING", "TEST_SUCCEEDED"), ("TEST_SUCCEEDED", "APPROVED"),
        ("APPROVED", "DEPLOYED"),
    ]  # fmt: skip
    final = client.get(f"/get_feature_metadata/{name}?user_role=developer").get_json()
    # One per successful request: create, submit, fail, fix, submit, pass, approve+deploy.
    assert final["metadata"]["revision"] == 7
    assert final["metadata"]["fixed_by"] == "dev"


def test_firing_triggers_builds_no_machine_and_adds_no_row_to_the_shared_one(
    client, make_feature, audit_rows, monkeypatch
):
    # One machine per process (services.workflow): building one per operation was a tenth
    # of a trigger (docs/performance.md, "i31-trigger").
    built = []
    real_init = Machine.__init__

    def counted_init(self, *args, **kwargs):
        built.append(kwargs)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Machine, "__init__", counted_init)
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    for path, body, _ in (ACTIONS["pass"], ACTIONS["approve"]):
        assert client.post(path, json={"feature_name": name, **body}).status_code == 200
    assert built == []
    assert [row["trigger"] for row in audit_rows(name)][-3:] == ["test", "approve", "deploy"]
    # No row is ever added to it (its model list is what threads could not share), and it
    # has no initial state a row's status could be reset to.
    assert workflow._MACHINE.models == []
    with pytest.raises(ValueError, match="No initial state"):
        workflow._MACHINE.add_model(object())
