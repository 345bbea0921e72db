"""Role x action x mode (SPEC §2, §7): every allowed pair works, every other is refused with
the right status. The expectations are written out here, not derived from the code's tables.

trust mode: the role is claimed in ``user_role`` (none given: 422; ``admin``, which only a
token can carry: 422); token mode: a token carrying just that role, the role left to
inference or named in ``user_role`` (no token: 401). Separation of duties plays no part:
the features are made by ``dev`` and ``qa``, the callers are other people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from feature_gateway.services import webhooks
from tests.conftest import bearer

ROLES = ("developer", "approver", "external_testing_system", "admin")
NONE = "none"
ANY = frozenset(ROLES)


@dataclass(frozen=True)
class Action:
    method: str
    path: str  # {name} and {token_id} are filled in
    body: dict[str, Any] | None
    allowed: frozenset[str]
    needs: str | None = "DRAFT"  # the feature's status; None: no feature
    success: int = 200
    actor: str | None = None  # the body's actor field, set in trust mode
    role_optional: bool = False  # serving: no role needed in trust mode
    token_mode_only: bool = False  # token management: 403 in trust mode
    takes_role: bool = True  # Feast's protocol has no field for one: never sent
    extra: dict[str, Any] = field(default_factory=dict)  # query parameters


DEV = frozenset({"developer"})
ADMIN = frozenset({"admin"})
ACTIONS = {
    "create": Action("POST", "/create_feature_metadata",
                     {"feature_name": "matrix_view:new_{n}:1", "feature_type": "batch",
                      "feature_data_type": "float", "query": "SELECT 1", "description": "m"},
                     DEV, needs=None, success=201, actor="created_by"),
    "get": Action("POST", "/get_feature_metadata", {"feature_name": "{name}"}, ANY),
    "get by path": Action("GET", "/get_feature_metadata/{name}", None, ANY),
    "list": Action("POST", "/get_all_feature_metadata", {}, ANY),
    "list by query": Action("GET", "/get_all_feature_metadata", None, ANY),
    "deployed": Action("GET", "/get_deployed_features", None, ANY),
    "history": Action("GET", "/features/{name}/history", None, ANY),
    "history by body": Action("POST", "/get_feature_history", {"feature_name": "{name}"}, ANY),
    "update": Action("POST", "/update_feature_metadata",
                     {"feature_name": "{name}", "description": "changed"}, DEV,
                     actor="last_updated_by"),
    "delete": Action("POST", "/delete_feature_metadata",
                     {"feature_name": "{name}", "deletion_reason": "gone"}, DEV,
                     actor="deleted_by"),
    "submit": Action("POST", "/ready_test_feature_metadata", {"feature_name": "{name}"}, DEV,
                     actor="submitted_by"),
    "test": Action("POST", "/test_feature_metadata",
                   {"feature_name": "{name}", "test_result": "TEST_SUCCEEDED"},
                   frozenset({"external_testing_system"}), needs="READY_FOR_TESTING",
                   actor="tested_by"),
    "approve": Action("POST", "/approve_feature_metadata", {"feature_name": "{name}"},
                      frozenset({"approver"}), needs="TEST_SUCCEEDED", actor="approved_by"),
    "reject": Action("POST", "/reject_feature_metadata",
                     {"feature_name": "{name}", "rejection_reason": "no"},
                     frozenset({"approver"}), needs="TEST_SUCCEEDED", actor="rejected_by"),
    "fix": Action("POST", "/fix_feature_metadata",
                  {"feature_name": "{name}", "fix_description": "fixed"}, DEV,
                  needs="TEST_FAILED", actor="fixed_by"),
    "create version": Action("POST", "/create_feature_version",
                             {"feature_name": "{name}", "description": "next"}, DEV,
                             success=201, actor="created_by"),
    "versions": Action("GET", "/features/{name}/versions", None, ANY),
    "changes": Action("GET", "/features/{name}/changes", None, ANY),
    "diff": Action("GET", "/features/{name}/diff", None, ANY, extra={"against": "{name}"}),
    "deprecate": Action("POST", "/deprecate_feature_metadata",
                        {"feature_name": "{name}", "deprecation_reason": "old"},
                        frozenset({"approver"}), needs="DEPLOYED", actor="deprecated_by"),
    "retire": Action("POST", "/retire_feature_metadata",
                     {"feature_name": "{name}", "retirement_reason": "unused"},
                     frozenset({"approver"}), needs="DEPRECATED", actor="retired_by"),
    "serve values": Action("POST", "/features",
                           {"features": ["{name}"], "entities": {"driver_id": ["D1"]}}, ANY,
                           role_optional=True),
    "available": Action("GET", "/features/available", None, ANY, needs=None,
                        role_optional=True),
    "serve values to feast": Action("POST", "/get-online-features",
                                    {"features": ["{name}"], "entities": {"driver_id": ["D1"]}},
                                    ANY, needs="DEPLOYED", takes_role=False),
    "usage": Action("GET", "/features/{name}/usage", None, ANY),
    "comment": Action("POST", "/features/{name}/comments", {"body": "hm"},
                      frozenset({"developer", "approver", "external_testing_system"}),
                      success=201, actor="author"),
    "comments": Action("GET", "/features/{name}/comments", None, ANY),
    "issue token": Action("POST", "/tokens", {"principal": "p", "roles": ["developer"]},
                          frozenset({"admin"}), needs=None, success=201,
                          token_mode_only=True),
    "list tokens": Action("GET", "/tokens", None, frozenset({"admin"}), needs=None,
                          token_mode_only=True),
    "revoke token": Action("DELETE", "/tokens/{token_id}", None, frozenset({"admin"}),
                           needs=None, token_mode_only=True),
    "events": Action("GET", "/events", None, ANY, needs=None),
    "whoami": Action("GET", "/whoami", None, ANY, needs=None, role_optional=True),
    "create webhook": Action("POST", "/webhooks",
                             {"url": "https://hooks.example.com/{n}", "event_types": ["*"]},
                             ADMIN, needs=None, success=201, token_mode_only=True),
    "list webhooks": Action("GET", "/webhooks", None, ADMIN, needs=None, token_mode_only=True),
    "get webhook": Action("GET", "/webhooks/{webhook_id}", None, ADMIN, needs=None,
                          token_mode_only=True),
    "delete webhook": Action("DELETE", "/webhooks/{webhook_id}", None, ADMIN, needs=None,
                             token_mode_only=True),
    "list deliveries": Action("GET", "/webhooks/{webhook_id}/deliveries", None, ADMIN,
                              needs=None, token_mode_only=True),
    "redeliver": Action("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
                        {}, ADMIN, needs=None, success=202, token_mode_only=True),
}  # fmt: skip


def expected_status(action: Action, mode: str, role: str) -> int:
    if not action.takes_role:  # any caller in trust mode, any token in token mode
        return 401 if mode == "token" and role == NONE else action.success
    if mode == "trust":
        if role == "admin":
            return 422  # nobody can claim admin
        if action.token_mode_only:
            return 403  # token management needs the CLI in trust mode
        if role == NONE:
            return action.success if action.role_optional else 422
    elif role == NONE:
        return 401
    return action.success if role in action.allowed else 403


CASES = [
    (name, mode, role, explicit)
    for name in ACTIONS
    for mode in ("trust", "token")
    for role in (*ROLES, NONE)
    for explicit in ((False, True) if mode == "token" and role != NONE else (False,))
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def _webhook_with_a_delivery(database, make_feature) -> tuple[str, str]:
    created = webhooks.create_webhook(
        database, url="https://hooks.example.com/m", event_types=["*"], created_by="root",
        allow_loopback=False,
    )  # fmt: skip
    make_feature()  # its create event is queued for the webhook
    webhook_id = created.webhook.webhook_id
    page = webhooks.list_deliveries(database, webhook_id, state=None, limit=1, offset=0)
    return webhook_id, str(page.deliveries[0].delivery_id)


@pytest.mark.parametrize(
    ("name", "mode", "role", "explicit"),
    CASES,
    ids=[f"{n}-{m}-{r}{'-declared' if e else ''}" for n, m, r, e in CASES],
)
def test_each_role_may_do_exactly_what_it_is_allowed_in_each_mode(
    name, mode, role, explicit, client, token_client, make_feature, issue_token, database
):
    action = ACTIONS[name]
    names = {"n": f"{mode}_{role}_{int(explicit)}", "token_id": "0123456789abcdef"}
    if action.needs is not None:
        names["name"] = make_feature(action.needs)["feature_name"]
    if "{token_id}" in action.path:
        names["token_id"] = issue_token("developer", principal="spare").split("_")[1]
    if "{webhook_id}" in action.path:
        names["webhook_id"], names["delivery_id"] = _webhook_with_a_delivery(
            database, make_feature
        )
    body, query, headers = _fill(action.body, names), _fill(action.extra, names), {}
    declared = role if (mode == "trust" and role != NONE) or explicit else None
    if mode == "trust":
        http = client
        if action.actor is not None:
            body[action.actor] = "matrix-actor"
    else:
        http = token_client
        if role != NONE:
            headers = bearer(issue_token(role, principal=f"{role}-caller"))
    if declared is not None and action.takes_role:
        if body is not None:
            body["user_role"] = declared
        else:
            query["user_role"] = declared
    response = http.open(
        _fill(action.path, names), method=action.method, json=body, query_string=query,
        headers=headers,
    )  # fmt: skip
    expected = expected_status(action, mode, role)
    assert response.status_code == expected, (expected, response.get_json())


def test_the_matrix_covers_every_operation_of_the_document(token_client):
    document = token_client.get("/openapi.json").get_json()
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters" and path not in ("/health", "/livez", "/metrics")
    }
    covered = {(a.method, a.path.replace("{name}", "{feature_name}")) for a in ACTIONS.values()}
    assert documented == covered
    assert len(CASES) == len(ACTIONS) * (5 + 9)
