"""Helpers shared by the use cases: loading a feature, writing the audit trail, and the one
shape in which every use case hands a feature (or an audit or change-log entry) to its
caller."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from feature_gateway.db.catalog_models import FeatureChange
from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.errors import ConcurrentModificationError, FeatureNotFoundError

# A feature as every use case returns it: each field of the field table → its value.
FeatureData = dict[str, Any]
# An audit entry as the history returns it: each column but the keys → its value.
AuditData = dict[str, Any]
_AUDIT_COLUMNS = tuple(
    column.key for column in AuditEntry.__table__.columns if column.key not in ("id", "feature_id")
)
# A change-log entry as the change log and the events return it: each column but the keys.
ChangeData = dict[str, Any]
_CHANGE_COLUMNS = tuple(
    c.key for c in FeatureChange.__table__.columns if c.key not in ("id", "feature_id")
)


def feature_data(row: Feature) -> FeatureData:
    """The feature's fields, read from the row (AttributeError if the row lacks one)."""
    return {name: getattr(row, name) for name in FIELD_NAMES}


def audit_data(entry: AuditEntry) -> AuditData:
    return {name: getattr(entry, name) for name in _AUDIT_COLUMNS}


def change_data(entry: FeatureChange) -> ChangeData:
    return {name: getattr(entry, name) for name in _CHANGE_COLUMNS}


def check_known_fields(given: Iterable[str], known: Collection[str], use_case: str) -> None:
    """Refuse fields a use case does not handle: silently dropping them would lose data."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(f"{use_case} does not handle the fields {', '.join(unknown)}")


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
    authenticated: bool,
    forced: bool = False,
) -> None:
    """Append the audit row of a status change; ``authenticated``: the actor was a verified
    principal (token mode), not a claimed name; ``forced``: the request overrode the
    trigger's guard."""
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
            authenticated=authenticated,
            forced=forced,
        )
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
