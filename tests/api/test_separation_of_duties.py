"""Separation of duties in both modes (SPEC §7): the tester may not be the creator, a
definition changer or the submitter; the approver (or rejecter) none of them nor the tester.
Names compare case-insensitively; a refusal is 403 naming the rule and changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import bearer

NAME = "duties_view:feature:1"
PEOPLE = {"creator": "alice", "definition changer": "erin", "submitter": "carol",
          "tester": "dave"}  # fmt: skip
PART = {"creator": "created this feature", "definition changer": "changed this feature's "
        "definition", "submitter": "submitted this feature for testing",
        "tester": "recorded this feature's test result"}  # fmt: skip
RULES = [("test", part) for part in ("creator", "definition changer", "submitter")] + [
    (trigger, part) for trigger in ("approve", "reject") for part in PEOPLE
]
ROLE_OF = {"test": "external_testing_system", "approve": "approver", "reject": "approver"}
STEPS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    # trigger: (path, body, actor field, role)
    "create": ("/create_feature_metadata", {"feature_type": "batch", "feature_data_type": "float",
               "query": "SELECT 1", "description": "d"}, "created_by", "developer"),
    "change": ("/update_feature_metadata", {"query": "SELECT 2"}, "last_updated_by",
               "developer"),
    "describe": ("/update_feature_metadata", {"description": "only words"}, "last_updated_by",
                 "developer"),
    "submit": ("/ready_test_feature_metadata", {}, "submitted_by", "developer"),
    "test": ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED"}, "tested_by",
             "external_testing_system"),
    "fail": ("/test_feature_metadata", {"test_result": "TEST_FAILED"}, "tested_by",
             "external_testing_system"),
    "approve": ("/approve_feature_metadata", {}, "approved_by", "approver"),
    "reject": ("/reject_feature_metadata", {"rejection_reason": "no"}, "rejected_by",
               "approver"),
    "fix": ("/fix_feature_metadata", {"fix_description": "again"}, "fixed_by", "developer"),
    "version": ("/create_feature_version", {}, "created_by", "developer"),
}  # fmt: skip


class Trust:
    """Requests as trust mode takes them: the actor and role claimed in the body."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def act(self, step: str, person: str, feature: str = NAME, **fields: Any) -> Any:
        path, body, actor_field, role = STEPS[step]
        payload = {"feature_name": feature, **body, **fields, actor_field: person}
        return self.client.post(path, json={**payload, "user_role": role})


class Token:
    """Requests as token mode takes them: a token for the person, nothing claimed."""

    def __init__(self, client: Any, issue_token: Any) -> None:
        self.client, self.issue, self.tokens = client, issue_token, {}

    def act(self, step: str, person: str, feature: str = NAME, **fields: Any) -> Any:
        path, body, _, role = STEPS[step]
        key = (person, role)
        if key not in self.tokens:
            self.tokens[key] = self.issue(role, principal=person)
        payload = {"feature_name": feature, **body, **fields}
        return self.client.post(path, json=payload, headers=bearer(self.tokens[key]))


@pytest.fixture(params=["trust", "token"])
def caller(request, client, token_client, issue_token):
    return Trust(client) if request.param == "trust" else Token(token_client, issue_token)


def _ok(response):
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def _prepare(caller, trigger: str) -> None:
    """Each part played by its own person: created, definition changed, submitted, tested."""
    for step, part in [("create", "creator"), ("change", "definition changer"),
                       ("submit", "submitter")]:  # fmt: skip
        _ok(caller.act(step, PEOPLE[part]))
    if trigger != "test":
        _ok(caller.act("test", PEOPLE["tester"]))


def _state(connection):
    feature = connection.execute(
        text("SELECT status, revision FROM features WHERE feature_name = :n"), {"n": NAME}
    ).one()
    audit = connection.execute(
        text("SELECT count(*) FROM feature_audit a JOIN features f ON f.id = a.feature_id"
             " WHERE f.feature_name = :n"), {"n": NAME},
    ).scalar()  # fmt: skip
    return tuple(feature), audit


@pytest.mark.parametrize(("trigger", "part"), RULES)
def test_each_rule_refuses_its_player_in_any_case_and_changes_nothing(
    caller, connection, trigger, part
):
    _prepare(caller, trigger)
    offender = PEOPLE[part].upper()
    before = _state(connection)
    response = caller.act(trigger, offender)
    assert response.status_code == 403
    assert response.get_json()["detail"] == (
        f"Separation of duties: {PEOPLE[part]} {PART[part]}, so {offender} cannot {trigger} it."
    )
    # Its own problem type: a client tells it from a role's 403 without reading the sentence.
    assert response.get_json()["type"] == "urn:feature-gateway:problem:separation-of-duties"
    assert response.get_json()["title"] == "Separation of Duties"
    assert _state(connection) == before
    assert _ok(caller.act(trigger, "frank"))["metadata"]["status"] != before[0][0]


def test_a_definition_changer_stays_excluded_after_later_rounds(caller):
    _ok(caller.act("create", "alice"))
    _ok(caller.act("change", "erin"))
    _ok(caller.act("submit", "alice"))
    _ok(caller.act("test", "dave"))
    _ok(caller.act("reject", "boss"))
    _ok(caller.act("fix", "alice"))  # back to DRAFT by someone else, erin's change remains
    _ok(caller.act("submit", "carol"))
    refused = caller.act("test", "Erin")
    assert refused.status_code == 403
    assert "erin changed this feature's definition" in refused.get_json()["detail"]


def test_a_description_only_editor_may_test_and_approve(caller):
    _ok(caller.act("create", "alice"))
    _ok(caller.act("describe", "erin"))
    _ok(caller.act("submit", "carol"))
    _ok(caller.act("test", "erin"))
    # erin recorded the test result now: that part bars approving, not the edit.
    assert caller.act("approve", "erin").status_code == 403
    assert _ok(caller.act("approve", "frank"))["new_status"] == "DEPLOYED"


def test_the_previous_rounds_tester_may_test_again(caller):
    _ok(caller.act("create", "alice"))
    _ok(caller.act("submit", "carol"))
    _ok(caller.act("fail", "dave"))
    _ok(caller.act("fix", "alice"))
    _ok(caller.act("submit", "alice"))
    assert _ok(caller.act("test", "dave"))["new_status"] == "TEST_SUCCEEDED"


def test_the_state_is_checked_before_the_duties(caller):
    _ok(caller.act("create", "alice"))
    refused = caller.act("approve", "alice")  # a DRAFT: not approvable by anyone
    assert refused.status_code == 409


def test_imported_features_count_their_recorded_creator(app, client):
    record = {"feature_name": NAME, "feature_type": "batch", "feature_data_type": "float",
              "query": "SELECT 1", "description": "d", "status": "TEST_SUCCEEDED",
              "created_by": "Ivan", "submitted_by": "sam", "tested_by": "tess"}  # fmt: skip
    from feature_gateway.api.features.schemas import FeatureRecordSchema
    from feature_gateway.services.transfer import import_features

    database = app.extensions["feature_gateway"].database
    import_features(database, [FeatureRecordSchema().load(record)], source="test.json")
    refused = Trust(client).act("approve", "ivan")
    assert refused.status_code == 403
    assert refused.get_json()["detail"].startswith("Separation of duties: Ivan created")
    assert Trust(client).act("approve", "tess").status_code == 403
    assert _ok(Trust(client).act("approve", "boss"))["new_status"] == "DEPLOYED"


def test_history_says_which_entries_were_authenticated(client, token_client, issue_token):
    _ok(Trust(client).act("create", "alice"))
    token = Token(token_client, issue_token)
    _ok(token.act("submit", "bob"))
    _ok(token.act("test", "dave"))
    _ok(Trust(client).act("approve", "boss"))
    history = client.get(f"/features/{NAME}/history?user_role=developer").get_json()["history"]
    assert [(e["trigger"], e["actor"], e["authenticated"]) for e in history] == [
        ("create", "alice", False),
        ("submit", "bob", True),
        ("test", "dave", True),
        ("approve", "boss", False),
        ("deploy", "boss", False),
    ]


def test_every_definition_change_is_recorded_with_who_made_it(caller, connection):
    _ok(caller.act("create", "alice"))
    _ok(caller.act("change", "erin"))
    _ok(caller.act("describe", "carol"))
    rows = connection.execute(
        text("SELECT c.changed_by, c.changed_fields FROM feature_definition_changes c"
             " JOIN features f ON f.id = c.feature_id WHERE f.feature_name = :n"), {"n": NAME},
    ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("erin", "query")]
