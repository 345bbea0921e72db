"""``feature-gateway audit verify`` (SPEC §11): whole after every workflow path; each kind
of break, made with direct SQL, reported with its feature, entry and problem; a clear exit 2
when the database cannot be read. On SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from feature_gateway import create_app
from feature_gateway.config import PROJECT_ROOT
from feature_gateway.db.engine import make_engine
from tests.conftest import _STEPS as WORKFLOW_STEPS
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase, close_app, require_backend, settings_for
from tests.deploy.support import app_environment

SAMPLE = PROJECT_ROOT / "data" / "feature_metadata.json"


# A database of this module's own, so that "every feature is whole" speaks of this
# module's features only; each test still runs in a transaction rolled back afterwards.
@pytest.fixture(scope="module")
def migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FreshDatabase]:
    fresh = FreshDatabase(backend, tmp_path_factory.mktemp(f"audit-{backend}"), migrated=True)
    yield fresh
    fresh.drop()


@pytest.fixture(scope="module")
def engine(migrated_database: FreshDatabase) -> Iterator[Engine]:
    engine = make_engine(settings_for(migrated_database.url))
    yield engine
    engine.dispose()


@pytest.fixture
def verify(app):
    runner = app.test_cli_runner()

    def run(*options):
        result = runner.invoke(args=["audit", "verify", *options])
        assert result.exit_code in (0, 1), result.output
        return result

    return run


def breaks_of(verify) -> list[dict]:
    result = verify("--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["whole"] is False
    return report["breaks"]


# The workflow calls, as make_feature makes them, plus fix.
STEPS = {
    **WORKFLOW_STEPS,
    "fix": (
        "/fix_feature_metadata",
        {"fixed_by": "dev", "user_role": "developer", "fix_description": "fixed"},
    ),
}


def walk(client, name, *steps):
    for step in steps:
        path, body = STEPS[step]
        response = client.post(path, json={"feature_name": name, **body})
        assert response.status_code == 200, response.get_json()


def comment(client, name, body="a remark"):
    response = client.post(
        f"/features/{name}/comments",
        json={"body": body, "author": "rev", "user_role": "approver"},
    )
    assert response.status_code == 201, response.get_json()


def update(client, name, **fields):
    body = {"feature_name": name, "last_updated_by": "editor", "user_role": "developer", **fields}
    response = client.post("/update_feature_metadata", json=body)
    assert response.status_code == 200, response.get_json()


def test_a_database_after_every_workflow_path_is_whole(
    client, app, make_feature, verify, connection
):
    for status in ("DRAFT", "READY_FOR_TESTING", "TEST_SUCCEEDED", "TEST_FAILED", "DEPLOYED",
                   "REJECTED", "DELETED", "DEPRECATED", "RETIRED"):  # fmt: skip
        make_feature(status)
    failed_then_fixed = make_feature("TEST_FAILED")["feature_name"]
    walk(client, failed_then_fixed, "fix", "submit", "pass", "approve")
    rejected_then_fixed = make_feature("REJECTED")["feature_name"]
    walk(client, rejected_then_fixed, "fix", "submit")
    reset = make_feature("TEST_SUCCEEDED")["feature_name"]
    update(client, reset, description="only words")  # no status change
    update(client, reset, query="SELECT other FROM driver_hourly_stats")  # reset to DRAFT
    walk(client, reset, "submit", "pass", "reject")
    source = make_feature("DEPLOYED")["feature_name"]
    version = client.post("/create_feature_version", json={"feature_name": source,
                          "created_by": "ann", "user_role": "developer"})  # fmt: skip
    assert version.status_code == 201
    walk(client, version.get_json()["metadata"]["feature_name"], "submit", "pass", "approve")
    walk(client, source, "deprecate")
    imported = app.test_cli_runner().invoke(args=["import-features", str(SAMPLE)])
    assert imported.exit_code == 0, imported.output
    for commented in (failed_then_fixed, reset, source):  # before and after status changes
        comment(client, commented)
    walk(client, failed_then_fixed, "deprecate")
    comment(client, failed_then_fixed)

    result = verify()
    assert result.exit_code == 0, result.output
    features = connection.execute(text("SELECT count(*) FROM features")).scalar()
    history = connection.execute(text("SELECT count(*) FROM feature_audit")).scalar()
    changes = connection.execute(text("SELECT count(*) FROM feature_changes")).scalar()
    comments = connection.execute(text("SELECT count(*) FROM feature_comments")).scalar()
    assert comments >= 4
    assert result.stdout.startswith(
        f"audit trail whole: {features} features, {history} history entries, "
        f"{changes} change-log entries, {comments} comments checked in "
    )
    report = json.loads(verify("--json").stdout)
    assert (report["whole"], report["features"], report["breaks"]) == (True, features, [])
    assert (report["history_entries"], report["change_entries"]) == (history, changes)
    assert report["comments"] == comments


def test_an_empty_database_is_whole(verify, connection):
    if connection.execute(text("SELECT count(*) FROM features")).scalar():
        pytest.skip("the module's database holds committed features")
    result = verify()
    assert result.exit_code == 0
    assert "audit trail whole: 0 features" in result.stdout


def _entry_id(connection, table, name, where):
    return connection.execute(
        text(f"SELECT e.id FROM {table} e JOIN features f ON f.id = e.feature_id"
             f" WHERE f.feature_name = :name AND {where} ORDER BY e.id"),
        {"name": name},
    ).scalars().first()  # fmt: skip


def _sql(connection, statement, **params):
    connection.execute(text(statement), params)


# "{OF_NAME}" in a statement below: its rows of the feature named :name.
OF_NAME = "feature_id = (SELECT id FROM features WHERE feature_name = :name)"
# How each break is made (statements on the feature named :name, of the given status) and
# what verify must say: the table and entry (by a condition on it) and words of the problem.
BREAKS = {
    "row status edited": (
        "DRAFT",
        ["UPDATE features SET status = 'TEST_SUCCEEDED' WHERE feature_name = :name"],
        ("feature_audit", "trigger = 'create'"),
        "the history ends at DRAFT but the row's status is TEST_SUCCEEDED",
    ),
    "history entry removed": (
        "TEST_SUCCEEDED",
        [
            "DELETE FROM feature_audit WHERE trigger = 'submit' AND feature_id ="
            " (SELECT id FROM features WHERE feature_name = :name)"
        ],
        ("feature_audit", "trigger = 'test'"),
        "gap in the chain: test from READY_FOR_TESTING, but the entry before",
    ),
    "transition not in the lifecycle": (
        "READY_FOR_TESTING",
        [
            "UPDATE feature_audit SET from_status = 'DRAFT' WHERE trigger = 'submit' AND"
            " {OF_NAME}",
            "UPDATE feature_audit SET to_status = 'APPROVED', trigger = 'approve' WHERE"
            " trigger = 'submit' AND {OF_NAME}",
        ],
        ("feature_audit", "trigger = 'approve'"),
        "approve from DRAFT to APPROVED is not a transition of the lifecycle",
    ),
    "creation entry removed": (
        "READY_FOR_TESTING",
        [
            "DELETE FROM feature_audit WHERE trigger = 'create' AND feature_id ="
            " (SELECT id FROM features WHERE feature_name = :name)"
        ],
        ("feature_audit", "trigger = 'submit'"),
        "history starts with submit from DRAFT, not with create or import",
    ),
    "deployed twice": (
        "DEPLOYED",
        [
            "INSERT INTO feature_audit (feature_id, from_status, to_status, trigger, actor,"
            " timestamp, authenticated) SELECT id, 'APPROVED', 'DEPLOYED', 'deploy', 'x',"
            " updated_time, false FROM features WHERE feature_name = :name"
        ],
        ("feature_audit", "trigger = 'deploy' AND actor = 'x'"),
        "2 entries to DEPLOYED for a feature that is DEPLOYED (expected 1)",
    ),
    "deployed without approval": (
        "DEPLOYED",
        [
            "DELETE FROM feature_audit WHERE trigger = 'approve' AND feature_id ="
            " (SELECT id FROM features WHERE feature_name = :name)",
            "UPDATE feature_audit SET from_status = 'TEST_SUCCEEDED' WHERE trigger = 'deploy'"
            " AND {OF_NAME}",
        ],
        ("feature_audit", None),
        "0 entries to APPROVED for a feature that is DEPLOYED (expected 1)",
    ),
    "second creation": (
        "DRAFT",
        [
            "INSERT INTO feature_audit (feature_id, from_status, to_status, trigger, actor,"
            " timestamp, authenticated) SELECT id, NULL, 'DRAFT', 'create', 'x', updated_time,"
            " false FROM features WHERE feature_name = :name"
        ],
        ("feature_audit", "actor = 'x'"),
        "a second creation entry (create)",
    ),
    "change-log entry removed": (
        "TEST_SUCCEEDED",
        [
            "DELETE FROM feature_changes WHERE action = 'submit' AND feature_id ="
            " (SELECT id FROM features WHERE feature_name = :name)"
        ],
        ("feature_changes", "action = 'test'"),
        "revision 3 follows revision 1",
    ),
    "change log starting late": (
        "READY_FOR_TESTING",
        [
            "DELETE FROM feature_changes WHERE action = 'create' AND feature_id ="
            " (SELECT id FROM features WHERE feature_name = :name)"
        ],
        ("feature_changes", "action = 'submit'"),
        "the change log starts with submit, not a creation",
    ),
    "row revision edited": (
        "DRAFT",
        ["UPDATE features SET revision = 7 WHERE feature_name = :name"],
        ("feature_changes", "action = 'create'"),
        "the change log ends at revision 1, DRAFT, but the row is at revision 7, DRAFT",
    ),
    "change action that cannot do it": (
        "READY_FOR_TESTING",
        ["UPDATE feature_changes SET action = 'reject' WHERE action = 'submit' AND" " {OF_NAME}"],
        ("feature_changes", "action = 'reject'"),
        "reject cannot take a feature from DRAFT to READY_FOR_TESTING",
    ),
    "history and change log disagree": (
        "READY_FOR_TESTING",
        [
            "UPDATE feature_audit SET timestamp = timestamp - 1000 WHERE trigger = 'submit'"
            " AND {OF_NAME}"
        ],
        ("feature_audit", "trigger = 'submit'"),
        "does not match change-log entry",
    ),
}


@pytest.mark.parametrize("kind", BREAKS)
def test_each_kind_of_break_is_reported_with_its_feature_entry_and_problem(
    kind, make_feature, verify, connection
):
    status, statements, (table, where), problem = BREAKS[kind]
    intact = make_feature("DEPLOYED")["feature_name"]
    name = make_feature(status)["feature_name"]
    for statement in statements:
        _sql(connection, statement.replace("{OF_NAME}", OF_NAME), name=name)
    entry_id = None if where is None else _entry_id(connection, table, name, where)

    found = breaks_of(verify)
    assert {b["feature"] for b in found} == {name}, found
    assert intact not in json.dumps(found)
    matching = [b for b in found if problem in b["problem"]]
    assert matching, found
    assert (matching[0]["table"], matching[0]["entry_id"]) == (table, entry_id)
    text_output = verify()
    assert text_output.exit_code == 1
    entry = table if entry_id is None else f"{table} #{entry_id}"
    assert f"BREAK feature {name} (id " in text_output.stdout
    assert f"{entry}: {matching[0]['problem']}" in text_output.stdout
    assert text_output.stdout.splitlines()[-1].startswith("audit trail BROKEN: ")


# A comment is not a status change: its entry keeps the revision and status of the entry
# before it, and it and its comment row belong together. Made on a commented DRAFT feature;
# what verify must say: the table, the entry (by a condition on it) and words of the problem.
COMMENT_BREAKS = {
    "comment entry at another revision": (
        ["UPDATE feature_changes SET revision = 2 WHERE action = 'comment' AND {OF_NAME}"],
        ("feature_changes", "action = 'comment'"),
        "a comment at revision 2, but the entry before",
    ),
    "comment entry changing the status": (
        ["UPDATE feature_changes SET new_status = 'DELETED' WHERE action = 'comment' AND"
         " {OF_NAME}"],
        ("feature_changes", "action = 'comment'"),
        "comment cannot take a feature from DRAFT to DELETED",
    ),
    "comment removed": (
        ["DELETE FROM feature_comments WHERE {OF_NAME}"],
        ("feature_changes", "action = 'comment'"),
        "a comment entry without its comment",
    ),
    "comment moved to another entry": (
        ["UPDATE feature_comments SET change_id = (SELECT id FROM feature_changes WHERE"
         " action = 'create' AND {OF_NAME}) WHERE {OF_NAME}"],
        ("feature_comments", "1 = 1"),
        "is not a comment entry of this feature",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", COMMENT_BREAKS)
def test_each_kind_of_comment_break_is_reported(client, kind, make_feature, verify, connection):
    statements, (table, where), problem = COMMENT_BREAKS[kind]
    intact = make_feature("DEPLOYED")["feature_name"]
    comment(client, intact)
    name = make_feature("DRAFT")["feature_name"]
    comment(client, name)
    entry_id = _entry_id(connection, table, name, where)
    for statement in statements:
        _sql(connection, statement.replace("{OF_NAME}", OF_NAME), name=name)

    found = breaks_of(verify)
    assert {b["feature"] for b in found} == {name}, found
    matching = [b for b in found if problem in b["problem"]]
    assert matching, found
    assert (matching[0]["table"], matching[0]["entry_id"]) == (table, entry_id)


def test_a_feature_with_no_history_and_no_change_log_is_two_breaks(
    make_feature, verify, connection
):
    name = make_feature("DRAFT")["feature_name"]
    for table in ("feature_audit", "feature_changes"):
        _sql(connection, f"DELETE FROM {table} WHERE feature_id ="
             " (SELECT id FROM features WHERE feature_name = :name)", name=name)  # fmt: skip
    problems = {(b["table"], b["problem"]) for b in breaks_of(verify)}
    assert problems == {
        ("feature_audit", "no history entries: not even its create or import"),
        ("feature_changes", "no change-log entries: not even its create or import"),
    }


def test_a_database_that_is_not_migrated_cannot_be_checked(backend, tmp_path):
    require_backend(backend)
    fresh = FreshDatabase(backend, tmp_path)
    try:
        if backend == "sqlite":
            import sqlite3

            sqlite3.connect(fresh.url.removeprefix("sqlite:///")).execute("CREATE TABLE x (a)")
        app = create_app({"database_url": fresh.url, "log_level": "WARNING"})
        result = app.test_cli_runner().invoke(args=["audit", "verify"])
        close_app(app)
    finally:
        fresh.drop()
    assert result.exit_code == 2
    assert "is not migrated: it is at no revision (empty)" in result.output
    assert "run feature-gateway migrate" in result.output


def test_a_missing_sqlite_file_is_reported_and_not_created(tmp_path):
    path = tmp_path / "nothing-here.db"
    app = create_app({"database_url": f"sqlite:///{path}", "log_level": "WARNING"})
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 2
    assert f"there is no SQLite database at {path}" in result.output
    assert not path.exists()


def test_an_unreachable_database_is_one_line_and_exit_2_without_a_traceback():
    done = subprocess.run(
        [str(Path(sys.executable).with_name("feature-gateway")), "audit", "verify"],
        cwd=PROJECT_ROOT,
        env=app_environment(
            DATABASE_URL="postgresql://postgres:secret@127.0.0.1:1/none", LOG_LEVEL="ERROR"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("Error: cannot read the database postgresql+psycopg://postgres:***@")
    assert "Connection refused" in line or "connection failed" in line
    assert "secret" not in done.stderr


def test_verify_reads_committed_data_through_its_own_engine(backend, tmp_path):
    """As an operator runs it: the app's own engine (on PostgreSQL a read-only
    REPEATABLE READ snapshot), after writes committed by the service."""
    fresh = FreshDatabase(backend, tmp_path, migrated=True)
    try:
        app = create_app({"database_url": fresh.url, "log_level": "WARNING", "TESTING": True})
        client = app.test_client()
        assert client.post("/create_feature_metadata", json=SEED_FEATURE).status_code == 201
        result = app.test_cli_runner().invoke(args=["audit", "verify", "--json"])
        close_app(app)
    finally:
        fresh.drop()
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["features"], report["history_entries"], report["change_entries"]) == (1, 1, 1)


def test_entries_of_a_feature_that_does_not_exist_are_breaks(tmp_path):
    """Only possible with foreign keys off (SQLite without the service's PRAGMA)."""
    import sqlite3

    fresh = FreshDatabase("sqlite", tmp_path, migrated=True)
    app = create_app({"database_url": fresh.url, "log_level": "WARNING", "TESTING": True})
    assert app.test_client().post("/create_feature_metadata", json=SEED_FEATURE).status_code == 201
    with contextlib.closing(sqlite3.connect(fresh.url.removeprefix("sqlite:///"))) as raw:
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute(
            "INSERT INTO feature_audit (feature_id, from_status, to_status, trigger, actor,"
            " timestamp, authenticated) VALUES (999, NULL, 'DRAFT', 'create', 'x', 1, 0)"
        )
        raw.commit()
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--json"])
    close_app(app)
    assert result.exit_code == 1
    [found] = json.loads(result.stdout)["breaks"]
    assert (found["feature_id"], found["feature"], found["table"]) == (999, None, "feature_audit")
    assert found["problem"] == "entry of a feature that does not exist"
