"""The feature lifecycle: states, triggers, which role may fire what, and what is editable.

These tables are the source of truth; the workflow service feeds them to a
``transitions`` state machine, and the API documents them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Status(StrEnum):
    DRAFT = "DRAFT"
    READY_FOR_TESTING = "READY_FOR_TESTING"
    TEST_SUCCEEDED = "TEST_SUCCEEDED"
    TEST_FAILED = "TEST_FAILED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    DEPLOYED = "DEPLOYED"
    DELETED = "DELETED"


class FeatureType(StrEnum):
    BATCH = "batch"
    REAL_TIME = "real-time"
    COMPUTE_FIRST = "compute-first"


class DataType(StrEnum):
    STRING = "string"
    FLOAT = "float"
    DOUBLE = "double"
    DECIMAL = "decimal"
    INTEGER = "integer"
    INT = "int"
    BIGINT = "bigint"
    BOOLEAN = "boolean"


class Role(StrEnum):
    DEVELOPER = "developer"
    APPROVER = "approver"
    EXTERNAL_TESTING_SYSTEM = "external_testing_system"
    # Only an API token can carry it (SPEC §7): it manages tokens and reads, and may fire
    # no workflow trigger. In trust mode nobody can claim it.
    ADMIN = "admin"


class Action(StrEnum):
    """Everything a caller can ask for; each maps to the roles allowed to do it."""

    CREATE = "create features"
    READ = "read features"
    UPDATE = "update features"
    DELETE = "delete features"
    SUBMIT = "submit features for testing"
    TEST = "record test results"
    APPROVE = "approve features"
    REJECT = "reject features"
    FIX = "fix features"
    MANAGE_TOKENS = "manage API tokens"


ALL_ROLES = frozenset(Role)
# The roles a request may claim in trust mode: the workflow's own (the seed's three).
WORKFLOW_ROLES = ALL_ROLES - {Role.ADMIN}
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.CREATE: frozenset({Role.DEVELOPER}),
    Action.READ: ALL_ROLES,
    Action.UPDATE: frozenset({Role.DEVELOPER}),
    Action.DELETE: frozenset({Role.DEVELOPER}),
    Action.SUBMIT: frozenset({Role.DEVELOPER}),
    Action.TEST: frozenset({Role.EXTERNAL_TESTING_SYSTEM}),
    Action.APPROVE: frozenset({Role.APPROVER}),
    Action.REJECT: frozenset({Role.APPROVER}),
    Action.FIX: frozenset({Role.DEVELOPER}),
    Action.MANAGE_TOKENS: frozenset({Role.ADMIN}),
}

TERMINAL_STATES = frozenset({Status.DEPLOYED, Status.DELETED})
# APPROVED exists only inside the approve request (approve, then deploy, one transaction):
# no stored feature is ever in it, so no other trigger starts from it.
TRANSIENT_STATES = frozenset({Status.APPROVED})
EDITABLE_STATES = frozenset(Status) - TERMINAL_STATES - TRANSIENT_STATES
# Changing one of these invalidates any test result or approval given to the old value.
CRITICAL_FIELDS = ("query", "feature_type", "feature_data_type")
UPDATABLE_FIELDS = ("description", *CRITICAL_FIELDS)

TEST_RESULTS = (Status.TEST_SUCCEEDED, Status.TEST_FAILED)
RESET_REASON = "critical field changed"


def _test_passed(event: Any) -> bool:
    return bool(event.kwargs.get("test_result") == Status.TEST_SUCCEEDED)


# Trigger names double as audit-trail trigger names; "create" and "import" are written by
# the services that insert rows, since there is no prior state for a machine to leave.
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "submit", "source": Status.DRAFT, "dest": Status.READY_FOR_TESTING},
    {
        "trigger": "test",
        "source": Status.READY_FOR_TESTING,
        "dest": Status.TEST_SUCCEEDED,
        "conditions": [_test_passed],
    },
    {
        "trigger": "test",
        "source": Status.READY_FOR_TESTING,
        "dest": Status.TEST_FAILED,
        "unless": [_test_passed],
    },
    {"trigger": "approve", "source": Status.TEST_SUCCEEDED, "dest": Status.APPROVED},
    {"trigger": "deploy", "source": Status.APPROVED, "dest": Status.DEPLOYED},
    {"trigger": "reject", "source": Status.TEST_SUCCEEDED, "dest": Status.REJECTED},
    {"trigger": "fix", "source": [Status.TEST_FAILED, Status.REJECTED], "dest": Status.DRAFT},
    {
        "trigger": "reset",
        "source": sorted(EDITABLE_STATES - {Status.DRAFT}),
        "dest": Status.DRAFT,
    },
    {"trigger": "delete", "source": sorted(EDITABLE_STATES), "dest": Status.DELETED},
]


# Which row columns keep the latest actor, time and note of each trigger (SPEC §2).
# "reset" and "create" are stamped by the update and create use cases themselves.
TRIGGER_STAMPS: dict[str, tuple[str, str, str | None]] = {
    "submit": ("submitted_by", "submitted_time", None),
    "test": ("tested_by", "tested_time", "test_notes"),
    "approve": ("approved_by", "approved_time", "approval_notes"),
    "deploy": ("deployed_by", "deployed_time", None),
    "reject": ("rejected_by", "rejected_time", "rejection_reason"),
    "fix": ("fixed_by", "fixed_time", "fix_description"),
    "delete": ("deleted_by", "deleted_time", "deletion_reason"),
}


def source_states(trigger: str) -> list[str]:
    """The states ``trigger`` may be fired from, for error messages and docs."""
    found: set[str] = set()
    for transition in TRANSITIONS:
        if transition["trigger"] == trigger:
            source = transition["source"]
            found.update(source if isinstance(source, list) else [source])
    return sorted(found)
