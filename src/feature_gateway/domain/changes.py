"""The change log and the diff: what changed in a feature, field by field (SPEC §8).

Both compare two snapshots of a feature (field name → value). A change-log entry holds
every field of the feature's metadata whose value changed, except the two that change on
every write anyway; a diff compares the definition of two versions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from feature_gateway.domain.feature_fields import EDITABLE_FIELDS
from feature_gateway.domain.lifecycle import Trigger, Write, fired_by_callers

# These change on every write; listing them in every entry would say nothing.
NOT_LOGGED_FIELDS = frozenset({"updated_time", "revision"})
# What a version is made of: what its author may edit, its definition and ownership. Two
# versions are compared on these, and a new version copies them from its source.
VERSIONED_FIELDS = EDITABLE_FIELDS

FieldChanges = dict[str, dict[str, Any]]


def change_actions(fired_by_callers: Iterable[Trigger]) -> dict[str, str]:
    """What a successful write can do, member name to value: the writes that are no trigger
    (create, import, create_version, update), then each trigger a caller fires, in the
    lifecycle table's order. The triggers only ever fired by the service (deploy, reset)
    are part of the write that fired them, logged under its action."""
    writes = {write.name: write.value for write in Write}
    return writes | {trigger.name.upper(): trigger.name for trigger in fired_by_callers}


# What a successful write did; one change-log entry each, and one event type each.
ChangeAction = StrEnum("ChangeAction", change_actions(fired_by_callers()))  # type: ignore[misc]


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]
) -> FieldChanges:
    """``{field: {"from": old, "to": new}}`` for each of ``fields`` whose value differs.

    A field missing from ``before`` was null: for a new feature, pass ``{}`` and every
    field that is set appears with ``from`` null.
    """
    changes: FieldChanges = {}
    for field in fields:
        if field in NOT_LOGGED_FIELDS:
            continue
        old, new = before.get(field), after.get(field)
        if old != new:
            changes[field] = {"from": old, "to": new}
    return changes


@dataclass(frozen=True)
class LaterChange:
    """A change-log entry to undo: the revision it made and its field changes."""

    revision: int
    fields: FieldChanges


def as_it_was(
    current: Mapping[str, Any], later: Sequence[LaterChange], updated_time: int | None
) -> dict[str, Any] | None:
    """The feature before the ``later`` changes (newest first): each changed field back to
    its ``from`` value, the revision before the oldest of them, and ``updated_time`` the
    time of that revision. None when the oldest undone is the creation: it did not exist."""
    state = dict(current)
    for change in later:
        for field, values in change.fields.items():
            state[field] = values["from"]
    if later:
        state["revision"] = later[-1].revision - 1
        state["updated_time"] = updated_time
    return state if state["revision"] >= 1 else None


def definition_diff(against: Mapping[str, Any], this: Mapping[str, Any]) -> FieldChanges:
    """The definition fields that differ, ``from`` the compared-against version ``to`` this."""
    return changed_fields(against, this, VERSIONED_FIELDS)


def unified_query_diff(
    against_query: str, this_query: str, *, against_name: str, this_name: str
) -> str:
    """A unified diff of the two queries (empty when they are equal), as ``diff -u`` prints."""
    lines = difflib.unified_diff(
        against_query.splitlines(),
        this_query.splitlines(),
        fromfile=against_name,
        tofile=this_name,
        lineterm="",
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""
