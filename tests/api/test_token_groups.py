"""Groups on API tokens (SPEC §12): set at creation, shown in the metadata, carried by the
principal the token authenticates, and named like principals (§2)."""

import json

import pytest
from sqlalchemy import text

from feature_gateway.services import tokens
from tests.conftest import bearer


@pytest.fixture
def admin(issue_token):
    return bearer(issue_token("admin", principal="root"))


def _stored_groups(connection, token_id):
    stored = connection.execute(
        text("SELECT groups FROM api_tokens WHERE token_id = :id"), {"id": token_id}
    ).scalar_one()
    return json.loads(stored) if isinstance(stored, str) else stored


def test_a_token_issued_with_groups_shows_them_and_its_principal_carries_them(
    token_client, admin, connection, database
):
    response = token_client.post(
        "/tokens",
        json={"principal": "ci-bot", "roles": ["developer"], "groups": ["growth", "ml", "growth"]},
        headers=admin,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    token_id = body["metadata"]["token_id"]
    assert body["metadata"]["groups"] == ["growth", "ml"]
    assert _stored_groups(connection, token_id) == ["growth", "ml"]
    listed = token_client.get("/tokens", headers=admin).get_json()["tokens"]
    assert [t["groups"] for t in listed] == [[], ["growth", "ml"]]
    principal = tokens.authenticate(database, body["token"], now=1)
    assert principal.groups == frozenset({"growth", "ml"})
    assert principal.credential == f"token:{token_id}"
    assert principal.authenticated


def test_a_token_without_groups_belongs_to_none(token_client, admin):
    response = token_client.post(
        "/tokens", json={"principal": "dave", "roles": ["developer"]}, headers=admin
    )
    assert response.status_code == 201
    assert response.get_json()["metadata"]["groups"] == []


@pytest.mark.parametrize(
    "groups",
    [[""], [" growth"], ["growth "], ["gro\u200bwth"], ["x" * 256], "growth", [1], ["g"] * 65],
    ids=["blank", "leading-space", "trailing-space", "zero-width", "too-long", "not-a-list",
         "not-a-string", "too-many"],
)  # fmt: skip
def test_a_group_is_named_like_a_principal_else_422_and_nothing_is_issued(
    token_client, admin, connection, groups
):
    response = token_client.post(
        "/tokens",
        json={"principal": "dave", "roles": ["developer"], "groups": groups},
        headers=admin,
    )
    assert response.status_code == 422, response.get_json()
    assert "groups" in response.get_json()["errors"]
    count = connection.execute(text("SELECT count(*) FROM api_tokens")).scalar_one()
    assert count == 1  # the admin's own
