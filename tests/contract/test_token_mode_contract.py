"""The API document in token mode (SPEC §7) holds: the bearer scheme, 401 on every protected
operation, and every status it lists is reachable with the body and type it promises.

The requests come from the document as in ``test_documented_statuses`` (same recipes), sent
with a token carrying every role; 401 is provoked by leaving the token out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from feature_gateway import create_app
from feature_gateway.services import webhooks
from tests.conftest import TEST_SECRET_KEY
from tests.contract.openapi_contract import Contract, Operation
from tests.contract.test_documented_statuses import (
    RACE_ONLY,
    SUCCESS_NEEDS,
    SUCCESS_QUERY,
    TESTED_STATUSES,
    Caller,
    _provoke,
    assert_each_answers_503,
)
from tests.databases import close_app

EVERY_ROLE = ("developer", "approver", "external_testing_system", "admin")
# Documented in token mode only and provoked by two requests, not one: the test that shows it.
# (POST /tokens and POST /webhooks conflict only on a reused Idempotency-Key: a replay of
# their secret-carrying answer, or while the first is in flight.)
TWO_REQUESTS = {
    ("create_token", 409): "tests/api/test_idempotency.py",
    ("create_webhook", 409): "tests/api/test_idempotency.py",
    # Its only 409 is a keyed request still in flight, the same for every keyed write.
    ("redeliver", 409): "tests/concurrency/test_idempotency_in_flight.py",
}
PUBLIC = {"GET /health", "GET /livez", "GET /metrics"}
ABSENT_TOKEN_ID = "0123456789abcdef"


@pytest.fixture
def token_document(token_app: Flask) -> dict[str, Any]:
    return token_app.test_client().get("/openapi.json").get_json()  # type: ignore[no-any-return]


@pytest.fixture
def token_contract(token_document: dict[str, Any]) -> Contract:
    return Contract(token_document)


def test_the_token_mode_document_is_valid_and_declares_the_bearer_scheme(
    token_document: dict[str, Any],
) -> None:
    validate(token_document)
    scheme = token_document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert token_document["security"] == [{"bearerAuth": []}]
    assert "token mode" in token_document["info"]["description"]


def test_every_protected_operation_documents_401_and_public_ones_need_no_token(
    token_contract: Contract,
) -> None:
    for operation in token_contract.operations():
        if operation.label in PUBLIC:
            assert operation.spec["security"] == [], operation.label
            assert 401 not in operation.statuses, operation.label
        else:
            assert "security" not in operation.spec, operation.label  # the global one
            assert 401 in operation.statuses, operation.label


def test_request_bodies_leave_the_identity_fields_optional(token_contract: Contract) -> None:
    for operation in token_contract.operations():
        body = operation.spec.get("requestBody")
        if body is None:
            continue
        media = body["content"]["application/json"]
        schema = token_contract.resolve(media["schema"])
        identity = {"user_role", "created_by", "submitted_by", "tested_by", "approved_by"}
        assert not identity & set(schema.get("required", [])), operation.label
        assert not identity & set(media["example"]), operation.label


def test_admin_is_a_role_a_request_may_name(token_document: dict[str, Any]) -> None:
    role = token_document["components"]["schemas"]["CreateFeature"]["properties"]["user_role"]
    assert role["enum"] == list(EVERY_ROLE)


def test_the_trust_mode_document_has_no_security(document: dict[str, Any]) -> None:
    assert "security" not in document
    assert "securitySchemes" not in document["components"]
    role = document["components"]["schemas"]["CreateFeature"]["properties"]["user_role"]
    assert "admin" not in role["enum"]


def test_statuses_left_to_other_tests_are_documented_in_token_mode(
    token_contract: Contract,
) -> None:
    statuses = {(o.operation_id, s) for o in token_contract.operations() for s in o.statuses}
    root = Path(__file__).resolve().parents[2]
    for key, test_file in TWO_REQUESTS.items():
        assert key in statuses, key
        assert (root / test_file).is_file(), test_file


class TokenCaller(Caller):
    """A caller whose token says the role: none is sent unless a recipe names one (403)."""

    def query(self) -> dict[str, str]:
        # No role (the token says it); the parameters a GET needs to succeed (diff's against).
        return SUCCESS_QUERY.get(self.operation.operation_id, lambda _: {})(self.name)

    def send(self, *, body: Any = None, query: dict[str, str] | None = None, **kwargs: Any) -> Any:
        if self.operation.method != "post" and query is None and body and "user_role" in body:
            query = {"user_role": body["user_role"]}
        return super().send(body=body, query=query, **kwargs)


def _with_token_id(operation: Operation, token_id: str) -> Operation:
    return dataclasses.replace(operation, path=operation.path.replace("{token_id}", token_id))


@pytest.mark.parametrize("status", [401, *(s for s in TESTED_STATUSES if s != 503)])
def test_each_documented_status_is_reachable_in_token_mode(
    status: int,
    token_app: Flask,
    token_contract: Contract,
    make_feature: Callable[..., dict[str, Any]],
    issue_token: Callable[..., str],
) -> None:
    authorized = token_app.test_client()
    authorized.environ_base["HTTP_AUTHORIZATION"] = (
        f"Bearer {issue_token(*EVERY_ROLE, principal='root')}"
    )
    operations = [
        o
        for o in token_contract.operations()
        if status in o.statuses
        and (o.operation_id, status) not in RACE_ONLY
        and (o.operation_id, status) not in TWO_REQUESTS
    ]
    assert operations, f"no operation documents {status}"
    for documented in operations:
        spare = issue_token("developer", principal="spare").split("_")[1]
        operation = _with_token_id(documented, ABSENT_TOKEN_ID if status == 404 else spare)
        needs = SUCCESS_NEEDS.get(operation.operation_id, "DRAFT")
        if status in (200, 201) and needs is None:
            name = "fresh_view:fresh_feature:1"
        else:
            name = make_feature(needs or "DRAFT")["feature_name"]
        responses = list(
            _requests(status, operation, name, authorized, token_app, make_feature, issue_token)
        )
        matching = [r for r in responses if r.status_code == status]
        assert matching, (
            f"{operation.label}: expected {status}, got "
            f"{[(r.status_code, r.get_json()) for r in responses]}"
        )
        for response in responses:
            body = response.get_json() if response.is_json else response.get_data(as_text=True)
            errors = token_contract.response_errors(
                documented, response.status_code, response.content_type, body
            )
            assert not errors, errors


def _requests(
    status: int,
    operation: Operation,
    name: str,
    authorized: FlaskClient,
    app: Flask,
    make_feature: Callable[..., dict[str, Any]],
    issue: Callable[..., str],
) -> Any:
    if status == 401:
        return [TokenCaller(app.test_client(), operation, name).send()]
    caller = TokenCaller(authorized, operation, name)
    if "{webhook_id}" in operation.path and status != 404:
        caller.ids = _webhook_with_a_delivery(app, make_feature)
    requests = list(_provoke(status, caller, app, lambda s: make_feature(s)["feature_name"]))
    if status == 403:  # naming a role the token does not carry: refused even for reads
        developer = app.test_client()
        developer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue('developer')}"
        named = TokenCaller(developer, operation, name)
        requests.append(named.send(body=named.body(user_role="approver")))
    return requests


def _webhook_with_a_delivery(
    app: Flask, make_feature: Callable[..., dict[str, Any]]
) -> dict[str, str]:
    database = app.extensions["feature_gateway"].database
    created = webhooks.create_webhook(
        database, url="https://hooks.example.com/c", event_types=["*"], created_by="root",
        allow_loopback=False,
    )  # fmt: skip
    make_feature()
    webhook_id = created.webhook.webhook_id
    page = webhooks.list_deliveries(database, webhook_id, state=None, limit=1, offset=0)
    (delivery,) = page.deliveries
    return {"webhook_id": webhook_id, "delivery_id": str(delivery.delivery_id)}


def test_with_the_database_down_a_token_cannot_be_checked_and_the_answer_is_503(
    tmp_path: Any,
) -> None:
    app = create_app(
        {
            "database_url": f"sqlite:///{tmp_path}/missing-dir/db.sqlite",
            "auth_mode": "token",
            "secret_key": TEST_SECRET_KEY,
            "TESTING": True,
        }
    )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer fmg_0123456789abcdef_" + "A" * 43
    contract = Contract(client.get("/openapi.json").get_json())
    operations = [o for o in contract.operations() if o.label not in PUBLIC - {"GET /health"}]
    try:
        assert_each_answers_503(
            contract, [TokenCaller(client, o, "some_view:some_feature:1") for o in operations]
        )
    finally:
        close_app(app)
