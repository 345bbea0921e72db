"""Helpers shared by the use cases: loading a feature, writing the audit trail."""

from __future__ import annotations

from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.errors import FeatureNotFoundError


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


def load_feature(uow: UnitOfWork, feature_name: str) -> Feature:
    feature = uow.features.get(feature_name)
    if feature is None:
        raise FeatureNotFoundError(feature_name)
    return feature
