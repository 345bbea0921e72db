"""The services' contract with their callers: one shape of feature, no field dropped, one
commit path that publishes what it committed."""

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from feature_gateway.domain.feature_fields import FIELD_NAMES
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.errors import FeatureNotFoundError
from feature_gateway.services import catalog, features, transfer, workflow
from tests.conftest import SEED_FEATURE

NEW = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
NAME = NEW["feature_name"]


def status_changes(trigger: str, to_status: str) -> float:
    labels = {"trigger": trigger, "to_status": to_status}
    return REGISTRY.get_sample_value("feature_gateway_status_changes_total", labels) or 0.0


def test_every_use_case_hands_back_a_feature_as_a_dict_of_every_field(database):
    created = features.create_feature(database, NEW, role="developer")
    updated = features.update_feature(
        database, NAME, {"description": "new"}, last_updated_by="dev", role="developer"
    )
    fired = workflow.fire_trigger(
        database, "submit", NAME, {"submitted_by": "dev"}, role="developer"
    )
    read = features.get_feature(database, NAME)
    listed = features.list_features(database, FeatureQuery()).items[0]
    exported = transfer.export_features(database)[0]
    for shape in (created, updated, fired.feature, read, listed, exported):
        assert type(shape) is dict
        assert tuple(shape) == FIELD_NAMES
    assert read == listed == exported == fired.feature
    assert (read["status"], read["revision"], read["submitted_by"]) == (
        "READY_FOR_TESTING",
        3,
        "dev",
    )


def test_an_update_of_a_field_the_service_does_not_edit_raises_and_changes_nothing(database):
    features.create_feature(database, NEW, role="developer")
    with pytest.raises(TypeError, match="update_feature does not handle the fields status"):
        features.update_feature(
            database,
            NAME,
            {"description": "new", "status": "DEPLOYED"},
            last_updated_by="dev",
            role="developer",
        )
    stored = features.get_feature(database, NAME)
    assert (stored["description"], stored["status"], stored["revision"]) == (
        NEW["description"], "DRAFT", 1)  # fmt: skip


def test_a_create_with_a_field_it_does_not_set_raises_and_stores_nothing(database):
    with pytest.raises(TypeError, match="create_feature does not handle the fields approved_by"):
        features.create_feature(database, {**NEW, "approved_by": "me"}, role="developer")
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(database, NAME)


def test_a_trigger_given_a_field_it_does_not_stamp_raises_and_fires_nothing(database):
    features.create_feature(database, NEW, role="developer")
    with pytest.raises(TypeError, match="the submit trigger does not handle the fields tested_by"):
        workflow.fire_trigger(
            database,
            "submit",
            NAME,
            {"submitted_by": "dev", "tested_by": "qa"},
            role="developer",
        )
    assert features.get_feature(database, NAME)["status"] == "DRAFT"


def _insert_imported_feature(uow) -> None:
    transfer.add_imported_feature(uow, {**NEW, "status": "DRAFT"}, source="test", now=1)


def test_committing_a_unit_of_work_publishes_what_it_recorded_and_only_once(database):
    before = status_changes("import", "DRAFT")
    with database.writing() as uow:
        _insert_imported_feature(uow)
        uow.commit()
        uow.commit()  # nothing new recorded: nothing published again
    assert status_changes("import", "DRAFT") == before + 1


def test_a_unit_of_work_left_without_commit_publishes_nothing(database):
    before = status_changes("import", "DRAFT")
    with database.writing() as uow:
        _insert_imported_feature(uow)
    assert status_changes("import", "DRAFT") == before
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(database, NAME)


def test_create_new_version_and_import_each_record_a_row_its_defaults_history_and_change(
    database, connection
):
    created = features.create_feature(database, NEW, role="developer")
    version = catalog.create_feature_version(
        database, catalog.NewVersion(NAME, "ann"), role="developer"
    )
    imported_name = "imported:feature:1"
    transfer.import_features(
        database, [{**NEW, "feature_name": imported_name, "status": "DRAFT"}], source="f.json"
    )
    rows = connection.execute(
        text(
            "SELECT f.feature_name, f.owner, a.trigger, a.actor, a.reason, c.action"
            " FROM features f JOIN feature_audit a ON a.feature_id = f.id"
            " JOIN feature_changes c ON c.feature_id = f.id ORDER BY f.id"
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        (NAME, "dev", "create", "dev", None, "create"),
        (
            version["feature_name"],
            "dev",
            "create",
            "ann",
            f"new version of {NAME}",
            "create_version",
        ),
        (imported_name, "dev", "import", "dev", "imported from f.json", "import"),
    ]
    assert created["tags"] == version["tags"] == {}
    assert features.get_feature(database, imported_name)["tags"] == {}
