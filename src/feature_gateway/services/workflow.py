"""Workflow use cases: each fires lifecycle triggers on one feature in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transitions import Machine, MachineError

from feature_gateway.db.models import Feature
from feature_gateway.db.unit_of_work import Database, UnitOfWork
from feature_gateway.domain.lifecycle import TRANSITIONS, Status, source_states
from feature_gateway.errors import InvalidTransitionError
from feature_gateway.services.clock import now_ms
from feature_gateway.services.common import load_feature, record_status_change


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

    def fire(self, trigger: str, *, actor: str, reason: str | None = None, **extra: Any) -> None:
        try:
            self.machine.events[trigger].trigger(self.feature, actor=actor, reason=reason, **extra)
        except MachineError as exc:
            raise InvalidTransitionError(
                self.feature.feature_name,
                trigger,
                str(self.feature.status),
                source_states(trigger),
            ) from exc
        self.feature.status = str(self.feature.status)
        self.feature.updated_time = self.now

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
    change: Callable[[FeatureLifecycle, Feature, int], None],
) -> TransitionResult:
    with database.writing() as uow:
        feature = load_feature(uow, feature_name)
        previous = str(feature.status)
        now = now_ms()
        change(FeatureLifecycle(uow, feature, role, now), feature, now)
        uow.commit()
        return TransitionResult(feature, previous, str(feature.status))


def submit_feature(
    database: Database, feature_name: str, *, submitted_by: str, role: str
) -> TransitionResult:
    def change(lifecycle: FeatureLifecycle, feature: Feature, now: int) -> None:
        lifecycle.fire("submit", actor=submitted_by)
        feature.submitted_by, feature.submitted_time = submitted_by, now

    return _transition(database, feature_name, role, change)


def record_test_result(
    database: Database,
    feature_name: str,
    *,
    test_result: str,
    tested_by: str,
    role: str,
    test_notes: str | None = None,
) -> TransitionResult:
    def change(lifecycle: FeatureLifecycle, feature: Feature, now: int) -> None:
        lifecycle.fire("test", actor=tested_by, reason=test_notes, test_result=test_result)
        feature.tested_by, feature.tested_time = tested_by, now
        feature.test_result, feature.test_notes = test_result, test_notes

    return _transition(database, feature_name, role, change)


def approve_feature(
    database: Database,
    feature_name: str,
    *,
    approved_by: str,
    role: str,
    approval_notes: str | None = None,
) -> TransitionResult:
    """Approve and deploy in one transaction: APPROVED is transient, DEPLOYED is final."""

    def change(lifecycle: FeatureLifecycle, feature: Feature, now: int) -> None:
        lifecycle.fire("approve", actor=approved_by, reason=approval_notes)
        feature.approved_by, feature.approved_time = approved_by, now
        feature.approval_notes = approval_notes
        lifecycle.fire("deploy", actor=approved_by)
        feature.deployed_by, feature.deployed_time = approved_by, now

    return _transition(database, feature_name, role, change)


def reject_feature(
    database: Database, feature_name: str, *, rejected_by: str, role: str, rejection_reason: str
) -> TransitionResult:
    def change(lifecycle: FeatureLifecycle, feature: Feature, now: int) -> None:
        lifecycle.fire("reject", actor=rejected_by, reason=rejection_reason)
        feature.rejected_by, feature.rejected_time = rejected_by, now
        feature.rejection_reason = rejection_reason

    return _transition(database, feature_name, role, change)


def fix_feature(
    database: Database, feature_name: str, *, fixed_by: str, role: str, fix_description: str
) -> TransitionResult:
    def change(lifecycle: FeatureLifecycle, feature: Feature, now: int) -> None:
        lifecycle.fire("fix", actor=fixed_by, reason=fix_description)
        feature.fixed_by, feature.fixed_time = fixed_by, now
        feature.fix_description = fix_description

    return _transition(database, feature_name, role, change)


def delete_feature(
    database: Database, feature_name: str, *, deleted_by: str, role: str, deletion_reason: str
) -> TransitionResult:
    """Soft delete: the row stays, marked DELETED, and its name can never be reused."""

    def change(lifecycle: FeatureLifecycle, feature: Feature, now: int) -> None:
        lifecycle.fire("delete", actor=deleted_by, reason=deletion_reason)
        feature.deleted_by, feature.deleted_time = deleted_by, now
        feature.deletion_reason = deletion_reason

    return _transition(database, feature_name, role, change)
