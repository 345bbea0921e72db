"""Every status the document lists for an operation can really be produced, with the body and
content type the document promises for it.

Requests are built from the document itself (its examples, its parameters), so an operation
added later is exercised here as soon as it is documented; only the state a success needs
is spelled out per operation, in SUCCESS_NEEDS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from feature_gateway import create_app
from feature_gateway.domain.lifecycle import Role
from tests.contract.openapi_contract import Contract, Operation
from tests.databases import close_app

ABSENT = "absent_view:absent_feature:1"
TRUST_MODE_TOKEN_OPERATIONS = {
    "POST /tokens", "GET /tokens", "DELETE /tokens/{token_id}",
    "POST /webhooks", "GET /webhooks", "GET /webhooks/{webhook_id}",
    "DELETE /webhooks/{webhook_id}", "GET /webhooks/{webhook_id}/deliveries",
    "POST /webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
}  # fmt: skip
# Webhook and delivery ids in paths, unless a test puts real ones in (Caller.ids).
ABSENT_IDS = {"webhook_id": "wh_0123456789abcdef", "delivery_id": "999999"}
TESTED_STATUSES = (200, 201, 304, 400, 403, 404, 409, 413, 415, 422, 503)
# The status a feature must be in for each operation to succeed (DRAFT when not listed);
# None: the operation needs a name that does not exist yet.
SUCCESS_NEEDS: dict[str, str | None] = {
    "create_feature_metadata": None,
    "test_feature_metadata": "READY_FOR_TESTING",
    "approve_feature_metadata": "TEST_SUCCEEDED",
    "reject_feature_metadata": "TEST_SUCCEEDED",
    "fix_feature_metadata": "TEST_FAILED",
    "deprecate_feature_metadata": "DEPLOYED",
    "retire_feature_metadata": "DEPRECATED",
}
# The status a feature must be in for an operation to conflict (409), where DEPLOYED (which
# no longer changes) would not.
CONFLICT_NEEDS = {"deprecate_feature_metadata": "DRAFT"}
# Query parameters a GET needs to succeed, beyond the role.
SUCCESS_QUERY: dict[str, Callable[[str], dict[str, str]]] = {
    "feature_diff": lambda name: {"against": name},
}
# Documented statuses that no single request provokes, and the test that shows each.
RACE_ONLY = {
    ("create_feature_version", 409): "tests/concurrency/test_version_races.py",
    # Its only 409 is a keyed request still in flight, the same for every keyed write.
    ("comment_on_feature", 409): "tests/concurrency/test_idempotency_in_flight.py",
}


class Caller:
    """Sends one operation's request, varied to provoke one status."""

    def __init__(self, client: FlaskClient, operation: Operation, name: str) -> None:
        self.client, self.operation, self.name = client, operation, name
        self.ids = dict(ABSENT_IDS)

    def send(
        self,
        *,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
        name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        path = self.operation.path.replace("{feature_name}", name or self.name)
        for key, value in self.ids.items():
            path = path.replace("{" + key + "}", value)
        if self.operation.method != "post":
            return self.client.open(
                path,
                method=self.operation.method.upper(),
                query_string=query if query is not None else self.query(),
                headers=headers,
            )
        data = raw if raw is not None else json.dumps(body if body is not None else self.body())
        return self.client.post(path, data=data, content_type=content_type)

    def body(self, **changes: Any) -> dict[str, Any]:
        example = self.operation.body_example or {}
        if "feature_name" in example:
            example["feature_name"] = self.name
        return {**example, **changes}

    def query(self) -> dict[str, str]:
        takes_role = any(p["name"] == "user_role" for p in self.operation.parameters)
        needed = SUCCESS_QUERY.get(self.operation.operation_id, lambda _: {})(self.name)
        return {**({"user_role": Role.DEVELOPER.value} if takes_role else {}), **needed}


def _provoke(
    status: int, caller: Caller, app: Flask, name_in: Callable[[str], str]
) -> Iterator[TestResponse]:
    """The request(s) that should get ``status``; several for 403 (one role per try)."""
    post = caller.operation.method == "post"
    if status in (200, 201):
        yield caller.send()
    elif status == 304:  # a GET with the ETag of the copy the client holds
        yield caller.send(headers={"If-None-Match": caller.send().headers["ETag"]})
    elif status == 400:
        yield caller.send(raw=b'{"feature_name": ')
    elif status == 413:
        limit = app.extensions["feature_gateway"].settings.max_body_bytes
        yield caller.send(raw=b" " * (limit + 1))
    elif status == 415:
        yield caller.send(raw=json.dumps(caller.body()).encode(), content_type="text/plain")
    elif status == 422:
        yield (
            caller.send(body=caller.body(unexpected_field=1))
            if post
            else caller.send(query={**caller.query(), "user_role": "not-a-role"})
        )
    elif status == 403:
        for role in Role:
            yield caller.send(body=caller.body(user_role=role.value))
    elif status == 404:
        names_feature = "feature_name" in (caller.operation.body_example or {})
        absent = {"feature_name": ABSENT} if names_feature else {}
        yield caller.send(body=caller.body(**absent), name=ABSENT)
    elif status == 409:
        conflicting = name_in(CONFLICT_NEEDS.get(caller.operation.operation_id, "DEPLOYED"))
        yield caller.send(body=caller.body(feature_name=conflicting), name=conflicting)
    else:
        raise AssertionError(f"no recipe for {status}")


def test_every_documented_status_has_a_recipe(contract: Contract) -> None:
    documented = {s for operation in contract.operations() for s in operation.statuses}
    assert documented <= set(TESTED_STATUSES), "add a recipe to _provoke for the new status"


@pytest.mark.parametrize("status", [s for s in TESTED_STATUSES if s != 503])
def test_each_documented_status_is_reachable(
    status: int,
    app: Flask,
    client: FlaskClient,
    contract: Contract,
    make_feature: Callable[..., dict[str, Any]],
) -> None:
    operations = [
        o
        for o in contract.operations()
        if status in o.statuses and (o.operation_id, status) not in RACE_ONLY
    ]
    assert operations, f"no operation documents {status}"
    for operation in operations:
        needs = SUCCESS_NEEDS.get(operation.operation_id, "DRAFT")
        if status in (200, 201) and needs is None:
            name = "fresh_view:fresh_feature:1"
        else:
            name = make_feature(needs or "DRAFT")["feature_name"]
        caller = Caller(client, operation, name)
        responses = list(_provoke(status, caller, app, lambda s: make_feature(s)["feature_name"]))
        matching = [r for r in responses if r.status_code == status]
        assert matching, (
            f"{operation.label}: expected {status}, got "
            f"{[(r.status_code, r.get_json()) for r in responses]}"
        )
        for response in responses:
            errors = contract.response_errors(
                operation,
                response.status_code,
                response.content_type,
                response.get_json() if response.is_json else response.get_data(as_text=True),
            )
            assert not errors, errors


def test_each_operation_reports_503_when_the_database_is_unreachable(
    contract: Contract,
    tmp_path: Path,
) -> None:
    app = create_app(
        {"database_url": f"sqlite:///{tmp_path}/missing-dir/db.sqlite", "TESTING": True}
    )
    client = app.test_client()
    operations = [o for o in contract.operations() if 503 in o.statuses]
    # Liveness and metrics answer from the worker alone, by design (see api/ops); in trust
    # mode the token operations refuse (403) without reading anything (see api/tokens), and
    # /whoami only repeats the role the request claims (see api/identity).
    never_touch_the_database = {
        "GET /livez",
        "GET /metrics",
        "GET /whoami",
    } | TRUST_MODE_TOKEN_OPERATIONS
    assert {o.label for o in contract.operations()} - {o.label for o in operations} == (
        never_touch_the_database
    )
    try:
        assert_each_answers_503(
            contract, [Caller(client, o, "some_view:some_feature:1") for o in operations]
        )
    finally:
        close_app(app)


def test_statuses_left_to_race_tests_are_documented_and_their_tests_exist(
    contract: Contract,
) -> None:
    root = Path(__file__).resolve().parents[2]
    statuses = {(o.operation_id, s) for o in contract.operations() for s in o.statuses}
    for key, test_file in RACE_ONLY.items():
        assert key in statuses, key
        assert (root / test_file).is_file(), test_file


def assert_each_answers_503(contract: Contract, callers: list[Caller]) -> None:
    """Each caller's request is answered 503 with the body the document promises."""
    for caller in callers:
        response = caller.send()
        assert response.status_code == 503, (caller.operation.label, response.get_json())
        errors = contract.response_errors(
            caller.operation, 503, response.content_type, response.get_json()
        )
        assert not errors, errors
