"""GET /get_deployed_features?at=: what was served when, from the change log (SPEC §13), on
both databases, with features deployed, deprecated, retired and re-owned at known times."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, insert, text
from sqlalchemy.orm import Session

from feature_gateway.api.features.schemas import FeatureRecordSchema
from feature_gateway.db.models import FEATURES_TABLE
from feature_gateway.db.served_at import ServedAtRepository
from feature_gateway.services import clock
from feature_gateway.services.transfer import import_features
from tests.conftest import SEED_FEATURE

BASE = 1_751_414_400_000  # 2025-07-02T00:00:00Z
A, B = "drivers:rate:1", "drivers:trips:1"
ROLES = {"submit": "developer", "test": "external_testing_system", "approve": "approver"}


class Clock:
    """What services.clock reads the time from, set by the test (in ms after BASE)."""

    def __init__(self) -> None:
        self.ms = BASE

    def time_ns(self) -> int:
        return self.ms * 1_000_000


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(clock, "time", fake)
    return fake


def _post(client: FlaskClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()["metadata"]  # type: ignore[no-any-return]


def _deploy(client: FlaskClient, at: Clock, name: str, times: tuple[int, ...]) -> dict[str, Any]:
    steps = [
        ("/ready_test_feature_metadata", {"submitted_by": "dev", "user_role": "developer"}),
        ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                    "user_role": "external_testing_system"}),
        ("/approve_feature_metadata", {"approved_by": "boss", "user_role": "approver"}),
    ]  # fmt: skip
    for (path, body), offset in zip(steps, times, strict=True):
        at.ms = BASE + offset
        metadata = _post(client, path, {"feature_name": name, **body})
    return metadata


@pytest.fixture
def history(client: FlaskClient, at: Clock) -> dict[str, dict[str, Any]]:
    """A: created by team-a at +1000, re-owned to team-b at +2000, deployed at +3200,
    deprecated at +5000, retired at +7000. B: created +1500, deployed at +4000."""
    snapshots: dict[str, dict[str, Any]] = {}
    at.ms = BASE + 1000
    _post(
        client, "/create_feature_metadata", {**SEED_FEATURE, "feature_name": A, "owner": "team-a"}
    )
    at.ms = BASE + 1500
    _post(client, "/create_feature_metadata", {**SEED_FEATURE, "feature_name": B})
    at.ms = BASE + 2000
    update = {
        "feature_name": A,
        "owner": "team-b",
        "last_updated_by": "dev",
        "user_role": "developer",
    }
    _post(client, "/update_feature_metadata", update)
    snapshots["A deployed"] = _deploy(client, at, A, (3000, 3100, 3200))
    snapshots["B deployed"] = _deploy(client, at, B, (3800, 3900, 4000))
    at.ms = BASE + 5000
    snapshots["A deprecated"] = _post(
        client,
        "/deprecate_feature_metadata",
        {"feature_name": A, "deprecated_by": "boss", "user_role": "approver",
         "deprecation_reason": "superseded"},
    )  # fmt: skip
    at.ms = BASE + 7000
    retire = {"feature_name": A, "retired_by": "boss", "user_role": "approver"}
    _post(client, "/retire_feature_metadata", retire)
    at.ms = BASE + 10_000
    return snapshots


def _served_at(client: FlaskClient, moment: int, query: str = "") -> dict[str, Any]:
    response = client.get(f"/get_deployed_features?user_role=approver&at={moment}{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def test_each_feature_is_listed_while_served_as_it_was_then(client, history):
    def served(offset: int) -> list[dict[str, Any]]:
        return _served_at(client, BASE + offset)["features"]  # type: ignore[no-any-return]

    assert served(3199) == []
    assert served(3200) == [history["A deployed"]]
    assert served(3200)[0]["owner"] == "team-b"  # re-owned before it was deployed
    assert served(4999) == [history["A deployed"], history["B deployed"]]
    assert served(5000) == [history["A deprecated"], history["B deployed"]]
    assert served(6999)[0]["status"] == "DEPRECATED"
    assert served(7000) == [history["B deployed"]]  # retired at that very moment


def test_the_envelope_is_the_same_with_its_counts_and_pages(client, history):
    body = _served_at(client, BASE + 6000, "&limit=1&offset=1")
    assert body == {"features": [history["B deployed"]], "total_count": 2, "limit": 1, "offset": 1}
    # Without at: today's deployed features, as before.
    today = client.get("/get_deployed_features?user_role=approver").get_json()
    assert [f["feature_name"] for f in today["features"]] == [B]


def test_a_time_in_the_future_is_422(client, at):
    at.ms = BASE
    response = client.get(f"/get_deployed_features?user_role=approver&at={BASE + 1}")
    assert response.status_code == 422
    assert "future" in response.get_json()["errors"]["at"][0]
    assert client.get("/get_deployed_features?user_role=approver&at=-1").status_code == 422


def test_a_feature_imported_later_is_not_listed_before_its_import(client, at, database):
    record = {**SEED_FEATURE, "feature_name": "imported:rate:1", "status": "DEPLOYED",
              "deployed_time": BASE + 100, "created_time": BASE}  # fmt: skip
    del record["user_role"]
    at.ms = BASE + 8000
    import_features(database, FeatureRecordSchema(many=True).load([record]), source="test")

    assert _served_at(client, BASE + 5000)["features"] == []
    [imported] = _served_at(client, BASE + 8000)["features"]
    assert (imported["feature_name"], imported["deployed_time"]) == ("imported:rate:1", BASE + 100)


def _plans(connection: Connection, at: int) -> list[str]:
    """The plans of the three statements ServedAtRepository runs (page, count, later)."""
    captured: list[Any] = []

    @event.listens_for(connection, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    repository = ServedAtRepository(Session(bind=connection))
    repository.page(at, 100, 0)
    repository.changes_after([1, 2], at)
    event.remove(connection, "before_cursor_execute", capture)
    dialect = connection.dialect.name
    if dialect == "postgresql":  # the planner may read a tiny table whole; may it use an index?
        connection.execute(text("SET LOCAL enable_seqscan = off"))
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    cursor = connection.connection.cursor()
    plans = []
    for statement, parameters in captured:
        cursor.execute(explain + statement, parameters)
        plans.append("\n".join(str(row[-1]) for row in cursor.fetchall()))
    return plans


def test_the_query_plans_read_index_ranges_only(client, history, connection):
    # Two thousand features never deployed: a plan reading them all would show.
    drafts = [
        {"feature_name": f"draft:f{i}:1", "feature_type": "batch", "feature_data_type": "float",
         "query": "SELECT 1", "description": "never deployed", "status": "DRAFT",
         "revision": 1, "created_time": BASE, "updated_time": BASE, "created_by": "dev",
         "tags": {}}
        for i in range(2_000)
    ]  # fmt: skip
    connection.execute(insert(FEATURES_TABLE), drafts)
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE features"))
    for plan in _plans(connection, BASE + 5000):
        assert "Seq Scan" not in plan, plan  # PostgreSQL
        assert not any(line.startswith("SCAN") for line in plan.splitlines()), plan  # SQLite
    page, count, later = _plans(connection, BASE + 5000)
    assert "ix_features_deployed_time" in page and "ix_features_deployed_time" in count
    assert "ix_feature_changes_feature_id_timestamp" in page
    assert "ix_feature_changes_feature_id_timestamp" in later
