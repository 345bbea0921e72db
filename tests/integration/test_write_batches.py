"""A write's history, webhooks read and change-log entries are sent to PostgreSQL together,
and so are a create's read of the name and its INSERT (``db.batches``, psycopg's pipeline
mode): a statement of the batch that fails still rolls the whole write back, with the
error it would have had on its own, and a name stored already is the same 409.

The failures are real server errors, raised by a trigger on a fresh database of the test's
own (a full disk's SQLSTATE, a unique violation), on an engine of one connection, so that
the next write shows the connection was left usable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from feature_gateway.db.scopes import Database
from feature_gateway.errors import (
    ConcurrentModificationError,
    DatabaseStorageFullError,
    FeatureAlreadyExistsError,
)
from feature_gateway.services import comments, features, workflow
from tests.conftest import SEED_FEATURE, one_connection_database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    yield from one_connection_database(tmp_path, "postgresql")


@pytest.fixture(params=["sqlite", "postgresql"])
def either_database(tmp_path: Path, request) -> Iterator[tuple[Database, str]]:
    yield from one_connection_database(tmp_path, request.param)


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("+psycopg", ""), autocommit=True)


def _refuse(url: str, table: str, sqlstate: str) -> None:
    """Every INSERT into ``table`` fails with ``sqlstate``, until ``_accept``."""
    with _admin(url) as admin:
        admin.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" RAISE EXCEPTION 'refused by the test' USING ERRCODE = '{sqlstate}'; END $$"
        )
        admin.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION refuse()"
        )


def _accept(url: str, table: str) -> None:
    with _admin(url) as admin:
        admin.execute(f"DROP TRIGGER refuse ON {table}")
        admin.execute("DROP FUNCTION refuse()")


def _create(database: Database, name: str) -> dict:
    fields = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
    return features.create_feature(database, {**fields, "feature_name": name}, role="developer")


def _rows(database: Database, name: str) -> tuple[int, int, int]:
    """(features, history rows, change-log entries) stored for ``name``."""
    with database.bind.connect() as connection:  # type: ignore[union-attr]
        return tuple(
            connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM features WHERE feature_name = :n),"
                    " (SELECT count(*) FROM feature_audit a JOIN features f"
                    "  ON f.id = a.feature_id WHERE f.feature_name = :n),"
                    " (SELECT count(*) FROM feature_changes WHERE feature_name = :n)"
                ),
                {"n": name},
            ).one()
        )  # type: ignore[return-value]


@pytest.mark.parametrize("table", ["feature_audit", "feature_changes"])
def test_a_full_disk_on_a_batched_insert_rolls_the_whole_create_back(database, table):
    db, url = database
    _refuse(url, table, "53100")  # disk_full

    with pytest.raises(DatabaseStorageFullError) as refused:
        _create(db, "batched:full:1")

    # The error names the statement that failed, not one the server skipped after it.
    assert refused.value.__cause__.statement.startswith(f"INSERT INTO {table} ")
    assert _rows(db, "batched:full:1") == (0, 0, 0)
    _accept(url, table)
    assert _create(db, "batched:full:1")["status"] == "DRAFT"  # the one connection, usable
    assert _rows(db, "batched:full:1") == (1, 1, 1)


def test_a_unique_violation_in_the_batch_is_the_409_of_a_name_taken_meanwhile(database):
    db, url = database
    _refuse(url, "feature_changes", "23505")  # unique_violation

    with pytest.raises(FeatureAlreadyExistsError) as taken:
        _create(db, "batched:taken:1")

    assert taken.value.feature_name == "batched:taken:1"
    assert _rows(db, "batched:taken:1") == (0, 0, 0)


def _ready_test(database: Database, name: str) -> str:
    fields = {"submitted_by": "dev"}
    return workflow.fire_trigger(database, "submit", name, fields, role="developer").new_status


def test_a_trigger_whose_update_matches_no_row_in_the_batch_is_a_409_writing_nothing(database):
    db, url = database
    _create(db, "batched:stale:1")
    with _admin(url) as admin:  # the row's UPDATE matches nothing, as after another writer's
        admin.execute(
            "CREATE FUNCTION skip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RETURN NULL; END $$"
        )
        admin.execute(
            "CREATE TRIGGER skip BEFORE UPDATE ON features FOR EACH ROW EXECUTE FUNCTION skip()"
        )

    # Sent with the history and the change log; refused when their results are read.
    with pytest.raises(ConcurrentModificationError, match="batched:stale:1"):
        _ready_test(db, "batched:stale:1")

    assert _rows(db, "batched:stale:1") == (1, 1, 1)  # the creation's, nothing more
    with _admin(url) as admin:
        admin.execute("DROP TRIGGER skip ON features")
    assert _ready_test(db, "batched:stale:1") == "READY_FOR_TESTING"  # the one connection
    assert _rows(db, "batched:stale:1") == (1, 2, 2)


@pytest.mark.parametrize("table", ["feature_audit", "feature_changes"])
def test_a_full_disk_after_a_batched_update_rolls_the_whole_trigger_back(database, table):
    db, url = database
    _create(db, "batched:full_update:1")
    _refuse(url, table, "53100")  # disk_full

    with pytest.raises(DatabaseStorageFullError) as refused:
        _ready_test(db, "batched:full_update:1")

    assert refused.value.__cause__.statement.startswith(f"INSERT INTO {table} ")
    _accept(url, table)
    with db.reading() as uow:
        assert uow.features.get("batched:full_update:1").status == "DRAFT"
    assert _rows(db, "batched:full_update:1") == (1, 1, 1)


def test_a_comment_is_inserted_after_its_change_log_entry_in_the_same_write(database):
    db, _ = database
    _create(db, "batched:comment:1")

    comments.add_comment(db, "batched:comment:1", "looks right", author="rev", role="developer")

    with db.bind.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.action, m.body FROM feature_comments m JOIN feature_changes c"
                " ON c.id = m.change_id WHERE c.feature_name = 'batched:comment:1'"
            )
        ).all()
    assert [tuple(row) for row in rows] == [("comment", "looks right")]


def test_a_name_stored_without_its_canonical_spelling_is_still_the_409_naming_its_status(
    either_database,
):
    # A row written before canonical names has none; its name is still taken, and a
    # deleted one says so.
    db, _ = either_database
    _create(db, "batched:old:1")
    with db.bind.begin() as connection:  # type: ignore[union-attr]
        connection.execute(
            text(
                "UPDATE features SET canonical_name = NULL, status = 'DELETED'"
                " WHERE feature_name = 'batched:old:1'"
            )
        )

    with pytest.raises(FeatureAlreadyExistsError) as taken:
        _create(db, "batched:old:1")

    assert str(taken.value) == (
        "Feature 'batched:old:1' already exists."
        " Deleted names cannot be reused: create a new version."
    )
    assert _rows(db, "batched:old:1") == (1, 1, 1)


def test_another_spelling_of_a_stored_version_is_the_409_naming_the_stored_one(
    either_database,
):
    db, _ = either_database
    _create(db, "batched:spelled:v2")

    with pytest.raises(FeatureAlreadyExistsError) as taken:
        _create(db, "batched:spelled:2")

    assert str(taken.value) == (
        "Feature 'batched:spelled:2' already exists as 'batched:spelled:v2' (the same version)."
    )
    assert _rows(db, "batched:spelled:2") == (0, 0, 0)
