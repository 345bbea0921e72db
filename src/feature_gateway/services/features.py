"""Feature metadata use cases: define, read, list, edit."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from feature_gateway.db.lookup import Lookup
from feature_gateway.db.recording import Acting
from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.feature_fields import CREATE_FIELDS, CRITICAL_FIELDS, EDITABLE_FIELDS
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import Status, Write
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.domain.ownership import OPEN, Governance
from feature_gateway.domain.permissions import UPDATE
from feature_gateway.errors import FeatureNotFoundError
from feature_gateway.services.clock import now_ms
from feature_gateway.services.permissions import acting_caller, check_may_act, check_owner
from feature_gateway.services.rows import (
    AuditData,
    FeatureData,
    audit_data,
    check_known_fields,
    feature_data,
    load_feature,
    new_draft,
)
from feature_gateway.services.workflow import FeatureLifecycle


@dataclass(frozen=True)
class Page:
    # A sequence of features, or (``list_features_json``) their JSON array already written.
    items: Sequence[FeatureData] | orjson.Fragment
    total_count: int
    limit: int
    offset: int


def create_feature(
    database: Database,
    fields: Mapping[str, Any],
    *,
    role: str,
    caller: Principal | None = None,
    governance: Governance = OPEN,
) -> FeatureData:
    """Define a feature from the create request's ``fields`` (status DRAFT). Under
    OWNERSHIP=enforced its owner (the creator unless given) must be the creator or one of
    the ``caller``'s groups (403 before anything is read)."""
    check_known_fields(fields, CREATE_FIELDS, "create_feature")
    creator = fields["created_by"]
    acting_as = acting_caller(creator, role, caller)
    check_owner(acting_as, fields["feature_name"], fields.get("owner") or creator, governance)
    with database.writing() as uow:
        acting = Acting.by(fields["created_by"], role, now_ms(), caller)
        draft = new_draft(fields, created_by=acting.actor, now=acting.timestamp)
        # A name stored already (either spelling of the version) is FeatureAlreadyExistsError
        # naming it, checked as the row is inserted. Nothing more is done with the row than
        # to return it: not kept in the session.
        feature = uow.record.add_feature(
            draft, Write.CREATE, acting, kept=False, unless_taken=True
        )
        uow.commit()
        return feature_data(feature)


def get_feature(
    database: Database, feature_name: str, freshness: Freshness = WITHIN_LAG
) -> FeatureData:
    """One indexed SELECT, outside any transaction (``Database.looking_up``), on a replica
    when one may serve it."""
    found = database.replicated_lookup(
        lambda lookup: lookup.features.find(feature_name), freshness.of(feature_name)
    )
    if found is None:
        raise FeatureNotFoundError(feature_name)
    return found


class FeatureJson(NamedTuple):
    """(A named tuple: made on every read by name, at half a frozen dataclass's cost.)"""

    revision: int
    # For a response body: the feature's JSON object as stored with its row (the bytes
    # orjson writes for ``get_feature``'s dict), or that dict where none is stored.
    fields: orjson.Fragment | FeatureData


def get_feature_json(
    database: Database, feature_name: str, freshness: Freshness = WITHIN_LAG
) -> FeatureJson:
    """``get_feature``, the feature as its revision and the JSON object stored with it: one
    indexed SELECT of three columns. A row without a text stored at its revision (written
    by code predating the column, or by a statement of its own) is read as ``get_feature``
    reads it, by a second statement on the same connection."""

    def read(lookup: Lookup) -> FeatureJson | None:
        found = lookup.features.find_stored_json(feature_name)
        if found is None:
            return None
        revision, stored = found
        if stored is not None:
            return FeatureJson(revision, orjson.Fragment(stored))
        fields = lookup.features.find(feature_name)
        return None if fields is None else FeatureJson(fields["revision"], fields)

    found = database.replicated_lookup(read, freshness.of(feature_name))
    if found is None:
        raise FeatureNotFoundError(feature_name)
    return found


def list_features(
    database: Database, query: FeatureQuery, freshness: Freshness = WITHIN_LAG
) -> Page:
    """One statement, outside any transaction (``Database.looking_up``), on a replica when
    one may serve it."""
    items, total = database.replicated_lookup(
        lambda lookup: lookup.features.page(query), freshness
    )
    return Page(items, total, query.limit, query.offset)


def list_features_json(
    database: Database, query: FeatureQuery, freshness: Freshness = WITHIN_LAG
) -> Page:
    """``list_features``, the items as one JSON array written by the database: the bytes
    orjson writes for ``list_features``' items, for a response body."""
    items, total = database.replicated_lookup(
        lambda lookup: lookup.features.page_json(query), freshness
    )
    return Page(orjson.Fragment(items), total, query.limit, query.offset)


def feature_history(
    database: Database, feature_name: str, freshness: Freshness = WITHIN_LAG
) -> list[AuditData]:
    def read(uow: UnitOfWork) -> list[AuditData]:
        entries = uow.audit.for_feature(load_feature(uow, feature_name))
        return [audit_data(entry) for entry in entries]

    return database.replicated_read(read, freshness.of(feature_name))


def update_feature(
    database: Database,
    feature_name: str,
    changes: Mapping[str, Any],
    *,
    last_updated_by: str,
    role: str,
    caller: Principal | None = None,
    governance: Governance = OPEN,
    expected_revisions: Collection[int] | None = None,
) -> FeatureData:
    """Edit a feature; a changed query or type sends it back to DRAFT (audited as reset).

    Values equal to the stored ones are not changes: sending the whole record back
    unchanged neither bumps the revision nor resets the status. A field that is not
    editable is refused (TypeError), never dropped. Who changes the definition is recorded
    (in any status): separation of duties keeps them from testing and approving it.
    Whether the caller may update it is asked first (``domain.permissions.why_not``: 409
    for a feature that is no longer editable, 403 under OWNERSHIP=enforced for a caller
    outside its owner), and a new owner must be one the caller belongs to.
    """
    check_known_fields(changes, EDITABLE_FIELDS, "update_feature")
    acting_as = acting_caller(last_updated_by, role, caller)
    with database.writing() as uow:
        feature = load_feature(uow, feature_name, expected_revisions)
        check_may_act(uow, acting_as, UPDATE, feature, governance)
        changed = {
            field: value for field, value in changes.items() if getattr(feature, field) != value
        }
        if not changed:
            return feature_data(feature)
        if "owner" in changed:
            check_owner(acting_as, feature.feature_name, changed["owner"], governance)
        acting = Acting.by(last_updated_by, role, now_ms(), caller)
        uow.record.change(feature, Write.UPDATE, acting, changed)
        feature.last_updated_by, feature.updated_time = last_updated_by, acting.timestamp
        if feature.status != Status.DRAFT and not changed.keys().isdisjoint(CRITICAL_FIELDS):
            FeatureLifecycle(uow, feature, acting).fire("reset")
        uow.commit(last=True)
        return feature_data(feature)
