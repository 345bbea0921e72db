"""Feature rows in the use cases: loading one (at the revision the caller read), the fields
a use case takes, what a new draft is stamped with, and the one shape in which every use
case hands a feature (or an audit or change-log entry) to its caller. What a write records
is the unit of work's (``db.recording``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from feature_gateway.db.catalog_models import FeatureChange
from feature_gateway.db.models import AuditEntry, Feature, field_values
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.lifecycle import CREATED_STATUS
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
    return field_values(row)


def audit_data(entry: AuditEntry) -> AuditData:
    return {name: getattr(entry, name) for name in _AUDIT_COLUMNS}


def change_data(entry: FeatureChange) -> ChangeData:
    return {name: getattr(entry, name) for name in _CHANGE_COLUMNS}


def check_known_fields(given: Iterable[str], known: Collection[str], use_case: str) -> None:
    """Refuse fields a use case does not handle: silently dropping them would lose data."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(f"{use_case} does not handle the fields {', '.join(unknown)}")


def new_draft(values: Mapping[str, Any], *, created_by: str, now: int) -> dict[str, Any]:
    """``values`` of a feature someone creates now (create, a new version): a DRAFT whose
    creator is its last updater too."""
    return {
        **values,
        "status": CREATED_STATUS.value,
        "created_time": now,
        "updated_time": now,
        "created_by": created_by,
        "last_updated_by": created_by,
    }


def load_feature(
    uow: UnitOfWork, feature_name: str, expected_revisions: Collection[int] | None = None
) -> Feature:
    """The feature, at one of ``expected_revisions`` when the caller says what it read."""
    return found_feature(uow.features.get(feature_name), feature_name, expected_revisions)


def found_feature(
    feature: Feature | None, feature_name: str, expected_revisions: Collection[int] | None = None
) -> Feature:
    """``feature`` as ``load_feature`` answers for it: 404 when None, 409 when not at one of
    ``expected_revisions``."""
    if feature is None:
        raise FeatureNotFoundError(feature_name)
    if expected_revisions is not None and feature.revision not in expected_revisions:
        raise ConcurrentModificationError(feature_name, expected_revisions, feature.revision)
    return feature
