from feature_gateway.domain.lifecycle import (
    DELETABLE_STATES,
    EDITABLE_STATES,
    PERMISSIONS,
    SERVED_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    Role,
    Status,
    source_states,
)


def test_every_action_has_roles_and_reads_are_open_to_all_roles():
    assert set(PERMISSIONS) == set(Action)
    assert PERMISSIONS[Action.READ] == frozenset(Role)


def test_only_the_approver_approves_and_only_the_testing_system_records_tests():
    assert PERMISSIONS[Action.APPROVE] == {Role.APPROVER}
    assert PERMISSIONS[Action.REJECT] == {Role.APPROVER}
    assert PERMISSIONS[Action.TEST] == {Role.EXTERNAL_TESTING_SYSTEM}


def test_no_transition_leaves_a_terminal_state():
    for transition in TRANSITIONS:
        sources = transition["source"]
        sources = sources if isinstance(sources, list) else [sources]
        assert TERMINAL_STATES.isdisjoint(sources), transition


def test_source_states_name_where_each_trigger_may_fire():
    assert source_states("approve") == ["TEST_SUCCEEDED"]
    assert source_states("fix") == ["REJECTED", "TEST_FAILED"]
    assert Status.DEPLOYED not in source_states("delete")
    assert Status.DRAFT not in source_states("reset")
    assert source_states("no_such_trigger") == []


def test_the_transient_approved_state_is_no_source_but_of_deploy():
    for trigger in ("reset", "delete", "fix", "submit", "reject"):
        assert Status.APPROVED not in source_states(trigger)
    assert source_states("deploy") == ["APPROVED"]


def test_a_deployed_feature_is_deprecated_then_retired_by_an_approver():
    assert source_states("deprecate") == ["DEPLOYED"]
    assert source_states("retire") == ["DEPRECATED"]
    assert PERMISSIONS[Action.DEPRECATE] == PERMISSIONS[Action.RETIRE] == {Role.APPROVER}
    assert {Status.RETIRED, Status.DELETED} == TERMINAL_STATES


def test_deployed_and_deprecated_features_are_served_and_immutable():
    assert {Status.DEPLOYED, Status.DEPRECATED} == SERVED_STATES
    assert EDITABLE_STATES.isdisjoint({Status.DEPLOYED, Status.DEPRECATED, Status.RETIRED})
    assert DELETABLE_STATES.isdisjoint({Status.DEPLOYED, Status.DEPRECATED, Status.RETIRED})
