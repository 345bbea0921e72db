"""The feature lifecycle: states, triggers, which role may fire what, and what is editable.

``STATES`` and ``TRIGGERS`` are the one declaration of the workflow. The ``transitions``
machine (``TRANSITIONS``), the 409 details (``source_states``), the roles table
(``PERMISSIONS``), the workflow endpoints and the Mermaid diagram
(``domain.lifecycle_diagram``) are all derived from them; which row columns a trigger stamps
is said by the field table (``domain.feature_fields``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
    DEPRECATED = "DEPRECATED"
    RETIRED = "RETIRED"


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
    DEPRECATE = "deprecate features"
    RETIRE = "retire features"
    COMMENT = "comment on features"
    MANAGE_TOKENS = "manage API tokens"
    MANAGE_WEBHOOKS = "manage webhooks"


@dataclass(frozen=True)
class State:
    """What a feature in this state is: every flag is stated, none is implied by another."""

    served: bool = False  # POST /features answers its values
    editable: bool = False  # update may change its fields
    deletable: bool = False  # delete may be fired from it
    terminal: bool = False  # no trigger leaves it
    transient: bool = False  # exists only inside one request; never stored


STATES: dict[Status, State] = {
    Status.DRAFT: State(editable=True, deletable=True),
    Status.READY_FOR_TESTING: State(editable=True, deletable=True),
    Status.TEST_SUCCEEDED: State(editable=True, deletable=True),
    Status.TEST_FAILED: State(editable=True, deletable=True),
    # Only inside the approve request (approve, then deploy, one transaction).
    Status.APPROVED: State(transient=True),
    Status.REJECTED: State(editable=True, deletable=True),
    # Immutable from here on (not editable); deprecate and retire wind a feature down.
    Status.DEPLOYED: State(served=True),
    Status.DELETED: State(terminal=True),
    # Still served, so that models reading it keep working while they move off it.
    Status.DEPRECATED: State(served=True),
    Status.RETIRED: State(terminal=True),
}


def _states_where(flag: Callable[[State], bool]) -> frozenset[Status]:
    return frozenset(status for status, state in STATES.items() if flag(state))


EDITABLE_STATES = _states_where(lambda s: s.editable)
DELETABLE_STATES = _states_where(lambda s: s.deletable)
SERVED_STATES = _states_where(lambda s: s.served)
TERMINAL_STATES = _states_where(lambda s: s.terminal)
STORED_STATES = _states_where(lambda s: not s.transient)


@dataclass(frozen=True)
class Trigger:
    """One lifecycle trigger. Its name is also the audit trail's ``trigger``.

    ``action`` is what a caller asks for when firing it through its endpoint (None: it is
    only ever fired by the service, as part of another use case). A trigger with several
    destinations goes to the one named by the request field ``dest_field``. ``then`` is
    fired right after, in the same transaction, by the same actor. ``reason`` is the audit
    reason when the service fires it. The row columns it stamps (actor, time, note, and
    values from its request) are the fields whose ``stamped_by`` names it
    (``domain.feature_fields``); ``stamps=False`` for a trigger with no columns of its own.
    """

    name: str
    sources: frozenset[Status]
    dests: tuple[Status, ...]
    roles: frozenset[Role] = frozenset()
    action: Action | None = None
    dest_field: str | None = None
    then: str | None = None
    reason: str | None = None
    stamps: bool = True


_DEVELOPER = frozenset({Role.DEVELOPER})
_APPROVER = frozenset({Role.APPROVER})


class Write(StrEnum):
    """The writes that are not a trigger of the table below. With the triggers a caller
    fires they are what a write can do: the change log's actions (``domain.changes``)."""

    CREATE = "create"
    IMPORT = "import"
    CREATE_VERSION = "create_version"
    UPDATE = "update"
    # A comment on a feature (SPEC §10): a change-log entry and an event, but the feature
    # itself is left as it was (no revision, no status change, no history entry).
    COMMENT = "comment"


# The audit-trail trigger of the row each inserting write adds: there is no prior state for
# a machine to leave, so the row is written with the insert (``db.recording``).
CREATION_TRIGGER = {Write.CREATE: "create", Write.CREATE_VERSION: "create", Write.IMPORT: "import"}
CREATION_TRIGGERS = tuple(dict.fromkeys(CREATION_TRIGGER.values()))
CREATED_STATUS = Status.DRAFT
RESET_REASON = "critical field changed"

TRIGGERS: dict[str, Trigger] = {
    t.name: t
    for t in (
        Trigger(
            "submit",
            frozenset({Status.DRAFT}),
            (Status.READY_FOR_TESTING,),
            _DEVELOPER,
            Action.SUBMIT,
        ),
        Trigger(
            "test",
            frozenset({Status.READY_FOR_TESTING}),
            (Status.TEST_SUCCEEDED, Status.TEST_FAILED),
            frozenset({Role.EXTERNAL_TESTING_SYSTEM}),
            Action.TEST,
            dest_field="test_result",
        ),
        Trigger(
            "approve",
            frozenset({Status.TEST_SUCCEEDED}),
            (Status.APPROVED,),
            _APPROVER,
            Action.APPROVE,
            then="deploy",
        ),
        Trigger("deploy", frozenset({Status.APPROVED}), (Status.DEPLOYED,)),
        Trigger(
            "reject",
            frozenset({Status.TEST_SUCCEEDED}),
            (Status.REJECTED,),
            _APPROVER,
            Action.REJECT,
        ),
        Trigger(
            "fix",
            frozenset({Status.TEST_FAILED, Status.REJECTED}),
            (Status.DRAFT,),
            _DEVELOPER,
            Action.FIX,
        ),
        # Fired by update when a critical field of a feature past DRAFT changes.
        Trigger(
            "reset",
            EDITABLE_STATES - {Status.DRAFT},
            (Status.DRAFT,),
            reason=RESET_REASON,
            stamps=False,
        ),
        Trigger("delete", DELETABLE_STATES, (Status.DELETED,), _DEVELOPER, Action.DELETE),
        Trigger(
            "deprecate",
            frozenset({Status.DEPLOYED}),
            (Status.DEPRECATED,),
            _APPROVER,
            Action.DEPRECATE,
        ),
        Trigger(
            "retire",
            frozenset({Status.DEPRECATED}),
            (Status.RETIRED,),
            _APPROVER,
            Action.RETIRE,
        ),
    )
}

# The roles a request may claim in trust mode: the workflow's own (the seed's three).
WORKFLOW_ROLES = frozenset(Role) - {Role.ADMIN}
# Who may do what: the triggers' roles, plus the actions that are not triggers. Admin reads
# and manages tokens, and fires no trigger (SPEC §7: there is no admin bypass). A comment
# is written into a feature's review record and published as an event, so it is the
# workflow roles' (SPEC §10 "anyone with a role"): admin may read it, not write it.
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.CREATE: _DEVELOPER,
    Action.READ: frozenset(Role),
    Action.UPDATE: _DEVELOPER,
    Action.COMMENT: WORKFLOW_ROLES,
    Action.MANAGE_TOKENS: frozenset({Role.ADMIN}),
    Action.MANAGE_WEBHOOKS: frozenset({Role.ADMIN}),
    **{t.action: t.roles for t in TRIGGERS.values() if t.action is not None},
}

TEST_RESULTS = TRIGGERS["test"].dests


def _goes_to(dest_field: str, dest: Status) -> Callable[[Any], bool]:
    def condition(event: Any) -> bool:
        return bool(event.kwargs.get("fields", {}).get(dest_field) == dest)

    condition.__name__ = f"{dest_field}_is_{dest.lower()}"
    return condition


def _machine_transitions(trigger: Trigger) -> list[dict[str, Any]]:
    sources = sorted(trigger.sources)
    if trigger.dest_field is None:
        return [{"trigger": trigger.name, "source": sources, "dest": trigger.dests[0]}]
    return [
        {
            "trigger": trigger.name,
            "source": sources,
            "dest": dest,
            "conditions": [_goes_to(trigger.dest_field, dest)],
        }
        for dest in trigger.dests
    ]


# The table in the form a ``transitions`` Machine takes.
TRANSITIONS: list[dict[str, Any]] = [
    transition for trigger in TRIGGERS.values() for transition in _machine_transitions(trigger)
]


def source_states(trigger: str) -> list[str]:
    """The states ``trigger`` may be fired from, for error messages and docs."""
    found = TRIGGERS.get(trigger)
    return sorted(found.sources) if found is not None else []


def fired_by_callers() -> list[Trigger]:
    """The triggers a caller fires through an endpoint of its own, in table order."""
    return [t for t in TRIGGERS.values() if t.action is not None]
