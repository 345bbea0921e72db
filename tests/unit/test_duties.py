"""Separation of duties as pure rules: who may not test, approve or reject (SPEC §7)."""

import pytest

from feature_gateway.domain.duties import FeatureDuties, check_separation
from feature_gateway.errors import SeparationOfDutiesError

DUTIES = FeatureDuties(
    creator="alice", definition_changers=("bob", "erin"), submitter="carol", tester="dave"
)


@pytest.mark.parametrize(
    ("trigger", "actor", "detail"),
    [
        ("test", "alice", "Separation of duties: alice created this feature, so alice cannot "
                          "test it."),
        ("test", "ERIN", "Separation of duties: erin changed this feature's definition, so ERIN "
                         "cannot test it."),
        ("test", "Carol", "Separation of duties: carol submitted this feature for testing, so "
                          "Carol cannot test it."),
        ("approve", "alice", "Separation of duties: alice created this feature, so alice cannot "
                             "approve it."),
        ("approve", "bob", "Separation of duties: bob changed this feature's definition, so bob "
                           "cannot approve it."),
        ("reject", "carol", "Separation of duties: carol submitted this feature for testing, so "
                            "carol cannot reject it."),
        ("reject", "Dave", "Separation of duties: dave recorded this feature's test result, so "
                           "Dave cannot reject it."),
    ],
)  # fmt: skip
def test_each_part_excludes_its_player_whatever_the_case(trigger, actor, detail):
    with pytest.raises(SeparationOfDutiesError) as refused:
        check_separation(trigger, actor, DUTIES)
    assert refused.value.detail == detail


def test_the_tester_may_test_again_only_approving_is_barred():
    check_separation("test", "dave", DUTIES)  # the previous round's tester may test again
    with pytest.raises(SeparationOfDutiesError):
        check_separation("approve", "dave", DUTIES)


@pytest.mark.parametrize("trigger", ["test", "approve", "reject"])
def test_someone_who_played_no_part_may_act(trigger):
    check_separation(trigger, "frank", DUTIES)


@pytest.mark.parametrize("trigger", ["submit", "fix", "delete", "deploy"])
def test_other_triggers_are_not_separated(trigger):
    check_separation(trigger, "alice", DUTIES)


def test_parts_nobody_played_exclude_nobody():
    fresh = FeatureDuties(creator="alice", definition_changers=(), submitter=None, tester=None)
    check_separation("approve", "bob", fresh)
