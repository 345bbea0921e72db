"""The CLI importer and exporter, against the sample data shipped in data/."""

import json

import pytest
from sqlalchemy import text

from feature_gateway import create_app
from feature_gateway.config import PROJECT_ROOT
from tests.databases import FreshDatabase, close_app

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

    fresh = FreshDatabase(backend, tmp_path, migrated=True)
    try:
        other = create_app({"database_url": fresh.url})
        runner = other.test_cli_runner()
        assert runner.invoke(args=["import-features", str(first)]).exit_code == 0
        second = tmp_path / "second.json"
        assert runner.invoke(args=["export-features", str(second)]).exit_code == 0
        close_app(other)
    finally:
        fresh.drop()

    def without_revision(path):
        # The revision counts changes made in one database; an import starts it again at 1.
        return [
            {k: v for k, v in r.items() if k != "revision"} for r in json.loads(path.read_text())
        ]

    assert without_revision(second) == without_revision(first)


def test_the_sample_data_shows_the_catalog():
    records = json.loads(SAMPLE.read_text())
    by_name = {r["feature_name"]: r for r in records}
    assert all(r["owner"] and isinstance(r["tags"], dict) for r in records)
    assert len({r["owner"] for r in records}) >= 3
    assert by_name["driver_realtime:is_online:2"]["previous_version"] == (
        "driver_realtime:is_online:1")  # fmt: skip
    deprecated = [r for r in records if r["status"] == "DEPRECATED"]
    assert deprecated and all(r["replaced_by"] in by_name for r in deprecated)


def test_imported_catalog_fields_are_indexed_and_logged(cli, client):
    assert cli.invoke(args=["import-features", str(SAMPLE)]).exit_code == 0
    gold = client.get("/get_all_feature_metadata?user_role=developer&tag=tier:gold")
    records = json.loads(SAMPLE.read_text())
    expected = sorted(r["feature_name"] for r in records
                      if r["tags"].get("tier") == "gold" and r["status"] != "DELETED")  # fmt: skip
    assert sorted(m["feature_name"] for m in gold.get_json()["metadata"]) == expected
    name = "driver_realtime:is_online:2"
    (entry,) = client.get(f"/features/{name}/changes?user_role=developer").get_json()["changes"]
    assert (entry["action"], entry["actor"], entry["actor_role"]) == ("import", "alice", None)
    assert entry["fields"]["previous_version"] == {
        "from": None, "to": "driver_realtime:is_online:1"}  # fmt: skip
    diff = client.get(f"/features/{name}/diff?user_role=developer").get_json()
    assert set(diff["fields"]) == {"query", "description"}
    available = client.get("/features/available").get_json()
    assert available["deprecated_features"] == ["customer_profile:order_count:1"]


def test_an_import_without_owner_or_tags_gets_the_defaults(cli, client, tmp_path):
    record = {k: v for k, v in json.loads(SAMPLE.read_text())[0].items()
              if k not in ("owner", "tags")}  # fmt: skip
    path = tmp_path / "old.json"
    path.write_text(json.dumps([record]))
    assert cli.invoke(args=["import-features", str(path)]).exit_code == 0
    metadata = client.get(
        f"/get_feature_metadata/{record['feature_name']}?user_role=developer"
    ).get_json()["metadata"]
    assert (metadata["owner"], metadata["tags"]) == (record["created_by"], {})


def test_catalog_fields_survive_an_export_and_import(cli, client, make_feature, tmp_path, backend):
    source = make_feature("DEPLOYED", owner="team-a", tags={"team": "a", "pii": ""})
    client.post("/create_feature_version", json={
        "feature_name": source["feature_name"], "created_by": "ann", "user_role": "developer",
    })  # fmt: skip
    make_feature("RETIRED", tags={"x": "y"})
    out = tmp_path / "catalog.json"
    assert cli.invoke(args=["export-features", str(out)]).exit_code == 0
    exported = json.loads(out.read_text())
    fresh = FreshDatabase(backend, tmp_path, migrated=True)
    try:
        other = create_app({"database_url": fresh.url})
        runner, reader = other.test_cli_runner(), other.test_client()
        assert runner.invoke(args=["import-features", str(out)]).exit_code == 0
        again = reader.get(
            "/get_all_feature_metadata?user_role=developer&include_deleted=true&tag=team:a"
        ).get_json()["metadata"]
        close_app(other)
    finally:
        fresh.drop()
    tagged = [r for r in exported if r["tags"].get("team") == "a"]
    assert len(tagged) == 2
    assert [{k: v for k, v in r.items() if k != "revision"} for r in again] == [
        {k: v for k, v in r.items() if k != "revision"} for r in tagged
    ]
    assert {r["status"] for r in exported} == {"DEPLOYED", "DRAFT", "RETIRED"}


def test_export_and_import_say_where_they_are_offered_that_they_are_no_backup(cli):
    exported = cli.invoke(args=["export-features", "--help"]).output
    imported = cli.invoke(args=["import-features", "--help"]).output
    assert "Not a backup" in exported and "history" in exported
    assert "loses the history and change log" in " ".join(imported.split())
    for help_text in (exported, imported):
        assert "sqlite3 .backup, pg_dump" in " ".join(help_text.split())
    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    backups = operations.split("## Backups", 1)[1].split("\n## ", 1)[0]
    assert ".backup" in backups and "pg_dump" in backups
    assert "`export-features` is not a backup" in backups
