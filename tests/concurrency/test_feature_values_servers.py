"""Two separately started gunicorn servers on one SQLite file serve identical value bytes.

Each server runs with its own PYTHONHASHSEED, so any use of Python's salted ``hash()`` in
the generator would show up as differing bodies.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feature_gateway.api.features.schemas import FeatureRecordSchema
from feature_gateway.config import Settings
from feature_gateway.db.engine import make_engine
from feature_gateway.db.unit_of_work import Database
from feature_gateway.domain.values import FeatureSpec, simulated_value
from feature_gateway.services.transfer import import_features
from tests.conftest import migrate

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DATA_TYPES = ("string", "float", "double", "decimal", "integer", "int", "bigint", "boolean")
FEATURE_TYPES = ("batch", "compute-first", "real-time")
EVENT_TIMESTAMP = 1_751_429_485_123
PENDING = "served:pending:1"


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
    url = f"sqlite:///{tmp_path_factory.mktemp('served') / 'served.db'}"
    migrate(url)
    records = [_record(s.name, s.feature_type, s.data_type, "DEPLOYED") for s in SPECS]
    records.append(_record(PENDING, "batch", "float", "TEST_SUCCEEDED"))
    engine = make_engine(Settings(database_url=url))
    try:
        import_features(
            Database(engine), FeatureRecordSchema(many=True).load(records), source="test"
        )
    finally:
        engine.dispose()
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _start(url: str, hash_seed: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PYTHONHASHSEED": hash_seed,
        "PYTHONPATH": str(REPO / "src"),
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "1",
        "-b",
        f"127.0.0.1:{port}",
        "--chdir",
        str(REPO),
        "wsgi:app",
    ]
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    return process, port


def _wait_until_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if _call(port, "GET", "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"server on port {port} did not become healthy:\n{log.read_text()}")


@pytest.fixture(scope="module")
def servers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    logs = tmp_path_factory.mktemp("logs")
    started = [_start(database_url, seed, logs / f"server-{seed}.log") for seed in ("1", "2")]
    try:
        for seed, (process, port) in zip(("1", "2"), started, strict=True):
            _wait_until_healthy(process, port, logs / f"server-{seed}.log")
        yield [port for _, port in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=30)


def test_two_server_processes_answer_with_the_same_bytes(servers):
    request = {
        "features": [s.name for s in SPECS] + ["served:unknown:1", PENDING],
        "entities": {"driver_id": ["D001", "D002", "D003", "é"], "zone": [1, 2, 3, -4]},
        "event_timestamp": EVENT_TIMESTAMP,
    }

    answers = [_call(port, "POST", "/features", request) for port in servers]

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
    assert json.loads(_call(second, "POST", "/features", request)[1])["results"][1][
        "statuses"
    ] == ["NOT_FOUND"]

    status, _ = _call(
        first,
        "POST",
        "/approve_feature_metadata",
        {"feature_name": PENDING, "approved_by": "boss", "user_role": "approver"},
    )
    assert status == 200

    status, body = _call(second, "POST", "/features", request)
    assert status == 200
    assert json.loads(body)["results"][1]["statuses"] == ["PRESENT"]
    available = json.loads(_call(second, "GET", "/features/available")[1])
    assert PENDING in available["available_features"]
