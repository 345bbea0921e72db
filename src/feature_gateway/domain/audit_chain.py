"""What a whole audit trail is (SPEC §11): the rules ``feature-gateway audit verify`` checks.

A feature's history (its status changes, one entry per transition fired) and its change log
(one entry per successful write) must each be a continuous chain from the feature's
creation to its row, made only of what the lifecycle table (``domain.lifecycle``) allows,
and the two must tell the same story: each write's change-log entry stands for the history
entries that write fired. Every rule is derived from the lifecycle table and the change-log
actions; nothing here reads a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from feature_gateway.domain.changes import ChangeAction
from feature_gateway.domain.lifecycle import (
    CREATED_STATUS,
    STORED_STATES,
    TRIGGERS,
    Status,
)

HISTORY = "feature_audit"
CHANGE_LOG = "feature_changes"
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


# The history triggers written when a row is inserted, by the change-log action that did it.
CREATION_TRIGGER = {
    ChangeAction.CREATE: "create",
    ChangeAction.CREATE_VERSION: "create",
    ChangeAction.IMPORT: "import",
}
CREATION_ACTIONS = frozenset(CREATION_TRIGGER)
# An update that changes a critical field of a feature past DRAFT fires this trigger.
UPDATE_TRIGGER = "reset"


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


def triggers_of_change(action: str, previous: str | None, new: str) -> tuple[str, ...] | None:
    """The history triggers the write logged as ``action`` fired, in order (None: no write
    logged as ``action`` can change the status that way)."""
    if action in CREATION_TRIGGER:
        trigger = CREATION_TRIGGER[ChangeAction(action)]
        return (trigger,) if allowed_transition(None, trigger, new) else None
    if action == ChangeAction.UPDATE:
        if previous == new:
            return ()
        return (UPDATE_TRIGGER,) if allowed_transition(previous, UPDATE_TRIGGER, new) else None
    if action not in TRIGGERS or TRIGGERS[action].action is None:
        return None
    fired = _chain(action)
    if previous not in TRIGGERS[action].sources or new not in TRIGGERS[fired[-1]].dests:
        return None
    return fired


def check_feature(
    feature: FeatureRecord,
    history: Sequence[HistoryRecord],
    changes: Sequence[ChangeRecord],
) -> list[Break]:
    """Every break in one feature's history and change log, checked against its row."""
    found: list[Break] = []

    def report(table: str, entry_id: int | None, problem: str) -> None:
        found.append(Break(feature.id, feature.feature_name, table, entry_id, problem))

    _check_row(feature, report)
    _check_history(feature, history, report)
    _check_deployment(feature, history, report)
    _check_changes(feature, changes, report)
    if not found:  # the two agree only if each is whole; else the cross-check adds noise
        _check_agreement(history, changes, report)
    return found


class _Report(Protocol):
    def __call__(self, table: str, entry_id: int | None, problem: str) -> None: ...


def _check_row(feature: FeatureRecord, report: _Report) -> None:
    if feature.status not in STORED_STATES:
        report(ROW, None, f"status {feature.status} is not a state a feature is stored in")


def _check_history(
    feature: FeatureRecord, history: Sequence[HistoryRecord], report: _Report
) -> None:
    if not history:
        report(HISTORY, None, "no history entries: not even its create or import")
        return
    first = history[0]
    if first.trigger not in ("create", "import"):
        report(
            HISTORY,
            first.id,
            f"history starts with {first.trigger} from {first.from_status}, "
            "not with create or import",
        )
    previous: HistoryRecord | None = None
    for entry in history:
        if previous is not None and entry.trigger in ("create", "import"):
            report(HISTORY, entry.id, f"a second creation entry ({entry.trigger})")
        elif previous is not None and entry.from_status != previous.to_status:
            report(
                HISTORY,
                entry.id,
                f"gap in the chain: {entry.trigger} from {entry.from_status}, but the "
                f"entry before (#{previous.id}) left the feature {previous.to_status}",
            )
        if not allowed_transition(entry.from_status, entry.trigger, entry.to_status):
            report(
                HISTORY,
                entry.id,
                f"{entry.trigger} from {entry.from_status} to {entry.to_status} is not a "
                "transition of the lifecycle",
            )
        previous = entry
    last = history[-1]
    if last.to_status != feature.status:
        report(
            HISTORY,
            last.id,
            f"the history ends at {last.to_status} but the row's status is {feature.status}",
        )


def _check_deployment(
    feature: FeatureRecord, history: Sequence[HistoryRecord], report: _Report
) -> None:
    """Exactly one APPROVED and one DEPLOYED entry per feature that was deployed, unless it
    was imported already deployed (then the import is its DEPLOYED entry) or past that."""
    if not history:
        return
    origin = history[0].to_status if history[0].trigger == "import" else CREATED_STATUS
    deployed_here = feature.status in ONCE_DEPLOYED_STATES and origin not in ONCE_DEPLOYED_STATES
    expected = {
        APPROVED_STATE: 1 if deployed_here else 0,
        DEPLOYED_STATE: 1 if deployed_here or origin == DEPLOYED_STATE else 0,
    }
    for state, wanted in expected.items():
        entries = [entry for entry in history if entry.to_status == state]
        if len(entries) != wanted:
            report(
                HISTORY,
                entries[wanted].id if len(entries) > wanted else None,
                f"{len(entries)} entries to {state} for a feature that is {feature.status}"
                f" (expected {wanted})",
            )


def _check_changes(
    feature: FeatureRecord, changes: Sequence[ChangeRecord], report: _Report
) -> None:
    if not changes:
        report(CHANGE_LOG, None, "no change-log entries: not even its create or import")
        return
    first = changes[0]
    if first.action not in CREATION_ACTIONS or first.previous_status is not None:
        report(CHANGE_LOG, first.id, f"the change log starts with {first.action}, not a creation")
    if first.revision != 1:
        report(CHANGE_LOG, first.id, f"the change log starts at revision {first.revision}")
    previous: ChangeRecord | None = None
    for entry in changes:
        if previous is not None:
            if entry.action in CREATION_ACTIONS:
                report(CHANGE_LOG, entry.id, f"a second creation entry ({entry.action})")
            if entry.revision != previous.revision + 1:
                report(
                    CHANGE_LOG,
                    entry.id,
                    f"revision {entry.revision} follows revision {previous.revision}",
                )
            if entry.previous_status != previous.new_status:
                report(
                    CHANGE_LOG,
                    entry.id,
                    f"{entry.action} from {entry.previous_status}, but the entry before "
                    f"(#{previous.id}) left the feature {previous.new_status}",
                )
        if triggers_of_change(entry.action, entry.previous_status, entry.new_status) is None:
            report(
                CHANGE_LOG,
                entry.id,
                f"{entry.action} cannot take a feature from {entry.previous_status} to "
                f"{entry.new_status}",
            )
        previous = entry
    last = changes[-1]
    if (last.revision, last.new_status) != (feature.revision, feature.status):
        report(
            CHANGE_LOG,
            last.id,
            f"the change log ends at revision {last.revision}, {last.new_status}, but the "
            f"row is at revision {feature.revision}, {feature.status}",
        )


def _check_agreement(
    history: Sequence[HistoryRecord], changes: Sequence[ChangeRecord], report: _Report
) -> None:
    """Each write's history entries, in order: the ones its change-log entry implies, at
    the same time; no history entry left over, none missing."""
    entries = iter(history)
    for change in changes:
        for trigger in (
            triggers_of_change(change.action, change.previous_status, change.new_status) or ()
        ):
            entry = next(entries, None)
            if entry is None:
                report(
                    CHANGE_LOG,
                    change.id,
                    f"{change.action} fired {trigger}, but the history has no entry for it",
                )
                return
            if entry.trigger != trigger or entry.timestamp != change.timestamp:
                report(
                    HISTORY,
                    entry.id,
                    f"{entry.trigger} at {entry.timestamp} does not match change-log entry "
                    f"#{change.id} ({change.action} at {change.timestamp}, which fires "
                    f"{trigger})",
                )
                return
    left_over = next(entries, None)
    if left_over is not None:
        report(
            HISTORY,
            left_over.id,
            f"{left_over.trigger} has no change-log entry for the write that fired it",
        )
