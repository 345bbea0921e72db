"""Two separately started gunicorn servers on one SQLite file serve identical value bytes.

Each server runs with its own PYTHONHASHSEED, so any use of Python's salted ``hash()`` in
the generator would show up as differing bodies.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from feature_gateway.api.features.schemas import FeatureRecordSchema
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.domain.values import FeatureSpec
from feature_gateway.services.transfer import import_features
from tests.databases import migrated_sqlite, settings_for
from tests.live_server import LiveServer
from tests.metrics_text import sample_total
from tests.value_oracle import simulated_value

pytestmark = pytest.mark.slow

DATA_TYPES = ("string", "float", "double", "decimal", "integer", "int", "bigint", "boolean")
FEATURE_TYPES = ("batch", "compute-first", "real-time")
EVENT_TIMESTAMP = 1_751_429_485_123
PENDING = "served:pending:1"
JSON = {"Content-Type": "application/json"}


def _record(name: str, feature_type: str, data_type: str, status: str) -> dict[str, Any]:
    return {
        "feature_name": name,
        "feature_type": feature_type,
        "feature_data_type": data_type,
        "query": "SELECT 1",
        "description": "served by two processes",
        "status": status,
        "created_by": "dev",
    }


SPECS = [
    FeatureSpec(f"served:{data_type}_{i}:1", FEATURE_TYPES[i % 3], data_type)
    for i, data_type in enumerate(DATA_TYPES * 2)
]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = migrated_sqlite(tmp_path_factory.mktemp("served") / "served.db")
    records = [_record(s.name, s.feature_type, s.data_type, "DEPLOYED") for s in SPECS]
    records.append(_record(PENDING, "batch", "float", "TEST_SUCCEEDED"))
    engine = make_engine(settings_for(url))
    try:
        import_features(
            Database(engine), FeatureRecordSchema(many=True).load(records), source="test"
        )
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def servers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LiveServer]]:
    logs = tmp_path_factory.mktemp("logs")
    started: list[LiveServer] = []
    try:
        for seed in ("1", "2"):
            started.append(
                LiveServer(
                    database_url,
                    workers=1,
                    log_path=logs / f"server-{seed}.log",
                    extra_env={"PYTHONHASHSEED": seed},
                )
            )
        yield started
    finally:
        for server in started:
            server.stop()


def test_two_server_processes_answer_with_the_same_bytes(servers):
    request = {
        "features": [s.name for s in SPECS] + ["served:unknown:1", PENDING],
        "entities": {"driver_id": ["D001", "D002", "D003", "é"], "zone": [1, 2, 3, -4]},
        "event_timestamp": EVENT_TIMESTAMP,
    }

    answers = [server.raw_request("POST", "/features", request) for server in servers]

    assert [status for status, _ in answers] == [200, 200]
    assert answers[0][1] == answers[1][1]
    body = json.loads(answers[0][1])
    rows = [
        {"driver_id": d, "zone": z} for d, z in zip(*request["entities"].values(), strict=True)
    ]
    for spec, column in zip(SPECS, body["results"][2:], strict=False):
        # ... and this test process, with yet another hash seed, computes the same values.
        assert column["values"] == [simulated_value(spec, row, EVENT_TIMESTAMP) for row in rows]
    assert body["results"][-1]["statuses"] == ["NOT_FOUND"] * 4


def test_a_feature_deployed_through_one_server_is_served_by_the_other(servers):
    first, second = servers
    request = {"features": [PENDING], "entities": {"driver_id": ["D001"]}}
    assert json.loads(second.raw_request("POST", "/features", request)[1])["results"][1][
        "statuses"
    ] == ["NOT_FOUND"]

    status, _ = first.raw_request(
        "POST",
        "/approve_feature_metadata",
        {"feature_name": PENDING, "approved_by": "boss", "user_role": "approver"},
    )
    assert status == 200

    status, body = second.raw_request("POST", "/features", request)
    assert status == 200
    assert json.loads(body)["results"][1]["statuses"] == ["PRESENT"]
    available = json.loads(second.raw_request("GET", "/features/available")[1])
    assert PENDING in available["available_features"]


def test_a_large_answer_is_streamed_whole_and_counted_once_it_is_sent(servers):
    server = servers[0]
    rows = 2_000  # 16 deployed columns of 2,000 values: several chunks of the body
    request = {
        "features": [s.name for s in SPECS],
        "entities": {"driver_id": [f"D{i:05d}" for i in range(rows)]},
        "event_timestamp": EVENT_TIMESTAMP,
    }
    before = _values_requests_counted(server)

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/features", json.dumps(request), JSON)
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()

    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert body["metadata"]["feature_names"] == ["driver_id", *request["features"]]
    spec, column = SPECS[-1], body["results"][-1]
    assert column["values"][-1] == simulated_value(
        spec, {"driver_id": f"D{rows - 1:05d}"}, EVENT_TIMESTAMP
    )
    assert all(len(c["values"]) == rows for c in body["results"])
    assert _values_requests_counted(server) == before + 1


def _values_requests_counted(server: LiveServer) -> float:
    return sample_total(
        server.raw_request("GET", "/metrics")[1].decode(),
        "feature_gateway_http_requests_total",
        endpoint="/features",
        status="200",
    )
