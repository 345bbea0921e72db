"""The append-only rows (history, change log) a commit inserts by Core (``db.appended``):
each gets its id, in the order written, with every column its object was given and the
server's default for the rest, and refers to its feature's flushed row."""

from __future__ import annotations

from sqlalchemy import select

from feature_gateway.db.catalog_models import FeatureChange
from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.services import transfer
from tests.conftest import SEED_FEATURE

NEW = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}


def _import(uow, name: str) -> None:
    record = {**NEW, "feature_name": name, "status": "DRAFT"}
    transfer.add_imported_feature(uow, record, source="test", now=1)


def test_a_commit_gives_each_entry_its_id_in_the_order_written(database):
    names = ["view:appended_a:1", "view:appended_b:1", "view:appended_c:1"]
    with database.writing() as uow:
        for name in names:
            _import(uow, name)
        committed = uow.commit()
    change_ids = [entry.id for entry in committed.changes]
    history_ids = [entry.id for entry in committed.status_changes]
    assert None not in change_ids and change_ids == sorted(change_ids)
    assert None not in history_ids and history_ids == sorted(history_ids)
    with database.reading() as uow:
        stored = uow.session.execute(
            select(FeatureChange.id, FeatureChange.feature_name, Feature.feature_name)
            .join(Feature, Feature.id == FeatureChange.feature_id)
            .where(FeatureChange.id.in_(change_ids))
            .order_by(FeatureChange.id)
        ).all()
        history = uow.session.execute(
            select(AuditEntry.id, Feature.feature_name)
            .join(Feature, Feature.id == AuditEntry.feature_id)
            .where(AuditEntry.id.in_(history_ids))
            .order_by(AuditEntry.id)
        ).all()
    assert stored == [(i, name, name) for i, name in zip(change_ids, names, strict=True)]
    assert history == list(zip(history_ids, names, strict=True))


def test_an_entry_is_written_with_the_columns_it_was_given_and_defaults_for_the_rest(database):
    with database.writing() as uow:
        _import(uow, "view:appended_d:1")
        feature = uow.features.get("view:appended_d:1")
        # authenticated and forced not given: their server defaults (false) apply.
        uow.audit.append(AuditEntry(feature=feature, from_status="DRAFT", to_status="DRAFT",
                                    trigger="note", actor="ann", actor_role=None, reason="why",
                                    timestamp=5))  # fmt: skip
        uow.commit()
    with database.reading() as uow:
        row = uow.session.execute(
            select(AuditEntry.feature_id, AuditEntry.reason, AuditEntry.authenticated,
                   AuditEntry.forced).where(AuditEntry.trigger == "note")
        ).one()  # fmt: skip
        feature_id = uow.features.get("view:appended_d:1").id
    assert tuple(row) == (feature_id, "why", False, False)
