"""Helpers shared by the use cases: loading a feature, writing the audit trail, committing."""

from __future__ import annotations

from collections.abc import Collection

from feature_gateway import observability
from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.errors import ConcurrentModificationError, FeatureNotFoundError


def record_status_change(
    uow: UnitOfWork,
    feature: Feature,
    *,
    from_status: str | None,
    trigger: str,
    actor: str,
    actor_role: str | None,
    reason: str | None,
    timestamp: int,
) -> None:
    uow.audit.append(
        AuditEntry(
            feature=feature,
            from_status=None if from_status is None else str(from_status),
            to_status=str(feature.status),
            trigger=trigger,
            actor=actor,
            actor_role=actor_role,
            reason=reason,
            timestamp=timestamp,
        )
    )


def commit(uow: UnitOfWork) -> None:
    """Commit the use case, then report its status changes.

    Reported only after the commit: a change whose transaction lost a race (409) or failed
    never happened, so it is neither counted nor logged.
    """
    uow.commit()
    for entry in uow.audit.appended:
        observability.status_changed(
            feature_name=entry.feature.feature_name,
            from_status=entry.from_status,
            to_status=entry.to_status,
            trigger=entry.trigger,
            actor=entry.actor,
            actor_role=entry.actor_role,
        )


def load_feature(
    uow: UnitOfWork, feature_name: str, expected_revisions: Collection[int] | None = None
) -> Feature:
    """The feature, at one of ``expected_revisions`` when the caller says what it read."""
    feature = uow.features.get(feature_name)
    if feature is None:
        raise FeatureNotFoundError(feature_name)
    if expected_revisions is not None and feature.revision not in expected_revisions:
        raise ConcurrentModificationError(feature_name, expected_revisions, feature.revision)
    return feature
