"""The checks of one feature's audit trail (SPEC §11), as ``feature-gateway audit verify``
runs them: its history and its change log, each a continuous chain from its creation to
its row made only of what the lifecycle allows, and the two telling the same story (each
write's change-log entry stands for the history entries that write fired).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Protocol

from feature_gateway.domain.audit_chain import (
    APPROVED_STATE,
    CHANGE_LOG,
    COMMENT_ACTION,
    COMMENTS,
    CREATION_ACTIONS,
    DEPLOYED_STATE,
    HISTORY,
    ONCE_DEPLOYED_STATES,
    ROW,
    UNCHANGING_ACTIONS,
    Break,
    ChangeRecord,
    CommentRecord,
    FeatureRecord,
    HistoryRecord,
    allowed_transition,
    triggers_of_change,
)
from feature_gateway.domain.lifecycle import CREATED_STATUS, CREATION_TRIGGERS, STORED_STATES


def check_feature(
    feature: FeatureRecord,
    history: Sequence[HistoryRecord],
    changes: Sequence[ChangeRecord],
) -> list[Break]:
    """Every break in one feature's history and change log, checked against its row."""
    return _check(feature, history, changes)[0]


# (history entry, change-log entry) index pairs that must carry the same timestamp.
_Pairs = tuple[tuple[int, int], ...]


def _check(
    feature: FeatureRecord, history: Sequence[HistoryRecord], changes: Sequence[ChangeRecord]
) -> tuple[list[Break], _Pairs]:
    found: list[Break] = []

    def report(table: str, entry_id: int | None, problem: str) -> None:
        found.append(Break(feature.id, feature.feature_name, table, entry_id, problem))

    _check_row(feature, report)
    _check_history(feature, history, report)
    _check_deployment(feature, history, report)
    _check_changes(feature, changes, report)
    if found:  # the two agree only if each is whole; else the cross-check adds noise
        return found, ()
    return found, _check_agreement(history, changes, report)


_HISTORY_SHAPE = operator.attrgetter("from_status", "trigger", "to_status")
_CHANGE_SHAPE = operator.attrgetter("revision", "action", "previous_status", "new_status")


class TrailChecker:
    """``check_feature`` for a whole catalog, remembering the trail shapes found whole.

    Whether a trail is whole depends on its entries' statuses, triggers, actions and
    revisions (its shape) and on the timestamps of the entries one write made. Most
    features share a few shapes (the workflow's paths), so a shape seen whole before only
    needs its timestamps compared; anything else gets the full check.
    """

    MAX_SHAPES = 10_000

    def __init__(self) -> None:
        self._whole: dict[tuple[object, ...], _Pairs] = {}

    def check(
        self,
        feature: FeatureRecord,
        history: Sequence[HistoryRecord],
        changes: Sequence[ChangeRecord],
    ) -> list[Break]:
        shape = (
            feature.status,
            feature.revision,
            tuple(map(_HISTORY_SHAPE, history)),
            tuple(map(_CHANGE_SHAPE, changes)),
        )
        pairs = self._whole.get(shape)
        if pairs is not None:
            times = [entry.timestamp for entry in history]
            if all(times[h] == changes[c].timestamp for h, c in pairs):
                return []
        found, pairs = _check(feature, history, changes)
        if not found and len(self._whole) < self.MAX_SHAPES:
            self._whole[shape] = pairs
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
    if first.trigger not in CREATION_TRIGGERS:
        report(
            HISTORY,
            first.id,
            f"history starts with {first.trigger} from {first.from_status}, "
            "not with create or import",
        )
    previous: HistoryRecord | None = None
    for entry in history:
        if previous is not None and entry.trigger in CREATION_TRIGGERS:
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
            unchanging = entry.action in UNCHANGING_ACTIONS
            if unchanging and entry.revision != previous.revision:
                report(
                    CHANGE_LOG,
                    entry.id,
                    f"a {entry.action} at revision {entry.revision}, but the entry before "
                    f"(#{previous.id}) left the feature at revision {previous.revision}",
                )
            elif not unchanging and entry.revision != previous.revision + 1:
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


def check_comments(
    feature: FeatureRecord, changes: Sequence[ChangeRecord], comments: Sequence[CommentRecord]
) -> list[Break]:
    """Each comment row belongs to one comment entry of its feature's change log (its
    event), and each comment entry has its row."""
    found: list[Break] = []
    events = {entry.id for entry in changes if entry.action == COMMENT_ACTION}
    for comment in comments:
        if comment.change_id not in events:
            found.append(
                Break(feature.id, feature.feature_name, COMMENTS, comment.id,
                      f"its event, change-log entry #{comment.change_id}, is not a comment "
                      "entry of this feature")
            )  # fmt: skip
    for missing in sorted(events - {comment.change_id for comment in comments}):
        found.append(
            Break(feature.id, feature.feature_name, CHANGE_LOG, missing,
                  "a comment entry without its comment")
        )  # fmt: skip
    return found


def _check_agreement(
    history: Sequence[HistoryRecord], changes: Sequence[ChangeRecord], report: _Report
) -> _Pairs:
    """Each write's history entries, in order: the ones its change-log entry implies, at
    the same time; no history entry left over, none missing. Returns which entries pair."""
    pairs: list[tuple[int, int]] = []
    for c, change in enumerate(changes):
        fired = triggers_of_change(change.action, change.previous_status, change.new_status)
        for trigger in fired or ():
            h = len(pairs)
            if h == len(history):
                report(
                    CHANGE_LOG,
                    change.id,
                    f"{change.action} fired {trigger}, but the history has no entry for it",
                )
                return ()
            entry = history[h]
            if entry.trigger != trigger or entry.timestamp != change.timestamp:
                report(
                    HISTORY,
                    entry.id,
                    f"{entry.trigger} at {entry.timestamp} does not match change-log entry "
                    f"#{change.id} ({change.action} at {change.timestamp}, which fires "
                    f"{trigger})",
                )
                return ()
            pairs.append((h, c))
    if len(pairs) < len(history):
        left_over = history[len(pairs)]
        report(
            HISTORY,
            left_over.id,
            f"{left_over.trigger} has no change-log entry for the write that fired it",
        )
        return ()
    return tuple(pairs)
