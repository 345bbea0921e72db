"""The audit-trail rules (domain.audit_chain), on trails built in memory."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from feature_gateway.domain.audit_chain import (
    ONCE_DEPLOYED_STATES,
    allowed_transition,
    triggers_of_change,
)
from feature_gateway.domain.audit_checks import TrailChecker, check_feature
from feature_gateway.domain.lifecycle import TRIGGERS, Status


@dataclass(frozen=True)
class Row:
    id: int
    feature_name: str
    status: str
    revision: int


@dataclass(frozen=True)
class H:
    id: int
    from_status: str | None
    trigger: str
    to_status: str
    timestamp: int


@dataclass(frozen=True)
class C:
    id: int
    revision: int
    action: str
    previous_status: str | None
    new_status: str
    timestamp: int


def trail(*writes):
    """Rows for writes given as (action, new status, [(trigger, to)...]), one ms apart."""
    history, changes, status = [], [], None
    for n, (action, new, fired) in enumerate(writes):
        for trigger, to in fired:
            history.append(H(len(history) + 1, status, trigger, to, n))
            status = to
        changes.append(C(n + 1, n + 1, action, changes[-1].new_status if changes else None,
                         new, n))  # fmt: skip
        status = new
    return Row(1, "v:f:1", status, len(changes)), history, changes


DEPLOYED_PATH = [
    ("create", "DRAFT", [("create", "DRAFT")]),
    ("submit", "READY_FOR_TESTING", [("submit", "READY_FOR_TESTING")]),
    ("test", "TEST_SUCCEEDED", [("test", "TEST_SUCCEEDED")]),
    ("approve", "DEPLOYED", [("approve", "APPROVED"), ("deploy", "DEPLOYED")]),
]


def test_every_transition_of_the_lifecycle_table_is_allowed_and_nothing_else():
    for trigger in TRIGGERS.values():
        for source in trigger.sources:
            for dest in Status:
                assert allowed_transition(source, trigger.name, dest) == (dest in trigger.dests)
    assert not allowed_transition(None, "submit", "READY_FOR_TESTING")
    assert allowed_transition(None, "create", "DRAFT")
    assert not allowed_transition(None, "create", "DEPLOYED")
    assert allowed_transition(None, "import", "DEPLOYED")
    assert not allowed_transition(None, "import", "APPROVED")  # never stored


def test_approving_fires_approve_then_deploy_and_an_update_may_reset():
    assert triggers_of_change("approve", "TEST_SUCCEEDED", "DEPLOYED") == ("approve", "deploy")
    assert triggers_of_change("update", "TEST_FAILED", "TEST_FAILED") == ()
    assert triggers_of_change("update", "TEST_FAILED", "DRAFT") == ("reset",)
    assert triggers_of_change("update", "DEPLOYED", "DRAFT") is None
    assert triggers_of_change("create_version", None, "DRAFT") == ("create",)


def test_the_deployed_states_are_derived_from_the_table():
    assert {"DEPLOYED", "DEPRECATED", "RETIRED"} == ONCE_DEPLOYED_STATES


def test_a_deployed_then_deprecated_and_retired_trail_is_whole():
    writes = [*DEPLOYED_PATH, ("deprecate", "DEPRECATED", [("deprecate", "DEPRECATED")]),
              ("retire", "RETIRED", [("retire", "RETIRED")])]  # fmt: skip
    assert check_feature(*trail(*writes)) == []


@pytest.mark.parametrize("imported_as", ["DEPLOYED", "DEPRECATED", "RETIRED", "TEST_FAILED"])
def test_an_imported_feature_needs_no_history_before_its_import(imported_as):
    assert check_feature(*trail(("import", imported_as, [("import", imported_as)]))) == []


def test_an_imported_draft_deployed_later_needs_its_approval():
    writes = [("import", "DRAFT", [("import", "DRAFT")]), *DEPLOYED_PATH[1:]]
    assert check_feature(*trail(*writes)) == []


def test_a_remembered_shape_still_reports_a_timestamp_that_disagrees():
    checker = TrailChecker()
    row, history, changes = trail(*DEPLOYED_PATH)
    assert checker.check(row, history, changes) == []
    moved = [*history[:2], H(3, *list(history[2].__dict__.values())[1:4], 99), *history[3:]]
    [found] = checker.check(row, moved, changes)
    assert (found.table, found.entry_id) == ("feature_audit", 3)
    assert "does not match change-log entry #3" in found.problem
