"""The CLI importer and exporter, against the sample data shipped in data/."""

import json

import pytest
from sqlalchemy import text

from feature_gateway import create_app
from feature_gateway.config import PROJECT_ROOT
from tests.conftest import migrate
from tests.databases import FreshDatabase

SAMPLE = PROJECT_ROOT / "data" / "feature_metadata.json"


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def count(connection, table):
    return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_the_sample_data_has_what_the_readme_promises():
    records = json.loads(SAMPLE.read_text())
    by_name = {r["feature_name"]: r for r in records}
    assert {"driver_hourly_stats:conv_rate:1", "driver_hourly_stats:acc_rate:2"} <= set(by_name)
    deployed = [r for r in records if r["status"] == "DEPLOYED"]
    assert len(deployed) >= 3
    assert len({r["feature_type"] for r in deployed}) >= 2
    assert len({r["feature_data_type"] for r in deployed}) >= 3
    assert len({r["status"] for r in records}) >= 6


def test_importing_twice_changes_nothing(cli, connection, audit_rows):
    first = cli.invoke(args=["import-features", str(SAMPLE)])
    assert first.exit_code == 0, first.output
    records = json.loads(SAMPLE.read_text())
    assert f"imported {len(records)} features" in first.output
    features, audits = count(connection, "features"), count(connection, "feature_audit")
    second = cli.invoke(args=["import-features", str(SAMPLE)])
    assert second.exit_code == 0
    assert "imported 0 features" in second.output
    assert (count(connection, "features"), count(connection, "feature_audit")) == (
        features, audits)  # fmt: skip
    assert audit_rows("driver_hourly_stats:conv_rate:1") == [
        {"from_status": None, "to_status": "DEPLOYED", "trigger": "import", "actor": "dev",
         "actor_role": None, "reason": "imported from feature_metadata.json"}
    ]  # fmt: skip


def test_imported_features_are_served_like_created_ones(cli, client):
    cli.invoke(args=["import-features", str(SAMPLE)])
    body = client.get("/get_deployed_features?user_role=approver").get_json()
    assert "driver_hourly_stats:conv_rate:1" in [f["feature_name"] for f in body["features"]]
    response = client.get(
        "/get_feature_metadata/driver_hourly_stats:acc_rate:2?user_role=developer"
    )
    assert response.get_json()["metadata"]["approved_by"] == "carol"


def test_an_invalid_file_imports_nothing(cli, connection, tmp_path):
    records = json.loads(SAMPLE.read_text())
    records[3]["query"] = "DROP TABLE features"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(records))
    result = cli.invoke(args=["import-features", str(bad)])
    assert result.exit_code != 0
    assert "nothing imported" in result.output
    assert "DROP" in result.output
    assert count(connection, "features") == 0


def test_a_feature_cannot_be_imported_in_the_transient_approved_state(cli, connection, tmp_path):
    records = json.loads(SAMPLE.read_text())[:1]
    records[0]["status"] = "APPROVED"
    bad = tmp_path / "approved.json"
    bad.write_text(json.dumps(records))
    result = cli.invoke(args=["import-features", str(bad)])
    assert result.exit_code != 0
    assert "status" in result.output
    assert count(connection, "features") == 0


def test_a_file_that_is_not_json_is_refused(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = cli.invoke(args=["import-features", str(bad)])
    assert result.exit_code != 0
    assert "not readable JSON" in result.output


def test_export_writes_every_feature_as_the_api_shows_it(cli, client, make_feature, tmp_path):
    make_feature("DEPLOYED")
    make_feature("DELETED")
    out = tmp_path / "export.json"
    assert cli.invoke(args=["export-features", str(out)]).exit_code == 0
    exported = json.loads(out.read_text())
    assert {r["status"] for r in exported} == {"DEPLOYED", "DELETED"}
    listed = client.get(
        "/get_all_feature_metadata?user_role=developer&include_deleted=true"
    ).get_json()["metadata"]
    assert exported == listed


def test_an_export_imports_into_an_empty_database_unchanged(cli, make_feature, tmp_path, backend):
    make_feature("DEPLOYED")
    make_feature("REJECTED")
    make_feature("DELETED")
    first = tmp_path / "first.json"
    assert cli.invoke(args=["export-features", str(first)]).exit_code == 0

    fresh = FreshDatabase(backend, tmp_path)
    try:
        migrate(fresh.url)
        other = create_app({"database_url": fresh.url})
        runner = other.test_cli_runner()
        assert runner.invoke(args=["import-features", str(first)]).exit_code == 0
        second = tmp_path / "second.json"
        assert runner.invoke(args=["export-features", str(second)]).exit_code == 0
        other.extensions["feature_gateway"].database.bind.dispose()
    finally:
        fresh.drop()

    def without_revision(path):
        # The revision counts changes made in one database; an import starts it again at 1.
        return [
            {k: v for k, v in r.items() if k != "revision"} for r in json.loads(path.read_text())
        ]

    assert without_revision(second) == without_revision(first)
