"""What a whole audit trail is made of (SPEC §11): the records, the breaks, and the rules
derived from the lifecycle table; ``domain.audit_checks`` applies them to each feature.

A feature's history (its status changes, one entry per transition fired) and its change log
(one entry per successful write) must each be a continuous chain from the feature's
creation to its row, made only of what the lifecycle table (``domain.lifecycle``) allows,
and the two must tell the same story: each write's change-log entry stands for the history
entries that write fired. Every rule is derived from the lifecycle table and the change-log
actions; nothing here reads a database.

A comment (SPEC §10) is not a status change: it fires no history entry, and its change-log
entry records the feature as it was (the revision and status of the entry before it, no
field changed). Each comment row must belong to one comment entry of its feature, and each
comment entry have its row.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Protocol

from feature_gateway.domain.lifecycle import (
    CREATED_STATUS,
    CREATION_TRIGGER,
    STORED_STATES,
    TRIGGERS,
    Status,
    Write,
)

HISTORY = "feature_audit"
CHANGE_LOG = "feature_changes"
COMMENTS = "feature_comments"
ROW = "features"


class FeatureRecord(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def feature_name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def revision(self) -> int: ...


class HistoryRecord(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def from_status(self) -> str | None: ...
    @property
    def to_status(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def timestamp(self) -> int: ...


class ChangeRecord(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def revision(self) -> int: ...
    @property
    def action(self) -> str: ...
    @property
    def previous_status(self) -> str | None: ...
    @property
    def new_status(self) -> str: ...
    @property
    def timestamp(self) -> int: ...


class CommentRecord(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def change_id(self) -> int: ...


@dataclass(frozen=True)
class Break:
    """One thing wrong with one feature's trail: where (table and entry id), and what."""

    feature_id: int
    feature_name: str | None
    table: str
    entry_id: int | None
    problem: str

    def as_dict(self) -> dict[str, object]:
        return {
            "feature_id": self.feature_id,
            "feature": self.feature_name,
            "table": self.table,
            "entry_id": self.entry_id,
            "problem": self.problem,
        }


# The change-log actions that insert a row (each writes its history trigger with it).
CREATION_ACTIONS = frozenset(CREATION_TRIGGER)
# An update that changes a critical field of a feature past DRAFT fires this trigger.
UPDATE_TRIGGER = "reset"
# The change-log actions that record the feature as it is: the row is not written, so the
# entry keeps the revision and status of the one before it.
COMMENT_ACTION = Write.COMMENT
UNCHANGING_ACTIONS = frozenset({COMMENT_ACTION})


def _chain(trigger: str) -> tuple[str, ...]:
    """``trigger`` and the triggers fired right after it (approve, then deploy)."""
    fired = [trigger]
    while (follower := TRIGGERS[fired[-1]].then) is not None:
        fired.append(follower)
    return tuple(fired)


def _reachable_from(start: Status) -> frozenset[Status]:
    seen, frontier = {start}, [start]
    while frontier:
        state = frontier.pop()
        for trigger in TRIGGERS.values():
            if state in trigger.sources:
                for dest in set(trigger.dests) - seen:
                    seen.add(dest)
                    frontier.append(dest)
    return frozenset(seen)


# The one state a deployed feature went through by approval, and the states at or past it.
APPROVED_STATE = Status.APPROVED
DEPLOYED_STATE = TRIGGERS[_chain("approve")[-1]].dests[0]
ONCE_DEPLOYED_STATES = _reachable_from(DEPLOYED_STATE)


@functools.cache
def allowed_transition(from_status: str | None, trigger: str, to_status: str) -> bool:
    """Whether the lifecycle table lets ``trigger`` take a feature from one state to the
    other; creations come from no state: create to DRAFT, import to any stored state."""
    if trigger == "create":
        return from_status is None and to_status == CREATED_STATUS
    if trigger == "import":
        return from_status is None and to_status in STORED_STATES
    found = TRIGGERS.get(trigger)
    return (
        found is not None
        and from_status in found.sources
        and to_status in found.dests
        and from_status is not None
    )


@functools.cache
def triggers_of_change(action: str, previous: str | None, new: str) -> tuple[str, ...] | None:
    """The history triggers the write logged as ``action`` fired, in order (None: no write
    logged as ``action`` can change the status that way)."""
    if action in CREATION_TRIGGER:
        trigger = CREATION_TRIGGER[Write(action)]
        return (trigger,) if allowed_transition(None, trigger, new) else None
    if action in UNCHANGING_ACTIONS:
        return () if previous == new else None
    if action == Write.UPDATE:
        if previous == new:
            return ()
        return (UPDATE_TRIGGER,) if allowed_transition(previous, UPDATE_TRIGGER, new) else None
    if action not in TRIGGERS or TRIGGERS[action].action is None:
        return None
    fired = _chain(action)
    if previous not in TRIGGERS[action].sources or new not in TRIGGERS[fired[-1]].dests:
        return None
    return fired
