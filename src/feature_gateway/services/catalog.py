"""Catalog use cases (SPEC §8): versions, a new version of a feature, change log, diff."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from feature_gateway.db.models import Feature
from feature_gateway.db.recording import Acting
from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.changes import (
    VERSIONED_FIELDS,
    FieldChanges,
    as_it_was,
    definition_diff,
    unified_query_diff,
)
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import SERVED_STATES, Write
from feature_gateway.domain.names import FEATURE_NAME_RULE
from feature_gateway.domain.versions import family_name, next_version_name, version_number
from feature_gateway.errors import ConflictError, FeatureNotFoundError, ValidationError
from feature_gateway.services.clock import now_ms
from feature_gateway.services.features import Page
from feature_gateway.services.rows import (
    ChangeData,
    FeatureData,
    change_data,
    check_known_fields,
    feature_data,
    load_feature,
    new_draft,
)


@dataclass(frozen=True)
class NewVersion:
    feature_name: str  # the version it is made from
    created_by: str
    replaced: Mapping[str, Any] = field(default_factory=dict)  # of VERSIONED_FIELDS


@dataclass(frozen=True)
class Versions:
    family: str
    versions: Sequence[FeatureData]


@dataclass(frozen=True)
class Diff:
    feature_name: str
    against: str
    fields: FieldChanges
    query_diff: str


def create_feature_version(
    database: Database,
    new: NewVersion,
    *,
    role: str,
    caller: Principal | None = None,
    expected_revisions: Collection[int] | None = None,
) -> FeatureData:
    """A new DRAFT, numbered after the family's highest version, copied from the named one
    with the given fields replaced. Two racing calls never get the same number (each
    gets its own, or 409 if a version of that number appeared by another way meanwhile).
    A version whose query or types differ from its source's records its creator as a
    definition changer too; one that copies them unchanged inherits the source's creator and
    definition changers as its own (separation of duties, SPEC §7). With ``expected_revisions``
    the source must still be at one of them (409 otherwise): a copy of what was read."""
    check_known_fields(new.replaced, VERSIONED_FIELDS, "create_feature_version")
    with database.writing() as uow:
        source = load_feature(uow, new.feature_name, expected_revisions)
        family = family_name(source.feature_name)
        highest = max(
            uow.versions.highest_number_locked(family), version_number(source.feature_name)
        )
        name = next_version_name(family, highest)
        if name is None:
            raise ConflictError(
                f"Feature '{family}' has a version numbered {highest}: no higher version "
                "number fits in a feature name."
            )
        acting = Acting.by(new.created_by, role, now_ms(), caller)
        copied = {field: getattr(source, field) for field in VERSIONED_FIELDS} | dict(new.replaced)
        values = {**copied, "feature_name": name, "previous_version": source.feature_name}
        feature = uow.record.add_feature(
            new_draft(values, created_by=acting.actor, now=acting.timestamp),
            Write.CREATE_VERSION,
            acting,
            reason=f"new version of {source.feature_name}",
            copied_from=source,
        )
        uow.commit()
        return feature_data(feature)


def feature_versions(database: Database, name: str, freshness: Freshness = WITHIN_LAG) -> Versions:
    """Every version of the view and feature of ``name`` (which need not exist itself)."""
    family = family_name(name)

    def read(uow: UnitOfWork) -> list[FeatureData]:
        return [feature_data(row) for row in uow.versions.of_family(family)]

    versions = database.replicated_read(read, freshness.of(name))
    if not versions:
        raise FeatureNotFoundError(family)
    return Versions(family, versions)


def feature_changes(
    database: Database, feature_name: str, freshness: Freshness = WITHIN_LAG
) -> tuple[str, list[ChangeData]]:
    """The feature's stored name and its change log, oldest first."""

    def read(uow: UnitOfWork) -> tuple[str, list[ChangeData]]:
        feature = load_feature(uow, feature_name)
        entries = uow.changes.for_feature(feature.id)
        return feature.feature_name, [change_data(entry) for entry in entries]

    return database.replicated_read(read, freshness.of(feature_name))


def feature_diff(
    database: Database,
    feature_name: str,
    against: str | None,
    freshness: Freshness = WITHIN_LAG,
) -> Diff:
    """How ``feature_name`` differs from ``against`` (default: its previous version)."""

    def read(uow: UnitOfWork) -> tuple[Feature, Feature]:
        this = load_feature(uow, feature_name)
        other_name = against or this.previous_version
        if other_name is None:
            raise ValidationError.for_field(
                "against",
                f"Feature '{this.feature_name}' was not made from another version: name "
                f"the version to compare with ({FEATURE_NAME_RULE}).",
            )
        return this, load_feature(uow, other_name)

    this, other = database.replicated_read(read, freshness.of(feature_name))
    return Diff(
        this.feature_name,
        other.feature_name,
        definition_diff(_versioned(other), _versioned(this)),
        unified_query_diff(
            other.query, this.query, against_name=other.feature_name, this_name=this.feature_name
        ),
    )


def _versioned(feature: Feature) -> dict[str, Any]:
    return {name: getattr(feature, name) for name in VERSIONED_FIELDS}


def served_at(
    database: Database, at: int, limit: int, offset: int, freshness: Freshness = WITHIN_LAG
) -> Page:
    """The features served (DEPLOYED or DEPRECATED) at ``at``, each as it was then: its
    fields at its latest revision at or before ``at``, from the change log (SPEC §13). One
    snapshot (the page's rows and their later changes agree), on a replica when one may
    serve it."""
    if at > now_ms():
        raise ValidationError.for_field("at", "Must not be in the future: nobody knows yet.")

    def read(uow: UnitOfWork) -> Page:
        rows, total = uow.served_at.page(at, limit, offset)
        ids = [row.pop("id") for row in rows]
        later = uow.served_at.changes_after(ids, at)
        times = uow.served_at.last_change_times(list(later), at) if later else {}
        items = []
        for feature_id, row in zip(ids, rows, strict=True):
            then = as_it_was(row, later.get(feature_id, []), times.get(feature_id))
            if then is not None and then["status"] in SERVED_STATES:
                items.append(then)
        return Page(items, total, limit, offset)

    return database.replicated_read(read, freshness, snapshot=True)
