"""Import and export of features in the ``data/feature_metadata.json`` format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from feature_gateway.db.recording import Acting
from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.lifecycle import Write
from feature_gateway.services.clock import now_ms
from feature_gateway.services.rows import FeatureData

IMPORT_ACTOR_ROLE = None  # imports are an operator action, not one of the API roles


@dataclass(frozen=True)
class ImportReport:
    imported: list[str]
    skipped: list[str]


def import_features(
    database: Database, records: Iterable[Mapping[str, Any]], *, source: str
) -> ImportReport:
    """Insert the features whose names are not stored yet, all in one transaction.

    Existing names (in either spelling of their version) are skipped, never overwritten,
    so importing the same file twice changes nothing. Each imported feature gets one audit
    row (trigger ``import``).
    """
    imported: list[str] = []
    skipped: list[str] = []
    with database.writing() as uow:
        now = now_ms()
        for record in records:
            name = record["feature_name"]
            if uow.features.get(name) is not None:  # this run's rows are flushed too
                skipped.append(name)
                continue
            add_imported_feature(uow, record, source=source, now=now)
            imported.append(name)
        uow.commit()
    return ImportReport(imported, skipped)


def add_imported_feature(
    uow: UnitOfWork, record: Mapping[str, Any], *, source: str, now: int
) -> None:
    """Insert one record (a loaded FeatureRecordSchema) with its ``import`` audit row; the
    caller commits. Missing times are ``now``."""
    values = {k: v for k, v in record.items() if k != "revision"}
    values["created_time"] = values.get("created_time") or now
    values["updated_time"] = values.get("updated_time") or values["created_time"]
    # The file says who did what; nothing verified it.
    acting = Acting(values["created_by"], IMPORT_ACTOR_ROLE, now)
    uow.record.add_feature(values, Write.IMPORT, acting, reason=f"imported from {source}")


def export_features(database: Database) -> list[FeatureData]:
    with database.reading() as uow:
        return uow.features.all_in_name_order()
