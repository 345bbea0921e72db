"""Workflow use cases: each fires lifecycle triggers on one feature in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from transitions import Machine, MachineError

from feature_gateway.db.models import Feature
from feature_gateway.db.unit_of_work import Database, UnitOfWork
from feature_gateway.domain.lifecycle import (
    TRANSITIONS,
    TRIGGER_STAMPS,
    Status,
    source_states,
)
from feature_gateway.errors import InvalidTransitionError, ValidationError
from feature_gateway.services.clock import now_ms
from feature_gateway.services.common import commit, load_feature, record_status_change


@dataclass(frozen=True)
class TransitionResult:
    feature: Feature
    previous_status: str
    new_status: str


class FeatureLifecycle:
    """A ``transitions`` machine bound to one loaded row, for one operation.

    Every state change goes through ``_on_state_change``, which appends the audit row to
    the same unit of work, so no transition can happen without its audit entry.
    """

    def __init__(self, uow: UnitOfWork, feature: Feature, role: str | None, now: int) -> None:
        self.uow, self.feature, self.role, self.now = uow, feature, role, now
        self.machine = Machine(
            model=feature,
            states=list(Status),
            transitions=TRANSITIONS,
            initial=Status(feature.status),  # without it the row would silently reset
            model_attribute="status",
            auto_transitions=False,  # to_<state>() helpers would bypass the workflow
            send_event=True,
            after_state_change=[self._on_state_change],
        )

    def fire(
        self,
        trigger: str,
        *,
        actor: str,
        reason: str | None = None,
        test_result: str | None = None,
    ) -> None:
        """Fire ``trigger`` (409 if the current state does not allow it) and stamp the row."""
        try:
            self.machine.events[trigger].trigger(
                self.feature, actor=actor, reason=reason, test_result=test_result
            )
        except MachineError as exc:
            raise InvalidTransitionError(
                self.feature.feature_name,
                trigger,
                str(self.feature.status),
                source_states(trigger),
            ) from exc
        feature = self.feature
        feature.status, feature.updated_time = str(feature.status), self.now
        if trigger in TRIGGER_STAMPS:
            actor_field, time_field, note_field = TRIGGER_STAMPS[trigger]
            setattr(feature, actor_field, actor)
            setattr(feature, time_field, self.now)
            if note_field is not None:
                setattr(feature, note_field, reason)
        if test_result is not None:
            feature.test_result = test_result

    def _on_state_change(self, event: Any) -> None:
        record_status_change(
            self.uow,
            self.feature,
            from_status=event.transition.source,
            trigger=event.event.name,
            actor=event.kwargs["actor"],
            actor_role=self.role,
            reason=event.kwargs.get("reason"),
            timestamp=self.now,
        )


def _transition(
    database: Database,
    feature_name: str,
    role: str,
    *steps: tuple[str, str, str | None],
    test_result: str | None = None,
    expected_revisions: Collection[int] | None = None,
    prepare: Callable[[UnitOfWork, Feature], None] | None = None,
) -> TransitionResult:
    """Fire each (trigger, actor, note) step on one feature, in one transaction;
    ``prepare`` checks and sets what else the request carries, in the same transaction."""
    with database.writing() as uow:
        feature = load_feature(uow, feature_name, expected_revisions)
        if prepare is not None:
            prepare(uow, feature)
        previous = str(feature.status)
        now = now_ms()
        lifecycle = FeatureLifecycle(uow, feature, role, now)
        # One change-log entry for the request, named after the trigger the caller fired.
        first_trigger, first_actor, _ = steps[0]
        uow.changes.track(
            feature, first_trigger, actor=first_actor, actor_role=role, timestamp=now
        )
        for trigger, actor, note in steps:
            lifecycle.fire(trigger, actor=actor, reason=note, test_result=test_result)
        commit(uow)
        return TransitionResult(feature, previous, str(feature.status))


def submit_feature(
    database: Database,
    feature_name: str,
    *,
    submitted_by: str,
    role: str,
    expected_revisions: Collection[int] | None = None,
) -> TransitionResult:
    return _transition(
        database,
        feature_name,
        role,
        ("submit", submitted_by, None),
        expected_revisions=expected_revisions,
    )


def record_test_result(
    database: Database,
    feature_name: str,
    *,
    test_result: str,
    tested_by: str,
    role: str,
    test_notes: str | None = None,
    expected_revisions: Collection[int] | None = None,
) -> TransitionResult:
    return _transition(
        database,
        feature_name,
        role,
        ("test", tested_by, test_notes),
        test_result=test_result,
        expected_revisions=expected_revisions,
    )


def approve_feature(
    database: Database,
    feature_name: str,
    *,
    approved_by: str,
    role: str,
    approval_notes: str | None = None,
    expected_revisions: Collection[int] | None = None,
) -> TransitionResult:
    """Approve and deploy in one transaction: APPROVED is transient, DEPLOYED is final."""
    return _transition(
        database,
        feature_name,
        role,
        ("approve", approved_by, approval_notes),
        ("deploy", approved_by, None),
        expected_revisions=expected_revisions,
    )


def reject_feature(
    database: Database,
    feature_name: str,
    *,
    rejected_by: str,
    role: str,
    rejection_reason: str,
    expected_revisions: Collection[int] | None = None,
) -> TransitionResult:
    return _transition(
        database,
        feature_name,
        role,
        ("reject", rejected_by, rejection_reason),
        expected_revisions=expected_revisions,
    )


def fix_feature(
    database: Database,
    feature_name: str,
    *,
    fixed_by: str,
    role: str,
    fix_description: str,
    expected_revisions: Collection[int] | None = None,
) -> TransitionResult:
    return _transition(
        database,
        feature_name,
        role,
        ("fix", fixed_by, fix_description),
        expected_revisions=expected_revisions,
    )


def delete_feature(
    database: Database,
    feature_name: str,
    *,
    deleted_by: str,
    role: str,
    deletion_reason: str,
    expected_revisions: Collection[int] | None = None,
) -> TransitionResult:
    """Soft delete: the row stays, marked DELETED, and its name can never be reused."""
    return _transition(
        database,
        feature_name,
        role,
        ("delete", deleted_by, deletion_reason),
        expected_revisions=expected_revisions,
    )


def deprecate_feature(
    database: Database,
    feature_name: str,
    *,
    deprecated_by: str,
    role: str,
    deprecation_reason: str,
    replaced_by: str | None = None,
    expected_revisions: Collection[int] | None = None,
) -> TransitionResult:
    """DEPLOYED → DEPRECATED: still served, and listed as deprecated, until retired."""

    def name_the_replacement(uow: UnitOfWork, feature: Feature) -> None:
        if replaced_by is None:
            return
        replacement = uow.features.get(replaced_by)
        if replacement is None or replacement.id == feature.id:
            problem = "does not exist" if replacement is None else "is this feature itself"
            raise ValidationError.for_field(
                "replaced_by", f"Feature '{replaced_by}' {problem}: name an existing feature."
            )
        feature.replaced_by = replacement.feature_name

    return _transition(
        database,
        feature_name,
        role,
        ("deprecate", deprecated_by, deprecation_reason),
        expected_revisions=expected_revisions,
        prepare=name_the_replacement,
    )


def retire_feature(
    database: Database,
    feature_name: str,
    *,
    retired_by: str,
    role: str,
    retirement_reason: str | None = None,
    expected_revisions: Collection[int] | None = None,
) -> TransitionResult:
    """DEPRECATED → RETIRED: no longer served; the name is never used again."""
    return _transition(
        database,
        feature_name,
        role,
        ("retire", retired_by, retirement_reason),
        expected_revisions=expected_revisions,
    )
