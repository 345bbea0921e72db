"""Feature metadata use cases: define, read, list, edit."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.db.unit_of_work import Database
from feature_gateway.domain.changes import ChangeAction
from feature_gateway.domain.lifecycle import (
    CRITICAL_FIELDS,
    RESET_REASON,
    TERMINAL_STATES,
    UPDATABLE_FIELDS,
    Status,
)
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.errors import FeatureAlreadyExistsError, FeatureImmutableError
from feature_gateway.services.clock import now_ms
from feature_gateway.services.common import commit, load_feature, record_status_change
from feature_gateway.services.workflow import FeatureLifecycle


@dataclass(frozen=True)
class NewFeature:
    feature_name: str
    feature_type: str
    feature_data_type: str
    query: str
    description: str
    created_by: str
    owner: str | None = None  # defaults to created_by
    tags: Mapping[str, str] | None = None  # defaults to none


@dataclass(frozen=True)
class Page:
    items: Sequence[Mapping[str, Any]]  # read-only rows: column name → value
    total_count: int
    limit: int
    offset: int


def create_feature(database: Database, new: NewFeature, *, role: str) -> Feature:
    with database.writing() as uow:
        existing = uow.features.get(new.feature_name)
        if existing is not None:
            raise FeatureAlreadyExistsError(
                new.feature_name, existing.status, stored_as=existing.feature_name
            )
        now = now_ms()
        feature = Feature(
            **{**vars(new), "owner": new.owner or new.created_by, "tags": dict(new.tags or {})},
            status=Status.DRAFT.value,
            created_time=now,
            updated_time=now,
            last_updated_by=new.created_by,
        )
        uow.features.add(feature)
        uow.changes.track(
            feature, ChangeAction.CREATE, actor=new.created_by, actor_role=role, timestamp=now,
            new=True,
        )  # fmt: skip
        record_status_change(
            uow,
            feature,
            from_status=None,
            trigger="create",
            actor=new.created_by,
            actor_role=role,
            reason=None,
            timestamp=now,
        )
        commit(uow)
        return feature


def get_feature(database: Database, feature_name: str) -> Feature:
    with database.reading() as uow:
        return load_feature(uow, feature_name)


def list_features(database: Database, query: FeatureQuery) -> Page:
    with database.reading() as uow:
        items, total = uow.features.list_page(query)
        return Page(items, total, query.limit, query.offset)


def feature_history(database: Database, feature_name: str) -> Sequence[AuditEntry]:
    with database.reading() as uow:
        return uow.audit.for_feature(load_feature(uow, feature_name))


def update_feature(
    database: Database,
    feature_name: str,
    changes: Mapping[str, Any],
    *,
    last_updated_by: str,
    role: str,
    expected_revisions: Collection[int] | None = None,
) -> Feature:
    """Edit a feature; a changed query or type sends it back to DRAFT (audited as reset).

    Values equal to the stored ones are not changes: sending the whole record back
    unchanged neither bumps the revision nor resets the status.
    """
    with database.writing() as uow:
        feature = load_feature(uow, feature_name, expected_revisions)
        if feature.status in TERMINAL_STATES:
            raise FeatureImmutableError(feature_name, feature.status)
        changed = {
            field: value
            for field, value in changes.items()
            if field in UPDATABLE_FIELDS and getattr(feature, field) != value
        }
        if not changed:
            return feature
        now = now_ms()
        uow.changes.track(
            feature, ChangeAction.UPDATE, actor=last_updated_by, actor_role=role, timestamp=now
        )
        for field, value in changed.items():
            setattr(feature, field, value)
        feature.last_updated_by, feature.updated_time = last_updated_by, now
        if feature.status != Status.DRAFT and not changed.keys().isdisjoint(CRITICAL_FIELDS):
            FeatureLifecycle(uow, feature, role, now).fire(
                "reset", actor=last_updated_by, reason=RESET_REASON
            )
        commit(uow)
        return feature
