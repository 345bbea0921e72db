"""The may-I-act answer (``domain.permissions.why_not``): which rule refuses, in which order,
with which sentence for the person and which error for the API; and who is a member of an
owner (``domain.ownership``)."""

from __future__ import annotations

import pytest

from feature_gateway.config import ConfigError, Settings
from feature_gateway.domain.duties import SEPARATED_FROM
from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import Role, fired_by_callers
from feature_gateway.domain.ownership import OPEN, Approval, Governance, Ownership, is_member
from feature_gateway.domain.permissions import (
    ACTS,
    NEW_VERSION,
    OWNER_ACTS,
    REVIEWS,
    UPDATE,
    FeatureFacts,
    Rule,
    owner_refusal,
    refusals,
    why_not,
)
from feature_gateway.errors import (
    FeatureImmutableError,
    ForbiddenError,
    IndependentApprovalError,
    InvalidTransitionError,
    NoRoleMayActError,
    OwnershipError,
    SeparationOfDutiesError,
    http_status_for,
)

NAME = "driver_hourly_stats:conv_rate:1"
ENFORCED = Governance(ownership=Ownership.ENFORCED)
INDEPENDENT = Governance(approval=Approval.INDEPENDENT)
BOTH = Governance(Ownership.ENFORCED, Approval.INDEPENDENT)


def facts(status: str = "TEST_SUCCEEDED", owner: str = "growth", **people: str) -> FeatureFacts:
    row = {"feature_name": NAME, "status": status, "owner": owner, "created_by": "dev",
           "submitted_by": "dev", "tested_by": "qa", **people}  # fmt: skip
    return FeatureFacts.of(row, ("erin",))


def person(name: str = "alice", *roles: Role, groups: tuple[str, ...] = ()) -> Principal:
    return Principal(name, frozenset(roles or (Role.APPROVER,)), True, frozenset(groups))


def test_every_act_a_caller_takes_on_a_feature_is_either_the_owners_or_a_review():
    callers = {trigger.name for trigger in fired_by_callers()}
    assert set(ACTS) == callers | {UPDATE, NEW_VERSION}
    assert REVIEWS == set(SEPARATED_FROM) == {"test", "approve", "reject"}
    assert set(ACTS) - REVIEWS == OWNER_ACTS
    assert {"submit", "fix", "delete", "deprecate", "retire", UPDATE, NEW_VERSION} == OWNER_ACTS


@pytest.mark.parametrize(
    ("groups", "owner", "member"),
    [
        ((), "alice", True),
        ((), "ALICE", True),
        (("growth",), "growth", True),
        (("growth",), "Growth", True),
        (("growth",), "\uff47\uff52\uff4f\uff57\uff54\uff48", True),  # fullwidth
        (("growth",), "gr\u043ewth", True),  # a Cyrillic o
        (("growth",), "growthx", False),
        (("growth-team",), "growth", False),
        (("ml",), "bob", False),
    ],
)
def test_a_member_is_the_owner_or_in_a_group_named_like_it(groups, owner, member):
    assert is_member(person("alice", groups=groups), owner) is member


def test_with_the_default_settings_only_roles_status_and_duties_refuse():
    outsider = person("dave", Role.DEVELOPER, Role.APPROVER, groups=("ml",))
    assert why_not(outsider, UPDATE, facts("DRAFT"), OPEN) is None
    insider = person("carol", groups=("growth",))
    assert why_not(insider, "approve", facts(), OPEN) is None


def test_the_first_rule_that_refuses_answers_in_order():
    developer = person("dev", Role.DEVELOPER, groups=("growth",))
    assert why_not(developer, "approve", facts("DRAFT"), BOTH).rule is Rule.ROLE
    approver = person("dev", groups=("growth",))
    assert why_not(approver, "approve", facts("DRAFT"), BOTH).rule is Rule.STATUS
    assert why_not(approver, "approve", facts(), BOTH).rule is Rule.SEPARATION_OF_DUTIES
    assert why_not(person("carol", groups=("growth",)), "approve", facts(), BOTH).rule is (
        Rule.INDEPENDENT_APPROVAL
    )
    outsider = person("dave", Role.APPROVER, groups=("ml",))
    assert why_not(outsider, "deprecate", facts("DEPLOYED"), BOTH).rule is Rule.OWNERSHIP
    assert why_not(outsider, "approve", facts(), BOTH) is None


def test_an_ownership_refusal_names_the_feature_the_owner_and_the_caller():
    refusal = why_not(person("alice", Role.DEVELOPER), UPDATE, facts("DRAFT"), ENFORCED)
    assert refusal is not None and isinstance(refusal.error, OwnershipError)
    assert refusal.detail == (
        "Ownership: driver_hourly_stats:conv_rate:1 is owned by growth; alice is not a member "
        "of growth."
    )
    assert refusal.sentence == (
        "growth owns this feature and you are not a member of growth: only its members may "
        "change it."
    )
    assert http_status_for(refusal.error) == (403, "Ownership")


def test_an_independent_approval_refusal_names_the_team_or_the_owner():
    by_group = why_not(person("alice", groups=("growth",)), "approve", facts(), INDEPENDENT)
    assert by_group is not None and isinstance(by_group.error, IndependentApprovalError)
    assert by_group.detail == (
        "Separation of duties: alice is a member of growth, which owns this feature, so alice "
        "cannot approve it."
    )
    assert by_group.sentence == (
        "You are a member of growth, which owns this feature: someone from outside growth "
        "must approve it."
    )
    assert http_status_for(by_group.error) == (403, "Separation of Duties")
    tester = person("Alice", Role.EXTERNAL_TESTING_SYSTEM)
    by_name = why_not(tester, "test", facts("READY_FOR_TESTING", owner="alice"), INDEPENDENT)
    assert by_name is not None
    assert by_name.detail == (
        "Separation of duties: alice owns this feature, so Alice cannot test it."
    )
    assert by_name.sentence == (
        "You own this feature: another testing system must record its test result."
    )


@pytest.mark.parametrize(
    ("act", "role", "people", "sentence"),
    [
        ("approve", Role.APPROVER, {"created_by": "alice"},
         "You created this feature: another approver must approve it."),
        ("reject", Role.APPROVER, {"tested_by": "alice"},
         "You recorded this feature's test result: another approver must reject it."),
        ("test", Role.EXTERNAL_TESTING_SYSTEM, {"submitted_by": "alice"},
         "You submitted this feature for testing: another testing system must record its test "
         "result."),
    ],
)  # fmt: skip
def test_a_separation_refusal_speaks_to_the_person_and_keeps_the_apis_detail(
    act, role, people, sentence
):
    status = "READY_FOR_TESTING" if act == "test" else "TEST_SUCCEEDED"
    refusal = why_not(person("alice", role), act, facts(status, **people), OPEN)
    assert refusal is not None and type(refusal.error) is SeparationOfDutiesError
    assert refusal.sentence == sentence
    assert refusal.detail.startswith("Separation of duties: alice ")
    changer = why_not(person("ERIN", role), act, facts(status), OPEN)
    assert changer.detail == (
        f"Separation of duties: erin changed this feature's definition, so ERIN cannot {act} it."
    )


def test_a_role_refusal_is_the_apis_for_one_role_and_names_the_roles_for_several():
    one = why_not(person("alice", Role.DEVELOPER), "approve", facts(), OPEN)
    assert isinstance(one.error, ForbiddenError)
    assert one.detail == "Role 'developer' may not approve features; allowed roles: approver."
    assert one.sentence == "You hold no role that may approve features (it takes approver)."
    several = person("alice", Role.DEVELOPER, Role.EXTERNAL_TESTING_SYSTEM)
    assert isinstance(why_not(several, "approve", facts(), OPEN).error, NoRoleMayActError)
    nobody = Principal("alice", frozenset(), True)
    assert isinstance(why_not(nobody, UPDATE, facts("DRAFT"), OPEN).error, NoRoleMayActError)


def test_a_status_refusal_is_the_machines_409_or_the_immutable_one():
    refusal = why_not(person(), "approve", facts("DRAFT"), OPEN)
    assert isinstance(refusal.error, InvalidTransitionError)
    assert refusal.sentence == (
        "This feature is DRAFT: approve is possible only from TEST_SUCCEEDED."
    )
    update = why_not(person("a", Role.DEVELOPER), UPDATE, facts("DEPLOYED"), OPEN)
    assert isinstance(update.error, FeatureImmutableError)
    assert why_not(person("a", Role.DEVELOPER), NEW_VERSION, facts("RETIRED"), OPEN) is None


def test_an_owner_may_be_named_only_by_a_member_when_ownership_is_enforced():
    carol = person("carol", Role.DEVELOPER, groups=("growth",))
    assert owner_refusal(carol, NAME, "pricing", OPEN) is None
    assert owner_refusal(carol, NAME, "GROWTH", ENFORCED) is None
    assert owner_refusal(carol, NAME, "Carol", ENFORCED) is None
    refusal = owner_refusal(carol, NAME, "pricing", ENFORCED)
    assert refusal.detail == (
        f"Ownership: {NAME} cannot be owned by pricing; carol is not a member of pricing."
    )


def test_an_owner_may_be_named_only_by_a_member_when_approval_is_independent():
    # Independence reads the owner: a team naming another as owner would review its own work.
    carol = person("carol", Role.DEVELOPER, groups=("growth",))
    assert owner_refusal(carol, NAME, "growth", INDEPENDENT) is None
    refusal = owner_refusal(carol, NAME, "pricing", INDEPENDENT)
    assert refusal.detail == (
        f"Ownership: {NAME} cannot be owned by pricing; carol is not a member of pricing."
    )


def test_refusals_answers_every_act_for_one_row():
    carol = person("carol", Role.DEVELOPER, groups=("growth",))
    answers = refusals(carol, facts("DRAFT"), ENFORCED)
    assert list(answers) == list(ACTS)
    allowed = {act for act, refusal in answers.items() if refusal is None}
    assert allowed == {"submit", "delete", UPDATE, NEW_VERSION}


def test_a_row_without_an_owner_is_owned_by_its_creator():
    row = {"feature_name": NAME, "status": "DRAFT", "owner": None, "created_by": "dev"}
    assert FeatureFacts.of(row, ()).owner == "dev"


def test_an_unknown_act_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown act"):
        why_not(person(), "deploy_everything", facts(), OPEN)
    with pytest.raises(ValueError, match="fired by the service"):
        why_not(person(), "deploy", facts("APPROVED"), OPEN)


def test_ownership_and_approval_are_read_and_checked_at_start():
    assert Settings.from_env({}).governance == OPEN
    both = Settings.from_env({"OWNERSHIP": "enforced", "APPROVAL": "independent"})
    assert both.governance == BOTH
    with pytest.raises(ConfigError, match="OWNERSHIP must be one of open, enforced, got 'on'"):
        Settings.from_env({"OWNERSHIP": "on"})
    with pytest.raises(ConfigError, match="APPROVAL must be one of any, independent"):
        Settings.from_env({"APPROVAL": "Independent"})
