"""Ownership and independent approval (SPEC §12), through the API, in both modes.

OWNERSHIP=enforced: only a member of a feature's owner (the owner themselves, or someone in
the group it names) updates, submits, fixes, deletes, deprecates or retires it, or makes a
new version of it; an owner a caller names must be theirs. APPROVAL=independent: nobody in
the owner records its test result, approves or rejects it. Every refusal is 403 and changes
nothing, and the may-I-act answer (``domain.permissions.why_not``) says exactly what the
API does. Features are walked to their status by the default (open) trust-mode app on the
same database; the acts under test go to an app with the settings under test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from feature_gateway import create_app
from feature_gateway.domain.lifecycle import Role
from feature_gateway.domain.ownership import Approval, Governance, Ownership
from feature_gateway.domain.permissions import NEW_VERSION, OWNER_ACTS, REVIEWS, UPDATE, why_not
from feature_gateway.services import permissions, tokens
from feature_gateway.services.identity_provider import IdentityProvider
from feature_gateway.services.permissions import acting_caller
from feature_gateway.shapes.trigger_endpoints import TRIGGER_ENDPOINTS
from feature_gateway.web.context import EXTENSION
from tests.conftest import SEED_FEATURE, TEST_SECRET_KEY, _bound, _shared_app, bearer
from tests.oidc_issuer import AUDIENCE

# Each owner's act: (path, body, the status a feature must be in, the role it takes).
OWNER_STEPS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "submit": ("/ready_test_feature_metadata", {}, "DRAFT", "developer"),
    "fix": ("/fix_feature_metadata", {"fix_description": "again"}, "TEST_FAILED", "developer"),
    "delete": ("/delete_feature_metadata", {"deletion_reason": "gone"}, "DRAFT", "developer"),
    "deprecate": ("/deprecate_feature_metadata", {"deprecation_reason": "old"}, "DEPLOYED",
                  "approver"),
    "retire": ("/retire_feature_metadata", {}, "DEPRECATED", "approver"),
    UPDATE: ("/update_feature_metadata", {"description": "new words"}, "DRAFT", "developer"),
    NEW_VERSION: ("/create_feature_version", {}, "DEPLOYED", "developer"),
}  # fmt: skip
REVIEW_STEPS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "test": ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED"}, "READY_FOR_TESTING",
             "external_testing_system"),
    "approve": ("/approve_feature_metadata", {}, "TEST_SUCCEEDED", "approver"),
    "reject": ("/reject_feature_metadata", {"rejection_reason": "no"}, "TEST_SUCCEEDED",
               "approver"),
}  # fmt: skip
ACTOR_FIELD = {"submit": "submitted_by", "fix": "fixed_by", "delete": "deleted_by",
               "deprecate": "deprecated_by", "retire": "retired_by", UPDATE: "last_updated_by",
               NEW_VERSION: "created_by", "test": "tested_by", "approve": "approved_by",
               "reject": "rejected_by"}  # fmt: skip
# Owner → (a member, their groups), (a non-member, their groups).
OWNERS = {
    "person": ("alice", ("alice", ()), ("bob", ("ml",))),
    "group": ("growth", ("carol", ("growth",)), ("dave", ("ml", "growthx"))),
}
INDEPENDENT = {"approval": "independent"}


def test_the_matrix_covers_every_owner_act_and_every_review():
    assert set(OWNER_STEPS) == OWNER_ACTS
    assert set(REVIEW_STEPS) == REVIEWS
    # Every endpoint that fires a trigger on a feature is in it, with its own trigger.
    steps = {**OWNER_STEPS, **REVIEW_STEPS}
    assert {e.trigger: e.path for e in TRIGGER_ENDPOINTS} == {
        act: path for act, (path, *_) in steps.items() if act not in (UPDATE, NEW_VERSION)
    }


@pytest.fixture
def governed(database, migrated_database, _apps) -> Iterator[Callable[..., Any]]:
    """``governed("token", ownership="enforced")``: a test client of an app with those
    settings, on this test's database (one app per settings a session, as ``app``)."""
    opened: list[Any] = []

    def client(auth_mode: str, **settings: str) -> Any:
        key = (migrated_database.url, auth_mode, *sorted(settings.items()))
        app: Flask | None = _apps.get(key)
        if app is None:
            token = {"auth_mode": "token", "secret_key": TEST_SECRET_KEY}
            overrides = {"database_url": migrated_database.url, "TESTING": True, **settings}
            app = create_app({**overrides, **(token if auth_mode == "token" else {})})
            _apps[key] = app
        context = _bound(app, database)
        opened.append(context)
        return context.__enter__().test_client()

    yield client
    for context in reversed(opened):
        context.__exit__(None, None, None)


class Caller:
    """Acts as one person: with an API token carrying their groups (token mode), or by
    claiming their name and role (trust mode, no groups)."""

    def __init__(self, client: Any, mode: str, issue: Any, name: str, groups: tuple[str, ...]):
        self.client, self.mode, self.issue, self.name, self.groups = (
            client, mode, issue, name, groups
        )  # fmt: skip
        self.tokens: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role not in self.tokens:
            self.tokens[role] = self.issue(role, principal=self.name, groups=list(self.groups))
        return self.tokens[role]

    def post(self, act: str, path: str, body: dict[str, Any], role: str) -> Any:
        if self.mode == "token":
            return self.client.post(path, json=body, headers=bearer(self.token(role)))
        claimed = {**body, ACTOR_FIELD.get(act, "created_by"): self.name, "user_role": role}
        return self.client.post(path, json=claimed)


def _state(connection, name: str) -> tuple[Any, ...]:
    """Everything a refused write must leave as it was."""
    row = connection.execute(
        text("SELECT status, revision, owner FROM features WHERE feature_name = :n"), {"n": name}
    ).one()
    counts = [
        connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in ("features", "feature_audit", "feature_changes",
                      "feature_definition_changes", "webhook_deliveries")
    ]  # fmt: skip
    return (*row, *counts)


def _ask(database, person: Caller, act: str, role: str, name: str, governance) -> Any:
    """The may-I-act answer for this person, act and feature, asked before the request."""
    if person.mode == "token":
        principal = tokens.authenticate(database, person.token(role), now=1)
    else:
        principal = acting_caller(person.name, role, None)
    return why_not(principal, act, permissions.feature_facts(database, name), governance)


def _agrees(refusal: Any, response: Any) -> None:
    """The API did what the may-I-act answer said it would."""
    if refusal is None:
        assert response.status_code in (200, 201), response.get_json()
    else:
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["detail"] == refusal.detail


@pytest.mark.parametrize("mode", ["token", "trust"])
@pytest.mark.parametrize("owned_by", ["person", "group"])
@pytest.mark.parametrize("member", [True, False], ids=["member", "non-member"])
@pytest.mark.parametrize("act", sorted(OWNER_STEPS))
def test_only_a_member_of_the_owner_takes_an_owner_act_when_ownership_is_enforced(
    governed, make_feature, issue_token, connection, database, mode, owned_by, member, act
):
    owner, (in_name, in_groups), (out_name, out_groups) = OWNERS[owned_by]
    path, body, status, role = OWNER_STEPS[act]
    name = make_feature(status, owner=owner)["feature_name"]
    client = governed(mode, ownership="enforced")
    person = Caller(client, mode, issue_token, *((in_name, in_groups) if member else
                                                 (out_name, out_groups)))  # fmt: skip
    # Trust mode has no groups: nobody who claims a name is a member of a group.
    allowed = member and (mode == "token" or owned_by == "person")
    before = _state(connection, name)
    answer = _ask(database, person, act, role, name, Governance(Ownership.ENFORCED))
    response = person.post(act, path, {"feature_name": name, **body}, role)
    _agrees(answer, response)
    if allowed:
        assert response.status_code in (200, 201), response.get_json()
        return
    assert response.status_code == 403, response.get_json()
    problem = response.get_json()
    assert problem["detail"] == (
        f"Ownership: {name} is owned by {owner}; {person.name} is not a member of {owner}."
    )
    assert problem["title"] == "Ownership"
    assert problem["type"] == "urn:feature-gateway:problem:ownership"
    assert _state(connection, name) == before


@pytest.mark.parametrize("act", sorted(OWNER_STEPS))
def test_with_ownership_open_anyone_with_the_role_takes_an_owner_act(
    governed, make_feature, issue_token, act
):
    path, body, status, role = OWNER_STEPS[act]
    name = make_feature(status, owner="growth")["feature_name"]
    outsider = Caller(governed("token"), "token", issue_token, "dave", ("ml",))
    response = outsider.post(act, path, {"feature_name": name, **body}, role)
    assert response.status_code in (200, 201), response.get_json()


@pytest.mark.parametrize("mode", ["token", "trust"])
@pytest.mark.parametrize("owned_by", ["person", "group"])
@pytest.mark.parametrize("act", sorted(REVIEW_STEPS))
def test_under_independent_approval_no_member_of_the_owner_reviews_the_feature(
    governed, make_feature, issue_token, connection, database, mode, owned_by, act
):
    owner = {"person": "erin", "group": "growth"}[owned_by]
    reviewer = Caller(governed(mode, **INDEPENDENT), mode, issue_token, "erin", ("growth",))
    path, body, status, role = REVIEW_STEPS[act]
    name = make_feature(status, owner=owner)["feature_name"]
    before = _state(connection, name)
    answer = _ask(database, reviewer, act, role, name, Governance(approval=Approval.INDEPENDENT))
    response = reviewer.post(act, path, {"feature_name": name, **body}, role)
    _agrees(answer, response)
    if mode == "trust" and owned_by == "group":  # a claimed name has no groups
        assert response.status_code == 200, response.get_json()
        return
    assert response.status_code == 403, response.get_json()
    part = "erin owns this feature" if owned_by == "person" else (
        "erin is a member of growth, which owns this feature")  # fmt: skip
    assert response.get_json()["detail"] == (
        f"Separation of duties: {part}, so erin cannot {act} it."
    )
    assert response.get_json()["title"] == "Separation of Duties"
    assert _state(connection, name) == before
    outsider = Caller(reviewer.client, mode, issue_token, "frank", ("ml",))
    assert outsider.post(act, path, {"feature_name": name, **body}, role).status_code == 200


@pytest.mark.parametrize("act", sorted(REVIEW_STEPS))
def test_with_approval_any_a_member_of_the_owner_may_review(
    governed, make_feature, issue_token, act
):
    path, body, status, role = REVIEW_STEPS[act]
    name = make_feature(status, owner="growth")["feature_name"]
    member = Caller(governed("token", ownership="enforced"), "token", issue_token, "erin",
                    ("growth",))  # fmt: skip
    assert member.post(act, path, {"feature_name": name, **body}, role).status_code == 200


def _create(person: Caller, name: str, **fields: Any) -> Any:
    body = {**SEED_FEATURE, "feature_name": name, **fields}
    body.pop("created_by"), body.pop("user_role")
    return person.post("create", "/create_feature_metadata", body, "developer")


@pytest.mark.parametrize("mode", ["token", "trust"])
def test_at_create_the_owner_must_be_the_creator_or_one_of_their_groups(
    governed, issue_token, connection, mode
):
    carol = Caller(governed(mode, ownership="enforced"), mode, issue_token, "carol", ("growth",))
    before = connection.execute(text("SELECT count(*) FROM features")).scalar_one()
    refused = _create(carol, "own_view:mine:1", owner="pricing")
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["detail"] == (
        "Ownership: own_view:mine:1 cannot be owned by pricing; carol is not a member of "
        "pricing."
    )
    assert connection.execute(text("SELECT count(*) FROM features")).scalar_one() == before
    assert _create(carol, "own_view:mine:2").get_json()["metadata"]["owner"] == "carol"
    assert _create(carol, "own_view:mine:3", owner="CAROL").status_code == 201
    group = _create(carol, "own_view:mine:4", owner="Growth")
    assert group.status_code == (201 if mode == "token" else 403), group.get_json()


def test_an_owner_change_names_an_owner_the_caller_belongs_to(
    governed, make_feature, issue_token, connection
):
    name = make_feature("DRAFT", owner="growth")["feature_name"]
    carol = Caller(governed("token", ownership="enforced"), "token", issue_token, "carol",
                   ("growth", "ml"))  # fmt: skip
    before = _state(connection, name)
    given = carol.post(UPDATE, "/update_feature_metadata",
                       {"feature_name": name, "owner": "pricing"}, "developer")  # fmt: skip
    assert given.status_code == 403
    assert given.get_json()["detail"] == (
        f"Ownership: {name} cannot be owned by pricing; carol is not a member of pricing."
    )
    assert _state(connection, name) == before
    moved = carol.post(UPDATE, "/update_feature_metadata", {"feature_name": name, "owner": "ml"},
                       "developer")  # fmt: skip
    assert moved.get_json()["metadata"]["owner"] == "ml"


def test_a_new_version_names_an_owner_the_caller_belongs_to(
    governed, make_feature, issue_token, connection
):
    name = make_feature("DEPLOYED", owner="growth")["feature_name"]
    carol = Caller(governed("token", ownership="enforced"), "token", issue_token, "carol",
                   ("growth",))  # fmt: skip
    before = _state(connection, name)
    given = carol.post(NEW_VERSION, "/create_feature_version",
                       {"feature_name": name, "owner": "pricing"}, "developer")  # fmt: skip
    assert given.status_code == 403
    assert given.get_json()["detail"].endswith("carol is not a member of pricing.")
    assert _state(connection, name) == before
    copied = carol.post(NEW_VERSION, "/create_feature_version", {"feature_name": name},
                        "developer")  # fmt: skip
    assert copied.get_json()["metadata"]["owner"] == "growth"


def test_reads_are_not_bound_by_ownership(governed, make_feature, issue_token):
    name = make_feature("DRAFT", owner="growth")["feature_name"]
    client = governed("token", ownership="enforced", approval="independent")
    headers = bearer(issue_token("developer", principal="dave", groups=["ml"]))
    for path in (f"/get_feature_metadata/{name}", f"/features/{name}/history",
                 f"/features/{name}/changes"):  # fmt: skip
        assert client.get(path, headers=headers).status_code == 200


# The provider's group that gives each role (tests.oidc_issuer.ROLE_MAP).
ROLE_GROUP = {"developer": "ml-developers", "approver": "ml-approvers",
              "external_testing_system": "qa-bots"}  # fmt: skip


@pytest.fixture
def sso(database, migrated_database, _apps, oidc_issuer, oidc_clock) -> Callable[..., Any]:
    """``sso(ownership="enforced")``: a client of the token-mode app with single sign-on on
    (``oidc_app``'s) and those settings, and a function giving a person a JWT."""
    opened: list[Any] = []
    shared = _shared_app(_apps, migrated_database.url, "oidc")

    def client(**governance: str) -> Any:
        settings = dataclasses.replace(
            shared.extensions[EXTENSION].settings, oidc_issuer=oidc_issuer.url, **governance
        )
        provider = IdentityProvider.from_settings(settings, clock=oidc_clock)
        context = _bound(shared, database, settings=settings, identity_provider=provider)
        opened.append(context)
        return context.__enter__().test_client(), provider

    yield client
    for context in reversed(opened):
        context.__exit__(None, None, None)


def _jwt_act(client, provider, oidc_issuer, name, groups, act, steps, feature, governance):
    """``act`` on ``feature`` as ``name`` signed in at the provider, after asking why_not."""
    path, body, _, role = steps[act]
    jwt = oidc_issuer.token(preferred_username=name, groups=[*groups, ROLE_GROUP[role]])
    principal = provider.principal_of(provider.verify(jwt, audience=AUDIENCE))
    acting = dataclasses.replace(principal, roles=frozenset({Role(role)}))
    answer = why_not(acting, act, permissions.feature_facts(client.application.extensions[
        EXTENSION].database, feature), governance)  # fmt: skip
    response = client.post(path, json={"feature_name": feature, **body}, headers=bearer(jwt))
    _agrees(answer, response)
    return response


@pytest.mark.parametrize("member", [True, False], ids=["member", "non-member"])
@pytest.mark.parametrize("act", sorted(OWNER_STEPS))
def test_the_groups_of_a_jwt_make_its_bearer_a_member_of_the_owner(
    sso, oidc_issuer, make_feature, connection, act, member
):
    client, provider = sso(ownership="enforced")
    name = make_feature(OWNER_STEPS[act][2], owner="growth")["feature_name"]
    person, groups = ("carol", ["growth"]) if member else ("dave", ["ml"])
    before = _state(connection, name)
    response = _jwt_act(client, provider, oidc_issuer, person, groups, act, OWNER_STEPS, name,
                        Governance(Ownership.ENFORCED))  # fmt: skip
    if member:
        assert response.status_code in (200, 201), response.get_json()
        return
    assert response.get_json()["detail"] == (
        f"Ownership: {name} is owned by growth; dave is not a member of growth."
    )
    assert _state(connection, name) == before


@pytest.mark.parametrize("act", sorted(REVIEW_STEPS))
def test_a_jwt_whose_groups_own_the_feature_may_not_review_it(
    sso, oidc_issuer, make_feature, connection, act
):
    client, provider = sso(approval="independent")
    name = make_feature(REVIEW_STEPS[act][2], owner="growth")["feature_name"]
    before = _state(connection, name)
    independent = Governance(approval=Approval.INDEPENDENT)
    refused = _jwt_act(client, provider, oidc_issuer, "erin", ["growth"], act, REVIEW_STEPS,
                       name, independent)  # fmt: skip
    assert refused.get_json()["detail"] == (
        f"Separation of duties: erin is a member of growth, which owns this feature, so erin "
        f"cannot {act} it."
    )
    assert _state(connection, name) == before
    done = _jwt_act(client, provider, oidc_issuer, "frank", ["ml"], act, REVIEW_STEPS, name,
                    independent)  # fmt: skip
    assert done.status_code == 200


def test_under_independent_approval_alone_a_team_cannot_hand_its_feature_to_another_to_review_it(
    governed, make_feature, issue_token, connection
):
    # OWNERSHIP=open, APPROVAL=independent: independence reads the owner, so naming an owner
    # is bound too; else growth names platform as owner and a growth member approves.
    client = governed("token", approval="independent")
    alice = Caller(client, "token", issue_token, "alice", ("growth",))
    name = make_feature("DRAFT", owner="growth")["feature_name"]
    before = _state(connection, name)
    handed = alice.post(UPDATE, "/update_feature_metadata",
                        {"feature_name": name, "owner": "platform"}, "developer")  # fmt: skip
    assert handed.status_code == 403, handed.get_json()
    assert handed.get_json()["detail"] == (
        f"Ownership: {name} cannot be owned by platform; alice is not a member of platform."
    )
    assert _state(connection, name) == before
    created = _create(alice, "handed_view:x:1", owner="platform")
    assert created.status_code == 403, created.get_json()
    assert _create(alice, "handed_view:x:2", owner="growth").status_code == 201
